"""Server processes the benchmarks talk to: the owner's child, the request-counting probe server, and others of ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import msgspec
import psutil

import tiercube
from bench.probe_server import STATS_PATH, Stats

ROOT = Path(__file__).resolve().parent.parent


def session_server(session: tiercube.Session) -> psutil.Process:
    """The server process of an owner session: the child of this process that listens on its port."""
    for child in psutil.Process().children():
        try:
            if any(c.laddr.port == session.port for c in child.net_connections(kind="tcp")):
                return child
        except psutil.Error:
            continue
    raise RuntimeError(f"no child process listens on port {session.port}")


def rss(process: psutil.Process) -> int:
    """Resident set size in bytes."""
    return int(process.memory_info().rss)


class ChildServer:
    """A server process of the bench's own: ``python -m MODULE ARGS...``, given a ``SessionConfig`` on stdin.

    It prints its URL once it answers and stops when its stdin closes (``close()``, or this process ending).
    """

    def __init__(self, module: str, config: tiercube.SessionConfig, *args: str, environment: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, **(environment or {})},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(msgspec.json.encode(config) + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http"):
            self.close()
            raise RuntimeError(f"{module} did not start (exit code {self.process.poll()})")
        self.url = line
        self.info = psutil.Process(self.process.pid)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


class ProbeServer(ChildServer):
    """``python -m bench.probe_server``: tiercube's ``serve()`` plus a request counter (see that module)."""

    def __init__(self, config: tiercube.SessionConfig) -> None:
        super().__init__("bench.probe_server", config)
        self._client = httpx.Client(base_url=self.url)

    def stats(self) -> Stats:
        """Requests counted since the previous call, with their server-side seconds by path."""
        return msgspec.json.decode(self._client.get(STATS_PATH).content, type=Stats)

    def close(self) -> None:
        super().close()
        if hasattr(self, "_client"):
            self._client.close()
