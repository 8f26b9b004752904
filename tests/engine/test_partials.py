"""Maintained aggregates never change an answer: random sequences of changes and queries.

Two engines take the same random sequence of appends (new keys and
replaced ones), drops and queries: one keeps and maintains its aggregates
and keeps its answers, the other always reads the fact rows. After every
step each query must give the same answer in both, and the answer duckdb
gives over the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.engine.cube_fixtures import assert_same, create, oracle, rows, same
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.grouping import FactGrouping
from tiercube._server.engine.cubes.results import Results
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.calculated import Call, Field, FilterValue
from tiercube._wire.cubes import Aggregate, AggregateFunction, CreateCube, CubeQuery, Join, LevelDefinition, SetHierarchy, SetMeasure
from tiercube._wire.filters import Compare, Filter, IsIn

REGIONS = ["EU", "US", "ASIA", None]
PRODUCTS = ["p1", "p2", "p3", "p4", None]
MEASURES = {
    "qty.SUM": "sum(qty)",
    "qty.MEAN": "avg(qty)",
    "price.SUM": "sum(price)",
    "qty.MIN": "min(qty)",
    "price.MAX": "max(price)",
    "qty.COUNT": "count(qty)",
    "products": "count(DISTINCT product)",
    "categories": "count(DISTINCT category)",
    "contributors.COUNT": "count(*)",
    # Quantiles keep a grouping by the column they read; products are computed again where rows go.
    "price.MEDIAN": "median(price)",
    "qty.Q25": "quantile_disc(qty, 0.25)",
    "price.STD": "stddev_samp(price)",
    "qty.VAR": "var_pop(qty)",
    "qty.PROD": "product(qty)",
    "one region": "CASE WHEN min(region) = max(region) THEN min(region) END",
    "revenue": "sum(qty * price)",
}

row = st.tuples(
    st.integers(0, 30),  # few ids: appends often replace a row
    st.sampled_from(REGIONS),
    st.sampled_from(PRODUCTS),
    st.one_of(st.none(), st.integers(-50, 50)),
    st.one_of(st.none(), st.integers(-40, 40).map(lambda n: n / 2)),  # halves: sums are exact in any order
)


@dataclass(frozen=True)
class Append:
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class Drop:
    condition: Filter


@dataclass(frozen=True)
class Query:
    measures: list[str]
    levels: list[str]
    regions: list[str] | None
    totals: bool


def _drop_region(region: str) -> Drop:
    return Drop(Compare("region", "==", region))


def _drop_small(qty: int) -> Drop:
    return Drop(Compare("qty", "<", qty))


def _drop_ids(ids: list[int]) -> Drop:
    return Drop(IsIn("id", list[Any](ids)))


drops = st.one_of(
    st.sampled_from(["EU", "US", "ASIA"]).map(_drop_region),
    st.integers(-40, 40).map(_drop_small),
    st.lists(st.integers(0, 30), max_size=5).map(_drop_ids),
)
queries = st.builds(
    Query,
    st.lists(st.sampled_from(sorted(MEASURES)), min_size=1, max_size=4, unique=True),
    st.lists(st.sampled_from(["region", "product", "category", "positive"]), max_size=2, unique=True),
    st.one_of(st.none(), st.lists(st.sampled_from(["EU", "US", "ASIA"]), min_size=1, max_size=2, unique=True)),
    st.booleans(),
)
steps = st.lists(st.one_of(st.builds(Append, st.lists(row, max_size=12)), drops, queries), min_size=1, max_size=25)


def engine(partials: Partials | None) -> tuple[TableStore, CubeStore]:
    """The server's engine, keeping groupings and answers (given ``partials``) or reading the rows every time."""
    tables = TableStore(observer=partials)
    cubes = CubeStore(tables, partials, Results(1 << 20) if partials is not None else None)
    create(tables, "sales", [("id", "int64"), ("region", "string"), ("product", "string"), ("qty", "int64"), ("price", "float64")], [], keys=["id"])
    create(tables, "products", [("product", "string"), ("category", "string")], [["p1", "c1"], ["p2", "c1"], ["p3", "c2"]], keys=["product"])
    cubes.join("sales", Join("products"))
    cubes.create_cube(CreateCube("sales"))
    extra: dict[str, tuple[AggregateFunction, str]] = {
        "qty.MIN": ("min", "qty"), "price.MAX": ("max", "price"), "qty.COUNT": ("count", "qty"),
        "products": ("distinct_count", "product"), "categories": ("distinct_count", "category"),
    }
    for name, (function, column) in extra.items():
        cubes.set_measure("sales", name, SetMeasure(Aggregate(function, column)))
    more = {
        "price.MEDIAN": Aggregate("median", "price"), "qty.Q25": Aggregate("quantile", "qty", q=0.25, interpolation="discrete"),
        "price.STD": Aggregate("std", "price"), "qty.VAR": Aggregate("var", "qty", population=True),
        "qty.PROD": Aggregate("prod", "qty"), "one region": Aggregate("single_value", "region"),
        "revenue": Aggregate("sum", Call("multiply", [Field("qty"), Field("price")])),
    }
    for name, expression in more.items():
        cubes.set_measure("sales", name, SetMeasure(expression))
    # A calculated level over a number: computed per row, a key of the groupings kept.
    positive = FilterValue(Compare("qty", ">", 0, "sales"))
    cubes.set_hierarchy("sales", "positive", SetHierarchy([LevelDefinition("positive", "", expression=positive)]))
    return tables, cubes


