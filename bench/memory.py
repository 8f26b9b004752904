"""The server's resident memory after a load, against the Arrow size of the data it holds."""

from __future__ import annotations

import psutil

from bench.common import Figure, Target
from bench.servers import rss

MB = 1e6
TARGET = Target(1.5, on="ratio", text="<= 1.5x the Arrow size")


class MemoryProbe:
    """Resident memory of one server process: when idle, and after each load."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.idle = rss(process)

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
