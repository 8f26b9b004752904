"""Tables: typed columns, optional keys with upsert semantics, atomic changes.

A stored table's data is an immutable ``pa.Table``. Every change builds the
new data completely and then swaps one reference under the engine's write
lock, so a failing load leaves the table exactly as it was and readers never
see half a change.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine import sources
from tiercube._server.engine.arrays import appended, last_positions, positions
from tiercube._server.engine.cancellation import checkpoint
from tiercube._server.engine.filters import to_expression
from tiercube._server.engine.types import cast_column, infer, null_column, storage_type
from tiercube._wire.filters import Filter, Scalar
from tiercube._wire.messages import ArrowFileSource, Column, CreateTable, DataType, Read, Source, TableInfo
from tiercube.errors import ConflictError, InvalidRequestError, LoadError, NotFoundError

if TYPE_CHECKING:
    from tiercube._server.cluster.connection import Cluster
    from tiercube._server.cluster.partitions import Partitions

_VERSIONS = itertools.count()
_NAME = re.compile(r"^[^\x00-\x1f/]{1,200}$")


def check_name(kind: str, name: str) -> str:
    # "." and ".." could never be reached: URLs resolve them as path segments.
    if not _NAME.match(name) or name.strip() != name or name in (".", ".."):
        raise InvalidRequestError(f"{name!r} is not a valid {kind} name (1 to 200 printable characters, no '/', not '.' or '..')")
    return name


@dataclass(frozen=True)
class Change:
    """A table's new data, and the rows that went in and out (for maintained aggregates)."""

    data: pa.Table
    added: pa.Table | None
    removed: pa.Table | None


class Snapshot(Protocol):
    """A table's data as of one version, compared by identity: a ``pa.Table``, or a distributed
    table's partitions; either is a new object on every change."""

    @property
    def num_rows(self) -> int: ...


class Observer(Protocol):
    """Told of every change of a table's data, under its write lock, before readers can see it."""

    def changed(self, table: str, old: Snapshot, new: Snapshot, added: pa.Table | None, removed: pa.Table | None) -> None: ...
    def forget(self, table: str) -> None: ...


@dataclass
class StoredTable:
    name: str
    columns: dict[str, DataType]
    keys: tuple[str, ...]
    defaults: dict[str, Scalar]
    # The data of a table the server holds (for a distributed one: an empty table of its columns).
    stored: pa.Table = field(repr=False)
    # A distributed table's data, on the cluster's workers.
    partitions: Partitions | None = field(default=None, repr=False)
    # Changes with every change of the data, and is never reused: what a cached answer was made from.
    version: int = field(default_factory=lambda: next(_VERSIONS))

    @property
    def data(self) -> pa.Table:
        """Every row; a distributed table's are gathered from its workers (kept until it changes)."""
        return self.stored if self.partitions is None else self.partitions.gathered()

    @property
    def num_rows(self) -> int:
        return self.stored.num_rows if self.partitions is None else self.partitions.num_rows

    @property
    def info(self) -> TableInfo:
        return self.info_of()

    def info_of(self, rows: int | None = None) -> TableInfo:
        """The table's description, with ``rows`` as its row count if given (what a restricted caller sees)."""
        return TableInfo(
            name=self.name,
            columns=[Column(n, t) for n, t in self.columns.items()],
            keys=list(self.keys),
            row_count=self.num_rows if rows is None else rows,
            partitions=None if self.partitions is None else self.partitions.describe(),
        )

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(n, storage_type(t)) for n, t in self.columns.items()])

    def layout(self) -> StoredTable:
        """This table without its data: what a cluster worker needs to conform rows to it."""
        return StoredTable(self.name, self.columns, self.keys, self.defaults, self.schema.empty_table())

    def conform(self, incoming: pa.Table, origin: str) -> pa.Table:
        """``incoming`` with exactly this table's columns and storage types."""
        unknown = [c for c in incoming.column_names if c not in self.columns]
        if unknown:
            raise LoadError(
                f"{origin}: column(s) {', '.join(map(repr, unknown))} are not in table {self.name!r} "
                f"(its columns are {', '.join(self.columns)})",
                path=origin,
                column=unknown[0],
            )
        arrays: list[pa.ChunkedArray[Any]] = []
        for name, data_type in self.columns.items():
            if name in incoming.column_names:
                array = cast_column(incoming[name], data_type, column=name, origin=origin)
            else:
                array = null_column(incoming.num_rows, data_type)
            default = self.defaults.get(name)
            if default is not None and array.null_count:
                array = _fill(array, default, data_type, name, origin)
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def merged(self, incoming: pa.Table) -> Change:
        """The data after adding ``incoming``: rows whose key exists replace the old ones."""
        return merge_rows(self.data, incoming, self.keys)


