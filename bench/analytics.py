"""The analytics language against duckdb's window SQL (issue 17), on 10 M sales over 3 years of days.

Four figures, each tiercube's engine (the server's ``CubeStore`` in this process,
the query's own work: grouping, the calculated revenue, scopes) over duckdb's
equivalent SQL on its own table, taking turns:

- running total and year-to-date of revenue by day (1,095 members): cold (no
  maintained aggregate: every query reads the ten million rows), and served
  from the grouping a first query kept (target: under 5 ms);
- median and 90th percentile of the price by region;
- the top 5 products by revenue per region (duckdb: ``QUALIFY row_number()``);
- revenue, the previous month's and the growth by month x region (duckdb: ``lag()``).

Revenue is ``agg.sum(qty * price)``, a calculated column computed per row by
both. Answers are checked against duckdb's before anything is timed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from bench.common import Context, Figure, Target, compare, interleaved, repeat
from bench.data import PRODUCTS, REGIONS, dictionary_encoded
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.held import HeldRows
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.calculated import Call, Field, RowLiteral
from tiercube._wire.cubes import (
    Aggregate,
    Arithmetic,
    Constant,
    CreateCube,
    CubeQuery,
    Cumulative,
    LevelDefinition,
    MeasureExpr,
    MeasureRef,
    SetHierarchy,
    SetMeasure,
    Shift,
    Top,
)
from tiercube._wire.messages import Column, CreateTable

FIRST_DAY = dt.date(2023, 1, 1)
DAYS = 1095
LIMITS = QueryLimits(600, 10**9)
RATIO = Target(1.5, on="ratio", text="<= 1.5x duckdb")


def sales(rows: int, seed: int = 17) -> pa.Table:
    """region (10), product (1,000), day (3 years), qty 1-20, price 1.00-100.00 with 2 decimals."""
    generator = np.random.default_rng(seed)
    epoch_day = (FIRST_DAY - dt.date(1970, 1, 1)).days
    return pa.table({
        "region": pa.array(REGIONS).take(generator.integers(0, len(REGIONS), rows, dtype=np.int32)),
        "product": pa.array(PRODUCTS).take(generator.integers(0, len(PRODUCTS), rows, dtype=np.int32)),
        "day": pa.array(generator.integers(0, DAYS, rows, dtype=np.int32) + np.int32(epoch_day)).cast(pa.date32()),
        "qty": pa.array(generator.integers(1, 21, rows, dtype=np.int64)),
        "price": pa.array(np.round(generator.uniform(1.0, 100.0, rows), 2)),
    })


@dataclass
class Workload:
    """One query shape: tiercube's request and duckdb's SQL for the same answer."""

    key: str
    name: str
    request: CubeQuery
    sql: str


REVENUE = Aggregate("sum", Call("multiply", [Field("qty"), Field("price")]))
WORKLOADS = [
    Workload("running_total", "running total and YTD of revenue by day (1,095 members)",
             CubeQuery(["revenue", "running", "YTD"], ["day"]),
             """SELECT day, revenue, sum(revenue) OVER (ORDER BY day), sum(revenue) OVER (PARTITION BY year(day) ORDER BY day)
                FROM (SELECT day, sum(qty * price) AS revenue FROM sales GROUP BY day) ORDER BY day"""),
    Workload("quantiles", "median and 90th percentile of price by region",
             CubeQuery(["median price", "p90 price"], ["region"]),
             "SELECT region, median(price), quantile_cont(price, 0.9) FROM sales GROUP BY region ORDER BY region"),
    Workload("top5", "top 5 products by revenue per region",
             CubeQuery(["revenue"], ["region", "product"], top=Top(5, "revenue", "region")),
             """SELECT region, product, sum(qty * price) AS revenue FROM sales GROUP BY region, product
                QUALIFY row_number() OVER (PARTITION BY region ORDER BY revenue DESC, product) <= 5 ORDER BY region, product"""),
    Workload("shift_growth", "revenue, previous month and growth by month x region",
             CubeQuery(["revenue", "previous month", "growth"], ["Month", "region"]),
             """SELECT month, region, revenue, lag(revenue) OVER w, revenue / lag(revenue) OVER w - 1 FROM (
                    SELECT CAST(date_trunc('month', day) AS DATE) AS month, region, sum(qty * price) AS revenue FROM sales GROUP BY ALL)
                WINDOW w AS (PARTITION BY region ORDER BY month) ORDER BY month, region"""),
]


def engine(data: pa.Table, partials: Partials | None) -> CubeStore:
    """The server's engine over ``data`` (stored as the server stores it), with the measures of the workloads."""
    tables = TableStore(observer=partials)
    cubes = CubeStore(tables, partials)
    tables.create(CreateTable("sales", [Column("region", "string"), Column("product", "string"), Column("day", "date"),
                                        Column("qty", "int64"), Column("price", "float64")]))
    tables.get("sales").rows = HeldRows(dictionary_encoded(data))
    cubes.create_cube(CreateCube("sales", mode="manual"))
    trunc = [LevelDefinition(name, "", expression=Call("date_trunc", [Field("day"), RowLiteral(unit)])) for name, unit in (("Year", "year"), ("Month", "month"))]
    cubes.set_hierarchy("sales", "calendar", SetHierarchy([*trunc, LevelDefinition("day", "day")]))
    for level in ("region", "product"):
        cubes.set_hierarchy("sales", level, SetHierarchy([LevelDefinition(level, level)]))
    revenue = MeasureRef("revenue")
    previous = MeasureRef("previous month")
    measures: dict[str, MeasureExpr] = {
        "revenue": REVENUE,
        "running": Cumulative(revenue, "day"),
        "YTD": Cumulative(revenue, "day", "Year"),
        "median price": Aggregate("median", "price"),
        "p90 price": Aggregate("quantile", "price", q=0.9),
        "previous month": Shift(revenue, "Month", -1),
        "growth": Arithmetic("-", Arithmetic("/", revenue, previous), Constant(1)),
    }
    for name, expression in measures.items():
        cubes.set_measure("sales", name, SetMeasure(expression))
    return cubes