def answer(tables: TableStore, cubes: CubeStore, step: Query) -> Any:
    condition = IsIn("region", list[Any](step.regions)) if step.regions is not None else None
    request = CubeQuery(step.measures, step.levels, condition, include_totals=step.totals)
    return cubes.query("sales", request, limits=QueryLimits(30, 100_000))


def expected(tables: TableStore, step: Query) -> list[tuple[Any, ...]]:
    where = "WHERE region IN ({})".format(", ".join(f"'{r}'" for r in step.regions)) if step.regions else ""
    select = ", ".join([*step.levels, *(MEASURES[m] for m in step.measures)])
    group = f"GROUP BY {'ROLLUP' if step.totals else ''}({', '.join(step.levels)})" if step.levels else ""
    order = ", ".join(f"{level} NULLS LAST, GROUPING({level})" for level in step.levels)
    return oracle(
        tables,
        f"SELECT {select} FROM (SELECT *, qty > 0 AS positive FROM sales LEFT JOIN products USING (product)) {where} {group} "
        "HAVING count(*) > 0" + (f" ORDER BY {order}" if order else ""),
    )


# Asked after every change, as a dashboard would: it is answered from what was kept and maintained.
DASHBOARD = Query(sorted(MEASURES), ["region", "product"], None, True)


@settings(max_examples=examples(25))  # 80 took 38 s idle, 236 s on a loaded CI runner
@given(steps=steps)
def test_maintained_aggregates_never_change_an_answer(steps: list[Append | Drop | Query]) -> None:
    partials = Partials(budget=64 * 1024 * 1024)
    kept, plain = engine(partials), engine(None)
    for step in steps:
        for tables, _ in (kept, plain):
            if isinstance(step, Append) and step.rows:
                tables.append("sales", [list(r) for r in step.rows])
            elif isinstance(step, Drop):
                tables.drop("sales", step.condition)
        for query in [step] if isinstance(step, Query) else [DASHBOARD]:
            with_partials = answer(*kept, query)
            assert_same(with_partials, expected(kept[0], query))
            assert same(rows(with_partials), rows(answer(*plain, query)))
    # The dashboard, asked again after each change, was served from what was kept.
    changes = sum(isinstance(s, Drop) or (isinstance(s, Append) and bool(s.rows)) for s in steps)
    assert partials.stats().hits >= changes - 1


def test_an_append_is_merged_into_what_was_kept_and_a_query_then_uses_it() -> None:
    partials = Partials(budget=64 * 1024 * 1024)
    tables, cubes = engine(partials)
    tables.append("sales", [[1, "EU", "p1", 3, 1.5], [2, "US", "p2", 4, 2.0]])
    first = Query(["qty.SUM", "qty.MIN", "contributors.COUNT"], ["region"], None, False)
    answer(tables, cubes, first)
    assert partials.stats().entries == 1
    tables.append("sales", [[3, "EU", "p3", 10, 0.5], [1, "EU", "p1", -7, 1.0]])  # one new row, one replaced
    hits = partials.stats().hits
    assert_same(answer(tables, cubes, first), expected(tables, first))
    after = partials.stats()
    assert after.hits == hits + 1 and after.maintained >= 1
    tables.drop("sales", Compare("region", "==", "EU"))
    assert_same(answer(tables, cubes, first), expected(tables, first))
    assert partials.stats().hits == hits + 2


def test_a_grouping_that_cannot_be_kept_is_not_grouped_whole_again() -> None:
    """Without room to keep it, a filtered query groups only its rows, however often it is asked."""
    nothing, tiny = Partials(budget=0), Partials(budget=1)
    everything = FactGrouping("sales", frozenset({"region"}), frozenset({("qty", "sum")}))
    one_region = FactGrouping("sales", frozenset({"product", "region"}), frozenset({("qty", "sum")}))
    for partials in (nothing, tiny):
        tables, cubes = engine(partials)
        tables.append("sales", [[1, "EU", "p1", 3, 1.5], [2, "US", "p2", 4, 2.0], [3, "EU", "p2", 5, 2.5]])
        for query in [Query(["qty.SUM"], ["region"], None, False)] + [Query(["qty.SUM"], ["product"], ["EU"], False)] * 3:
            assert_same(answer(tables, cubes, query), expected(tables, query))
        assert partials.stats().entries == 0
        assert not partials.worth_keeping(one_region, filtered=True)
        assert not partials.worth_keeping(everything, filtered=False)  # refused once, not grouped whole again


def test_a_grouping_of_rows_a_change_replaced_does_not_push_out_the_maintained_ones() -> None:
    """A query that read the rows before an append may offer its grouping after it (readers do not
    wait for writers): the groupings maintained through the append keep serving."""
    partials = Partials(budget=64 * 1024 * 1024)
    tables, cubes = engine(partials)
    tables.append("sales", [[1, "EU", "p1", 3, 1.5], [2, "US", "p2", 4, 2.0]])
    by_region = Query(["qty.SUM", "contributors.COUNT"], ["region"], None, False)
    answer(tables, cubes, by_region)
    read_before = tables.get("sales").rows
    tables.append("sales", [[3, "EU", "p3", 10, 0.5], [1, "US", "p1", -7, 1.0]])
    by_product = FactGrouping("sales", frozenset({"product"}), frozenset({("qty", "sum")}))
    partials.offer(read_before, by_product, read_before.grouped(by_product.kept(), None, None))
    hits = partials.stats().hits
    assert_same(answer(tables, cubes, by_region), expected(tables, by_region))
    assert partials.stats().hits == hits + 1
