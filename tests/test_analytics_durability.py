"""The analytics language survives a restart: ``tiercube serve --data-dir`` killed, then stopped.

A cube's date hierarchies (over a date and over a timestamp in Europe/Paris),
its calculated levels and its measures of every new kind (calculated inputs,
quantiles, running totals, shifts, ranks) are cube edits like any other: each is
in the log before it is acknowledged, then in the snapshot a clean stop writes.
After each restart the same queries give the same answers, which duckdb checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import SECURED_TOML, write_config
from tests.durable import SNAPSHOTS_ONLY_AT_STOP, Served, admin
from tiercube import agg

PARIS = ZoneInfo("Europe/Paris")
ROWS = 400
# Every 7th day from late 2023 over 2024's leap day into 2025; instants every 37 minutes across
# the night Paris moves its clocks forward (2024-03-31, 02:00 is skipped).
SALES = pa.table({
    "line": list(range(ROWS)),
    "region": [("EU", "US", "ASIA")[i % 3] for i in range(ROWS)],
    "product": [f"p{(i * 7) % 6}" for i in range(ROWS)],
    "day": [dt.date(2023, 12, 1) + dt.timedelta(days=(i * 7) % 500) for i in range(ROWS)],
    "at": pa.array(
        [dt.datetime(2024, 3, 30, 22, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=37 * i) for i in range(ROWS)],
        pa.timestamp("us", tz="Europe/Paris"),
    ),
    "qty": [(i * 13) % 9 + 1 for i in range(ROWS)],
    "price": [round(((i * 31) % 17) * 0.5 + 1, 2) if i % 11 else None for i in range(ROWS)],
})
QUERIES: dict[str, tuple[list[str], list[str]]] = {
    "by day": (["revenue", "running", "YTD"], ["Day"]),
    "by month": (["revenue", "previous month", "median price", "p90 price", "quantity sd"], ["Month"]),
    "by hour": (["revenue"], ["Hour"]),
    "expensive": (["revenue"], ["expensive"]),
    "ranks": (["revenue", "rank"], ["region", "product"]),
}


@pytest.fixture
def served(tmp_path: Path) -> Generator[Served]:
    server = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    yield server
    server.close()


def build(session: tiercube.LocalSession) -> None:
    sales = session.read_arrow(SALES, table_name="sales", keys=["line"])
    cube = session.create_cube(sales)
    cube.create_date_hierarchy("calendar", sales["day"])
    cube.create_date_hierarchy("clock", sales["at"], levels={"Hour": "hour"})
    cube.hierarchies["expensive"] = {"expensive": sales["price"] > 5}
    m = cube.measures
    m["revenue"] = agg.sum(sales["qty"] * sales["price"])
    m["running"] = tiercube.cumulative(m["revenue"], "Day")
    m["YTD"] = tiercube.cumulative(m["revenue"], "Day", partitioning="Year")
    m["previous month"] = tiercube.shift(m["revenue"], "Month", tiercube.Period(months=-1))
    m["median price"] = agg.median(sales["price"])
    m["p90 price"] = agg.quantile(sales["price"], 0.9)
    m["quantity sd"] = agg.std(sales["qty"])
    m["rank"] = tiercube.rank(m["revenue"], "product", within="region")


def answers(session: tiercube.LocalSession) -> dict[str, pa.Table]:
    cube = session.cubes["sales"]
    return {name: cube.query(*measures, levels=levels) for name, (measures, levels) in QUERIES.items()}


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


def assert_close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert all(
            x == pytest.approx(y, rel=1e-9, abs=1e-9) if isinstance(x, float) or isinstance(y, float) else x == y
            for x, y in zip(a, b, strict=True)
        ), (a, b)


def check_against_duckdb(found: dict[str, pa.Table]) -> None:
    duck = duckdb.connect()
    duck.register("sales", SALES)
    duck.execute("SET TimeZone = 'Europe/Paris'")

    def sql(query: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in duck.execute(query).fetchall()]

    assert_close(rows(found["by day"]), sql("""
        SELECT day, revenue, sum(revenue) OVER (ORDER BY day), sum(revenue) OVER (PARTITION BY year(day) ORDER BY day)
        FROM (SELECT day, sum(qty * price) AS revenue FROM sales GROUP BY day) ORDER BY day"""))
    assert_close(rows(found["by month"]), sql("""
        WITH months AS (
            SELECT CAST(date_trunc('month', day) AS DATE) AS month, sum(qty * price) AS revenue, median(price) AS median,
                   quantile_cont(price, 0.9) AS p90, stddev_samp(qty) AS sd
            FROM sales GROUP BY ALL)
        SELECT m.month, m.revenue, p.revenue, m.median, m.p90, m.sd
        FROM months m LEFT JOIN months p ON p.month = m.month - INTERVAL 1 MONTH ORDER BY m.month"""))
    hours = sql("""SELECT date_trunc('hour', "at"), sum(qty * price) FROM sales GROUP BY ALL ORDER BY ALL""")
    assert_close([(at.astimezone(PARIS), revenue) for at, revenue in rows(found["by hour"])], [(at.astimezone(PARIS), r) for at, r in hours])
    assert found["by hour"]["Hour"].type == pa.timestamp("us", tz="Europe/Paris")  # the zone is kept
    assert_close(rows(found["expensive"]), sql("SELECT price > 5, sum(qty * price) FROM sales GROUP BY ALL ORDER BY 1 NULLS LAST"))
    assert_close(rows(found["ranks"]), sql("""
        SELECT region, product, sum(qty * price) AS revenue,
               rank() OVER (PARTITION BY region ORDER BY sum(qty * price) DESC NULLS LAST)
        FROM sales GROUP BY region, product ORDER BY region, product"""))


def test_date_hierarchies_calculated_levels_and_new_measures_survive_a_kill_and_a_stop(served: Served) -> None:
    with admin(served.start()) as session:
        build(session)
        before = answers(session)
        definitions = (repr(session.cubes["sales"].hierarchies), repr(session.cubes["sales"].measures))
    check_against_duckdb(before)
    served.kill()
    for stop in (served.stop, served.kill):  # from the log, then from the snapshot the clean stop wrote
        with admin(served.start()) as session:
            assert (repr(session.cubes["sales"].hierarchies), repr(session.cubes["sales"].measures)) == definitions
            after = answers(session)
            for name, table in before.items():
                assert after[name].equals(table), name
            # The derived levels still follow the rows: a row of a new year is in its own year.
            session.tables["sales"].append((ROWS, "EU", "p0", dt.date(2028, 2, 29), dt.datetime(2028, 2, 29, 12, tzinfo=PARIS), 2, 3.0))
            grown = session.cubes["sales"].query("revenue", levels=["Year"])
            assert rows(grown)[-1] == (dt.date(2028, 1, 1), 6.0)
            session.tables["sales"].drop(session.tables["sales"]["line"] == ROWS)
        stop()
