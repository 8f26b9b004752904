"""The README's analysis (examples/analytics.py) runs as written and computes what duckdb computes."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def rows(table: object) -> list[tuple[Any, ...]]:
    assert isinstance(table, pa.Table)
    return [tuple(row.values()) for row in table.to_pylist()]


def assert_close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want), (got, want)
    for a, b in zip(got, want, strict=True):
        assert all(
            x == pytest.approx(y, rel=1e-9, abs=1e-9) if isinstance(x, float) or isinstance(y, float) else x == y
            for x, y in zip(a, b, strict=True)
        ), (a, b)


def test_the_readme_shows_the_analytics_example_as_it_is() -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert (EXAMPLES / "analytics.py").read_text() in blocks


def test_the_analytics_example_agrees_with_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    found = runpy.run_path("analytics.py")
    duck = duckdb.connect()
    duck.execute("CREATE TABLE lines AS SELECT * FROM read_csv('orders.csv')")

    def sql(query: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in duck.execute(query).fetchall()]

    monthly = sql("""
        WITH months AS (
            SELECT CAST(date_trunc('month', day) AS DATE) AS month, sum(qty * price) AS revenue
            FROM lines WHERE day BETWEEN DATE '2024-01-01' AND DATE '2024-12-31' GROUP BY ALL)
        SELECT m.month, m.revenue,
               sum(m.revenue) OVER (PARTITION BY year(m.month) ORDER BY m.month),
               sum(m.revenue) OVER (ORDER BY m.month RANGE BETWEEN INTERVAL 2 MONTH PRECEDING AND CURRENT ROW),
               p.revenue, m.revenue / p.revenue - 1
        FROM months m LEFT JOIN months p ON p.month = m.month - INTERVAL 1 MONTH ORDER BY m.month""")
    assert_close(rows(found["monthly"]), monthly)
    ranked = sql("""
        SELECT region, product, revenue, rank FROM (
            SELECT region, product, sum(qty * price) AS revenue,
                   rank() OVER (PARTITION BY region ORDER BY sum(qty * price) DESC) AS rank,
                   row_number() OVER (PARTITION BY region ORDER BY sum(qty * price) DESC, product) AS n
            FROM lines GROUP BY region, product) WHERE n <= 3 ORDER BY region, product""")
    totals = sql("SELECT region, sum(qty * price) FROM lines GROUP BY ROLLUP(region) ORDER BY region NULLS LAST")
    top_3 = [row for region, total in totals if region is not None for row in [*(r for r in ranked if r[0] == region), (region, None, total, None)]]
    assert_close(rows(found["top_3"]), [*top_3, (None, None, totals[-1][1], None)])
    baskets = sql("""
        WITH orders AS (SELECT region, "order", sum(qty * price) AS basket FROM lines GROUP BY ALL)
        SELECT p.region, b.median, p.median, p.p90 FROM
            (SELECT region, median(price) AS median, quantile_cont(price, 0.9) AS p90 FROM lines GROUP BY ROLLUP(region)) p
            JOIN (SELECT region, median(basket) AS median FROM orders GROUP BY ROLLUP(region)) b
            ON p.region IS NOT DISTINCT FROM b.region
        ORDER BY p.region NULLS LAST""")
    assert_close(rows(found["baskets"]), baskets)
