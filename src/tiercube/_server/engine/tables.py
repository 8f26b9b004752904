"""Tables: typed columns, optional keys with upsert semantics, atomic changes, reads for callers.

A table is a ``Layout`` and a version of its rows (``rows.Rows``), wherever
those live. Every change builds the next version and then swaps one
reference under the table's own write lock, so a failing load leaves the
table exactly as it was, readers never wait and never see half a change, and
writers of different tables never wait for each other. Between building and
swapping, the change is recorded in the session's ``Journal`` (see
``journal``); ``replay`` applies such records again at a restart. Reads (``query``,
``info_for``) apply the caller's row restrictions and the server's limits here,
so every route and every placement of rows shares them.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import pyarrow as pa

from tiercube._server.engine import duplicates, sources
from tiercube._server.engine.cancellation import Deadline, checkpoint
from tiercube._server.engine.filters import bind
from tiercube._server.engine.layout import Layout, check_name
from tiercube._server.engine.memory import MemoryGovernor
from tiercube._server.engine.held import ServerPlacement
from tiercube._server.engine.journal import NO_JOURNAL, Journal, RowsAdded, RowsDropped, TableCreated, TableRecord
from tiercube._server.engine.rows import Change, Placement, Rows
from tiercube._server.engine.types import decoded
from tiercube._server.engine.values import ValueMismatch, column_values
from tiercube._server.engine.visibility import Visibility
from tiercube._wire.column_types import ColumnType, describe_type
from tiercube._wire.filters import Filter, Scalar
from tiercube._wire.messages import CreateTable, OnDuplicateKeys, Read, Source, TableInfo, TableQuery
from tiercube.errors import ConflictError, InvalidRequestError, LoadError, NotFoundError, ResultTooLargeError

log = logging.getLogger("tiercube.server")

_SMALLER_LOAD = "load fewer rows at a time (split the file, or append in smaller batches)"

_VERSIONS = itertools.count()
# Compaction (giving back the space of replaced and dropped rows) runs here, off the writers' path.
_compacting = ThreadPoolExecutor(1, thread_name_prefix="tiercube-compact")


@dataclass(frozen=True)
class QueryLimits:
    """What one query may cost: seconds, and rows in its answer (the server's config sets both)."""

    timeout: float = 30.0
    max_rows: int = 10_000_000


@dataclass(frozen=True)
class Loaded:
    """A load's outcome: the table, the rows read, and how many of them a later row with the same key replaced."""

    table: StoredTable
    rows: int
    replaced: int = 0


class Observer(Protocol):
    """Told of every change of a table's rows, under the write lock, before readers can see it."""

    def changed(self, table: str, old: Rows, new: Rows, added: pa.Table | None, removed: pa.Table | None) -> None: ...
    def forget(self, table: str) -> None: ...


@dataclass
class StoredTable:
    layout: Layout
    rows: Rows = field(repr=False)
    # Changes with every change of the rows, and is never reused: what a cached answer was made from.
    version: int = field(default_factory=lambda: next(_VERSIONS))
    # Held by the one writer changing the rows at a time; readers take ``rows`` without it.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def columns(self) -> dict[str, ColumnType]:
        return dict(self.layout.columns)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.layout.keys

    @property
    def info(self) -> TableInfo:
        """The table's description, as its owner and admins see it."""
        return self.described(workers_shown=True)

    def described(self, *, workers_shown: bool, row_count: int | None = None) -> TableInfo:
        return TableInfo(
            name=self.name,
            columns=self.layout.describe(),
            keys=list(self.keys),
            row_count=self.rows.num_rows if row_count is None else row_count,
            partitions=self.rows.partitions(workers_shown=workers_shown),
        )


class TableStore:
    """Every table of a session, by name."""

    def __init__(
        self,
        placement: Placement | None = None,
        observer: Observer | None = None,
        limits: QueryLimits = QueryLimits(),
        memory: MemoryGovernor | None = None,
        journal: Journal = NO_JOURNAL,
    ) -> None:
        self._tables: dict[str, StoredTable] = {}
        # Held to add or remove tables; changes of a table's rows take the table's own lock.
        self.catalog_lock = threading.RLock()
        # Tables with a compaction waiting to run (its own lock: taken inside a table's lock).
        self._compactions: set[str] = set()
        self._compactions_lock = threading.Lock()
        self.placement: Placement = placement if placement is not None else ServerPlacement()
        self.limits = limits
        # What loads and queries may take of the server's memory (no limit by default: engine tests).
        self.memory = memory if memory is not None else MemoryGovernor(None)
        self._observer = observer
        # The session's journal: the cubes, joins and restrictions over these tables record in it too.
        self.journal = journal

    # Reading -----------------------------------------------------------

    def values(self) -> list[StoredTable]:
        return list(self._tables.values())

    def names(self) -> list[str]:
        return list(self._tables)

    def get(self, name: str) -> StoredTable:
        try:
            return self._tables[name]
        except KeyError:
            raise NotFoundError.of("table", name, self._tables) from None

    def info_for(self, name: str, visible: Visibility, *, workers_shown: bool) -> TableInfo:
        """``name``'s description as a caller sees it: its own row count, workers named only if shown."""
        table = self.get(name)
        plan = visible.rows(name)
        if plan is None:
            return table.described(workers_shown=workers_shown)
        # A restricted caller sees its own row count, and not how many rows each partition holds.
        return msgspec.structs.replace(table.described(workers_shown=False, row_count=table.rows.counted(plan)), partitions=None)

    def infos_for(self, visible: Visibility, *, workers_shown: bool) -> list[TableInfo]:
        return [self.info_for(name, visible, workers_shown=workers_shown) for name in self.names()]

    def query(self, name: str, request: TableQuery, visible: Visibility) -> pa.Table:
        """The rows of ``name`` that ``visible`` shows and the request's filter keeps, within the limits."""
        table = self.get(name)
        rows = table.rows  # one version throughout: writers swap, never mutate
        for column in request.columns:
            if column not in table.columns:
                raise InvalidRequestError(NotFoundError.describe("column", column, table.columns, within=f"table {name!r}"))
        if request.max_rows is not None and request.max_rows < 0:
            raise InvalidRequestError("max_rows must be zero or more")
        deadline = Deadline(self.limits.timeout)  # a million isin values are read within it
        condition = bind(request.filter, table.columns, table=name, deadline=deadline) if request.filter is not None else None
        limit = self.limits.max_rows
        # Stop at the rows asked for (never more than there are), or one past the limit, to tell that it was passed.
        wanted = min(request.max_rows, rows.num_rows) if request.max_rows is not None else limit + 1
        # The rows, their strings decoded, and their encoding for the wire.
        memory = 3 * min(wanted, rows.num_rows) * rows.nbytes // max(rows.num_rows, 1)
        with self.memory.reserve(memory, f"a query of up to {min(wanted, rows.num_rows):,} rows of table {name!r}", "pass max_rows or a filter"):
            data = rows.selected(condition, visible.rows(name), wanted, request.columns)
            if request.max_rows is None and data.num_rows > limit:
                raise ResultTooLargeError(f"the result has more than {limit} rows, the server's limit; pass max_rows or a filter", limit=limit)
            return decoded(data)

    # Changing ----------------------------------------------------------

    def create(self, request: CreateTable) -> StoredTable:
        layout = Layout.created(request)
        self._refuse_taken(layout.name)
        return self._added(StoredTable(layout, self.placement.empty(layout, request.distributed, 0)), None)

    def read(self, request: Read, access: sources.Access) -> Loaded:
        """Create a table whose columns and types come from the source (read as ``access`` allows)."""
        check_name("table", request.table)
        self._refuse_taken(request.table)
        origin = sources.describe(request.source)
        with self.memory.reserve(self.placement.read_memory(request, access), f"reading {origin}", _SMALLER_LOAD):
            layout, first, rows = self.placement.read(request, access, origin)
        refused = duplicates.refused(first.repeats, request.on_duplicate_keys)
        if refused is not None:
            raise _refusal(refused, layout, request.source, access)
        checkpoint(f"reading {request.table!r}")
        return Loaded(self._added(StoredTable(layout, first.rows), first), rows, duplicates.replaced(first.repeats))

    def load(self, name: str, source: Source, access: sources.Access, on_duplicate_keys: OnDuplicateKeys = "last") -> Loaded:
        """``source`` loaded into table ``name``; ``on_duplicate_keys``: what a key repeated within it does."""
        table = self.get(name)
        with self.memory.reserve(table.rows.load_memory(source, access), f"reading {sources.describe(source)}", _SMALLER_LOAD):
            pending = table.rows.pending_load(source, table.layout, access)
            checkpoint(f"loading into {name!r}")
            with table.lock:
                self._refuse_deleted(table)
                change = pending.apply(table.rows)
                refused = duplicates.refused(change.repeats, on_duplicate_keys)
                if refused is None:
                    checkpoint(f"loading into {name!r}")
                    with self.journal.committing(RowsAdded(name), change.added):
                        self.swap(table, change)
        if refused is not None:  # explained outside the lock: naming the lines may read the file again
            raise _refusal(refused, table.layout, source, access)
        return Loaded(table, pending.num_rows, duplicates.replaced(change.repeats))

    def append(self, name: str, rows: Sequence[Sequence[Scalar]]) -> Loaded:
        table = self.get(name)
        width = len(table.columns)
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise InvalidRequestError(
                    f"row {number} has {len(row)} values but table {name!r} has {width} columns ({', '.join(table.columns)})"
                )
        # Let Arrow infer each column (but those whose values travel as text it cannot read),
        # conform() then casts with messages naming the column.
        arrays: dict[str, pa.Array[Any]] = {}
        for i, (column, column_type) in enumerate(table.columns.items()):
            values: list[Any] = [row[i] for row in rows]
            try:
                typed = column_values(values, column_type)
                arrays[column] = typed if typed is not None else pa.array(values)
            except ValueMismatch as error:
                raise InvalidRequestError(
                    f"the rows do not fit column {column!r} ({describe_type(column_type)}) of table {name!r}: {error}; give {error.expected}"
                ) from None
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise InvalidRequestError(f"the rows do not fit column {column!r} of table {name!r}: {error}") from None
        return self.add(table, pa.table(arrays), "append")

    def add(self, table: StoredTable, incoming: pa.Table, origin: str) -> Loaded:
        """``incoming`` (rows from the caller) added to ``table``, the last row of a repeated key winning."""
        # Conformed, grouped by key, merged, and folded into maintained aggregates: a few copies at most.
        with self.memory.reserve(4 * int(incoming.nbytes), f"adding {incoming.num_rows:,} rows to table {table.name!r}", _SMALLER_LOAD):
            conformed = table.layout.conform(incoming, origin)
            checkpoint(f"loading into {table.name!r}")
            with table.lock:
                self._refuse_deleted(table)
                change = table.rows.added(conformed, table.keys)
                checkpoint(f"loading into {table.name!r}")
                with self.journal.committing(RowsAdded(table.name), change.added):
                    self.swap(table, change)
        return Loaded(table, incoming.num_rows, duplicates.replaced(change.repeats))

    def drop(self, name: str, condition: Filter | None) -> tuple[StoredTable, int]:
        table = self.get(name)
        bound = bind(condition, table.columns, table=name) if condition is not None else None
        with table.lock:
            self._refuse_deleted(table)
            before = table.rows.num_rows
            change = table.rows.dropped(bound)
            with self.journal.committing(RowsDropped(name, condition)):
                self.swap(table, change)
            return table, before - table.rows.num_rows

    def delete(self, name: str) -> None:
        """Forget table ``name``; the caller records it (``CubeStore.delete_table`` also forgets its joins)."""
        with self.catalog_lock:
            table = self.get(name)
            with table.lock:
                del self._tables[name]
                self._forget(name)

    def swap(self, table: StoredTable, change: Change) -> None:
        """Make ``change.rows`` the table's rows; the caller holds the table's lock (a compaction
        running in the background holds it too, and would otherwise put back an older version)."""
        if self._observer is not None:
            if change.exact:
                self._observer.changed(table.name, table.rows, change.rows, change.added, change.removed)
            else:
                self._observer.forget(table.name)
        if change.commit is not None:
            change.commit()
        table.rows = change.rows
        table.version = next(_VERSIONS)
        if change.removed is not None or not change.exact:
            self._compact_later(table)

    def _compact_later(self, table: StoredTable) -> None:
        with self._compactions_lock:
            if table.name in self._compactions:
                return
            self._compactions.add(table.name)
        _compacting.submit(self._compact, table)

    def _compact(self, table: StoredTable) -> None:
        """Give back the space of replaced and dropped rows; the values and their order stay."""
        with self._compactions_lock:
            self._compactions.discard(table.name)
        try:
            with table.lock:
                if self._tables.get(table.name) is not table:
                    return  # deleted meanwhile
                compacted = table.rows.compacted()
                if compacted is not None:
                    # The same values: what is kept of them (aggregates, answers) stays valid.
                    table.rows = compacted
            # The old version's memory, once no query reads it, goes back to the system, not to the allocator's cache.
            pa.default_memory_pool().release_unused()
        except Exception:  # never lose a table over housekeeping: it stays as it was
            log.exception("compacting table %r failed; it keeps its rows as they are", table.name)

    def close(self) -> None:
        self.placement.close()

    def _refuse_taken(self, name: str) -> None:
        if name in self._tables:
            raise ConflictError(f"a table named {name!r} already exists")

    def _refuse_deleted(self, table: StoredTable) -> None:
        """Under the table's lock: a change built for a table deleted meanwhile must not be recorded."""
        if self._tables.get(table.name) is not table:
            raise NotFoundError(f"table {table.name!r} was deleted while the change was being made")

    def _added(self, table: StoredTable, first: Change | None) -> StoredTable:
        """``table`` made one of the store's; ``first``: the change that gave it its first rows (a read)."""
        with self.catalog_lock:
            self._refuse_taken(table.name)
            with self.journal.committing(TableCreated.of(table.layout), first.added if first is not None else None):
                if first is not None and first.commit is not None:
                    first.commit()
                self._insert(table)
        return table

    def _insert(self, table: StoredTable) -> None:
        self._forget(table.name)
        self._tables[table.name] = table

    # Replaying the journal ---------------------------------------------

    def replay(self, record: TableRecord, rows: pa.Table | None) -> None:
        """Apply ``record`` (with ``rows``, its data) again as it was applied live; nothing is recorded.

        A new table's rows were unique by key when recorded, so they are
        held as they are (``Placement.restored``), without a pass over them.
        """
        match record:
            case TableCreated():
                layout = record.layout
                held = self.placement.restored(layout, rows) if rows is not None else self.placement.empty(layout, None, 0)
                self._insert(StoredTable(layout, held))
            case RowsAdded(name):
                if rows is None:
                    raise InvalidRequestError(f"a record of rows added to {name!r} holds no rows")
                table = self.get(name)
                # Under the table's lock, as every change: a compaction may run meanwhile.
                with table.lock:
                    self.swap(table, table.rows.added(rows, table.keys))
            case RowsDropped(name, condition):
                table = self.get(name)
                with table.lock:
                    self.swap(table, table.rows.dropped(bind(condition, table.columns, table=name) if condition is not None else None))

    def _forget(self, name: str) -> None:
        if self._observer is not None:
            self._observer.forget(name)


def _refusal(repeats: duplicates.Repeats, layout: Layout, source: Source, access: sources.Access) -> LoadError:
    """The error refusing a load whose rows repeat a key, naming it where the source has it."""
    return duplicates.refusal(repeats, layout.keys, sources.describe(source), lambda rows: sources.places(source, access, rows))