def merge_rows(old: pa.Table, incoming: pa.Table, keys: Sequence[str]) -> Change:
    """``old`` with ``incoming`` added: a row whose key exists replaces the old one, in arrival order."""
    combined = appended(old, incoming)
    if not keys or combined.num_rows == 0:
        return Change(combined, incoming, None)
    latest = last_positions(combined.select(list(keys)).unify_dictionaries(), list(keys))
    if latest is None:
        return Change(combined, incoming, None)
    # Keep the surviving rows in arrival order.
    kept = latest.take(pc.sort_indices(latest))
    survives = pc.is_in(positions(combined.num_rows), value_set=kept)
    old_survives = survives.slice(0, old.num_rows)
    removed = old.filter(pc.invert(old_survives)) if not pc.all(old_survives).as_py() else None
    return Change(combined.take(kept), incoming.filter(survives.slice(old.num_rows)), removed)


def _fill(array: pa.ChunkedArray[Any], default: Scalar, data_type: DataType, column: str, origin: str) -> pa.ChunkedArray[Any]:
    if data_type == "string":
        return array.cast(pa.string()).fill_null(pa.scalar(str(default), pa.string())).dictionary_encode()
    try:
        return pc.fill_null(array, pa.scalar(cast(Any, default)).cast(array.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError) as error:
        raise LoadError(f"{origin}: default value of column {column!r} does not fit: {error}", path=origin, column=column) from None


class TableStore:
    """Every table of a session, by name."""

    def __init__(self, observer: Observer | None = None, cluster: Cluster | None = None, distribute_over_rows: int | None = None) -> None:
        self._tables: dict[str, StoredTable] = {}
        # One writer at a time; readers take the current pa.Table without locking.
        self.write_lock = threading.RLock()
        self._observer = observer
        self.cluster = cluster
        self._distribute_over_rows = distribute_over_rows

    def swap(self, table: StoredTable, old: pa.Table, change: Change) -> None:
        """Replace ``table``'s data (``old``) by ``change.data``; the caller holds the write lock."""
        if self._observer is not None:
            self._observer.changed(table.name, old, change.data, change.added, change.removed)
        table.stored = change.data
        table.version = next(_VERSIONS)

    def swap_partitions(self, table: StoredTable, partitions: Partitions, added: pa.Table | None = None) -> None:
        """Replace a distributed table's partitions; the caller holds the write lock.

        ``added``: the rows the change only added (none replaced), which kept groupings fold in;
        any other change drops them (the rows it removed are on the workers).
        """
        if added is not None and self._observer is not None and table.partitions is not None:
            self._observer.changed(table.name, table.partitions, partitions, added, None)
        else:
            self._forget(table.name)
        table.partitions = partitions
        table.version = next(_VERSIONS)

    def _distributed(self, table: StoredTable, asked: bool | None, rows: int) -> StoredTable:
        """``table``, on the cluster if asked to be, or if the server's rule says so for ``rows`` rows."""
        rule = self._distribute_over_rows
        if asked is None:
            asked = rule is not None and rows >= rule
        if not asked:
            return table
        if self.cluster is None:
            raise InvalidRequestError(
                f"table {table.name!r} cannot be distributed: this session has no cluster "
                "(start it with Session.start(cluster=...) or tiercube serve --cluster)"
            )
        from tiercube._server.cluster.partitions import Partitions

        table.partitions = Partitions.create(self.cluster, table.name, table.schema)
        return table

    def values(self) -> list[StoredTable]:
        return list(self._tables.values())

    def names(self) -> list[str]:
        return list(self._tables)

    def get(self, name: str) -> StoredTable:
        try:
            return self._tables[name]
        except KeyError:
            raise NotFoundError.of("table", name, self._tables) from None

    def create(self, request: CreateTable) -> StoredTable:
        check_name("table", request.name)
        columns: dict[str, DataType] = {}
        for column in request.columns:
            if column.name in columns:
                raise InvalidRequestError(f"column {column.name!r} is declared twice")
            columns[check_name("column", column.name)] = column.data_type
        if not columns:
            raise InvalidRequestError("a table needs at least one column")
        _check_subset("key", request.keys, columns)
        _check_subset("default value", request.default_values, columns)
        table = StoredTable(request.name, columns, tuple(request.keys), dict(request.default_values), pa.table({}))
        table.stored = table.schema.empty_table()
        for name, default in request.default_values.items():
            if default is not None:
                _fill(null_column(1, columns[name]), default, columns[name], name, "default_values")
        if request.name in self._tables:
            raise ConflictError(f"a table named {request.name!r} already exists")
        table = self._distributed(table, request.distributed, 0)
        with self.write_lock:
            if request.name in self._tables:
                raise ConflictError(f"a table named {request.name!r} already exists")
            self._forget(request.name)
            self._tables[request.name] = table
        return table

    def read(self, request: Read, access: sources.Access) -> tuple[StoredTable, int]:
        """Create a table whose columns and types come from the source (read as ``access`` allows)."""
        check_name("table", request.table)
        if request.table in self._tables:
            raise ConflictError(f"a table named {request.table!r} already exists")
        origin = sources.describe(request.source)
        if self._reads_on_workers(request):
            table, rows = self._read_on_workers(request, access)
        else:
            incoming = sources.read(request.source, request.data_types, access)
            table, rows = _layout(request, incoming.schema), incoming.num_rows
            conformed = table.conform(incoming, origin)
            table = self._distributed(table, request.distributed, incoming.num_rows)
            if table.partitions is None:
                table.stored = table.merged(conformed).data
            else:
                table.partitions = table.partitions.merged(conformed, table.keys)
        with self.write_lock:
            checkpoint(f"reading {request.table!r}")
            if request.table in self._tables:
                raise ConflictError(f"a table named {request.table!r} already exists")
            self._forget(request.table)
            self._tables[request.table] = table
        return table, rows

    def _reads_on_workers(self, request: Read) -> bool:
        """Whether the new table is distributed before its rows are counted, and workers can read its source.

        Arrow files are the client's data, written on the server's disk: the server reads them.
        """
        if self.cluster is None or isinstance(request.source, ArrowFileSource):
            return False
        return request.distributed is True or (request.distributed is None and self._distribute_over_rows == 0)

    def _read_on_workers(self, request: Read, access: sources.Access) -> tuple[StoredTable, int]:
        from tiercube._server.cluster.partitions import Partitions
        from tiercube._server.cluster.reading import read_on_workers

        assert self.cluster is not None
        workers = sorted(self.cluster.workers())
        read, schema = read_on_workers(self.cluster, workers, request.source, request.data_types, access)
        table = _layout(request, schema)
        start = Partitions.create(self.cluster, request.table, table.schema, workers)
        table.partitions = start.loaded(read, table.layout(), sources.describe(request.source))
        return table, sum(rows for _, _, rows in read)

    def load(self, name: str, source: Source, access: sources.Access) -> tuple[StoredTable, int]:
        table = self.get(name)
        if table.partitions is not None and not isinstance(source, ArrowFileSource):
            from tiercube._server.cluster.reading import read_on_workers

            partitions = table.partitions
            partitions.check()  # a read pinned to a worker that left would wait for it forever
            read, _ = read_on_workers(partitions.cluster, [p.worker for p in partitions.parts], source, table.columns, access)
            checkpoint(f"loading into {table.name!r}")
            with self.write_lock:
                assert table.partitions is not None
                self.swap_partitions(table, table.partitions.loaded(read, table.layout(), sources.describe(source)))
            return table, sum(rows for _, _, rows in read)
        incoming = sources.read(source, table.columns, access)
        return table, self.add(table, incoming, sources.describe(source))

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
            try:
                arrays[column] = pa.array(_column_values(rows, i))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise InvalidRequestError(f"the rows do not fit column {column!r} of table {name!r}: {error}") from None
        return table, self.add(table, pa.table(arrays), "append")

    def add(self, table: StoredTable, incoming: pa.Table, origin: str) -> int:
        conformed = table.conform(incoming, origin)
        checkpoint(f"loading into {table.name!r}")
        with self.write_lock:
            if table.partitions is not None:
                before = table.partitions
                partitions = before.merged(conformed, table.keys)
                checkpoint(f"loading into {table.name!r}")
                # As many more rows as came in: no row was replaced, so the change only added these.
                only_added = partitions.num_rows == before.num_rows + conformed.num_rows
                self.swap_partitions(table, partitions, conformed if only_added else None)
                return incoming.num_rows
            old = table.data
            change = table.merged(conformed)
            checkpoint(f"loading into {table.name!r}")
            self.swap(table, old, change)
        return incoming.num_rows

    def drop(self, name: str, condition: Filter | None) -> tuple[StoredTable, int]:
        table = self.get(name)
        with self.write_lock:
            if table.partitions is not None:
                if condition is not None:
                    to_expression(condition, table.columns, table=name)  # a bad condition fails here, not on every worker
                before = table.partitions
                after = (
                    before.create(before.cluster, name, table.schema) if condition is None else before.dropped(condition, table.columns)
                )
                self.swap_partitions(table, after)
                return table, before.num_rows - after.num_rows
            old = table.data
            if condition is None:
                change = Change(table.schema.empty_table(), None, old)
            else:
                matches = to_expression(condition, table.columns, table=name)
                # A row whose condition is null does not match, so it stays.
                keep = ~matches | matches.is_null()
                change = Change(old.filter(keep), None, old.filter(~keep))
            self.swap(table, old, change)
            return table, old.num_rows - table.num_rows

    def delete(self, name: str) -> None:
        with self.write_lock:
            self.get(name)
            del self._tables[name]
            self._forget(name)

    def _forget(self, name: str) -> None:
        if self._observer is not None:
            self._observer.forget(name)


def _layout(request: Read, schema: pa.Schema) -> StoredTable:
    """The (empty) table ``request`` makes of a source with ``schema``: its columns and types inferred."""
    try:
        columns: dict[str, DataType] = {n: request.data_types.get(n) or infer(schema.field(n).type, n) for n in schema.names}
    except LoadError as error:  # name the file, like every other load error
        origin = sources.describe(request.source)
        raise LoadError(f"{origin}: {error}", path=origin, column=error.column) from None
    table = StoredTable(request.table, columns, tuple(request.keys), dict(request.default_values), pa.table({}))
    _check_subset("key", request.keys, table.columns)
    _check_subset("type override", request.data_types, table.columns)
    table.stored = table.schema.empty_table()
    return table


def _check_subset(what: str, names: Iterable[str], columns: Mapping[str, DataType]) -> None:
    for name in names:
        if name not in columns:
            raise InvalidRequestError(f"{what} {name!r} is not a column (columns: {', '.join(columns)})")


def _column_values(rows: Sequence[Sequence[Scalar]], index: int) -> list[Any]:
    return [row[index] for row in rows]