def _agree(ours: pa.Table, theirs: list[tuple[Any, ...]], what: str) -> None:
    got = [tuple(row.values()) for row in ours.to_pylist()]
    assert len(got) == len(theirs), f"{what}: {len(got)} rows, duckdb {len(theirs)}"
    for mine, other in zip(got, theirs, strict=True):
        for a, b in zip(mine, other, strict=True):
            same = a == b if not isinstance(a, float) or b is None else math.isclose(a, b, rel_tol=1e-6)
            assert same, f"{what}: {mine} against duckdb's {other}"


def measure(context: Context) -> list[Figure]:
    mode = context.mode
    context.log(f"analytics: generating {mode.rows:,} sales over {DAYS} days")
    data = sales(mode.rows)
    duck = duckdb.connect()
    duck.register("sales_arrow", data)
    duck.execute("CREATE TABLE sales AS SELECT * FROM sales_arrow")
    cold = engine(data, None)
    runs = max(3, mode.repeats * 2)
    ms = 1000.0
    figures: list[Figure] = []
    for workload in WORKLOADS:
        context.log(f"analytics: {workload.key}")

        def ours(request: CubeQuery = workload.request) -> pa.Table:
            return cold.query("sales", request, limits=LIMITS)

        def theirs(sql: str = workload.sql) -> list[tuple[Any, ...]]:
            return duck.sql(sql).fetchall()

        _agree(ours(), theirs(), workload.key)
        engine_times, duck_times = interleaved([ours, theirs], runs, scale=ms)
        figures.append(compare(f"analytics.{workload.key}", workload.name, "ms", engine_times, duck_times,
                               "duckdb on its own table", RATIO, note="cold: every query groups the fact rows"))
    figures.append(_served(context, data))
    duck.close()
    return figures


def _served(context: Context, data: pa.Table) -> Figure:
    """The running totals again, from the grouping by day a first query kept (kept answers are off)."""
    context.log("analytics: running totals served from a maintained grouping")
    partials = Partials(budget=256 * 1024 * 1024)
    kept = engine(data, partials)
    request = WORKLOADS[0].request
    run: Callable[[], pa.Table] = lambda: kept.query("sales", request, limits=LIMITS)  # noqa: E731
    run()  # groups the rows by day once, and keeps that grouping
    hits = partials.stats().hits
    served = repeat(run, context.mode.small_queries, scale=1000.0, budget=context.mode.budget)
    assert partials.stats().hits > hits, "the running totals were not served from the maintained grouping"
    return compare("analytics.running_total.served", "running total and YTD by day, served from a maintained grouping", "ms",
                   served, target=Target(5, text="< 5 ms"), note="the kept grouping by day is rolled up; no fact row is read")
