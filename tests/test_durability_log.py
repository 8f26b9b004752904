"""The write-ahead log on real files: group commit, torn last writes, damage further back.

What survives a SIGKILL, a full disk or a SIGTERM of a real server is in
test_durability.py; here segments are written byte by byte in the log's
format, so that every way a file can end is tried.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from tiercube._server.durability.frames import encode
from tiercube._server.durability.log import SEGMENT_MAGIC, LogWriter, SegmentReader, create_segment, segment_path
from tiercube._server.engine.journal import RowsAdded
from tiercube.errors import StorageError


def segment(directory: Path, groups: list[int], *, number: int = 1, first: int = 1) -> tuple[Path, list[int]]:
    """Segment ``number``: records numbered from ``first``, written in writes of ``groups[i]`` records
    each (as concurrent writers share one write); the segment and each record's offset."""
    data = bytearray(SEGMENT_MAGIC)
    offsets: list[int] = []
    record = first
    for size in groups:
        group = record
        for _ in range(size):
            offsets.append(len(data))
            for part in encode(RowsAdded(f"t{record}"), pa.table({"x": [record]})).framed(record, group):
                data += part
            record += 1
    path = segment_path(directory, number)
    path.write_bytes(bytes(data))
    return path, offsets


def read(path: Path, *, last: bool = True, first: int = 1) -> tuple[list[int], SegmentReader]:
    reader = SegmentReader(path, first, last=last)
    return [recorded.number for recorded in reader], reader


