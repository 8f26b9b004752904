"""Tables: typed columns, optional keys with upsert semantics, atomic changes, reads for callers.

A table is a ``Layout`` and a version of its rows (``rows.Rows``), wherever
those live. Every change builds the next version completely and then swaps
one reference under the store's write lock, so a failing load leaves the
table exactly as it was and readers never see half a change. Between building
and swapping, the change is recorded in the session's ``Journal`` (see
``journal``); ``replay`` applies such records again at a restart. Reads (``query``,
``info_for``) apply the caller's row restrictions and the server's limits here,
so every route and every placement of rows shares them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import pyarrow as pa

from tiercube._server.engine import sources
from tiercube._server.engine.cancellation import checkpoint
from tiercube._server.engine.filters import bind
from tiercube._server.engine.journal import NO_JOURNAL, Journal, RowsAdded, RowsDropped, TableCreated, TableRecord
from tiercube._server.engine.layout import Layout, check_name
from tiercube._server.engine.rows import Change, Placement, Rows, ServerPlacement
from tiercube._server.engine.types import decoded
from tiercube._server.engine.visibility import Visibility
from tiercube._wire.filters import Filter, Scalar
from tiercube._wire.messages import CreateTable, DataType, Read, Source, TableInfo, TableQuery
from tiercube.errors import ConflictError, InvalidRequestError, NotFoundError, ResultTooLargeError

_VERSIONS = itertools.count()


@dataclass(frozen=True)
class QueryLimits:
    """What one query may cost: seconds, and rows in its answer (the server's config sets both)."""

    timeout: float = 30.0
    max_rows: int = 10_000_000


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

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def columns(self) -> dict[str, DataType]:
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
        journal: Journal = NO_JOURNAL,
    ) -> None:
        self._tables: dict[str, StoredTable] = {}
        # One writer at a time; readers take the current version without locking.
        self.write_lock = threading.RLock()
        self.placement: Placement = placement if placement is not None else ServerPlacement()
        self.limits = limits
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
        condition = bind(request.filter, table.columns, table=name) if request.filter is not None else None
        limit = self.limits.max_rows
        # Stop at the rows asked for (never more than there are), or one past the limit, to tell that it was passed.
        wanted = min(request.max_rows, rows.num_rows) if request.max_rows is not None else limit + 1
        data = rows.selected(condition, visible.rows(name), wanted, request.columns)
        if request.max_rows is None and data.num_rows > limit:
            raise ResultTooLargeError(f"the result has more than {limit} rows, the server's limit; pass max_rows or a filter")
        return decoded(data)

    # Changing ----------------------------------------------------------

    def create(self, request: CreateTable) -> StoredTable:
        layout = Layout.created(request)
        self._refuse_taken(layout.name)
        return self._added(StoredTable(layout, self.placement.empty(layout, request.distributed, 0)), None)

    def read(self, request: Read, access: sources.Access) -> tuple[StoredTable, int]:
        """Create a table whose columns and types come from the source (read as ``access`` allows)."""
        check_name("table", request.table)
        self._refuse_taken(request.table)
        layout, first, rows = self.placement.read(request, access, sources.describe(request.source))
        checkpoint(f"reading {request.table!r}")
        return self._added(StoredTable(layout, first.rows), first.added), rows

    def load(self, name: str, source: Source, access: sources.Access) -> tuple[StoredTable, int]:
        table = self.get(name)
        pending = table.rows.pending_load(source, table.layout, access)
        checkpoint(f"loading into {name!r}")
        with self.write_lock:
            self._refuse_deleted(table)
            change = pending.apply(table.rows)
            checkpoint(f"loading into {name!r}")
            with self.journal.committing(RowsAdded(name), change.added):
                self.swap(table, change)
        return table, pending.num_rows

    def append(self, name: str, rows: Sequence[Sequence[Scalar]]) -> tuple[StoredTable, int]:
        table = self.get(name)
        width = len(table.columns)
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise InvalidRequestError(
                    f"row {number} has {len(row)} values but table {name!r} has {width} columns ({', '.join(table.columns)})"
                )
        # Let Arrow infer each column, conform() then casts with messages naming the column.
        arrays: dict[str, pa.Array[Any]] = {}
        for i, column in enumerate(table.columns):
            values: list[Any] = [row[i] for row in rows]
            try:
                arrays[column] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise InvalidRequestError(f"the rows do not fit column {column!r} of table {name!r}: {error}") from None
        return table, self.add(table, pa.table(arrays), "append")

    def add(self, table: StoredTable, incoming: pa.Table, origin: str) -> int:
        """``incoming`` (rows from the caller) added to ``table``; how many came in."""
        conformed = table.layout.conform(incoming, origin)
        checkpoint(f"loading into {table.name!r}")
        with self.write_lock:
            self._refuse_deleted(table)
            change = table.rows.added(conformed, table.keys)
            checkpoint(f"loading into {table.name!r}")
            with self.journal.committing(RowsAdded(table.name), change.added):
                self.swap(table, change)
        return incoming.num_rows

    def drop(self, name: str, condition: Filter | None) -> tuple[StoredTable, int]:
        table = self.get(name)
        bound = bind(condition, table.columns, table=name) if condition is not None else None
        with self.write_lock:
            self._refuse_deleted(table)
            before = table.rows.num_rows
            change = table.rows.dropped(bound)
            with self.journal.committing(RowsDropped(name, condition)):
                self.swap(table, change)
            return table, before - table.rows.num_rows

    def delete(self, name: str) -> None:
        """Forget table ``name``; the caller records it (``CubeStore.delete_table`` also forgets its joins)."""
        with self.write_lock:
            self.get(name)
            del self._tables[name]
            self._forget(name)

    def swap(self, table: StoredTable, change: Change) -> None:
        """Make ``change.rows`` the table's rows; the caller holds the write lock."""
        if self._observer is not None:
            if change.exact:
                self._observer.changed(table.name, table.rows, change.rows, change.added, change.removed)
            else:
                self._observer.forget(table.name)
        table.rows = change.rows
        table.version = next(_VERSIONS)

    def close(self) -> None:
        self.placement.close()

    def _refuse_taken(self, name: str) -> None:
        if name in self._tables:
            raise ConflictError(f"a table named {name!r} already exists")

    def _refuse_deleted(self, table: StoredTable) -> None:
        """Under the write lock: a change built for a table deleted meanwhile must not be recorded."""
        if self._tables.get(table.name) is not table:
            raise NotFoundError(f"table {table.name!r} was deleted while the change was being made")

    def _added(self, table: StoredTable, rows: pa.Table | None) -> StoredTable:
        """``table`` (holding ``rows``, the rows it was created with) made one of the store's."""
        with self.write_lock:
            self._refuse_taken(table.name)
            with self.journal.committing(TableCreated.of(table.layout), rows):
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
                self.swap(table, table.rows.added(rows, table.keys))
            case RowsDropped(name, condition):
                table = self.get(name)
                self.swap(table, table.rows.dropped(bind(condition, table.columns, table=name) if condition is not None else None))

    def _forget(self, name: str) -> None:
        if self._observer is not None:
            self._observer.forget(name)
