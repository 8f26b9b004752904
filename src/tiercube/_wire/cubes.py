"""Cubes on the wire: joins, hierarchies, the measure algebra and cube queries.

Measures are expression trees built from a few tagged Structs, so a client can
compose them with operators and the server can validate, store and evaluate
them without ever running client code.

Names in expressions:

- ``Aggregate.column`` names a column of the cube's fact table or of a table
  joined to it (directly or through other joined tables). Column names are
  looked up across all those tables; a join's target columns are not counted
  because they hold the same values as the fact columns they are mapped from.
  If a name still exists in more than one table the server answers with an
  ``InvalidRequestError`` that lists the tables, and ``table=`` picks one.
- Level names (``Filtered.filter``, ``LevelFilter``, ``ParentValue.level``,
  ``CubeQuery.levels``) are the cube's level names, unique within a cube.
- ``MeasureRef.name`` names another measure of the same cube; cycles are
  rejected when a measure is set.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from tiercube._wire.filters import Filter, Operator
from tiercube._wire.column_types import ColumnType

AggregateFunction: TypeAlias = Literal["sum", "mean", "min", "max", "count", "distinct_count"]
"""``count`` counts non-null values; ``distinct_count`` counts distinct non-null values."""


class Aggregate(msgspec.Struct, frozen=True, tag="aggregate"):
    """``function`` over the values of ``column`` of the rows that make up a cell."""

    function: AggregateFunction
    column: str
    # Only needed when ``column`` exists in several of the cube's tables.
    table: str | None = None


class RowCount(msgspec.Struct, frozen=True, tag="row_count"):
    """The number of fact rows that make up a cell (``contributors.COUNT``)."""


class MeasureRef(msgspec.Struct, frozen=True, tag="measure_ref"):
    """The value of another measure of the same cube."""

    name: str


class Constant(msgspec.Struct, frozen=True, tag="constant"):
    value: int | float


class Arithmetic(msgspec.Struct, frozen=True, tag="arithmetic"):
    """``left op right``; ``/`` always gives a float and dividing by zero gives null."""

    op: Literal["+", "-", "*", "/"]
    left: MeasureExpr
    right: MeasureExpr


class Where(msgspec.Struct, frozen=True, tag="where"):
    """``then`` in cells where ``condition`` holds, else ``otherwise`` (null when absent).

    A condition that is null (it compares a null value) does not hold.
    """

    condition: MeasureCondition
    then: MeasureExpr
    otherwise: MeasureExpr | None = None


class Filtered(msgspec.Struct, frozen=True, tag="filtered"):
    """``measure`` computed only over the fact rows whose levels match ``filter``.

    ``filter`` is a table filter whose ``column`` fields name levels.
    """

    measure: MeasureExpr
    filter: Filter


class ParentValue(msgspec.Struct, frozen=True, tag="parent_value"):
    """``measure`` in the cell one step up ``level``'s hierarchy.

    In a result row, the parent cell has the same coordinates except that
    ``level`` and the levels below it in its hierarchy are removed. Ask the
    query for the level above too (e.g. Region and Country) to get a share of
    the parent; without it, or when ``level`` is the top of its hierarchy, the
    parent is the total over that hierarchy. In rows where ``level`` is not
    expressed (total rows) the parent is the row itself.
    """

    measure: MeasureExpr
    level: str


MeasureExpr: TypeAlias = Aggregate | RowCount | MeasureRef | Constant | Arithmetic | Where | Filtered | ParentValue


class MeasureComparison(msgspec.Struct, frozen=True, tag="measure_comparison"):
    """Compare two measure expressions in a cell (use ``Constant`` for a value)."""

    left: MeasureExpr
    op: Operator
    right: MeasureExpr


class LevelFilter(msgspec.Struct, frozen=True, tag="level_filter"):
    """The cell's level members match ``filter`` (whose ``column`` fields name levels).

    A level that the row does not express counts as null.
    """

    filter: Filter


class AllOf(msgspec.Struct, frozen=True, tag="all_of"):
    conditions: list[MeasureCondition]


class AnyOf(msgspec.Struct, frozen=True, tag="any_of"):
    conditions: list[MeasureCondition]


class NotCondition(msgspec.Struct, frozen=True, tag="not_condition"):
    condition: MeasureCondition


MeasureCondition: TypeAlias = MeasureComparison | LevelFilter | AllOf | AnyOf | NotCondition


class Join(msgspec.Struct, frozen=True):
    """Join ``target`` to a table: each source column of ``mapping`` -> a target column.

    Every source row finds at most one target row (when several target rows
    share the mapped values, the last one wins); a row with no match sees
    nulls in the target's columns. An empty mapping maps the target's key
    columns to the source columns of the same names.
    """

    target: str
    mapping: dict[str, str] = {}


class JoinInfo(msgspec.Struct, frozen=True):
    source: str
    target: str
    mapping: dict[str, str]


class LevelInfo(msgspec.Struct, frozen=True):
    name: str
    column: str
    table: str
    data_type: ColumnType


class HierarchyInfo(msgspec.Struct, frozen=True):
    name: str
    levels: list[LevelInfo]


class MeasureInfo(msgspec.Struct, frozen=True):
    name: str
    expression: MeasureExpr


class CubeInfo(msgspec.Struct, frozen=True):
    name: str
    fact_table: str
    hierarchies: list[HierarchyInfo]
    measures: list[MeasureInfo]


class CreateCube(msgspec.Struct, frozen=True):
    """Create a cube over ``fact_table``.

    ``auto``: a one-level hierarchy per non-numeric or key column of the fact
    table and of its joined tables, ``<col>.SUM`` and ``<col>.MEAN`` per
    numeric fact column that is not a key, and ``contributors.COUNT``. ``manual``: only
    ``contributors.COUNT``. ``no_measures``: auto's hierarchies, no measures.
    """

    fact_table: str
    name: str | None = None
    mode: Literal["auto", "manual", "no_measures"] = "auto"


class SetMeasure(msgspec.Struct, frozen=True):
    expression: MeasureExpr


class LevelDefinition(msgspec.Struct, frozen=True):
    name: str
    column: str
    table: str | None = None


class SetHierarchy(msgspec.Struct, frozen=True):
    """The levels of a hierarchy, from the top down (e.g. Year, Month, Day)."""

    levels: list[LevelDefinition]


class CubeQuery(msgspec.Struct, frozen=True):
    """Aggregate ``measures`` by ``levels``.

    The result has one column per level, in the order given, with plain
    values (not dictionaries), then one per measure; rows are sorted by the
    level columns, nulls last. Only cells with at least one fact row appear.
    ``include_totals`` adds a subtotal row per prefix of ``levels`` and a
    grand total row; their rolled-up level columns are null (a member that
    is itself null looks the same, and sorts just before the subtotal).
    ``max_rows`` lowers the server's result limit for this query.
    """

    measures: list[str] = []
    levels: list[str] = []
    filter: Filter | None = None
    include_totals: bool = False
    max_rows: int | None = None


MAX_MDX_CHARACTERS = 100_000
"""The longest MDX query a server reads."""

MAX_MDX_BODY_BYTES = 6 * MAX_MDX_CHARACTERS + 1024
"""The largest ``MdxQuery`` body that can hold such a query (each character at most six bytes of
JSON, ``\\uXXXX``): a larger body is refused before it is read, however large ``max_request_bytes``."""


class MdxQuery(msgspec.Struct, frozen=True):
    """``POST /api/query/mdx``: an MDX ``SELECT`` of at most ``MAX_MDX_CHARACTERS``."""

    mdx: str