def damage(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_records_read_back_whole_with_their_rows(tmp_path: Path) -> None:
    path, _ = segment(tmp_path, [1, 3, 1])
    reader = SegmentReader(path, 1, last=True)
    records = list(reader)
    assert [r.number for r in records] == [1, 2, 3, 4, 5]
    assert [r.record for r in records] == [RowsAdded(f"t{n}") for n in range(1, 6)]
    assert [r.rows.to_pydict() if r.rows is not None else None for r in records] == [{"x": [n]} for n in range(1, 6)]
    assert (reader.end, reader.torn) == (path.stat().st_size, False)


def test_a_write_cut_anywhere_is_dropped_whole_and_what_came_before_stays(tmp_path: Path) -> None:
    path, offsets = segment(tmp_path, [1, 1, 2])
    whole = path.read_bytes()
    last_write = offsets[2]  # the last write holds records 3 and 4
    for cut in range(last_write, len(whole)):
        path.write_bytes(whole[:cut])
        numbers, reader = read(path)
        kept = [1, 2, 3] if cut >= offsets[3] else [1, 2]
        assert numbers == kept, cut
        # A cut between two records is no torn record: the file just ends there.
        assert (reader.torn, reader.end) == (cut not in offsets, offsets[len(kept)]), cut


@pytest.mark.parametrize("tail", [b"\0" * 5000, os.urandom(300)], ids=["zeros", "noise"])
def test_what_a_torn_write_leaves_after_the_last_record_is_dropped(tmp_path: Path, tail: bytes) -> None:
    path, _ = segment(tmp_path, [1, 1])
    size = path.stat().st_size
    path.write_bytes(path.read_bytes() + tail)
    numbers, reader = read(path)
    assert numbers == [1, 2]
    assert reader.torn and reader.end == size


def test_damage_inside_the_last_write_drops_that_write_from_the_damage_on(tmp_path: Path) -> None:
    # Records 2 to 4 were one write: damage in record 2 is a write torn at any page, not yet acknowledged.
    path, offsets = segment(tmp_path, [1, 3])
    damage(path, offsets[1] + 50)
    numbers, reader = read(path)
    assert numbers == [1]
    assert reader.torn and reader.end == offsets[1]


@pytest.mark.parametrize("where", [3, 50], ids=["head", "body"])
def test_damage_before_a_later_write_is_an_error_naming_the_file_and_offset(tmp_path: Path, where: int) -> None:
    # Record 3 was written only after record 2 was on disk and acknowledged: record 2 is not a torn write.
    path, offsets = segment(tmp_path, [1, 1, 1])
    damage(path, offsets[1] + where)
    with pytest.raises(StorageError, match=rf"{path}, offset {offsets[1]}: record 2 is damaged.*record 3 after it"):
        read(path)


def test_damage_in_a_segment_that_others_follow_is_an_error(tmp_path: Path) -> None:
    path, offsets = segment(tmp_path, [1, 1])
    path.write_bytes(path.read_bytes()[: offsets[1] + 10])  # torn, but a later segment exists
    with pytest.raises(StorageError, match=rf"{path}, offset {offsets[1]}: record 2 is damaged.*later segments follow"):
        read(path, last=False)


def test_missing_records_are_an_error(tmp_path: Path) -> None:
    path, offsets = segment(tmp_path, [1, 1], first=7)
    with pytest.raises(StorageError, match=rf"{path}, offset {offsets[0]}: record 7 is where record 5 belongs: records are missing"):
        read(path, first=5)


def test_a_segment_whose_header_never_reached_the_disk_is_empty(tmp_path: Path) -> None:
    path = segment_path(tmp_path, 1)
    path.write_bytes(SEGMENT_MAGIC[:5])
    numbers, reader = read(path)
    assert numbers == [] and reader.torn and reader.end == 0
    path.write_bytes(b"not a log at all")
    with pytest.raises(StorageError, match="not a tiercube log segment"):
        read(path)


def counting_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count fdatasync calls at the OS boundary (each still happens)."""
    calls: list[int] = []
    real: Callable[[int], None] = os.fdatasync

    def counted(descriptor: int) -> None:
        calls.append(descriptor)
        real(descriptor)

    monkeypatch.setattr(os, "fdatasync", counted)
    return calls


def test_concurrent_writers_share_fsyncs_and_every_record_lands_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_segment(tmp_path, 1)
    writer = LogWriter(tmp_path, 1, 1)
    fsyncs = counting_fsyncs(monkeypatch)
    threads, per_thread = 8, 40
    barrier = threading.Barrier(threads)

    def append(thread: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            writer.append(encode(RowsAdded(f"{thread}:{i}"), None))

    workers = [threading.Thread(target=append, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    writer.close()
    records = list(SegmentReader(segment_path(tmp_path, 1), 1, last=True))
    assert [r.number for r in records] == list(range(1, threads * per_thread + 1))
    written = [r.record.table for r in records if isinstance(r.record, RowsAdded)]
    assert sorted(written) == sorted(f"{t}:{i}" for t in range(threads) for i in range(per_thread))
    for thread in range(threads):  # each writer's records in the order it wrote them
        assert [w for w in written if w.startswith(f"{thread}:")] == [f"{thread}:{i}" for i in range(per_thread)]
    assert len(fsyncs) < threads * per_thread


def test_a_failed_write_leaves_the_log_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_segment(tmp_path, 1)
    writer = LogWriter(tmp_path, 1, 1)
    writer.append(encode(RowsAdded("kept"), None))
    size = segment_path(tmp_path, 1).stat().st_size
    real = os.writev

    def disk_full(descriptor: int, buffers: list[memoryview]) -> int:
        real(descriptor, [buffers[0][:10]])  # a part reaches the file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "writev", disk_full)
    with pytest.raises(StorageError, match="No space left on device.*the change was not made"):
        writer.append(encode(RowsAdded("lost"), None))
    assert segment_path(tmp_path, 1).stat().st_size == size
    monkeypatch.setattr(os, "writev", real)
    writer.append(encode(RowsAdded("after"), None))
    writer.close()
    records = list(SegmentReader(segment_path(tmp_path, 1), 1, last=True))
    assert [(r.number, r.record) for r in records] == [(1, RowsAdded("kept")), (2, RowsAdded("after"))]
