"""A restart: the current snapshot, then every record logged after it, applied to the session's stores.

Records are applied as they were applied live (each store's ``replay``),
in log order, so keys, upserts and drops come out exactly as before. A torn
last write is cut off the log (it was never acknowledged); any other damage
stops the start with an error naming the file and offset.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from tiercube._server.accounts import Accounts
from tiercube._server.durability import snapshots
from tiercube._server.durability.files import damaged, fsync_path
from tiercube._server.durability.log import SEGMENT_MAGIC, SegmentReader, create_segment, segment_numbers, segment_path
from tiercube._server.durability.snapshots import Image, SavedFile, TableImage
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.journal import (
    CubeDefined,
    CubeDeleted,
    Joined,
    Record,
    RestrictionDeleted,
    RoleRestricted,
    RowsAdded,
    RowsDropped,
    TableCreated,
    TableDeleted,
    TokenIssued,
    TokenRevoked,
    UserDeleted,
    UserSet,
    ViewDeleted,
    ViewSaved,
)
from tiercube._server.restrictions import Restrictions
from tiercube._server.saved_views import SavedViews
from tiercube._server.tokens import Tokens
from tiercube.errors import TiercubeError

log = logging.getLogger("tiercube.server")


@dataclass(frozen=True)
class Parts:
    """The stores of a session whose changes are recorded."""

    cubes: CubeStore
    accounts: Accounts
    restrictions: Restrictions
    tokens: Tokens
    views: SavedViews

    def apply(self, record: Record, rows: pa.Table | None) -> None:
        """Apply ``record`` again, in the store it belongs to."""
        match record:
            case TableCreated() | RowsAdded() | RowsDropped():
                self.cubes.tables.replay(record, rows)
            case TableDeleted() | Joined() | CubeDefined() | CubeDeleted():
                self.cubes.replay(record)
            case UserSet() | UserDeleted():
                self.accounts.replay(record)
            case RoleRestricted() | RestrictionDeleted():
                self.restrictions.replay(record)
            case TokenIssued() | TokenRevoked():
                self.tokens.replay(record)
            case ViewSaved() | ViewDeleted():
                self.views.replay(record)

    def image(self, last_record: int) -> Image:
        """The state now, for a snapshot (the caller keeps changes out meanwhile)."""
        tables = [TableImage(TableCreated.of(table.layout), table.version, table.rows) for table in self.cubes.tables.values()]
        return Image(last_record, tables, [*self.cubes.recorded(), *self.accounts.recorded(), *self.restrictions.recorded(), *self.tokens.recorded(), *self.views.recorded()])


@dataclass(frozen=True)
class Recovered:
    """Where logging goes on after a restart."""

    segment: int
    next_record: int
    # The last record the current snapshot holds (0: none), and the size of the log after it.
    saved_record: int
    logged_bytes: int
    # The tables whose rows are still those of the snapshot's files.
    files: dict[str, SavedFile]


def recover(root: Path, parts: Parts) -> Recovered:
    """Rebuild ``parts`` from the data directory ``root``: its current snapshot, then its log."""
    started = time.perf_counter()
    log_directory = root / "log"
    current = snapshots.current(root)
    files: dict[str, SavedFile] = {}
    saved_record = 0
    if current is not None:
        catalog, tables = snapshots.read(root, current)
        for saved, rows in zip(catalog.tables, tables, strict=True):
            parts.apply(saved.created, rows)
            version = parts.cubes.tables.get(saved.created.name).version
            files[saved.created.name] = SavedFile(version, snapshots.directory_of(root, current) / saved.file, saved.size, saved.crc)
        for record in catalog.records:
            parts.apply(record, None)
        saved_record = catalog.last_record
    next_record = saved_record + 1
    first = current if current is not None else 1
    numbers = [number for number in segment_numbers(log_directory) if number >= first]
    if numbers != list(range(first, first + len(numbers))) or (current is not None and not numbers):
        raise damaged(segment_path(log_directory, first), 0, f"log segments are missing (found {numbers or 'none'}, from {first} on)")
    if not numbers:
        create_segment(log_directory, first)
        numbers = [first]
    replayed = 0
    for number in numbers:
        reader = SegmentReader(segment_path(log_directory, number), next_record, last=number == numbers[-1])
        for recorded in reader:
            try:
                parts.apply(recorded.record, recorded.rows)
            except (TiercubeError, KeyError) as error:
                what = f"record {recorded.number} ({type(recorded.record).__name__}) cannot be applied again: {error}"
                raise damaged(reader.path, recorded.offset, what) from None
            replayed += 1
        next_record = reader.next_number
        if reader.torn:
            _cut(reader.path, reader.end)
    # A table changed (or deleted) since the snapshot is written again by the next one.
    versions = {table.name: table.version for table in parts.cubes.tables.values()}
    files = {name: saved for name, saved in files.items() if versions.get(name) == saved.version}
    snapshots.remove_older(root, current)
    logged = sum(os.path.getsize(segment_path(log_directory, number)) for number in numbers)
    log.info(
        "data directory %s: snapshot %s and %d logged change(s) applied in %.2f s",
        root, current if current is not None else "(none)", replayed, time.perf_counter() - started,
    )
    return Recovered(numbers[-1], next_record, saved_record, logged - len(SEGMENT_MAGIC) * len(numbers), files)


def _cut(path: Path, end: int) -> None:
    """Drop the torn write at the end of ``path`` (at ``end``; 0: even its header)."""
    log.warning("%s: dropping an incomplete last write at offset %d (it was never acknowledged)", path, end)
    descriptor = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        if end == 0:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, SEGMENT_MAGIC)
        else:
            os.ftruncate(descriptor, end)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    fsync_path(path.parent)
