"""The analytics language through real servers and the typed client, checked against duckdb.

A date hierarchy, revenue as a calculated column, year-to-date and month-over-month
growth, top products per region, medians and percentiles, the median basket, ranks,
and a restricted reader who sees only her region's rows in every one of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tiercube
from tests.conftest import SECURED, placed
from tiercube import agg

# Run both ways: tables held by the session server, and on a Dask cluster (see conftest).
pytestmark = pytest.mark.distributable

DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=9 * i) for i in range(80)]  # 2024 (a leap year) into 2025
SALES = pa.table(
    {
        "line": list(range(240)),
        "order": [i // 3 for i in range(240)],
        "region": [("EU", "US", "ASIA")[(i // 3) % 3] for i in range(240)],
        "product": [f"p{(i * 7) % 5}" for i in range(240)],
        "day": [DAYS[(i // 3) % len(DAYS)] for i in range(240)],
        "qty": [(i * 13) % 9 + 1 for i in range(240)],
        "price": [round(((i * 31) % 17) * 0.5 + 1, 2) if i % 11 else None for i in range(240)],
    }
)
NOOR = tiercube.BasicAuthentication("noor", "noor-password")


@dataclass
class Shop:
    owner: tiercube.Session
    cube: tiercube.EditableCube
    sales: tiercube.LocalTable
    noor: tiercube.ReadOnlySession


@pytest.fixture(scope="module")
def shop(placement: str, request: pytest.FixtureRequest) -> Generator[Shop]:
    with tiercube.Session.start(placed(SECURED, placement, request)) as owner:
        sales = owner.read_arrow(SALES, table_name="sales", keys=["line"])
        cube = owner.create_cube(sales)
        cube.create_date_hierarchy("calendar", sales["day"])
        cube.hierarchies["order"] = ["order"]  # a number, so auto mode made it a measure: it is a level too
        m = cube.measures
        m["revenue"] = agg.sum(sales["qty"] * sales["price"])
        m["revenue YTD"] = tiercube.cumulative(m["revenue"], "Month", partitioning="Year")
        m["previous month"] = tiercube.shift(m["revenue"], "Month", tiercube.Period(months=-1))
        m["MoM growth"] = m["revenue"] / m["previous month"] - 1
        m["median price"] = agg.median(sales["price"])
        m["p90 price"] = agg.quantile(sales["price"], 0.9)
        m["median basket"] = tiercube.origin(m["revenue"], "order", "median")
        m["rank in region"] = tiercube.rank(m["revenue"], "product")
        owner.security.create_user("noor", password=NOOR.password, roles=["EUROPE_ONLY"])
        owner.security.restrict("EUROPE_ONLY", sales["region"] == "EU")
        with tiercube.connect(owner.url, authentication=NOOR, require=tiercube.ReadOnlySession) as noor:
            yield Shop(owner, cube, sales, noor)


def oracle(sql: str, table: pa.Table = SALES) -> list[tuple[Any, ...]]:
    connection = duckdb.connect()
    connection.register("sales", table)
    return [tuple(row) for row in connection.execute(sql).fetchall()]


def values(result: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in result.to_pylist()]


def assert_close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """Row by row, in order; floats to a relative and absolute 1e-9."""
    assert len(got) == len(want), (got, want)
    for a, b in zip(got, want, strict=True):
        assert len(a) == len(b) and all(
            x == pytest.approx(y, rel=1e-9, abs=1e-9) if isinstance(x, float) or isinstance(y, float) else x == y
            for x, y in zip(a, b, strict=True)
        ), (a, b)


MONTHLY = """
    WITH months AS (SELECT CAST(date_trunc('month', day) AS DATE) AS month, sum(qty * price) AS revenue {where}
                    FROM sales {filter} GROUP BY 1)
    SELECT m.month, m.revenue,
           sum(m.revenue) OVER (PARTITION BY year(m.month) ORDER BY m.month),
           p.revenue, m.revenue / p.revenue - 1
    FROM months m LEFT JOIN months p ON p.month = m.month - INTERVAL 1 MONTH ORDER BY m.month
