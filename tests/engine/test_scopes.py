"""Scopes, ranks and Top on a small cube: the cases the random tests reach rarely, checks when a
measure is set, the cost bound on measure graphs, and totals under Top."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.engine.cube_fixtures import create, rows
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.cubes.cost import MAX_MEASURE_DEPTH
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.calculated import Call, Field, RowLiteral
from tiercube._wire.cubes import (
    Aggregate,
    Arithmetic,
    At,
    Constant,
    CreateCube,
    CubeQuery,
    Cumulative,
    LevelDefinition,
    MeasureExpr,
    MeasureRef,
    MemberOf,
    Origin,
    Period,
    Rank,
    SetHierarchy,
    SetMeasure,
    Shift,
    Siblings,
    Top,
    Window,
)
from tiercube._wire.filters import Compare
from tiercube.errors import InvalidRequestError, QueryError, ResultTooLargeError

QTY = MeasureRef("qty")


@pytest.fixture
def cubes() -> CubeStore:
    """Sales by region, product and day, with a calendar (Year > Month > day) and one region (ASIA) that
    skips February."""
    tables = TableStore()
    store = CubeStore(tables)
    days = [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2025, 1, 15), dt.date(2025, 3, 1)]
    sales = [
        [region, product, day, qty]
        for region, skip in (("EU", None), ("ASIA", 2))
        for day in days if day.month != skip
        for product, qty in (("a", day.day % 7 + 1), ("b", 3))
    ]
    create(tables, "sales", [("region", "string"), ("product", "string"), ("day", "date"), ("qty", "int64")], sales)
    store.create_cube(CreateCube("sales", mode="manual"))
    trunc = [LevelDefinition(name, "", expression=Call("date_trunc", [Field("day"), RowLiteral(unit)])) for name, unit in (("Year", "year"), ("Month", "month"))]
    store.set_hierarchy("sales", "calendar", SetHierarchy([*trunc, LevelDefinition("day", "day")]))
    store.set_hierarchy("sales", "geography", SetHierarchy([LevelDefinition("region", "region")]))
    store.set_hierarchy("sales", "product", SetHierarchy([LevelDefinition("product", "product")]))
    store.set_measure("sales", "qty", SetMeasure(Aggregate("sum", "qty")))
    return store


def ask(cubes: CubeStore, measure: MeasureExpr, levels: list[str], **options: Any) -> list[tuple[Any, ...]]:
    cubes.set_measure("sales", "m", SetMeasure(measure))
    return rows(cubes.query("sales", CubeQuery(["qty", "m"], levels, **options), limits=QueryLimits(30, 10_000)))


def test_running_totals_restart_per_partition_and_windows_stop_at_its_start(cubes: CubeStore) -> None:
    by_month = ask(cubes, Cumulative(QTY, "Month", "Year", Window(members=2)), ["region", "Month"])
    # Members are the months the rows have: February 2024 counts for ASIA's window (it has no
    # February sales), February 2025 does not (no one sold then); January 2025 starts a new year.
    assert by_month == [
        ("ASIA", dt.date(2024, 1, 1), 7, 7), ("ASIA", dt.date(2024, 3, 1), 7, 7),
        ("ASIA", dt.date(2025, 1, 1), 5, 5), ("ASIA", dt.date(2025, 3, 1), 5, 10),
        ("EU", dt.date(2024, 1, 1), 7, 7), ("EU", dt.date(2024, 2, 1), 5, 12), ("EU", dt.date(2024, 3, 1), 7, 12),
        ("EU", dt.date(2025, 1, 1), 5, 5), ("EU", dt.date(2025, 3, 1), 5, 10),
    ]


def test_a_period_window_is_calendar_months_back(cubes: CubeStore) -> None:
    # (March 31 - 2 months, March 31] is February and March: January 31 is out, leap day in.
    result = ask(cubes, Cumulative(QTY, "day", window=Window(period=Period(months=2))), ["day"], filter=Compare("region", "==", "EU"))
    assert [(day, m) for day, _, m in result] == [
        (dt.date(2024, 1, 31), 7), (dt.date(2024, 2, 29), 12), (dt.date(2024, 3, 31), 12),
        (dt.date(2025, 1, 15), 5), (dt.date(2025, 3, 1), 10),
    ]


def test_shift_by_members_and_by_calendar_periods(cubes: CubeStore) -> None:
    previous = ask(cubes, Shift(QTY, "Month", -1), ["region", "Month"], filter=Compare("Year", "==", "2024-01-01"))
    # ASIA has no February: its March sees the previous member's cell, which it lacks (null).
    assert previous == [
        ("ASIA", dt.date(2024, 1, 1), 7, None), ("ASIA", dt.date(2024, 3, 1), 7, None),
        ("EU", dt.date(2024, 1, 1), 7, None), ("EU", dt.date(2024, 2, 1), 5, 7), ("EU", dt.date(2024, 3, 1), 7, 5),
    ]
    year_before = ask(cubes, Shift(QTY, "Month", 0, Period(years=-1)), ["Month"])
    assert [m for _, _, m in year_before] == [None, None, None, 14, 14]
    month_before = ask(cubes, Shift(QTY, "day", 0, Period(months=-1)), ["day"], filter=Compare("region", "==", "EU"))
    # March 31 minus a month is February 29, 2024: a member.
    assert [(day, m) for day, _, m in month_before][2] == (dt.date(2024, 3, 31), 5)


def test_at_siblings_origin_rank_and_members(cubes: CubeStore) -> None:
    assert ask(cubes, At(QTY, {"region": "EU"}), ["region", "product"], filter=Compare("Year", "==", "2025-01-01")) == [
        ("ASIA", "a", 4, 4), ("ASIA", "b", 6, 6), ("EU", "a", 4, 4), ("EU", "b", 6, 6),
    ]
    siblings = ask(cubes, Siblings(QTY, "product", exclude_self=True), ["region", "product"], include_totals=True)
    # A total row shows no product: it has no siblings to leave itself out of.
    assert siblings[:3] == [("ASIA", "a", 12, 12), ("ASIA", "b", 12, 12), ("ASIA", None, 24, None)]
    origin = ask(cubes, Origin(Arithmetic("*", QTY, QTY), ["product"]), ["region"])
    assert origin == [("ASIA", 24, 12 * 12 + 12 * 12), ("EU", 29, 14 * 14 + 15 * 15)]
    ranks = ask(cubes, Rank(QTY, "product"), ["region", "product"], include_totals=True)
    assert [r[3] for r in ranks] == [1, 1, None, 2, 1, None, None]  # ASIA's products tie
    best = ask(cubes, MemberOf(QTY, "Month", largest=True), ["region"])
    assert best == [("ASIA", 24, dt.date(2024, 1, 1)), ("EU", 29, dt.date(2024, 1, 1))]  # January ties March: first


def test_top_keeps_the_best_rows_per_member_and_totals_of_everything(cubes: CubeStore) -> None:
    def top(n: int, per: str | None, **options: Any) -> list[tuple[Any, ...]]:
        request = CubeQuery(["qty"], ["region", "Month"], top=Top(n, "qty", per), **options)
        return rows(cubes.query("sales", request, limits=QueryLimits(30, 10_000)))

    assert top(1, "region", include_totals=True) == [
        ("ASIA", dt.date(2024, 1, 1), 7), ("ASIA", None, 24), ("EU", dt.date(2024, 1, 1), 7), ("EU", None, 29), (None, None, 53),
    ]
    # Ties go to the first rows in level order: ASIA before EU, January before February.
    assert top(2, None) == [("ASIA", dt.date(2024, 1, 1), 7), ("ASIA", dt.date(2024, 3, 1), 7)]
    assert top(0, "region", include_totals=True) == [(None, None, 53)]
    with pytest.raises(QueryError, match="needs 'product' among the query's levels"):
        top(1, "product")
    with pytest.raises(ResultTooLargeError):
        cubes.query("sales", CubeQuery(["qty"], ["region", "Month"], top=Top(3, "qty", "region")), limits=QueryLimits(30, 5))


def test_scopes_are_checked_when_the_measure_is_set(cubes: CubeStore) -> None:
    def refused(expression: MeasureExpr, message: str) -> None:
        with pytest.raises(InvalidRequestError, match=message):
            cubes.set_measure("sales", "bad", SetMeasure(expression))

    refused(Cumulative(QTY, "Month", "day"), r"starts again at each member of a level above it in its hierarchy \('Year'\), not 'day'")
    refused(Cumulative(QTY, "region", window=Window(period=Period(days=3))), "a period moves along a date or timestamp level; 'region' is string")
    refused(Cumulative(QTY, "day", window=Window(members=0)), "a window spans 1 member or more")
    refused(Cumulative(QTY, "day", window=Window(period=Period(months=-1))), "a window's period is a length")
    refused(Shift(QTY, "day", 0, Period(hours=-1)), "holds dates: move it by days, weeks, months or years")
    refused(Shift(QTY, "Month", 0), "a shift by 0 members is the measure itself")
    refused(Shift(QTY, "Month", 0, Period(months=1, days=-1)), "a period's parts go the same way")
    refused(At(QTY, {"Month": "March"}), "is not a date")
    refused(At(QTY, {"nope": 1}), "fixes 'nope', which is not a level")
    refused(Rank(QTY, "product", "product"), "rank within a level other than 'product'")
    refused(Origin(QTY, []), "origin.* needs one level or more")
    refused(Siblings(QTY, "Day"), "'Day', which is not a level of cube 'sales'; its levels are Year, Month, day")
    refused(Cumulative(Aggregate("min", "region"), "day"), "cumulative needs numbers, but one of its measures gives string values")
    refused(Arithmetic("+", MemberOf(QTY, "product"), Constant(1)), "'\\+' needs numbers, but one of its measures gives string values")
    refused(Aggregate("median", "region"), "median needs a numeric column but sales.region is string")
    refused(Aggregate("quantile", "qty", q=1.5), "a quantile is between 0 and 1, not 1.5")


def test_a_measure_graph_costs_its_nodes_not_its_paths(cubes: CubeStore) -> None:
    # m_k = m_(k-1) + m_(k-1): 2^40 paths to the aggregate, 120 nodes; each is computed once.
    previous = "qty"
    for k in range(1, 41):
        cubes.set_measure("sales", f"m{k}", SetMeasure(Arithmetic("+", MeasureRef(previous), MeasureRef(previous))))
        previous = f"m{k}"
    started = time.perf_counter()
    result = cubes.query("sales", CubeQuery(["qty", "m40"], ["region"]), limits=QueryLimits(30, 10_000))
    assert time.perf_counter() - started < 5
    assert [m for _, _, m in rows(result)] == [24 * 2**40, 29 * 2**40]


def test_measure_graphs_too_deep_are_refused_when_set_and_when_a_measure_below_grows(cubes: CubeStore) -> None:
    previous = "qty"
    for k in range(1, MAX_MEASURE_DEPTH // 2):
        cubes.set_measure("sales", f"d{k}", SetMeasure(Arithmetic("+", MeasureRef(previous), Constant(1))))
        previous = f"d{k}"
    with pytest.raises(InvalidRequestError, match=r"nests \d+ operations deep .* over the limit of 100"):
        for k in range(MAX_MEASURE_DEPTH // 2, MAX_MEASURE_DEPTH):
            cubes.set_measure("sales", f"d{k}", SetMeasure(Arithmetic("+", MeasureRef(previous), Constant(1))))
            previous = f"d{k}"
    # Redefining the bottom of a long chain deeper makes the top too deep: refused too, naming it.
    deep = Arithmetic("+", Constant(1), Constant(1))
    for _ in range(60):
        deep = Arithmetic("+", deep, Constant(1))
    with pytest.raises(InvalidRequestError, match="measure 'd"):
        cubes.set_measure("sales", "d1", SetMeasure(deep))


def test_filtered_contexts_and_calculated_inputs_reach_scopes(cubes: CubeStore) -> None:
    cubes.set_measure("sales", "a only", SetMeasure(Aggregate("sum", Call("if_else", [Call("equal", [Field("product"), RowLiteral("a")]), Field("qty"), RowLiteral(0)]))))
    result = ask(cubes, Cumulative(MeasureRef("a only"), "Month", "Year"), ["Month"], filter=Compare("Year", "==", "2025-01-01"))
    assert result == [(dt.date(2025, 1, 1), 10, 4), (dt.date(2025, 3, 1), 10, 8)]
