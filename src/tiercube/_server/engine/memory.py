"""The server's memory limit, and what each load and query may take of it before it starts.

Under a 1.5 GiB container limit, one query (a group by a level with a member
per row, 5 M rows) got the server killed by the kernel, and every table with
it. Now every load and every query that could need much memory first
estimates its peak (``estimates``) and reserves it here: when the server's
memory (its resident set, plus what work in progress has reserved) would
pass ``memory_limit``, the kept answers and groupings are given back first,
and if that is not enough the work is refused with ``ResourceExhaustedError``
(503: try again when other work is done) or ``TooLargeForMemoryError`` (413:
it needs more than the whole limit) before it allocates anything. Every table
stays as it was and the server keeps answering.

The default limit is 80% of what the machine, or the cgroup the server runs
in (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), allows.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from tiercube.errors import ResourceExhaustedError, TooLargeForMemoryError

log = logging.getLogger("tiercube.server")

DEFAULT_SHARE = 0.8
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Reservations smaller than this are not worth a look at the process's memory.
_SMALL = 8 << 20
# After work that reserved this much, the allocator is asked to give freed memory back.
_RETURNED_AFTER = 64 << 20


def machine_memory() -> int:
    """What this process may use at most: the machine's memory, or its cgroup's limit if lower."""
    limits = [_meminfo_total(), *_cgroup_limits()]
    return min(limit for limit in limits if limit > 0)


def default_limit() -> int:
    return int(machine_memory() * DEFAULT_SHARE)


def resident_bytes() -> int:
    """The process's resident set, in bytes (what the kernel counts against a memory limit)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:  # not Linux: what Arrow holds, the bulk of a server's memory
        return pa.total_allocated_bytes()


class MemoryGovernor:
    """Reservations against ``limit`` bytes of memory for the whole process (None: no limit).

    ``releasers`` give back what can be computed again (kept answers,
    maintained aggregates) and say how many bytes they gave; they are called,
    in order, when a reservation would not fit otherwise.
    """

    def __init__(self, limit: int | None, releasers: Sequence[Callable[[], int]] = ()) -> None:
        self.limit = limit
        self.releasers = list(releasers)
        self._reserved = 0
        self._lock = threading.Lock()

    @contextmanager
    def reserve(self, needed: int, what: str, fix: str) -> Generator[None]:
        """Hold ``needed`` bytes for the work described by ``what`` while it runs, or refuse it.

        ``fix`` says what the caller can do when refused (a filter, fewer levels, a smaller file).
        """
        if self.limit is None or needed < _SMALL:
            yield
            return
        self._admit(needed, what, fix)
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= needed
            if needed >= _RETURNED_AFTER:
                pa.default_memory_pool().release_unused()

    def fits(self, needed: int) -> bool:
        """Whether ``needed`` bytes are free now, without reserving them or giving back any cache."""
        if self.limit is None or needed < _SMALL:
            return True
        with self._lock:
            return needed <= self.limit - resident_bytes() - self._reserved

    def _admit(self, needed: int, what: str, fix: str) -> None:
        assert self.limit is not None
        limit = self.limit
        if needed > limit:
            raise TooLargeForMemoryError(
                f"{what} would need about {_mib(needed)}, more than the server's whole memory_limit of {_mib(limit)}; "
                f"{fix}, or give the server more memory (memory_limit, or the container's limit)",
                needed=needed,
                limit=limit,
            )
        with self._lock:
            available = limit - resident_bytes() - self._reserved
            if needed > available:
                available += self._release()
            if needed > available:
                log.warning("refused %s: needs about %s, %s of %s free", what, _mib(needed), _mib(max(available, 0)), _mib(limit))
                if self._reserved == 0:  # nothing else runs: waiting would not help
                    raise TooLargeForMemoryError(
                        f"{what} would need about {_mib(needed)}, but the server's tables and caches leave only "
                        f"{_mib(max(available, 0))} of its memory_limit of {_mib(limit)}; {fix}, delete or drop what "
                        "is no longer needed, or give the server more memory",
                        needed=needed,
                        limit=limit,
                    )
                raise ResourceExhaustedError(
                    f"{what} would need about {_mib(needed)}, but only {_mib(max(available, 0))} of the server's "
                    f"memory_limit of {_mib(limit)} is free now; {fix}, try again once other work is done, "
                    "or give the server more memory",
                    needed=needed,
                    available=max(available, 0),
                    limit=limit,
                )
            self._reserved += needed

    def _release(self) -> int:
        """Give back what caches hold, and the allocator's free memory: how many bytes that freed."""
        before = resident_bytes()
        for release in self.releasers:
            release()
        pa.default_memory_pool().release_unused()
        return max(before - resident_bytes(), 0)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def _meminfo_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0


def _cgroup_limits() -> list[int]:
    """The memory limits of the cgroups this process is in (v2 and v1), where it can read them."""
    found: list[int] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidates = [Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.max"]
        elif "memory" in controllers.split(","):
            candidates = [Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.limit_in_bytes"]
        else:
            continue
        for candidate in candidates:
            try:
                text = candidate.read_text().strip()
            except OSError:
                continue
            if text.isdigit():
                found.append(int(text))
    return found
