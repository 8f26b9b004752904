"""Snapshots: every table's rows as an Arrow file, and one catalog of everything else.

::

    CURRENT                   {"snapshot": n}: the snapshot in use, replaced by a rename
    snapshots/<n>/catalog     one framed record (see ``frames``): the ``Catalog``
    snapshots/<n>/<i>.arrow   table i's rows, an Arrow IPC file (memory-mapped at a restart)

Snapshot n is the state after every record of the log segments before n: a
restart reads it, then replays segments n, n+1, ... It is written beside the
current one (``<n>.tmp``), every file fsync'd, renamed, and only then made
current by renaming a new CURRENT over the old; the segments and snapshots
before it are removed after that. A crash at any point leaves the old
snapshot with all of its log, or the new one. A table unchanged since the
previous snapshot is not written again: its file is hard-linked.
"""

from __future__ import annotations

import os
import shutil
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import msgspec
import pyarrow as pa

from tiercube._server.durability.files import create_private, damaged, fsync_path, replace_durably, write_durably
from tiercube._server.durability.frames import HEAD_SIZE, body_intact, decode, encode, parse_head
from tiercube._server.durability.log import segment_numbers, segment_path
from tiercube._server.engine.journal import Record, TableCreated
from tiercube._server.engine.rows import Rows

CURRENT = "CURRENT"
CATALOG = "catalog"


class SavedTable(msgspec.Struct, frozen=True):
    """A table in a snapshot: how it was created, and the file holding its rows (size and crc32 checked)."""

    created: TableCreated
    file: str
    rows: int
    size: int
    crc: int


class Catalog(msgspec.Struct, frozen=True):
    """A snapshot's contents: the last record it includes, its tables, and the records that make the rest
    (joins, cubes, users, restrictions, tokens, saved views) in the order they are applied."""

    last_record: int
    tables: list[SavedTable]
    records: list[Record]


class Manifest(msgspec.Struct, frozen=True):
    snapshot: int
    format: int = 1


_CATALOGS = msgspec.msgpack.Decoder(Catalog)


@dataclass(frozen=True)
class TableImage:
    """A table as a snapshot saw it: its rows are one immutable version, written out later."""

    created: TableCreated
    version: int
    rows: Rows


@dataclass(frozen=True)
class Image:
    """The state as a snapshot saw it (under the barrier, in a moment): written out afterwards."""

    last_record: int
    tables: list[TableImage]
    records: list[Record]


@dataclass(frozen=True)
class SavedFile:
    """Where a snapshot holds a table's rows, and which version of the table they are."""

    version: int
    path: Path
    size: int
    crc: int


def directory_of(root: Path, number: int) -> Path:
    return root / "snapshots" / f"{number:08d}"


def current(root: Path) -> int | None:
    """The number of the snapshot in use; None before the first one."""
    path = root / CURRENT
    try:
        return msgspec.json.decode(path.read_bytes(), type=Manifest).snapshot
    except FileNotFoundError:
        return None
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise damaged(path, 0, f"it does not name a snapshot ({error})") from None


def write(root: Path, number: int, image: Image, previous: Mapping[str, SavedFile]) -> dict[str, SavedFile]:
    """Write ``image`` as snapshot ``number`` and make it current; where it holds each table's rows.

    ``previous``: the files of the snapshot before, by table; a table still at
    the version saved there is linked, not written again.
    """
    target = directory_of(root, number)
    temporary = target.with_name(target.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(mode=0o700)
    try:
        saved: list[SavedTable] = []
        files: dict[str, SavedFile] = {}
        for index, table in enumerate(image.tables):
            name = f"{index}.arrow"
            reused = previous.get(table.created.name)
            if reused is not None and reused.version == table.version and _linked(reused.path, temporary / name):
                size, crc = reused.size, reused.crc
            else:
                size, crc = _write_rows(temporary / name, table.rows.gathered())
            saved.append(SavedTable(table.created, name, table.rows.num_rows, size, crc))
            files[table.created.name] = SavedFile(table.version, target / name, size, crc)
        catalog = encode(Catalog(image.last_record, saved, image.records), None)
        write_durably(temporary / CATALOG, b"".join(catalog.framed(0, 0)))
        fsync_path(temporary)
        os.rename(temporary, target)
        fsync_path(target.parent)
        replace_durably(root / CURRENT, msgspec.json.encode(Manifest(number)))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return files


def _linked(existing: Path, link: Path) -> bool:
    try:
        os.link(existing, link)
    except OSError:
        return False
    return True


def _write_rows(path: Path, rows: pa.Table) -> tuple[int, int]:
    """Write ``rows`` (one dictionary per column, as ``Rows.gathered`` gives) to a new Arrow file; its size and crc32."""
    os.close(create_private(path))  # 0600 from the start; Arrow then writes into it
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
        writer.write_table(rows)
    fsync_path(path)
    with pa.memory_map(str(path)) as mapped:
        return _checksum(mapped.read_buffer())


def _checksum(buffer: pa.Buffer) -> tuple[int, int]:
    # pyarrow's Buffer exports the buffer protocol; its stubs do not say so.
    return buffer.size, zlib.crc32(memoryview(cast(Any, buffer)))


def read(root: Path, number: int) -> tuple[Catalog, list[pa.Table]]:
    """Snapshot ``number``: its catalog, and each table's rows (memory-mapped, checked against the catalog)."""
    directory = directory_of(root, number)
    path = directory / CATALOG
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise damaged(path, 0, "the current snapshot has no catalog") from None
    head = parse_head(data[:HEAD_SIZE])
    body = data[HEAD_SIZE:]
    if head is None or not body_intact(head, body):
        raise damaged(path, 0, "the snapshot's catalog does not match its checksum")
    try:
        catalog, _ = decode(pa.py_buffer(body), _CATALOGS)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise damaged(path, 0, f"the snapshot's catalog cannot be read ({error})") from None
    return catalog, [_read_rows(directory / saved.file, saved) for saved in catalog.tables]


def _read_rows(path: Path, saved: SavedTable) -> pa.Table:
    try:
        buffer = pa.memory_map(str(path)).read_buffer()
    except FileNotFoundError:
        raise damaged(path, 0, f"the rows of table {saved.created.name!r} are missing") from None
    if _checksum(buffer) != (saved.size, saved.crc):
        raise damaged(path, 0, f"the rows of table {saved.created.name!r} do not match their checksum")
    try:
        return pa.ipc.open_file(buffer).read_all()
    except pa.ArrowException as error:
        raise damaged(path, 0, f"the rows of table {saved.created.name!r} cannot be read ({error})") from None


def remove_older(root: Path, number: int | None) -> None:
    """Remove the log segments before snapshot ``number`` and every other snapshot (None: none is current)."""
    log = root / "log"
    for segment in segment_numbers(log):
        if number is not None and segment < number:
            segment_path(log, segment).unlink()
    keep = directory_of(root, number).name if number is not None else None
    for path in (root / "snapshots").iterdir():
        if path.name != keep:
            shutil.rmtree(path, ignore_errors=True)
