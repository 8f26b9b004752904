"""The analytics language is typed: each function and class of issue 17 as it is meant to be used,
then a misuse of each that every checker rejects. The test at the bottom runs the valid half against
a real session.

Names: the issue's names are the API (``tiercube.cumulative``, ``shift``, ``at``, ``siblings``,
``origin``, ``rank``, ``Top``, ``agg.median`` ...). Two additions where the issue leaves a gap:
``tiercube.Period`` is the calendar period that windows and shifts along date levels take, and a
``CalculatedColumn`` is what arithmetic on a table's columns gives (``t["qty"] * t["price"]``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, assert_type

import pyarrow as pa

import tiercube
from tests.tiers import Tiers
from tiercube import CalculatedColumn, Condition, EditableCube, Hierarchy, LocalTable, MeasureExpression, Period, Top, agg

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING


def calculated_columns(sales: LocalTable) -> None:
    revenue = sales["qty"] * sales["price"]
    assert_type(revenue, CalculatedColumn)
    assert_type(sales["day"].month, CalculatedColumn)
    assert_type(sales["day"].date_trunc("quarter"), CalculatedColumn)
    assert_type(sales["qty"].cast("float64") / 2, CalculatedColumn)
    assert_type(sales["price"].round(1).fill_null(0), CalculatedColumn)
    assert_type(sales["region"].lower().startswith("e"), CalculatedColumn)
    assert_type(revenue > 100, CalculatedColumn)
    assert_type(sales["qty"] > 2, Condition)  # a column compared with a value is a filter, as before
    assert_type(tiercube.where(sales["qty"] > 2, sales["price"] * 0.9, sales["price"]), CalculatedColumn)
    if TYPE_CHECKING_INVALID_USAGE:
        sales["day"].date_trunc("fortnight")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        sales["qty"].cast("integer")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        sales["qty"] * [1, 2]  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue, reportUnusedExpression]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[unsupported-operator]
        sales["name"].substring("a", "b")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def aggregation_functions(cube: EditableCube, sales: LocalTable) -> None:
    m = cube.measures
    assert_type(agg.sum(sales["qty"] * sales["price"]), MeasureExpression)
    assert_type(agg.median(sales["price"]), MeasureExpression)
    assert_type(agg.quantile(sales["price"], 0.9, "discrete"), MeasureExpression)
    assert_type(agg.std(sales["price"]), MeasureExpression)
    assert_type(agg.var(sales["price"], population=True), MeasureExpression)
    assert_type(agg.prod(sales["qty"]), MeasureExpression)
    assert_type(agg.square_sum(sales["qty"]), MeasureExpression)
    assert_type(agg.sum_product(sales["qty"], sales["price"]), MeasureExpression)
    assert_type(agg.weighted_mean(sales["price"], sales["qty"]), MeasureExpression)
    assert_type(agg.long(sales["qty"]), MeasureExpression)
    assert_type(agg.short(sales["qty"]), MeasureExpression)
    assert_type(agg.single_value(sales["region"]), MeasureExpression)
    assert_type(agg.max_member(m["qty.SUM"], "region"), MeasureExpression)
    assert_type(agg.min_member(m["qty.SUM"], cube.levels["region"]), MeasureExpression)
    if TYPE_CHECKING_INVALID_USAGE:
        agg.median(m["qty.SUM"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.quantile(sales["price"], "0.9")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.quantile(sales["price"], 0.9, "cubic")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.std(sales["price"], population="yes")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.var(m["qty.SUM"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.prod(1.5)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.square_sum(m["qty.SUM"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.sum_product(sales["qty"])  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]  # pyrefly: ignore[missing-argument]  # ty: ignore[missing-argument]
        agg.weighted_mean(sales["price"], 2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.long(m["qty.SUM"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.short(m["qty.SUM"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.single_value(m["qty.SUM"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.max_member(sales["qty"], "region")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        agg.min_member(m["qty.SUM"], 3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def dates_scopes_and_ranks(cube: EditableCube, sales: LocalTable) -> None:
    assert_type(cube.create_date_hierarchy("calendar", sales["day"]), Hierarchy)
    m = cube.measures
    revenue = m["revenue"]
    assert_type(tiercube.cumulative(revenue, "Month", partitioning="Year"), MeasureExpression)
    assert_type(tiercube.cumulative(revenue, "Day", window=Period(days=90)), MeasureExpression)
    assert_type(tiercube.cumulative(revenue, "Month", window=3), MeasureExpression)
    assert_type(tiercube.shift(revenue, "Month", -1), MeasureExpression)
    assert_type(revenue / tiercube.shift(revenue, "Month", Period(months=-1)) - 1, MeasureExpression)
    assert_type(tiercube.at(revenue, {"region": "EU"}), MeasureExpression)
    assert_type(tiercube.siblings(revenue, "region", exclude_self=True), MeasureExpression)
    assert_type(tiercube.origin(revenue, ["region", "Month"], "median"), MeasureExpression)
    assert_type(tiercube.rank(revenue, "region", ascending=True), MeasureExpression)
    assert_type(tiercube.switch(cube.levels["region"], {"EU": revenue, "US": 0}, default=revenue), MeasureExpression)
    assert_type(cube.query("revenue", levels=["region", "Month"], top=Top(3, "revenue", per="region")), pa.Table)
    assert_type(cube.levels["Day"].between(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), Condition)
    assert_type(cube.levels["Day"].in_last(Period(days=30), dt.date(2024, 3, 31)), Condition)
    if TYPE_CHECKING_INVALID_USAGE:
        cube.create_date_hierarchy("c", sales["day"], levels=("decade",))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.cumulative(revenue, "Day", window="3 months")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.shift(revenue, "Month", "previous")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.at(revenue, ["EU"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.siblings(revenue, 2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.origin(revenue, "order", "mode")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.rank(sales["qty"], "region")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.switch(revenue, {"EU": "high"})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-assignment]  # ty: ignore[invalid-argument-type]
        Top(3, revenue, per=5)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        Period(months="1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        cube.query("revenue", top=3)  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
        cube.levels["Day"].in_last(30, dt.date(2024, 3, 31))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.where(sales["qty"] > 2, revenue, sales["price"])  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]


# Runtime.


def test_the_analytics_language_as_typed(tiers: Tiers) -> None:
    session = tiers.owner
    sales = session.read_arrow(
        pa.table({
            "id": [1, 2, 3, 4], "region": ["EU", "US", "EU", "US"], "qty": [3, 4, 5, 1], "price": [1.5, 2.0, 1.0, 0.5],
            "day": [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 1), dt.date(2024, 3, 2)],
        }),
        table_name="analytics_sales", keys=["id"],
    )
    cube = session.create_cube(sales, name="analytics")
    try:
        calculated_columns(sales)
        aggregation_functions(cube, sales)
        cube.measures["revenue"] = agg.sum(sales["qty"] * sales["price"])
        dates_scopes_and_ranks(cube, sales)
        cube.measures["YTD"] = tiercube.cumulative(cube.measures["revenue"], "Month", partitioning="Year")
        result = cube.query("revenue", "YTD", levels=["Month"])
        assert result.column("YTD").to_pylist() == [4.5, 12.5, 18.0]
    finally:
        del session.cubes["analytics"]
        del session.tables["analytics_sales"]
