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

Scopes (``Cumulative``, ``Shift``, ``At``, ``Siblings``, ``Origin``, ``Rank``,
``MemberOf``) evaluate their ``measure`` in other cells than the one being
computed (earlier members, another member, the siblings, finer cells) and
combine those values. Member order is the level's value order (dates
chronologically), nulls last.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from tiercube._public import public
from tiercube._wire.calculated import RowExpr
from tiercube._wire.column_types import ColumnType
from tiercube._wire.filters import Filter, Operator, Scalar

AggregateFunction: TypeAlias = Literal[
    "sum", "mean", "min", "max", "count", "distinct_count",
    "median", "quantile", "std", "var", "prod", "single_value",
]
"""``count`` counts non-null values; ``distinct_count`` counts distinct non-null values;
``median`` is ``quantile`` at 0.5 with linear interpolation; ``std`` and ``var`` are the
sample's (``population`` for the population's); ``single_value`` is the value when every
non-null value of the cell is the same, else null."""

Interpolation: TypeAlias = Literal["linear", "lower", "higher", "nearest", "midpoint", "discrete"]
"""How a quantile between two values is chosen, at position ``p = (n - 1) * q`` of the ``n`` sorted
non-null values: ``linear`` interpolates (SQL's ``percentile_cont``, duckdb's ``quantile_cont``),
``lower``/``higher`` take the value at ``floor(p)``/``ceil(p)``, ``nearest`` the nearer of the two
(half to even), ``midpoint`` their mean, and ``discrete`` the value at ``ceil(n * q) - 1`` (SQL's
``percentile_disc``, duckdb's ``quantile_disc``)."""


class Aggregate(msgspec.Struct, frozen=True, tag="aggregate"):
    """``function`` over the values of ``column`` (or of a calculated column) of the rows that make up a cell."""

    function: AggregateFunction
    column: str | RowExpr
    # Only needed when ``column`` names a column that exists in several of the cube's tables.
    table: str | None = None
    # ``quantile`` only: which one (0 to 1) and how it is interpolated.
    q: float = 0.5
    interpolation: Interpolation = "linear"
    # ``std`` and ``var`` only: of the population (divide by n) instead of the sample (n - 1).
    population: bool = False


class RowCount(msgspec.Struct, frozen=True, tag="row_count"):
    """The number of fact rows that make up a cell (``contributors.COUNT``)."""


class MeasureRef(msgspec.Struct, frozen=True, tag="measure_ref"):
    """The value of another measure of the same cube."""

    name: str


class Constant(msgspec.Struct, frozen=True, tag="constant"):
    """A number in a measure's expression."""

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


@public
class Period(msgspec.Struct, frozen=True):
    """A calendar period: ``tiercube.Period(months=3)``, ``Period(days=7)``, ``Period(years=1)``.

    Used along a date or timestamp level, as the window of ``tiercube.cumulative`` (the
    members within the period up to and including the current one) and as the offset of
    ``tiercube.shift`` (``Period(months=-1)``: the same cell a month earlier). Months and
    years are calendar months and years: March 31 minus a month is February 29 (or 28).
    """

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0


class Window(msgspec.Struct, frozen=True):
    """The members a cumulative value adds up, ending at the current member: the last
    ``members`` of them, or those within ``period`` (a date or timestamp level)."""

    members: int | None = None
    period: Period | None = None


class Cumulative(msgspec.Struct, frozen=True, tag="cumulative"):
    """The running total of ``measure`` along ``level``: its values at every member up to the
    cell's, within ``window`` when given, starting again at every member of ``partitioning``
    (a level above ``level`` in its hierarchy: year-to-date, per-region totals).

    Where the cell does not show ``level`` (a total row) the value is ``measure``'s own.
    """

    measure: MeasureExpr
    level: str
    partitioning: str | None = None
    window: Window | None = None


class Shift(msgspec.Struct, frozen=True, tag="shift"):
    """``measure`` at the member ``offset`` positions away along ``level`` (-1: the previous one),
    or, with ``period``, at the member that far away in time (a date or timestamp level).

    Members are those ``level`` has among the query's fact rows; past the first or the last,
    or where the shifted cell has no fact row, the value is null. Where the cell does not show
    ``level`` the value is null too.
    """

    measure: MeasureExpr
    level: str
    offset: int = 0
    period: Period | None = None


class At(msgspec.Struct, frozen=True, tag="at"):
    """``measure`` in the cell whose members of the given levels are fixed (level -> member);
    the cell's other members stay. Null where that cell has no fact row."""

    measure: MeasureExpr
    members: dict[str, Scalar]


class Siblings(msgspec.Struct, frozen=True, tag="siblings"):
    """The total of ``measure`` over the cell and its siblings along ``level`` (the members of
    ``level`` that share the cell's other members), without the cell's own with ``exclude_self``.

    Where the cell does not show ``level`` the value is ``measure``'s own (null with ``exclude_self``).
    """

    measure: MeasureExpr
    level: str
    exclude_self: bool = False


OriginFunction: TypeAlias = Literal["sum", "mean", "min", "max", "median"]


class Origin(msgspec.Struct, frozen=True, tag="origin"):
    """``measure`` computed at the cell's levels plus ``levels``, then combined per cell with
    ``function`` (the sum over products of price.MEAN * qty.SUM; the median basket: the median
    over orders of their revenue). Null values are left out; a cell whose are all null is null."""

    measure: MeasureExpr
    levels: list[str]
    function: OriginFunction = "sum"


