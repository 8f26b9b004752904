"""The crash test: a ``tiercube serve --data-dir`` SIGKILLed at random points, then checked after every restart.

A writer process (``crash_writer``) streams changes from several threads:
upserts, appends and drops, tables, joins, cubes, measures and hierarchies,
users, passwords and restrictions. The supervisor (``run``) kills the server
at a random moment of that stream, in one cycle out of four the moment a
snapshot is being written, starts it again on the same data directory and
has the writer compare everything with its model of acknowledged changes
(a change under way may be there or not, but whole). Snapshots are taken
every 32 KiB of log or 0.3 s, so kills land before, during and after them.

Servers are forks of a process that imported tiercube once (``crash_server``),
which makes a restart cost milliseconds instead of half a second of imports;
``spawn=True`` starts each one as a fresh ``python -m tiercube._cli serve``.

``python -m tests.crash --kills 1000 [--spawn]`` runs it outside pytest and
prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from tests.conftest import ADMIN, USER

ROOT = Path(__file__).resolve().parent.parent


def cheap_hash(password: str) -> str:
    """A ``password_hash`` with scrypt's cost 1024 instead of 16384: the hash says which, and every
    restart's first sign-in checks one (a plain password would even cost one more per start)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=1024, r=8, p=1)
    return "$".join(["scrypt", "1024", "8", "1", base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def configured() -> str:
    """Snapshots often, and the two users of ``tests.conftest``."""
    return f"""
snapshot_every_bytes = 32768
snapshot_every_seconds = 0.3
max_failed_logins_per_minute = 100000

[[users]]
name = "{ADMIN.username}"
password_hash = "{cheap_hash(ADMIN.password)}"
roles = ["ROLE_ADMIN"]

[[users]]
name = "{USER.username}"
password_hash = "{cheap_hash(USER.password)}"
roles = ["ROLE_USER"]
"""


class CrashTestFailure(AssertionError):
    pass


@dataclass
class Summary:
    """What a run did: kills (and how many while a snapshot was written), acknowledged changes, and
    how the changes under way at the kills turned out."""

    kills: int = 0
    during_snapshot: int = 0
    acknowledged: int = 0
    under_way: dict[str, int] = field(default_factory=dict[str, int])
    seconds: float = 0.0


class Pipe:
    """A child process spoken to in lines, every answer awaited at most ``timeout`` seconds."""

    def __init__(self, command: list[str], log: IO[str], timeout: float = 120.0, environment: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT, env=environment
        )
        self.timeout = timeout
        self.name = " ".join(command[1:3])

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def answer(self) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(self.timeout):
                raise CrashTestFailure(f"{self.name} did not answer within {self.timeout} s")
        line = stdout.readline()
        if not line:
            raise CrashTestFailure(f"{self.name} ended (exit code {self.process.wait()})")
        return line.strip()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Servers:
    """``tiercube serve --data-dir`` processes, one at a time: forked (``crash_server``) or spawned."""

    def __init__(self, arguments: list[str], log: IO[str], *, spawn: bool) -> None:
        self.arguments, self.log, self.spawn = arguments, log, spawn
        # One BLAS thread: numpy's pool would otherwise be running when the zygote forks.
        environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        self.zygote = None if spawn else Pipe([sys.executable, "-m", "tests.crash_server", *arguments], log, environment=environment)
        self.spawned: subprocess.Popen[str] | None = None
        self.port = _free_port()

    def start(self) -> str:
        for _ in range(5):  # another process may take the port between two starts: then another one
            url = self._start(str(self.port))
            if url is not None:
                return url
            self.port = _free_port()
        raise CrashTestFailure("the server did not start; its log is in the data directory's parent")

    def _start(self, port: str) -> str | None:
        if self.zygote is not None:
            self.zygote.send(f"start {port}")
            answer = self.zygote.answer().split()
            return answer[2] if answer[0] == "started" else None
        command = [sys.executable, "-m", "tiercube._cli", "serve", "--port", port, *self.arguments]
        self.spawned = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.spawned.stdout is not None
        line = self.spawned.stdout.readline()
        if line.startswith("tiercube session server at "):
            return line.split()[4]
        self.spawned.wait()
        return None

    def kill(self) -> None:
        if self.zygote is not None:
            self.zygote.send("kill")
            assert self.zygote.answer() == "killed"
        elif self.spawned is not None:
            self.spawned.kill()
            self.spawned.communicate()

    def stop(self) -> int:
        if self.zygote is not None:
            self.zygote.send("stop")
            return int(self.zygote.answer().split()[1])
        assert self.spawned is not None
        self.spawned.terminate()
        self.spawned.communicate()
        return self.spawned.returncode

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _snapshot_under_way(data_dir: Path) -> bool:
    return any(path.name.endswith(".tmp") for path in (data_dir / "snapshots").iterdir())


def run(directory: Path, kills: int, *, seed: int = 0, spawn: bool = False) -> Summary:
    """Kill the server ``kills`` times; ``CrashTestFailure`` at the first restart that lost or half-kept a change."""
    data_dir, config = directory / "data", directory / "crash.toml"
    config.write_text(configured())
    chance = random.Random(seed)
    summary = Summary()
    started = time.perf_counter()
    with open(directory / "servers.log", "a") as log:
        servers = Servers(["--data-dir", str(data_dir), "--config", str(config), "--log-file", str(directory / "server.log")], log, spawn=spawn)
        writer = Pipe([sys.executable, "-m", "tests.crash_writer"], log)
        try:
            for cycle in range(kills):
                url = servers.start()
                _verify(writer, url, cycle, summary)
                writer.send(f"run {url} {seed}")
                assert json.loads(writer.answer()) == {"running": True}
                if cycle % 4 == 3:  # the moment a snapshot is being written (or after 1.5 s)
                    deadline = time.monotonic() + 1.5
                    while not _snapshot_under_way(data_dir) and time.monotonic() < deadline:
                        time.sleep(0.0005)
                else:
                    time.sleep(chance.uniform(0.005, 0.25))
                servers.kill()
                summary.kills += 1
                summary.during_snapshot += _snapshot_under_way(data_dir)
                summary.acknowledged = json.loads(writer.answer())["acknowledged"]
            _verify(writer, servers.start(), kills, summary)
            if servers.stop() != 0:
                raise CrashTestFailure("the server did not stop cleanly on SIGTERM")
            _verify(writer, servers.start(), kills + 1, summary)  # from the snapshot the clean stop wrote
            servers.kill()
        finally:
            writer.close()
            servers.close()
    summary.seconds = round(time.perf_counter() - started, 1)
    return summary


def _verify(writer: Pipe, url: str, cycle: int, summary: Summary) -> None:
    writer.send(f"verify {url}")
    verified = json.loads(writer.answer())
    if verified["problems"]:
        raise CrashTestFailure(f"after kill {cycle}: " + "\n".join(verified["problems"]))
    for outcome, count in verified["outcomes"].items():
        summary.under_way[outcome] = summary.under_way.get(outcome, 0) + count


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.crash", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spawn", action="store_true", help="a fresh interpreter per server instead of a fork")
    parser.add_argument("--directory", type=Path, required=True, help="an empty directory for the data and the logs")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    print(json.dumps(asdict(run(args.directory, args.kills, seed=args.seed, spawn=args.spawn))))


if __name__ == "__main__":
    main()
