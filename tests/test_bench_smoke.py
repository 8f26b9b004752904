"""The benchmark suite still runs: ``python -m bench --smoke`` on tiny data writes every figure.

Timings are never asserted here; only that each figure was measured and is a number.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FIGURES = [
    "import.wall",
    "start.first_query",
    "start.returned",
    "connect.p50",
    "connect.p99",
    "connect.requests",
    "transport.warm_query",
    "transport.bare_parser",
    "memory.csv",
    "loads.csv.pyarrow",
    "loads.csv.duckdb",
    "memory.parquet",
    "loads.parquet.pyarrow",
    "loads.parquet.duckdb",
    "memory.arrow",
    "loads.arrow",
    "memory.pandas",
    "loads.pandas",
    "loads.csv_1m.pyarrow",
    "queries.q1.engine_vs_pyarrow",
    "queries.q1.engine_vs_duckdb",
    "queries.q1.e2e",
    "queries.join.engine_vs_duckdb",
    "queries.small.e2e",
    "queries.small.overhead",
    "queries.table_query.p50",
    "queries.table_query_dimension.p50",
    "queries.mdx.p50",
    "memory.cube",
    *(f"concurrency.{clients}.{what}" for clients in (1, 2) for what in ("throughput", "p99", "server_cpu")),
    "typecheck.mypy_cold",
    "typecheck.pyright_cold",
    *(f"peers.{shape}.{kind}" for shape in ("q1", "q2", "q3", "q4", "share", "joined_filter", "distinct") for kind in ("cold", "served")),
    "peers.dashboard.1",
    "peers.dashboard.4",
    "peers.append_then_q1",
    *(f"analytics.{shape}" for shape in ("running_total", "running_total.served", "quantiles", "top5", "shift_growth")),
    "explorer.first_paint.cold",
    "explorer.first_paint.served",
    *(f"explorer.view.{step}" for step in ("first_paint", "totals", "sort", "heatmap", "grid")),
    "durability.restart",
    "durability.append_log_cost",
    "durability.append_on_disk",
    *(
        f"changes.{kind}.{batch}.{size}.{where}"
        for kind in ("replace", "new")
        for batch in ("1", "1k", "100k")
        for size in ("1m", "10m", "20m", "flat")
        for where in ("e2e", "engine")
    ),
    "changes.append_then_q1.replace",
    "changes.append_then_q1.new",
    *(f"mixed.2.{what}" for what in ("query_p99", "append_p99", "throughput")),
    "soak.rss_drift",
]


TIMEOUT = 900
"""Seconds: a run takes about 90 on an idle 2-core machine; this catches a hang, not a loaded runner (300 did not)."""


@pytest.mark.slow
def test_smoke_run_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    try:
        run = subprocess.run(
            [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as expired:
        # Partial output comes as bytes whatever text= says. Each area logs "[  12.3 s] area" as it starts.
        log = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else ""
        started = re.findall(r"^\[\s*[\d.]+ s\] (.*)$", log, re.MULTILINE)
        pytest.fail(f"python -m bench --smoke ran {TIMEOUT} s; last begun: {started[-1] if started else 'nothing'}\n{log[-3000:]}")
    assert run.returncode == 0, run.stderr[-3000:]
    document = json.loads(output.read_text())
    assert document["mode"] == "smoke"
    machine = document["machine"]
    for field in ("cpu_model", "logical_cores", "memory_gib", "python"):
        assert machine[field], field
    assert set(machine["versions"]) >= {"tiercube", "pyarrow", "duckdb"}
    figures = {figure["key"]: figure for figure in document["figures"]}
    assert [key for key in FIGURES if key not in figures] == []
    for key in FIGURES:
        value = figures[key]["tiercube"]
        assert isinstance(value, int | float) and math.isfinite(value), (key, value)
    assert figures["connect.requests"]["tiercube"] >= 1  # the server saw the connects
    assert "figure" in run.stdout and "tiercube" in run.stdout  # the printed table
    assert len(figures["soak.rss_drift"]["series"]) >= 3  # the RSS samples, for the curve
