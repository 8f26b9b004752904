"""tiercube against duckdb, polars and DataFusion on the cube workload, taking turns in one run.

tiercube runs end to end through ``connect()``: a server with its aggregates
off for the cold figures (every query reads the fact rows), and one with its
defaults for the served figures (maintained aggregates and kept answers, after
a first query). The peers are embedded and read the same generated data:
duckdb from its own table, polars from a frame with categorical strings,
DataFusion from Arrow batches. Each figure is tiercube's median over the
best peer's median, measured in turns so that drift hits all alike.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

import tiercube
from bench.common import Context, Figure, Samples, Target, compare, timed
from bench.data import REGIONS, Dataset
from bench.servers import ROOT

Run = Callable[[], object]


@dataclass(frozen=True)
class Shape:
    """One query, in SQL for the peers and as a tiercube call."""

    key: str
    name: str
    sql: str
    ours: Callable[[tiercube.EditableCube], pa.Table]


SHAPES = [
    Shape("q1", "sum qty, price, count by region", "SELECT region, sum(qty), sum(price), count(*) FROM sales GROUP BY region",
          lambda c: c.query("qty.SUM", "price.SUM", "contributors.COUNT", levels=["region"])),
    Shape("q2", "by region x product", "SELECT region, product, sum(qty), sum(price), count(*) FROM sales GROUP BY region, product",
          lambda c: c.query("qty.SUM", "price.SUM", "contributors.COUNT", levels=["region", "product"])),
    Shape("q3", "by category, through the product join",
          "SELECT category, sum(qty), sum(price), count(*) FROM sales JOIN products USING (product) GROUP BY category",
          lambda c: c.query("qty.SUM", "price.SUM", "contributors.COUNT", levels=["category"])),
    Shape("q4", "one region, by product", "SELECT product, sum(qty), sum(price) FROM sales WHERE region = 'region-3' GROUP BY product",
          lambda c: c.query("qty.SUM", "price.SUM", levels=["product"], filter=tiercube.level("region") == "region-3")),
    Shape("share", "share of region, by region x product",
          "SELECT region, product, sum(qty), sum(qty) / sum(sum(qty)) OVER (PARTITION BY region) FROM sales GROUP BY region, product",
          lambda c: c.query("qty.SUM", "share", levels=["region", "product"])),
    Shape("joined_filter", "by region, one category of the joined products",
          "SELECT region, sum(qty) FROM sales JOIN products USING (product) WHERE category = 'category-03' GROUP BY region",
          lambda c: c.query("qty.SUM", levels=["region"], filter=tiercube.level("category") == "category-03")),
    Shape("distinct", "distinct products by region", "SELECT region, count(DISTINCT product) FROM sales GROUP BY region",
          lambda c: c.query("products", levels=["region"])),
]


def _peers(data: Dataset) -> dict[str, Callable[[str], Run]]:
    """name -> (SQL -> a call running it to a result in memory)."""
    import datafusion
    import duckdb
    import polars as pl

    duck = duckdb.connect()
    duck.register("sales_arrow", data.fact)
    duck.register("products_arrow", data.products)
    duck.execute("CREATE TABLE sales AS SELECT * FROM sales_arrow; CREATE TABLE products AS SELECT * FROM products_arrow")
    fusion = datafusion.SessionContext()
    fusion.register_record_batches("sales", [data.fact.to_batches(1 << 20)])
    fusion.register_record_batches("products", [data.products.to_batches()])
    frames = pl.SQLContext(
        sales=pl.DataFrame(data.fact).with_columns(pl.col("region", "product").cast(pl.Categorical)).lazy(),
        products=pl.DataFrame(data.products).with_columns(pl.col("product").cast(pl.Categorical)).lazy(),
    )
    return {
        "duckdb": lambda sql: lambda: duck.sql(sql).to_arrow_table(),
        "DataFusion": lambda sql: lambda: fusion.sql(sql).to_arrow_table(),
        "polars": lambda sql: lambda: frames.execute(sql.replace(" USING (product)", " ON sales.product = products.product")).collect(),
    }


@contextmanager
def _server(data: Dataset, config: tiercube.SessionConfig) -> Generator[tuple[tiercube.Session, tiercube.EditableCube]]:
    with tiercube.Session.start(config) as owner:
        sales = owner.read_parquet(data.parquet, table_name="sales")
        sales.join(owner.read_parquet(data.products_parquet, table_name="products", keys=["product"]))
        cube = owner.create_cube(sales)
        m = cube.measures
        m["share"] = m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "product")  # product's parent: the region
        m["products"] = tiercube.agg.distinct_count("product")
        yield owner, cube


def measure(context: Context, data: Dataset) -> list[Figure]:
    runs = context.mode.repeats
    peers = _peers(data)
    figures: list[Figure] = []
    context.log("peers: cold queries (tiercube with its aggregates off)")
    with _server(data, tiercube.SessionConfig(aggregate_memory_bytes=0)) as (_, cube):
        for shape in SHAPES:
            figures.append(_versus(f"peers.{shape.key}.cold", f"cold: {shape.name}", functools.partial(shape.ours, cube), peers, shape.sql, runs))
    context.log("peers: served queries, the dashboard, append then query")
    with _server(data, tiercube.SessionConfig()) as (owner, cube):
        for shape in SHAPES:
            shape.ours(cube)  # the first one groups the rows; the others are served
            served = [timed(functools.partial(shape.ours, cube)) * 1000 for _ in range(max(20, runs))]
            best, name = _best_peer(peers, shape.sql, runs)
            figures.append(compare(
                f"peers.{shape.key}.served", f"served: {shape.name} (p50)", "ms", Samples(tuple(served)), best, f"best peer ({name})",
                Target(0.05, on="ratio", text="<= 1/20 of the best peer (and p50 < 3 ms)"),
            ))
        figures += _dashboard(context, owner.url)
        figures.append(_append_then_query(owner, cube, runs))
    return figures


def _versus(key: str, name: str, ours: Run, peers: dict[str, Callable[[str], Run]], sql: str, runs: int) -> Figure:
    mine: list[float] = []
    theirs: dict[str, list[float]] = {peer: [] for peer in peers}
    for peer, make in peers.items():
        make(sql)()  # warm: the first call of each system compiles or loads
    ours()
    for _ in range(runs):
        mine.append(timed(ours) * 1000)
        for peer, make in peers.items():
            theirs[peer].append(timed(make(sql)) * 1000)
    best = min(theirs, key=lambda peer: Samples(tuple(theirs[peer])).median)
    return compare(key, name, "ms", Samples(tuple(mine)), Samples(tuple(theirs[best])), f"best peer ({best})",
                   Target(1.5, on="ratio", text="<= 1.5x the best peer"))


def _best_peer(peers: dict[str, Callable[[str], Run]], sql: str, runs: int) -> tuple[Samples, str]:
    medians = {peer: Samples(tuple(timed(make(sql)) * 1000 for _ in range(runs))) for peer, make in peers.items()}
    name = min(medians, key=lambda peer: medians[peer].median)
    return medians[name], name


def _dashboard(context: Context, url: str) -> list[Figure]:
    figures: list[Figure] = []
    for clients, target in ((1, 300.0), (4, 600.0)):
        rate = _dashboard_rate(url, clients, seconds=max(2.0, context.mode.concurrency_seconds))
        figures.append(Figure(f"peers.dashboard.{clients}", f"dashboard queries per second, {clients} client(s)", "q/s", rate,
                              target=Target(target, at_most=False, text=f">= {target:.0f} q/s")))
    return figures


def _dashboard_rate(url: str, clients: int, seconds: float) -> float:
    command = [sys.executable, "-m", "bench.dashboard_worker", url]
    workers = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(clients)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError("a dashboard client did not start")
        start_at = time.time() + 0.2
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start_at} {start_at + seconds}\n")
            worker.stdin.flush()
        results: list[dict[str, Any]] = [json.loads(w.communicate(timeout=seconds + 120)[0].strip().splitlines()[-1]) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    return sum(len(r["latencies"]) / float(r["elapsed"]) for r in results)


def _append_then_query(owner: tiercube.Session, cube: tiercube.EditableCube, runs: int) -> Figure:
    sales = owner.tables["sales"]
    first = sales.row_count
    samples: list[float] = []
    for turn in range(max(10, runs)):
        rows = [(first + turn * 1000 + i, REGIONS[i % len(REGIONS)], "product-0001", None, 3, 1.0) for i in range(1000)]
        started = time.perf_counter()
        sales.append(*rows)
        cube.query("qty.SUM", "price.SUM", "contributors.COUNT", levels=["region"])
        samples.append((time.perf_counter() - started) * 1000)
    return compare("peers.append_then_q1", "append 1,000 rows, then sum by region (p50)", "ms", Samples(tuple(samples)),
                   target=Target(5.0, text="< 5 ms"))
