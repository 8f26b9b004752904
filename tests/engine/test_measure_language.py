"""Random measures from the whole language, random levels, filters and totals: the engine agrees with duckdb.

The data has nulls everywhere a value can be missing, ties, products without
sales (empty groups), a single member now and then, and days around the leap
day of 2024 and the turns of the years. Each measure is a random tree of
aggregates (numpy-free: duckdb's ``median``, ``quantile_cont``/``quantile_disc``,
``stddev_samp``, ``product``...), arithmetic, conditions and scopes (running
totals with partitions and windows, shifts by members and by calendar periods,
fixed members, siblings, origins, ranks, best members), over plain levels, a
joined table's level, a date hierarchy derived with ``date_trunc`` and a
calculated level; ``measure_oracle`` writes the same measure as SQL. Cells are
compared one by one; floats to a relative and absolute 1e-9 (the engine sums
running totals by differences of prefix sums, duckdb row by row).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.engine.cube_fixtures import create
from tests.engine.measure_oracle import MeasureSql, filter_sql, q
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.types import decoded
from tiercube._wire.calculated import Call, Field, FilterValue, RowLiteral
from tiercube._wire.cubes import (
    Aggregate,
    Arithmetic,
    At,
    CreateCube,
    CubeQuery,
    Cumulative,
    Filtered,
    Join,
    LevelDefinition,
    MeasureComparison,
    MeasureExpr,
    MeasureRef,
    MemberOf,
    Origin,
    ParentValue,
    Period,
    Rank,
    RowCount,
    SetHierarchy,
    SetMeasure,
    Shift,
    Siblings,
    Where,
    Window,
)
from tiercube._wire.filters import Compare, Filter, IsIn, Scalar

DAYS = [
    dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 2, 28), dt.date(2024, 2, 29), dt.date(2024, 3, 1),
    dt.date(2024, 3, 31), dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 2, 28), dt.date(2025, 3, 1),
]
REGIONS = ["EU", "US", "ASIA"]
PRODUCTS = ["p1", "p2", "p3", "p4"]
HIERARCHIES = {"geography": ["region"], "catalog": ["category", "product"], "calendar": ["Year", "Month", "day"], "size": ["big"]}
LEVELS = [level for levels in HIERARCHIES.values() for level in levels]
DATE_LEVELS = frozenset({"Year", "Month", "day"})
ABOVE = {"product": ["category"], "Month": ["Year"], "day": ["Year", "Month"]}
BASE = """SELECT s.region, s.product, p.category, s.day, CAST(date_trunc('year', s.day) AS DATE) AS "Year",
          CAST(date_trunc('month', s.day) AS DATE) AS "Month", (s.qty > 10) AS big, s.qty, s.price, p.weight
          FROM sales s LEFT JOIN products p USING (product)"""
MEASURES: dict[str, MeasureExpr] = {"qty": Aggregate("sum", "qty"), "price": Aggregate("sum", "price")}

# Few distinct values, so that sums, ranks and quantiles tie often; halves add up exactly in any order.
# A null is one choice among the values (not one in two): most rows have most of their values.
HALVES: list[float | None] = [None, *(n / 2 for n in range(-4, 13))]
fact_rows = st.lists(
    st.tuples(
        st.sampled_from([None, *REGIONS]),
        st.sampled_from([None, *PRODUCTS]),
        st.sampled_from([None, *DAYS]),
        st.sampled_from([None, -1, 0, 1, 2, 2, 3, 12, 20]),
        st.sampled_from(HALVES),
    ),
    max_size=30,
)
products = st.dictionaries(st.sampled_from(PRODUCTS), st.tuples(st.sampled_from(["c1", "c2", None]), st.sampled_from(HALVES)))


def build(rows: list[tuple[Any, ...]], catalog: dict[str, tuple[str | None, float | None]]) -> tuple[TableStore, CubeStore]:
    tables = TableStore()
    cubes = CubeStore(tables)
    create(tables, "sales", [("region", "string"), ("product", "string"), ("day", "date"), ("qty", "int64"), ("price", "float64")], [list(r) for r in rows])
    create(tables, "products", [("product", "string"), ("category", "string"), ("weight", "float64")],
           [[p, c, w] for p, (c, w) in catalog.items()], keys=["product"])
    cubes.join("sales", Join("products"))
    cubes.create_cube(CreateCube("sales", mode="manual"))
    trunc = {unit: Call("date_trunc", [Field("day"), RowLiteral(unit)]) for unit in ("year", "month")}
    definitions = {
        "geography": [LevelDefinition("region", "region")],
        "catalog": [LevelDefinition("category", "category"), LevelDefinition("product", "product")],
        "calendar": [LevelDefinition("Year", "", expression=trunc["year"]), LevelDefinition("Month", "", expression=trunc["month"]),
                     LevelDefinition("day", "day")],
        "size": [LevelDefinition("big", "", expression=FilterValue(Compare("qty", ">", 10, "sales")))],
    }
    for name, levels in definitions.items():
        cubes.set_hierarchy("sales", name, SetHierarchy(levels))
    for name, expression in MEASURES.items():
        cubes.set_measure("sales", name, SetMeasure(expression))
    return tables, cubes


# Measures -------------------------------------------------------------------

EXACT_LEAVES: list[MeasureExpr] = [
    Aggregate("sum", "qty"), Aggregate("count", "price"), RowCount(), Aggregate("distinct_count", "product"),
    Aggregate("min", "qty"), Aggregate("max", "qty"), Aggregate("sum", "price"), MeasureRef("qty"), MeasureRef("price"),
    Aggregate("sum", Call("multiply", [Field("qty"), Field("price")])), Aggregate("sum", "weight"),
]
FLOAT_LEAVES: list[MeasureExpr] = [
    Aggregate("mean", "price"), Aggregate("median", "price"), Aggregate("quantile", "price", q=0.9),
    Aggregate("quantile", "qty", q=0.25, interpolation="discrete"), Aggregate("quantile", "price", q=0.5, interpolation="discrete"),
    Aggregate("std", "price"), Aggregate("var", "qty", population=True), Aggregate("std", "qty", population=True),
    Aggregate("var", "price"), Aggregate("prod", "qty"), Aggregate("mean", "weight"), Aggregate("median", "weight"),
    Aggregate("single_value", "qty"),
]
MEMBERS: dict[str, list[Scalar]] = {"region": ["EU", "US", None], "Month": ["2024-02-01", "2025-01-01"], "product": ["p1", "p4"]}


@st.composite
def measure_trees(draw: st.DrawFn, depth: int = 0, exact: bool = False) -> MeasureExpr:
    """A measure whose values are numbers (``exact``: sums and counts of whole numbers and halves,
    which every order of addition computes alike, for what compares or ranks values)."""
    if depth >= 2 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(EXACT_LEAVES if exact else EXACT_LEAVES + FLOAT_LEAVES))
    inner = measure_trees(depth + 1, exact)
    kind = draw(st.sampled_from(
        ["arithmetic", "where", "filtered", "parent", "cumulative", "shift", "at", "siblings", "origin"]
        + ([] if exact else ["divide", "rank"])
    ))
    level = draw(st.sampled_from(LEVELS))
    match kind:
        case "arithmetic":
            return Arithmetic(draw(st.sampled_from(["+", "-", "*"])), draw(inner), draw(inner))
        case "divide":
            return Arithmetic("/", draw(inner), draw(inner))
        case "where":
            exact_inner = measure_trees(depth + 1, True)
            comparison = MeasureComparison(draw(exact_inner), draw(st.sampled_from([">", "<=", "=="])), draw(exact_inner))
            return Where(comparison, draw(inner), draw(st.one_of(st.none(), inner)))
        case "filtered":
            conditions: list[Filter] = [IsIn("region", ["EU", "ASIA"]), Compare("Month", ">=", "2024-03-01")]
            return Filtered(draw(inner), draw(st.sampled_from(conditions)))
        case "parent":
            return ParentValue(draw(inner), level)
        case "cumulative":
            along = draw(st.sampled_from(["day", "Month", "product", "region"]))
            window = None
            if draw(st.booleans()):
                window = Window(members=draw(st.integers(1, 3)))
            elif along in DATE_LEVELS and draw(st.booleans()):
                window = Window(period=draw(st.sampled_from([Period(months=2), Period(days=40), Period(years=1)])))
            partitioning = draw(st.one_of(st.none(), st.sampled_from(ABOVE.get(along, [None]))))
            return Cumulative(draw(inner), along, partitioning, window)
        case "shift":
            along = draw(st.sampled_from(["day", "Month", "Year", "product", "region"]))
            if along in DATE_LEVELS and draw(st.booleans()):
                return Shift(draw(inner), along, 0, draw(st.sampled_from([Period(months=-1), Period(years=-1), Period(days=1)])))
            return Shift(draw(inner), along, draw(st.sampled_from([-2, -1, 1])))
        case "at":
            fixed = draw(st.sampled_from(sorted(MEMBERS)))
            return At(draw(inner), {fixed: draw(st.sampled_from(MEMBERS[fixed]))})
        case "siblings":
            return Siblings(draw(inner), level, draw(st.booleans()))
        case "origin":
            levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=2, unique=True))
            return Origin(draw(inner), levels, draw(st.sampled_from(["sum", "mean", "min", "max", "median"])))
        case _:
            ranked = draw(measure_trees(depth + 1, True))
            within = draw(st.one_of(st.none(), st.sampled_from(ABOVE.get(level, [None]))))
            return Rank(ranked, level, within, draw(st.booleans()))


@st.composite
def top_measures(draw: st.DrawFn) -> MeasureExpr:
    if draw(st.integers(0, 5)) == 0:
        return MemberOf(draw(measure_trees(1, True)), draw(st.sampled_from(["product", "day", "region"])), draw(st.booleans()))
    return draw(measure_trees())


query_filters = st.one_of(
    st.none(),
    st.sampled_from([
        IsIn("region", ["EU", "US"]), Compare("day", ">=", "2024-02-29"), Compare("Month", "<", "2025-01-01"),
        Compare("big", "==", True), IsIn("category", ["c1"]),
    ]),
)


# Comparing ------------------------------------------------------------------


def close(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        assert isinstance(a, int | float) and isinstance(b, int | float)
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def expected(connection: duckdb.DuckDBPyConnection, oracle: MeasureSql, levels: list[str], totals: bool) -> list[tuple[Any, ...]]:
    sets = [levels[:k] for k in range(len(levels), -1, -1)] if totals else [levels]
    found: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
    for shown in sets:
        sql = f"SELECT {''.join(q(level) + ', ' for level in shown)}v FROM ({oracle.cells(MeasureRef('m'), shown)})"
        for row in connection.sql(sql).fetchall():
            values = [*row[: len(shown)], *([None] * (len(levels) - len(shown)))]
            key = tuple((i >= len(shown), values[i] is None, values[i] if values[i] is not None else 0) for i in range(len(levels)))
            found.append((key, (*values, row[-1])))
    return [row for _, row in sorted(found, key=lambda pair: pair[0])]


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=fact_rows,
    catalog=products,
    measure=top_measures(),
    levels=st.lists(st.sampled_from(LEVELS), max_size=3, unique=True),
    condition=query_filters,
    totals=st.booleans(),
)
def test_random_measures_match_duckdb(
    rows: list[tuple[Any, ...]], catalog: dict[str, tuple[str | None, float | None]], measure: MeasureExpr,
    levels: list[str], condition: Filter | None, totals: bool,
) -> None:
    check(rows, catalog, measure, levels, condition, totals)


def check(
    rows: list[tuple[Any, ...]], catalog: dict[str, tuple[str | None, float | None]], measure: MeasureExpr,
    levels: list[str], condition: Filter | None, totals: bool,
) -> None:
    """The engine's answer to measure ``m`` by ``levels`` is duckdb's, cell by cell."""
    tables, cubes = build(rows, catalog)
    cubes.set_measure("sales", "m", SetMeasure(measure))
    result = cubes.query("sales", CubeQuery(["m"], levels, condition, include_totals=totals), limits=QueryLimits(60, 100_000))

    connection = duckdb.connect()
    for name in tables.names():
        connection.register(name, decoded(tables.get(name).rows.gathered()))
    where = filter_sql(condition, DATE_LEVELS) if condition is not None else "TRUE"
    connection.execute(f"CREATE TEMP VIEW base AS SELECT * FROM ({BASE}) WHERE {where}")
    oracle = MeasureSql(HIERARCHIES, {**MEASURES, "m": measure}, DATE_LEVELS)
    want = expected(connection, oracle, levels, totals)
    got = [tuple(row.values()) for row in result.to_pylist()]
    assert len(got) == len(want), f"engine:\n{got}\noracle:\n{want}"
    for engine_row, oracle_row in zip(got, want, strict=True):
        assert all(close(a, b) for a, b in zip(engine_row, oracle_row, strict=True)), f"engine:\n{got}\noracle:\n{want}"


SCOPES = ["cumulative", "window", "period", "shift", "shift period", "at", "siblings", "origin", "rank", "member"]


@st.composite
def scoped(draw: st.DrawFn, kind: str) -> tuple[MeasureExpr, list[str]]:
    """One scope over a leaf, and query levels that show the level it works along (and its partition)."""
    leaf = draw(st.sampled_from(EXACT_LEAVES + FLOAT_LEAVES))
    exact = draw(st.sampled_from(EXACT_LEAVES))
    along = draw(st.sampled_from(["day", "Month", "Year"] if "period" in kind else LEVELS))
    above = draw(st.one_of(st.none(), st.sampled_from(ABOVE.get(along, [None]))))
    measure: MeasureExpr
    match kind:
        case "cumulative":
            measure = Cumulative(leaf, along, above)
        case "window":
            measure = Cumulative(leaf, along, above, Window(members=draw(st.integers(1, 3))))
        case "period":
            measure = Cumulative(leaf, along, above, Window(period=draw(st.sampled_from([Period(months=2), Period(days=40), Period(years=1)]))))
        case "shift":
            measure = Shift(leaf, along, draw(st.sampled_from([-2, -1, 1, 2])))
        case "shift period":
            measure = Shift(leaf, along, 0, draw(st.sampled_from([Period(months=-1), Period(years=-1), Period(days=1), Period(weeks=-1)])))
        case "at":
            fixed = draw(st.sampled_from(sorted(MEMBERS)))
            along = fixed
            measure = At(leaf, {fixed: draw(st.sampled_from(MEMBERS[fixed]))})
        case "siblings":
            measure = Siblings(leaf, along, draw(st.booleans()))
        case "origin":
            measure = Origin(leaf, [along], draw(st.sampled_from(["sum", "mean", "min", "max", "median"])))
            along = draw(st.sampled_from(LEVELS))
        case "rank":
            measure = Rank(exact, along, above, draw(st.booleans()))
        case _:
            measure = MemberOf(exact, along, draw(st.booleans()))
            along = draw(st.sampled_from(LEVELS))
    others = draw(st.lists(st.sampled_from([level for level in LEVELS if level != along]), max_size=1, unique=True))
    levels = draw(st.permutations([along, *others]))
    return measure, list(levels)


@pytest.mark.parametrize("kind", SCOPES)
@settings(max_examples=examples(15), suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rows=fact_rows, catalog=products, condition=query_filters, totals=st.booleans())
def test_each_scope_matches_duckdb(
    kind: str, data: st.DataObject, rows: list[tuple[Any, ...]], catalog: dict[str, tuple[str | None, float | None]],
    condition: Filter | None, totals: bool,
) -> None:
    measure, levels = data.draw(scoped(kind), label="measure and levels")
    check(rows, catalog, measure, levels, condition, totals)


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=fact_rows,
    catalog=products,
    leaf=st.sampled_from(EXACT_LEAVES + FLOAT_LEAVES),
    levels=st.lists(st.sampled_from(LEVELS), max_size=2, unique=True),
    condition=query_filters,
    totals=st.booleans(),
)
def test_each_aggregate_matches_duckdb(
    rows: list[tuple[Any, ...]], catalog: dict[str, tuple[str | None, float | None]], leaf: MeasureExpr,
    levels: list[str], condition: Filter | None, totals: bool,
) -> None:
    check(rows, catalog, leaf, levels, condition, totals)
