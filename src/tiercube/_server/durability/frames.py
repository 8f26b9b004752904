"""One record as it lies in a file: a checked head, then the change and its rows.

::

    head (36 bytes, little-endian)  b"TCR1" | number u64 | group u64 | body length u64 | body crc32 u32 | head crc32 u32
    body                            change length u32 | change (msgpack) | zeros to a multiple of 64 | rows (an Arrow IPC stream; absent: none)

``number`` counts records from the data directory's first, across log
segments, so a missing one is noticed. ``group`` is the number of the first
record written with this one (by one write and one fsync, see ``log``):
recovery uses it to tell a torn last write from damage further back. The
head's own checksum protects the body's length, so a damaged length is
never taken for the end of the file. A body is read into a 64-byte aligned
buffer and its rows start at a multiple of 64 in it, so the rows read back
are aligned as Arrow's compute kernels want them, without a copy.

Snapshots keep their catalog in the same format, as one record.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import msgspec
import pyarrow as pa

from tiercube._server.engine.journal import Record

MAGIC = b"TCR1"
_HEAD = struct.Struct("<4sQQQI")
_CHECKED_HEAD = struct.Struct("<I")
HEAD_SIZE = _HEAD.size + _CHECKED_HEAD.size
_LENGTH = struct.Struct("<I")
_ALIGNMENT = 64
RECORDS = msgspec.msgpack.Decoder(Record)
T = TypeVar("T")


@dataclass(frozen=True)
class Body:
    """A record's body, encoded: its parts (written one after the other), size and checksum."""

    parts: tuple[bytes | memoryview, ...]
    size: int
    crc: int

    def framed(self, number: int, group: int) -> list[bytes | memoryview]:
        """Head and body, ready to write: record ``number`` of the write that starts at ``group``."""
        head = _HEAD.pack(MAGIC, number, group, self.size, self.crc)
        return [head + _CHECKED_HEAD.pack(zlib.crc32(head)), *self.parts]


@dataclass(frozen=True)
class Head:
    number: int
    group: int
    size: int
    crc: int


def encode(change: msgspec.Struct, rows: pa.Table | None) -> Body:
    """``change`` (a record, or a snapshot's catalog) and ``rows``, ready to frame."""
    encoded = msgspec.msgpack.encode(change)
    first = _LENGTH.pack(len(encoded)) + encoded
    if rows is not None:
        first += bytes(_rows_offset(len(encoded)) - len(first))
    parts: list[bytes | memoryview] = [first]
    if rows is not None:
        sink = pa.BufferOutputStream()
        # A stream, not a file: a batch may bring its own dictionaries (a load's blocks do).
        with pa.ipc.new_stream(sink, rows.schema) as writer:
            writer.write_table(rows)
        parts.append(view(sink.getvalue()))
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return Body(tuple(parts), sum(len(part) for part in parts), crc)


def parse_head(data: bytes) -> Head | None:
    """The head in ``data`` (``HEAD_SIZE`` bytes), or None if it is short or damaged."""
    if len(data) < HEAD_SIZE:
        return None
    (head_crc,) = _CHECKED_HEAD.unpack_from(data, _HEAD.size)
    if zlib.crc32(data[: _HEAD.size]) != head_crc:
        return None
    magic, number, group, size, crc = _HEAD.unpack_from(data)
    return Head(number, group, size, crc) if magic == MAGIC else None


def _rows_offset(change_length: int) -> int:
    end = _LENGTH.size + change_length
    return end + -end % _ALIGNMENT


def view(buffer: pa.Buffer) -> memoryview:
    """``buffer``'s bytes, without a copy (pyarrow's Buffer exports the buffer protocol; its stubs do not say so)."""
    return memoryview(cast(Any, buffer)).cast("B")


def read_body(file: io.BufferedIOBase, size: int) -> pa.Buffer | None:
    """The next ``size`` bytes of ``file``, in a 64-byte aligned buffer; None if the file ends first."""
    body = pa.allocate_buffer(size)
    return body if file.readinto(view(body)) == size else None


def body_intact(head: Head, body: bytes | memoryview) -> bool:
    return len(body) == head.size and zlib.crc32(body) == head.crc


def decode(body: pa.Buffer, decoder: msgspec.msgpack.Decoder[T]) -> tuple[T, pa.Table | None]:
    """The change and rows of an intact body; ``msgspec.ValidationError`` if ``decoder`` finds no change it knows."""
    data = view(body)
    (length,) = _LENGTH.unpack_from(data)
    change = decoder.decode(data[_LENGTH.size : _LENGTH.size + length])
    if _LENGTH.size + length == body.size:
        return change, None
    return change, pa.ipc.open_stream(body.slice(_rows_offset(length))).read_all()
