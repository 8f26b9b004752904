"""How far the loads under way have read their files, told to the caller who started each one.

A load request may carry a ``load_id`` its client chose at random; while the
load runs, ``GET /api/v1/loads/{load}`` answers that caller how many bytes of
the file the server has read, and of how many. The answer is looked up by the
caller *and* the id, and is the same "nothing known" for a load not yet
started, one finished and one of somebody else: another caller, whatever its
tier, learns nothing about it, not even that it exists.

The bytes are counted as pyarrow's reader takes them from the file, through a
file object that adds up what each ``read`` returned: a few hundred to a few
thousand Python calls for a 200 MB file, instead of one pyarrow call on a path
that nobody could watch. Every file a load reads is counted: a CSV file as its
reader streams it (a few 1 MB blocks ahead of its parser); a Parquet file up
to 32 MB at a time (its reader merges neighbouring column chunks), a few row
groups ahead of the threads that decode them; an Arrow IPC file buffer by
buffer, before the table is checked. Only a caller who follows a load has it
counted (its client does where a progress line shows): other loads read their
files as pyarrow opens them.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, cast

from tiercube._wire.messages import LoadProgress
from tiercube.errors import ConflictError

NOTHING_KNOWN = LoadProgress(0, None)
"""The answer for a load that is not under way for this caller (not started, finished, or not its own)."""


@dataclass
class ReadCount:
    """The bytes read so far of a load's file, and the file's size (None until the file is open)."""

    bytes_done: int = 0
    bytes_total: int | None = None


# The count of the load this thread serves, if its caller asked to follow it.
_CURRENT: ContextVar[ReadCount | None] = ContextVar("tiercube_load_progress", default=None)


class LoadsUnderWay:
    """The loads that carry a load id, by their caller and id, while they run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str | None, str], ReadCount] = {}

    @contextmanager
    def following(self, caller: str | None, load_id: str | None) -> Generator[None]:
        """Count what the load served in this block reads, for ``caller`` to ask by ``load_id`` (None: nobody asks)."""
        if load_id is None:
            yield
            return
        key = (caller, load_id)
        count = ReadCount()
        with self._lock:
            if key in self._counts:
                raise ConflictError(f"a load with id {load_id!r} is under way already: give each load a new random id")
            self._counts[key] = count
        token = _CURRENT.set(count)
        try:
            yield
        finally:
            _CURRENT.reset(token)
            with self._lock:
                del self._counts[key]

    def progress(self, caller: str | None, load_id: str) -> LoadProgress:
        """How far ``caller``'s load ``load_id`` has read its file; ``NOTHING_KNOWN`` if it has none under way by that id."""
        with self._lock:
            count = self._counts.get((caller, load_id))
        if count is None:
            return NOTHING_KNOWN
        return LoadProgress(count.bytes_done, count.bytes_total)


def followed() -> bool:
    """Whether the caller of the load this thread serves follows it."""
    return _CURRENT.get() is not None


@contextmanager
def counted(file: IO[bytes], size: int) -> Generator[IO[bytes]]:
    """``file`` (of ``size`` bytes), counting what is read of it for the load this thread serves, if
    its caller follows it; ``file`` itself otherwise. Once the reader is done with it, the whole file
    counts as read."""
    count = _CURRENT.get()
    if count is None:
        yield file
        return
    count.bytes_total = size
    # pyarrow reads any object with read(); typing's IO is a class that no file wrapper derives from.
    yield cast("IO[bytes]", _CountingReader(file, count, size))
    # A CSV file is read to its end; a Parquet or Arrow file's reader skips what it needs not (the
    # magic numbers, the copy of the schema before the first batch) and reads the footer twice.
    count.bytes_done = size


class _CountingReader(io.RawIOBase):
    """A binary file that adds the length of every read to a ``ReadCount``, up to the file's size."""

    def __init__(self, file: IO[bytes], count: ReadCount, size: int) -> None:
        super().__init__()
        self._file = file
        self._count = count
        self._size = size

    def readable(self) -> bool:
        return True

    # Parquet and Arrow IPC readers jump to the footer and back: they need seek and tell.
    def seekable(self) -> bool:
        return self._file.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1, /) -> bytes:  # pyarrow's readers call only this to read
        data = self._file.read(size)
        # One read at a time adds to it (pyarrow holds a lock over each read of a Python file, whichever
        # of its threads reads); the progress route reads an int, which the GIL keeps whole.
        # Bounded by the size: what is read twice (a Parquet footer) must not count past the end.
        self._count.bytes_done = min(self._count.bytes_done + len(data), self._size)
        return data
