"""Helpers for the durability tests: ``tiercube serve --data-dir`` processes, and a session's whole state."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import tiercube

from tests.conftest import ADMIN

SNAPSHOTS_ONLY_AT_STOP = "snapshot_every_bytes = 1000000000\nsnapshot_every_seconds = 100000.0\n"


class Served:
    """One ``tiercube serve --data-dir`` process at a time, started again as often as needed."""

    def __init__(self, data_dir: Path, config: str, *args: str) -> None:
        self.data_dir = data_dir
        self.command = [sys.executable, "-m", "tiercube._cli", "serve", "--data-dir", str(data_dir), "--config", config, *args]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        # Its stderr goes to a file: a pipe nobody reads would stop a server that logs a lot.
        self.log = data_dir.with_name(data_dir.name + ".log")

    def start(self) -> str:
        """Start the server; its URL once it answers (``AssertionError`` with its stderr if it does not start)."""
        with open(self.log, "a") as log:
            process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=log, text=True)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("tiercube session server at "):
            process.kill()
            process.communicate(timeout=30)
            raise AssertionError(f"tiercube serve did not start: {line!r} {self.errors()[-3000:]}")
        self.process, self.url = process, line.split()[4]
        return self.url

    def errors(self) -> str:
        """What the servers started so far wrote on stderr."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def failed_start(self) -> subprocess.CompletedProcess[str]:
        """Run the server expecting it not to start: its exit code and output."""
        return subprocess.run(self.command, capture_output=True, text=True, timeout=120)

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, closed or snapshotted."""
        process = self._running()
        process.kill()
        process.communicate(timeout=30)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop with ``sig`` and wait: its exit code."""
        process = self._running()
        process.send_signal(sig)
        process.communicate(timeout=300)
        return process.returncode

    def _running(self) -> subprocess.Popen[str]:
        assert self.process is not None, "start() first"
        process, self.process = self.process, None
        return process

    def close(self) -> None:
        if self.process is not None:
            self.kill()


def admin(url: str) -> tiercube.LocalSession:
    return tiercube.connect(url, authentication=ADMIN, require=tiercube.LocalSession)


def state_of(session: tiercube.LocalSession) -> dict[str, object]:
    """Everything a data directory keeps, as the API shows it: rows in arrival order, cubes, users, restrictions."""
    tables = {name: (session.tables[name].keys, session.tables[name].query().to_pydict()) for name in session.tables}
    cubes = {name: (repr(cube.hierarchies), repr(cube.measures)) for name, cube in session.cubes.items()}
    security = session.security
    users = {name: sorted(user.roles) for name, user in security.users.items()}
    restrictions = {role: repr(condition) for role, condition in security.restrictions.items()}
    return {"tables": tables, "cubes": cubes, "users": users, "restrictions": restrictions}
