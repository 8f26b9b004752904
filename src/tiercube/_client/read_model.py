"""Reading the data model and data: the ``tables`` mapping and read-only tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from tiercube._client import display
from tiercube._client.conditions import Column, Condition
from tiercube._client.public_names import PublicNames
from tiercube._client.wire_form import wire_form
from tiercube._client.results import answered
from tiercube._public import public
from tiercube._wire.paths import path
from tiercube._client.cube_model import ReadOnlyCube
from tiercube._client.model import render_model
from tiercube._client.query import Cubes
from tiercube._client.saved_views import KeepingViews
from tiercube._client.views import ObjectMapping, ServerObject
from tiercube._wire import paths
from tiercube._wire.column_types import ColumnType, describe_type
from tiercube._wire.messages import Partition, TableInfo, TableQuery
from tiercube._wire.stats import ServerStats

if TYPE_CHECKING:
    import pyarrow as pa


TableT_co = TypeVar("TableT_co", covariant=True)


@public
class TableSchema(PublicNames):
    """One table's columns and their types, its key columns and row count; prints as a small table."""

    __slots__ = ("name", "columns", "keys", "row_count")

    def __init__(self, info: TableInfo) -> None:
        self.name: str = info.name
        self.columns: dict[str, ColumnType] = {c.name: c.data_type for c in info.columns}
        self.keys: tuple[str, ...] = tuple(info.keys)
        self.row_count: int = info.row_count

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableSchema):
            return NotImplemented
        return (self.name, self.columns, self.keys) == (other.name, other.columns, other.keys)

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # pyright: ignore[reportIncompatibleMethodOverride]

    def __repr__(self) -> str:
        lines = [f"{self.name} ({self.row_count} rows; * marks a key)"]
        lines += [f"  {'*' if c in self.keys else ' '} {c}: {describe_type(t)}" for c, t in self.columns.items()]
        return "\n".join(lines)


@public
class ReadOnlyTable(ServerObject):
    """A table that can be inspected and queried. Every property asks the server."""

    _can: ClassVar[tuple[str, ...]] = ("query",)
    """What this class of table can do, as its notebook display says it."""

    def _repr_html_(self) -> str:
        """For notebooks: what the table can do, its row count and columns (one request)."""
        return display.table(type(self).__name__, self._can, self._connection, self._name)

    def __str__(self) -> str:
        """``print(table)``: its row count, columns, their types and keys. The handle knows only
        the table's name, so this asks the server (one request); it never raises, and says why
        it cannot show them (a closed session, a table deleted meanwhile)."""
        try:
            schema = TableSchema(self._info())
        except Exception as error:  # printing must not fail: what went wrong is what there is to show
            return f"{self!r}: cannot show its columns ({type(error).__name__}: {error})"
        columns = repr(schema).split("\n")[1:]
        return "\n".join([f"{type(self).__name__} {self._name!r}: {schema.row_count:,} rows (* marks a key)", *columns])

    def _info(self) -> TableInfo:
        return self._connection.json("GET", path(paths.TABLE, table=self._name), TableInfo)

    @property
    def schema(self) -> TableSchema:
        return TableSchema(self._info())

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self._info().columns]

    @property
    def data_types(self) -> dict[str, ColumnType]:
        """Each column's type: its name (``"int64"``), or a ``tiercube.Decimal``, ``Timestamp``,
        ``Duration`` or ``Time`` whose parameters are not the name's defaults."""
        return {c.name: c.data_type for c in self._info().columns}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._info().keys)

    @property
    def row_count(self) -> int:
        return self._info().row_count

    @property
    def partitions(self) -> list[Partition] | None:
        """How a distributed table is split: one ``Partition`` per cluster worker, None for a
        table the session server holds. A lost partition has ``rows`` None (see ``ClusterError``)."""
        return self._info().partitions

    def __getitem__(self, column: str) -> Column:
        """The column as the left-hand side of a filter (``table["region"] == "EU"``) or of a restriction."""
        return Column(column, self._name)

    def query(self, *columns: str, filter: Condition | None = None, max_rows: int | None = None) -> pa.Table:
        """Rows of the table (all columns unless some are named), filtered on the server."""
        body = TableQuery(list(columns), wire_form(filter) if filter is not None else None, max_rows)
        return answered(self._connection.arrow("POST", path(paths.TABLE_QUERY, table=self._name), body), f"table {self._name}")


@public
class Tables(ObjectMapping[TableT_co]):
    """The session's tables by name: a live view, always as the server has them now.

    ``tables[name]`` makes a handle without asking the server; its first use
    raises ``NotFoundError`` if there is no such table (see ``views``).
    """

    def _infos(self) -> list[TableInfo]:
        return self._connection.json("GET", paths.TABLES, list[TableInfo])

    def _names(self) -> list[str]:
        return [info.name for info in self._infos()]

    @property
    def schema(self) -> dict[str, TableSchema]:
        """Every table's columns, types, keys and row count, in one request."""
        return {info.name: TableSchema(info) for info in self._infos()}


class ModelReading(KeepingViews):
    """What every tier that reads the model has, however it hands out tables and cubes (and saved views)."""

    def stats(self) -> ServerStats:
        """The caller as the server sees it (user, tier, restricted) and, for callers that manage
        security, what the server keeps to answer repeated queries fast: maintained aggregates against
        their memory budget (``aggregate_memory_bytes``), how often they served, the answers it keeps,
        and with a Dask cluster its workers and their memory (``cluster``); None for other callers."""
        return self._connection.json("GET", paths.STATS, ServerStats)

    def model(self) -> str:
        """The typed data model: a Python module whose ``Literal`` names of this session's tables,
        columns, cubes, measures, levels and hierarchies let type checkers catch a misspelt one.

        Save it (``tiercube model URL > sales_model.py`` writes the same) and ask for the session's
        objects through it: ``sales_model.sales_cube(session).query("qty.SUM", levels=["region"])``.
        One request per table and cube.
        """
        return render_model(self._connection.url, _ReadOnlyTables(self._connection, ReadOnlyTable), _ReadOnlyCubes(self._connection, ReadOnlyCube))


class ReadOnlyModel(ModelReading):
    """Read access to tables and to the structure of cubes."""

    @property
    def tables(self) -> Tables[ReadOnlyTable]:
        """The tables by name; each can be inspected and queried."""
        return _ReadOnlyTables(self._connection, ReadOnlyTable)

    @property
    def cubes(self) -> Cubes[ReadOnlyCube]:
        """The cubes by name, with their hierarchies, levels and measures."""
        return _ReadOnlyCubes(self._connection, ReadOnlyCube)


class _ReadOnlyTables(Tables[ReadOnlyTable]):
    """``Tables[ReadOnlyTable]`` as a class of its own, so that jedi completes its items (see ``views.ObjectMapping``)."""


class _ReadOnlyCubes(Cubes[ReadOnlyCube]):
    """``Cubes[ReadOnlyCube]`` as a class of its own, so that jedi completes its items (see ``views.ObjectMapping``)."""
