"""The write-ahead log: segments of records, appended with group commit, read back with their damage judged.

A segment (``log/<n>.log``) is a short header followed by records (see
``frames``). ``LogWriter.append`` returns once its record is written and
fsync'd: writers that arrive while a write is under way queue up, and the
next one of them writes the whole queue with one ``writev`` and one
``fdatasync`` (group commit), so concurrent changes share the cost of an
fsync. A write never starts before the previous one's fsync returned, which
is what lets a reader tell a torn last write from damage further back.

Reading a segment (``SegmentReader``) stops at the first record whose head
or body does not check out. In the last segment that is a torn write, and
the record is dropped (it was never acknowledged), unless an intact record
of a *later* write follows it: that write began after the damaged record was
fsync'd, so the damage is real and the reader raises ``StorageError`` naming
the file and the offset. In any other segment, any damage is an error.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from io import BufferedReader

import msgspec
import pyarrow as pa

from tiercube._server.durability.files import create_private, damaged, fsync_path
from tiercube._server.durability.frames import HEAD_SIZE, MAGIC, RECORDS, Body, Head, body_intact, decode, parse_head, read_body, view
from tiercube._server.engine.journal import Record
from tiercube.errors import StorageError

SEGMENT_MAGIC = b"tiercube log 1\n\0"
# Buffers per writev call: Linux takes at most 1024.
_IOV_MAX = 1024


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:08d}.log"


def segment_numbers(directory: Path) -> list[int]:
    """The numbers of the segments in ``directory``, in order."""
    return sorted(int(path.stem) for path in directory.glob("*.log") if path.stem.isdigit())


def create_segment(directory: Path, number: int) -> None:
    """An empty segment, durable (its header fsync'd, and its name in the directory); none if that fails."""
    path = segment_path(directory, number)
    descriptor = create_private(path)
    try:
        try:
            os.write(descriptor, SEGMENT_MAGIC)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        fsync_path(directory)
    except OSError as error:
        path.unlink(missing_ok=True)  # a full disk: the next try starts afresh
        raise StorageError(f"cannot start log segment {path}: {error.strerror}", path=str(path)) from None


class _Waiting:
    """A record handed to the writer, until it is durable (or failed)."""

    __slots__ = ("body", "done", "error")

    def __init__(self, body: Body) -> None:
        self.body = body
        self.done = False
        self.error: StorageError | None = None


class LogWriter:
    """Appends records to the current segment of ``directory``; starts the next one on ``rotate``."""

    def __init__(self, directory: Path, number: int, next_record: int) -> None:
        self.directory = directory
        self.number = number
        # The number the next record written gets (records count across segments).
        self.next_record = next_record
        self._descriptor = os.open(segment_path(directory, number), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self.size = os.fstat(self._descriptor).st_size
        # Bytes written by this writer, over all segments.
        self.written = 0
        self._condition = threading.Condition()
        self._queue: list[_Waiting] = []
        self._writing = False
        # Set when the log can no longer be trusted (an fsync failed): every later append fails.
        self._broken: str | None = None

    def append(self, body: Body) -> None:
        """Write ``body`` as the next record and make it durable; ``StorageError`` if it could not be."""
        waiting = _Waiting(body)
        with self._condition:
            self._queue.append(waiting)
            while not waiting.done:
                if self._writing:
                    self._condition.wait()
                    continue
                batch, self._queue = self._queue, []
                self._writing = True
                self._condition.release()
                try:
                    self._write(batch)
                finally:
                    self._condition.acquire()
                    self._writing = False
                    self._condition.notify_all()
        if waiting.error is not None:
            raise waiting.error

    def _write(self, batch: list[_Waiting]) -> None:
        """Write ``batch`` with one writev and one fdatasync; mark every record done, written or failed."""
        # Stays set unless the batch is written: a failure that is no StorageError fails it too.
        error: StorageError | None = StorageError("the change was not recorded (an internal error: the server's log says more)")
        try:
            if self._broken is not None:
                raise StorageError(self._broken, path=str(self.directory))
            group = self.next_record
            buffers = [part for i, waiting in enumerate(batch) for part in waiting.body.framed(group + i, group)]
            try:
                written = _write_all(self._descriptor, buffers)
            except OSError as failure:
                raise self._undone(failure) from None
            try:
                os.fdatasync(self._descriptor)
            except OSError as failure:
                # What reached the disk is unknown now (the kernel may have dropped the pages): trust nothing more.
                self._broken = (
                    f"the server could not write to its data directory {self.directory} ({failure.strerror}); "
                    "it takes no more changes: restart it"
                )
                raise StorageError(self._broken, path=str(self.directory)) from None
            self.next_record += len(batch)
            self.size += written
            self.written += written
            error = None
        except StorageError as failure:
            error = failure
        finally:
            for waiting in batch:
                waiting.error = error
                waiting.done = True

    def _undone(self, failure: OSError) -> StorageError:
        """The error for a write that failed (a full disk), after cutting off what it wrote."""
        try:
            os.ftruncate(self._descriptor, self.size)
        except OSError:
            self._broken = f"the server could not write to its data directory {self.directory} ({failure.strerror}); restart it"
            return StorageError(self._broken, path=str(self.directory))
        return StorageError(
            f"the server could not write to its data directory {self.directory} ({failure.strerror}); "
            "the change was not made: free some space there and try again",
            path=str(self.directory),
        )

    def rotate(self) -> int:
        """Start the next segment and write there from now on; its number. No append may be under way."""
        with self._condition:
            if self._queue or self._writing:
                raise RuntimeError("rotate() while a record is being written")
            create_segment(self.directory, self.number + 1)
            os.close(self._descriptor)
            self.number += 1
            self._descriptor = os.open(segment_path(self.directory, self.number), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self.size = len(SEGMENT_MAGIC)
        return self.number

    def close(self) -> None:
        os.close(self._descriptor)


def _write_all(descriptor: int, buffers: Sequence[bytes | memoryview]) -> int:
    """Write every buffer, in order, however many calls it takes; how many bytes."""
    views = [memoryview(buffer).cast("B") for buffer in buffers]
    total = sum(view.nbytes for view in views)
    first = 0
    while first < len(views):
        written = os.writev(descriptor, views[first : first + _IOV_MAX])
        while first < len(views) and written >= views[first].nbytes:
            written -= views[first].nbytes
            first += 1
        if written:
            views[first] = views[first][written:]
    return total


@dataclass(frozen=True)
class Recorded:
    """A record read back: its number, where it starts, the change and its rows."""

    number: int
    offset: int
    record: Record
    rows: pa.Table | None


class SegmentReader:
    """The records of one segment, in order, from record ``first_number`` on.

    After iterating: ``end`` is where the intact records end, ``torn`` whether
    a torn write follows them (only in the ``last`` segment).
    """

    def __init__(self, path: Path, first_number: int, *, last: bool) -> None:
        self.path = path
        self.next_number = first_number
        self.last = last
        self.end = 0
        self.torn = False

    def __iter__(self) -> Iterator[Recorded]:
        with open(self.path, "rb") as file:
            header = file.read(len(SEGMENT_MAGIC))
            if header != SEGMENT_MAGIC:
                if self.last and SEGMENT_MAGIC.startswith(header):
                    self.torn = True  # created, but its header never reached the disk
                    return
                raise damaged(self.path, 0, "this is not a tiercube log segment")
            offset = len(SEGMENT_MAGIC)
            while True:
                data = file.read(HEAD_SIZE)
                if not data:
                    self.end = offset
                    return
                head = parse_head(data)
                body = read_body(file, head.size) if head is not None else None
                if head is None or body is None or not body_intact(head, view(body)):
                    self._judge(file, offset)
                    self.end, self.torn = offset, True
                    return
                if head.number != self.next_number:
                    raise damaged(self.path, offset, f"record {head.number} is where record {self.next_number} belongs: records are missing")
                try:
                    record, rows = decode(body, RECORDS)
                except (msgspec.ValidationError, msgspec.DecodeError, pa.ArrowException) as error:
                    raise damaged(self.path, offset, f"record {head.number} cannot be read ({error})") from None
                yield Recorded(head.number, offset, record, rows)
                offset += HEAD_SIZE + head.size
                self.next_number += 1

    def _judge(self, file: BufferedReader, offset: int) -> None:
        """At ``offset`` a record does not check out: raise unless it can be a torn last write."""
        if not self.last:
            raise damaged(self.path, offset, f"record {self.next_number} is damaged (its checksum does not match), and later segments follow")
        file.seek(offset + 1)
        rest = file.read()
        found = rest.find(MAGIC)
        while found >= 0:
            later = _intact_at(rest, found)
            if later is not None and later.group > self.next_number:
                raise damaged(
                    self.path,
                    offset,
                    f"record {self.next_number} is damaged (its checksum does not match), but record {later.number} "
                    "after it was written once it was safely on disk",
                )
            found = rest.find(MAGIC, found + 1)


def _intact_at(data: bytes, offset: int) -> Head | None:
    """The head of an intact record at ``offset`` of ``data``, if one is there."""
    head = parse_head(data[offset : offset + HEAD_SIZE])
    if head is None or not body_intact(head, data[offset + HEAD_SIZE : offset + HEAD_SIZE + head.size]):
        return None
    return head
