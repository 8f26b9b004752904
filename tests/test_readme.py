"""The README's code runs as written, on the data the project ships, and computes what it says."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_the_readme_shows_the_quickstart_example_as_it_is() -> None:
    assert (EXAMPLES / "quickstart.py").read_text() in readme_blocks()


def test_every_python_example_of_the_readme_is_type_checked_as_written() -> None:
    """Each block is the quickstart or ends a typecheck/readme_*.py file, which all five checkers judge."""
    checked = [(EXAMPLES / "quickstart.py").read_text()]
    checked += [path.read_text() for path in sorted((ROOT / "typecheck").glob("readme_*.py"))]
    missing = [block for block in readme_blocks() if not any(text.endswith(f"\n{block}") or text == block for text in checked)]
    assert not missing, "README examples without a typecheck/readme_*.py file ending with them:\n" + "\n---\n".join(missing)


def test_the_quickstart_example_runs_and_its_shares_are_shares_of_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = runpy.run_path("quickstart.py")["result"]
    assert isinstance(result, pa.Table)
    oracle = duckdb.connect()
    rows = oracle.execute(
        """SELECT region, country, sum(qty), sum(price) - sum(cost), sum(qty) / sum(sum(qty)) OVER ()
           FROM read_csv('sales.csv') WHERE region = 'Europe' GROUP BY region, country ORDER BY country"""
    ).fetchall()
    assert result.column_names == ["region", "country", "qty.SUM", "margin", "share of region"]
    got = [tuple(row.values()) for row in result.to_pylist()]
    assert [row[:3] for row in got] == [row[:3] for row in rows]
    assert [(round(g[3], 6), round(g[4], 9)) for g in got] == [(round(w[3], 6), round(w[4], 9)) for w in rows]
    assert abs(sum(float(g[4]) for g in got) - 1) < 1e-9  # a share of the region, not of the grand total