class Rank(msgspec.Struct, frozen=True, tag="rank"):
    """The rank of the cell's member of ``level`` by ``measure`` (1 for the largest, or the
    smallest when ``ascending``) among the members that share the cell's other members, or
    those that share its member of ``within``. Ties share the smaller rank (SQL's ``rank()``);
    a null value, or a cell that does not show ``level``, has no rank (null)."""

    measure: MeasureExpr
    level: str
    within: str | None = None
    ascending: bool = False


class MemberOf(msgspec.Struct, frozen=True, tag="member_of"):
    """The member of ``level`` at which ``measure`` is ``largest`` (else smallest) among the cell's
    members of ``level``; ties go to the first member in the level's order; null when every
    value is null."""

    measure: MeasureExpr
    level: str
    largest: bool = True


MeasureExpr: TypeAlias = (
    Aggregate | RowCount | MeasureRef | Constant | Arithmetic | Where | Filtered | ParentValue
    | Cumulative | Shift | At | Siblings | Origin | Rank | MemberOf
)


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
    """Cells for which every condition holds."""

    conditions: list[MeasureCondition]


class AnyOf(msgspec.Struct, frozen=True, tag="any_of"):
    """Cells for which at least one condition holds."""

    conditions: list[MeasureCondition]


class NotCondition(msgspec.Struct, frozen=True, tag="not_condition"):
    """Cells for which the condition does not hold."""

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
    """A level: it shows ``column`` of ``table`` or, with an ``expression``, a calculated
    column over ``table`` (whose first column is ``column``), of type ``data_type``."""

    name: str
    column: str
    table: str
    data_type: ColumnType
    expression: RowExpr | None = None


class HierarchyInfo(msgspec.Struct, frozen=True):
    name: str
    levels: list[LevelInfo]


FormatStyle: TypeAlias = Literal["number", "percent", "currency"]

MAX_DECIMALS = 10
"""The most decimals a format shows (a float holds about 15 significant digits)."""


FORMAT_METADATA = b"tiercube.format"
"""The Arrow field metadata key under which an answer's measure column carries its ``NumberFormat`` (JSON)."""


class NumberFormat(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a measure's numbers are shown: the explorer, the notebook display and exports' display form use it.

    ``style``: ``number`` as is, ``percent`` times 100 with ``%`` (0.11 shows as ``11.0%`` with one
    decimal), ``currency`` with the symbol of ``currency`` (an ISO 4217 code: ``EUR``, ``USD``).
    ``decimals``: digits after the point (None: as many as the value has, up to
    3 for numbers and 0 for percents). ``thousands``: separators every three digits (``12,345``).
    The names follow JavaScript's ``Intl.NumberFormat``, which the explorer hands them to.
    """

    style: FormatStyle = "number"
    decimals: int | None = None
    thousands: bool = True
    currency: str | None = None

    def __post_init__(self) -> None:
        # Structs decoded from a request are checked here too: a bad format is a 400, never a page that cannot draw.
        if self.decimals is not None and not 0 <= self.decimals <= MAX_DECIMALS:
            raise ValueError(f"decimals must be between 0 and {MAX_DECIMALS}, not {self.decimals}")
        if (self.style == "currency") != (self.currency is not None):
            raise ValueError("a currency format needs currency='EUR' (an ISO 4217 code), and only a currency format has one")
        if self.currency is not None and not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isalpha() and self.currency.isupper()):
            raise ValueError(f"currency is an ISO 4217 code of three capital letters (EUR, USD), not {self.currency!r}")


class MeasureInfo(msgspec.Struct, frozen=True):
    name: str
    expression: MeasureExpr
    # How its numbers are shown; None: as they come (added after the first protocol: absent means None).
    format: NumberFormat | None = None


class CubeInfo(msgspec.Struct, frozen=True):
    """A cube's structure: its fact table, hierarchies and measures."""

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
    """Define measure ``expression`` under the path's name.

    ``replace``: whether a measure of that name may be redefined (False refuses it with a
    ``ConflictError``; the default True is what callers that predate the field meant).
    ``format``: how its numbers are shown; None keeps the measure's current format (none
    for a new measure).
    """

    expression: MeasureExpr
    replace: bool = True
    format: NumberFormat | None = None


class UpdateMeasure(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``PATCH`` a measure's presentation, leaving its expression alone: ``format`` None shows its numbers as they come."""

    format: NumberFormat | None = None


class LevelDefinition(msgspec.Struct, frozen=True):
    """A level showing ``column``, or the calculated column ``expression`` (``column`` is then ignored)."""

    name: str
    column: str
    table: str | None = None
    expression: RowExpr | None = None


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
    ``max_rows`` lowers the server's result limit for this query. ``top`` keeps only the
    best rows (see ``Top``); totals are still over every row.
    """

    measures: list[str] = []
    levels: list[str] = []
    filter: Filter | None = None
    include_totals: bool = False
    max_rows: int | None = None
    top: Top | None = None


class Top(msgspec.Struct, frozen=True):
    """Keep the ``n`` rows with the largest ``measure`` per member of ``per`` (overall when
    None); ties go to the rows first in level order. Total rows stay, with totals over every
    row, for the members shown."""

    n: int
    measure: str
    per: str | None = None


MAX_MDX_CHARACTERS = 100_000
"""The longest MDX query a server reads."""

MAX_MDX_BODY_BYTES = 6 * MAX_MDX_CHARACTERS + 1024
"""The largest ``MdxQuery`` body that can hold such a query (each character at most six bytes of
JSON, ``\\uXXXX``): a larger body is refused before it is read, however large ``max_request_bytes``."""


class MdxQuery(msgspec.Struct, frozen=True):
    """``POST /api/query/mdx``: an MDX ``SELECT`` of at most ``MAX_MDX_CHARACTERS``."""

    mdx: str
