"""Random small star schemas and random queries: the engine agrees with duckdb."""

from __future__ import annotations

from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.engine.cube_fixtures import assert_same, create, oracle
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.cubes import Aggregate, CreateCube, CubeQuery, Join, SetMeasure
from tiercube._wire.filters import And, Compare, Filter, IsIn, IsNull, Not, Operator, Or

REGIONS = ["EU", "US", "ASIA", None]
PRODUCTS = ["p1", "p2", "p3", None]

fact_rows = st.lists(
    st.tuples(
        st.sampled_from(REGIONS),
        st.sampled_from(PRODUCTS),
        st.one_of(st.none(), st.integers(-1000, 1000)),
        # Halves add up exactly, so float sums cannot differ by summation order.
        st.one_of(st.none(), st.integers(-200, 200).map(lambda n: n / 2)),
    ),
    max_size=40,
)
dimension = st.dictionaries(st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(["c1", "c2", None]))


def star(rows: list[tuple[Any, ...]], categories: dict[str, str | None]) -> tuple[TableStore, CubeStore]:
    """A sales fact table joined to its products, and a cube "sales" over them."""
    tables = TableStore()
    cubes = CubeStore(tables)
    create(tables, "sales", [("region", "string"), ("product", "string"), ("qty", "int64"), ("price", "float64")], [list(r) for r in rows])
    create(tables, "products", [("product", "string"), ("category", "string")], [[p, c] for p, c in categories.items()], keys=["product"])
    cubes.join("sales", Join("products"))
    cubes.create_cube(CreateCube("sales"))
    return tables, cubes


@settings(max_examples=examples(60))
@given(
    rows=fact_rows,
    categories=dimension,
    levels=st.lists(st.sampled_from(["region", "product", "category"]), unique=True, max_size=3),
    regions=st.one_of(st.none(), st.lists(st.sampled_from(["EU", "US", "ASIA"]), min_size=1, unique=True)),
    totals=st.booleans(),
)
def test_random_queries_match_duckdb(
    rows: list[tuple[Any, ...]], categories: dict[str, str | None], levels: list[str], regions: list[str] | None, totals: bool
) -> None:
    tables, cubes = star(rows, categories)
    cubes.set_measure("sales", "qty.MIN", SetMeasure(Aggregate("min", "qty")))
    cubes.set_measure("sales", "price.MAX", SetMeasure(Aggregate("max", "price")))
    cubes.set_measure("sales", "categories", SetMeasure(Aggregate("distinct_count", "category")))
    measures = ["qty.SUM", "qty.MEAN", "price.SUM", "qty.MIN", "price.MAX", "categories", "contributors.COUNT"]
    condition = IsIn("region", list[str | int | float | bool | None](regions)) if regions is not None else None

    result = cubes.query("sales", CubeQuery(measures, levels, condition, include_totals=totals), limits=QueryLimits(30, 10_000))

    where = "WHERE region IN ({})".format(", ".join(f"'{r}'" for r in regions)) if regions else ""
    select = ", ".join([*levels, "sum(qty)", "avg(qty)", "sum(price)", "min(qty)", "max(price)", "count(DISTINCT category)", "count(*)"])
    group = ""
    if levels:
        group = f"GROUP BY {'ROLLUP' if totals else ''}({', '.join(levels)})"
    order = ", ".join(f"{level} NULLS LAST, GROUPING({level})" for level in levels)
    sql = f"""SELECT {select} FROM sales LEFT JOIN products USING (product) {where} {group}
              HAVING count(*) > 0 {'ORDER BY ' + order if order else ''}"""
    assert_same(result, oracle(tables, sql))


# Filters on levels follow SQL's three-valued logic (tiercube._wire.filters), like duckdb's WHERE.
LEVEL_VALUES: dict[str, list[str | None]] = {"region": REGIONS, "product": PRODUCTS, "category": ["c1", "c2", None]}


def _leaf(level: str, kind: str, values: list[str | None]) -> tuple[Filter, str]:
    literal = ["NULL" if v is None else f"'{v}'" for v in values]
    if kind == "isnull":
        return IsNull(level), f"({level} IS NULL)"
    if kind == "isin":
        sql = f"({level} IN ({', '.join(literal)}))" if values else "FALSE"
        return IsIn(level, list[str | int | float | bool | None](values)), sql
    op = {"==": "=", "!=": "<>", "<": "<", ">=": ">="}[kind]
    return Compare(level, cast(Operator, kind), values[0]), f"({level} {op} {literal[0]})"


@st.composite
def level_filters(draw: st.DrawFn, depth: int = 0) -> tuple[Filter, str]:
    if depth < 2 and draw(st.booleans()):
        kind = draw(st.sampled_from(["and", "or", "not"]))
        if kind == "not":
            inner, sql = draw(level_filters(depth + 1))
            return Not(inner), f"(NOT {sql})"
        parts = [draw(level_filters(depth + 1)) for _ in range(draw(st.integers(1, 3)))]
        joined = f" {kind.upper()} ".join(sql for _, sql in parts)
        wire: Filter = And([f for f, _ in parts]) if kind == "and" else Or([f for f, _ in parts])
        return wire, f"({joined})"
    level = draw(st.sampled_from(sorted(LEVEL_VALUES)))
    kind = draw(st.sampled_from(["==", "!=", "<", ">=", "isin", "isnull"]))
    size = (0, 3) if kind == "isin" else (1, 1)
    values = draw(st.lists(st.sampled_from(LEVEL_VALUES[level]), min_size=size[0], max_size=size[1]))
    return _leaf(level, kind, values)


@settings(max_examples=examples(80))
@given(rows=fact_rows, categories=dimension, condition=level_filters(), totals=st.booleans())
def test_level_filters_follow_sql_null_semantics(
    rows: list[tuple[Any, ...]], categories: dict[str, str | None], condition: tuple[Filter, str], totals: bool
) -> None:
    tables, cubes = star(rows, categories)
    wire, sql = condition
    result = cubes.query(
        "sales", CubeQuery(["qty.SUM", "contributors.COUNT"], ["region"], wire, include_totals=totals), limits=QueryLimits(30, 10_000)
    )
    group = f"GROUP BY {'ROLLUP' if totals else ''}(region)"
    expected = oracle(
        tables,
        f"""SELECT region, sum(qty), count(*) FROM sales LEFT JOIN products USING (product) WHERE {sql} {group}
            HAVING count(*) > 0 ORDER BY region NULLS LAST, GROUPING(region)""",
    )
    assert_same(result, expected)
