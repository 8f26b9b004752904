"""Answers kept for repeated queries: a dashboard asks the same questions again and again.

An answer is kept under the query as it was asked, the cube's definition
(the very object: definitions are replaced, never edited) and the version of
every table the cube reads, as those were before the query ran. A change to
any of them makes a new key, so a kept answer is never stale; a query that
ran on data newer than its key's versions is still an answer for that key.
Restricted callers' answers are never kept.

A key is a digest (32 bytes, whatever the query holds: a 20 MB ``isin``
must not be kept whole), and an answer is kept with its Arrow IPC bytes once
they are made, counted against the budget too: a repeated query is then a
lookup and a write, with nothing to compute or encode.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Iterable

import pyarrow as pa

from tiercube._wire import arrow_ipc


class Answer:
    """A query's answer, and its encoding once asked for (kept answers are sent as they were the first time)."""

    __slots__ = ("table", "_encoded")

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._encoded: bytes | None = None

    def encoded(self) -> bytes:
        """The answer as an Arrow IPC stream (made once: racing makers make the same bytes)."""
        if self._encoded is None:
            self._encoded = arrow_ipc.encode(self.table)
        return self._encoded

    @property
    def nbytes(self) -> int:
        """Its size, as kept: the table and, once made, its encoding (counted before it is)."""
        return 2 * int(self.table.nbytes) + _OVERHEAD


_OVERHEAD = 1024
"""What a kept entry costs beyond its answer: the key, the entry, the bookkeeping."""


def digest(parts: Iterable[bytes]) -> bytes:
    """The key of a query: a SHA-256 of what it was asked with."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(len(part).to_bytes(8, "little"))
        hashed.update(part)
    return hashed.digest()


class Results:
    """At most ``budget`` bytes of answers, least recently used out first."""

    def __init__(self, budget: int, entries: int = 1_000) -> None:
        self.budget = budget
        self.entries = entries
        self._kept: collections.OrderedDict[bytes, tuple[object, Answer]] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def size(self) -> tuple[int, int]:
        """How many answers are kept, and their bytes."""
        with self._lock:
            return len(self._kept), self._bytes

    def get(self, key: bytes) -> Answer | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            return found[1]

    def put(self, key: bytes, owner: object, answer: Answer) -> None:
        """Keep ``answer``; ``owner`` (the cube definition) is held so its identity stays unique."""
        size = answer.nbytes
        if size > self.budget // 8:
            return
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = (owner, answer)
            self._bytes += size
            while self._bytes > self.budget or len(self._kept) > self.entries:
                _, (_, evicted) = self._kept.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> int:
        """Forget every answer (when memory is short); the bytes given back."""
        with self._lock:
            freed, self._bytes = self._bytes, 0
            self._kept.clear()
            return freed
