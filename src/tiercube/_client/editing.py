"""Changing the data model and data: create tables, append, drop, delete."""

from __future__ import annotations

import contextvars
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Generic, TextIO, TypeVar

import msgspec

from tiercube._client.channel import Connection
from tiercube._client.conditions import Condition, Value, to_wire_row, to_wire_value
from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire.paths import path
from tiercube._client.cube_model import CubeMode, EditableCube, EditableCubes, create_cube
from tiercube._client.progress import Follow, cancellable_load, line_stream
from tiercube._client.query import name_of
from tiercube._client.read_model import ModelReading, ReadOnlyTable, Tables, TableT_co
from tiercube._client.sources import ReadOptions, S3Location, StrPath
from tiercube._wire import paths
from tiercube._wire.column_types import ColumnType
from tiercube._wire.cubes import Join
from tiercube._wire.messages import (
    Append,
    Column,
    CreateTable,
    Drop,
    DropResult,
    Load,
    LoadProgress,
    LoadResult,
    OnDuplicateKeys,
    Read,
    Source,
    TableInfo,
)
from tiercube.errors import TiercubeError


TableT = TypeVar("TableT", bound=ReadOnlyTable)
log = logging.getLogger("tiercube")


@public
class EditableTable(ReadOnlyTable):
    """A table whose rows can be appended and dropped; see ``load`` for what it can load."""

    _can: ClassVar[tuple[str, ...]] = (*ReadOnlyTable._can, "append", "drop", "join")

    def append(self, *rows: Sequence[Value]) -> int:
        """Add rows given as sequences in column order; a row whose key exists replaces it (a key
        given twice here too: the rows count as if they came one by one)."""
        body = Append([to_wire_row(row) for row in rows])
        return self._connection.json("POST", path(paths.TABLE_APPEND, table=self._name), LoadResult, body).rows_loaded

    def drop(self, filter: Condition | None = None) -> int:
        """Delete the rows matching ``filter`` (all rows without one); returns how many."""
        body = Drop(wire_form(filter) if filter is not None else None)
        return self._connection.json("POST", path(paths.TABLE_DROP, table=self._name), DropResult, body).rows_dropped

    def join(self, other: ReadOnlyTable | str, mapping: Mapping[str, str] | None = None, /) -> None:
        """Join ``other`` (a table or its name) to this one for cubes: each column of ``mapping`` -> a column of ``other``.

        Without a mapping, ``other``'s key columns join the columns of the same names.
        """
        body = Join(name_of(other, "a table"), dict(mapping or {}))
        self._connection.request("POST", path(paths.TABLE_JOIN, table=self._name), body)

    def _load(self, source: Source, on_duplicate_keys: OnDuplicateKeys, size: int | None = None) -> int:
        shown_on = line_stream()
        load_id, follow = _followed(self._connection, shown_on)
        with cancellable_load(f"loading into {self._name!r}", f"table {self._name!r} is as it was", shown_on, size, follow):
            body = Load(source, on_duplicate_keys, load_id)
            result = self._connection.json("POST", path(paths.TABLE_LOAD, table=self._name), LoadResult, body)
        _report(result, self._name)
        return result.rows_loaded


@public
class EditableTables(Tables[TableT_co]):
    """The session's tables; ``del tables[name]`` deletes one."""

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", path(paths.TABLE, table=name))


