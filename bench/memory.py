"""The server's resident memory after a load, against the Arrow size of the data it holds."""

from __future__ import annotations

import time

import psutil

from bench.common import Figure, Target
from bench.servers import rss

MB = 1e6
TARGET = Target(1.5, on="ratio", text="<= 1.5x the Arrow size")


def settled_rss(process: psutil.Process, timeout: float = 5.0) -> int:
    """RSS once it stops growing: a server keeps importing modules for a moment after it answers."""
    deadline = time.monotonic() + timeout
    previous = rss(process)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        current = rss(process)
        if abs(current - previous) < 1_000_000:
            return current
        previous = current
    return previous


class MemoryProbe:
    """Resident memory of one server process: when idle, and after each load."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.idle = settled_rss(process)

    def after_load(self, key: str, what: str, arrow_nbytes: int, note: str = "") -> Figure:
        """A figure: RSS now (MB) against ``arrow_nbytes`` (MB), the target on their ratio."""
        resident = rss(self.process)
        detail = f"idle server {self.idle / MB:,.0f} MB, so the data added {(resident - self.idle) / MB:,.0f} MB"
        return Figure(
            f"memory.{key}",
            f"server RSS after {what}",
            "MB",
            resident / MB,
            arrow_nbytes / MB,
            "Arrow nbytes of the data (strings dictionary-encoded, as stored)",
            TARGET,
            note=f"{detail}; {note}" if note else detail,
        )
