"""Answers kept for repeated queries: a dashboard asks the same questions again and again.

An answer is kept under the query as it was asked, the cube's definition
(the very object: definitions are replaced, never edited) and the version of
every table the cube reads, as those were before the query ran. A change to
any of them makes a new key, so a kept answer is never stale; a query that
ran on data newer than its key's versions is still an answer for that key.
Restricted callers' answers are never kept.
"""

from __future__ import annotations

import collections
import threading

import pyarrow as pa

Key = tuple[object, ...]


class Results:
    """At most ``budget`` bytes of answers, least recently used out first."""

    def __init__(self, budget: int, entries: int = 1_000) -> None:
        self.budget = budget
        self.entries = entries
        self._kept: collections.OrderedDict[Key, tuple[object, pa.Table]] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def size(self) -> tuple[int, int]:
        """How many answers are kept, and their bytes."""
        with self._lock:
            return len(self._kept), self._bytes

    def get(self, key: Key) -> pa.Table | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            return found[1]

    def put(self, key: Key, owner: object, answer: pa.Table) -> None:
        """Keep ``answer``; ``owner`` (the cube definition) is held so its identity stays unique."""
        size = int(answer.nbytes)
        if size > self.budget // 8:
            return
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = (owner, answer)
            self._bytes += size
            while self._bytes > self.budget or len(self._kept) > self.entries:
                _, (_, evicted) = self._kept.popitem(last=False)
                self._bytes -= int(evicted.nbytes)