class Editing(ModelReading, Generic[TableT]):
    """Session members that create and delete tables (cubes: see ``cubes``)."""

    if TYPE_CHECKING:
        # Provided by the tier's table mixin, which knows which table class it hands out.
        def _table(self, name: str) -> TableT: ...

    def create_table(
        self,
        name: str,
        /,
        *,
        data_types: Mapping[str, ColumnType],
        keys: Sequence[str] = (),
        default_values: Mapping[str, Value] | None = None,
        distributed: bool | None = None,
    ) -> TableT:
        """Create an empty table. With ``keys``, loading a row whose key exists replaces it.

        ``data_types`` gives each column's type: a name (``"int64"``, ``"string"``, ``"timestamp"``,
        ``"decimal"``...; see ``tiercube.DataType``) or a type with parameters
        (``tiercube.Decimal(18, 2)``, ``tiercube.Timestamp("ns", "Europe/Paris")``,
        ``tiercube.Duration("ms")``, ``tiercube.Time("s")``).

        ``distributed=True`` puts it on the session's Dask cluster, partitioned by a hash
        of its keys across the workers (``None``: as the server's ``distribute_over_rows``
        rule says). Everything else about the table stays the same.
        """
        body = CreateTable(
            name,
            [Column(n, t) for n, t in data_types.items()],
            list(keys),
            {k: to_wire_value(v) for k, v in (default_values or {}).items()},
            distributed,
        )
        self._connection.json("POST", paths.TABLES, TableInfo, body)
        return self._table(name)

    @property
    def cubes(self) -> EditableCubes[EditableCube]:
        """The cubes by name; ``del cubes[name]`` deletes one."""
        return _EditableCubes(self._connection, EditableCube)

    def create_cube(
        self, fact_table: ReadOnlyTable | str, /, *, name: str | None = None, mode: CubeMode = "auto"
    ) -> EditableCube:
        """Create a cube over ``fact_table`` (a table or its name) and the tables joined to it.

        ``auto`` makes a hierarchy per non-numeric or key column and ``.SUM``/``.MEAN``
        measures per other numeric column of the fact table; ``manual`` makes only
        ``contributors.COUNT``; ``no_measures`` makes hierarchies only.
        """
        return create_cube(self._connection, name_of(fact_table, "the fact table"), name, mode)

    def _read(self, source: Source, table_name: str, options: ReadOptions, size: int | None = None) -> TableT:
        shown_on = line_stream()
        load_id, follow = _followed(self._connection, shown_on)
        body = Read(
            table=table_name,
            source=source,
            keys=list(options.get("keys", ())),
            data_types=dict(options.get("data_types", {})),
            default_values={k: to_wire_value(v) for k, v in options.get("default_values", {}).items()},
            distributed=options.get("distributed"),
            on_duplicate_keys=options.get("on_duplicate_keys", "error"),
            load_id=load_id,
        )
        with cancellable_load(f"reading {table_name!r}", f"no table {table_name!r} was created", shown_on, size, follow):
            result = self._connection.json("POST", paths.READ, LoadResult, body)
        _report(result, table_name)
        return self._table(table_name)


def _report(result: LoadResult, table: str) -> None:
    """Say (at INFO, on the ``tiercube`` logger) how many rows a later row with the same key replaced."""
    if result.duplicates_replaced:
        log.info("%d row(s) loaded into %r were replaced by a later row with the same key", result.duplicates_replaced, table)


# Longer, and the answer is stale anyway; short, so that Ctrl+C (which waits for the progress line) is not held up.
_ASK_TIMEOUT = 2.0


def _followed(connection: Connection, shown_on: TextIO | None) -> tuple[str | None, Follow | None]:
    """A new random id for a load and what asks the server how far that load is (it counts the bytes
    it reads of every file: CSV, Parquet, Arrow IPC); neither where no progress line shows the answers
    (``shown_on`` None): a followed load reads its file through a Python file object that counts."""
    if shown_on is None:
        return None, None
    load_id = secrets.token_urlsafe(16)
    at = path(paths.LOAD_PROGRESS, load=load_id)
    # The question must come from whoever loads: an owner's request on behalf of a caller is that caller's.
    context = contextvars.copy_context()

    def follow() -> LoadProgress | None:
        try:
            answer = context.run(connection.request, "GET", at, timeout=_ASK_TIMEOUT)
            return msgspec.json.decode(answer.content, type=LoadProgress)
        except (TiercubeError, msgspec.ValidationError, msgspec.DecodeError):
            return None  # an older server, or a slow answer: the line shows the elapsed time instead

    return load_id, follow


def file_size(location: StrPath | S3Location) -> int | None:
    """The size of a local file, for the progress line; None for a cloud object."""
    if isinstance(location, S3Location):
        return None
    try:
        return os.path.getsize(location)
    except OSError:
        return None


class _EditableCubes(EditableCubes[EditableCube]):
    """``EditableCubes[EditableCube]`` as a class of its own, so that jedi completes its items (see ``views.ObjectMapping``)."""