"""


def test_year_to_date_and_month_over_month_growth(shop: Shop) -> None:
    result = shop.cube.query("revenue", "revenue YTD", "previous month", "MoM growth", levels=["Month"])
    assert result["Month"].type == pa.date32()
    assert_close(values(result), oracle(MONTHLY.format(where="", filter="")))


def test_top_three_products_per_region_with_totals_over_everything(shop: Shop) -> None:
    result = shop.cube.query("revenue", "rank in region", levels=["region", "product"], include_totals=True, top=tiercube.Top(3, "revenue", per="region"))
    ranked = oracle("""
        SELECT region, product, revenue, rank FROM (
            SELECT region, product, sum(qty * price) AS revenue, rank() OVER (PARTITION BY region ORDER BY sum(qty * price) DESC) AS rank,
                   row_number() OVER (PARTITION BY region ORDER BY sum(qty * price) DESC, product) AS n
            FROM sales GROUP BY region, product) WHERE n <= 3 ORDER BY region, product""")
    totals = dict(oracle("SELECT region, sum(qty * price) FROM sales GROUP BY region"))
    want: list[tuple[Any, ...]] = []
    for region in sorted(totals):
        want += [row for row in ranked if row[0] == region] + [(region, None, totals[region], None)]
    want.append((None, None, sum(totals.values()), None))
    assert_close(values(result), want)


def test_medians_percentiles_and_the_median_basket(shop: Shop) -> None:
    result = shop.cube.query("median price", "p90 price", "median basket", levels=["region"], include_totals=True)
    want = oracle("""
        WITH baskets AS (SELECT region, "order", sum(qty * price) AS basket FROM sales GROUP BY ALL)
        SELECT p.region, p.median, p.p90, b.median FROM
            (SELECT region, median(price) AS median, quantile_cont(price, 0.9) AS p90 FROM sales GROUP BY ROLLUP(region)) p
            JOIN (SELECT region, median(basket) AS median FROM baskets GROUP BY ROLLUP(region)) b
            ON p.region IS NOT DISTINCT FROM b.region
        ORDER BY p.region NULLS LAST""")
    assert_close(values(result), want)


def test_a_restricted_reader_sees_only_her_rows_in_every_scope(shop: Shop) -> None:
    cube = shop.noor.cubes["sales"]
    europe = SALES.filter(pc.field("region") == "EU")
    assert_close(
        values(cube.query("revenue", "revenue YTD", "previous month", "MoM growth", levels=["Month"])),
        oracle(MONTHLY.format(where="", filter=""), europe),
    )
    medians = values(cube.query("median price", "median basket", levels=["region"], include_totals=True))
    want = oracle("""SELECT region, median(price), (SELECT median(b) FROM (SELECT sum(qty * price) AS b FROM sales GROUP BY "order"))
                     FROM sales GROUP BY ROLLUP(region) ORDER BY region NULLS LAST""", europe)
    assert_close(medians, want)


def test_date_levels_filter_by_range_and_follow_changes(shop: Shop) -> None:
    month = shop.cube.levels["Month"]
    march = shop.cube.query("revenue", levels=["Month"], filter=month.between(dt.date(2024, 3, 1), dt.date(2024, 4, 1)))
    assert values(march) == oracle("""SELECT CAST(date_trunc('month', day) AS DATE) m, sum(qty * price) FROM sales
                                      WHERE m BETWEEN DATE '2024-03-01' AND DATE '2024-04-01' GROUP BY m ORDER BY m""")
    days = shop.cube.levels["day"]
    recent = shop.cube.query("contributors.COUNT", filter=days.in_last(tiercube.Period(days=30), dt.date(2025, 12, 31)))
    assert values(recent) == oracle("SELECT count(*) FROM sales WHERE day > DATE '2025-12-01' AND day <= DATE '2025-12-31'")
    before = values(shop.cube.query("revenue", levels=["Year"]))
    shop.sales.append((1000, 999, "EU", "p1", dt.date(2028, 2, 29), 2, 5.0))
    try:
        assert values(shop.cube.query("revenue", levels=["Year"])) == [*before, (dt.date(2028, 1, 1), 10.0)]
    finally:
        shop.sales.drop(shop.sales["line"] == 1000)
    assert values(shop.cube.query("revenue", levels=["Year"])) == before


def test_mistakes_are_refused_when_the_measure_is_set(shop: Shop) -> None:
    m, sales = shop.cube.measures, shop.sales
    with pytest.raises(tiercube.InvalidRequestError, match="multiply needs numbers, not string"):
        m["bad"] = agg.sum(sales["region"] * sales["qty"])
    with pytest.raises(tiercube.InvalidRequestError, match="a period moves along a date or timestamp level"):
        m["bad"] = tiercube.shift(m["revenue"], "region", tiercube.Period(months=-1))
    with pytest.raises(tiercube.InvalidRequestError, match="starts again at each member of a level above it"):
        m["bad"] = tiercube.cumulative(m["revenue"], "Month", partitioning="region")
    assert "bad" not in shop.cube.measures
