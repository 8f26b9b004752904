"""Cube engine time against direct pyarrow ``group_by`` and duckdb, on the same Arrow data.

Run: ``.venv/bin/python bench/cube_engine.py [rows]`` (default 10,000,000). Prints
medians in milliseconds. The engine is called in process: no HTTP, no IPC.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.held import HeldRows
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.types import decoded
from tiercube._wire.cubes import Aggregate, CreateCube, CubeQuery, Join, LevelDefinition, SetHierarchy, SetMeasure
from tiercube._wire.messages import Column, CreateTable, DataType

# pyarrow has compute.remainder; the stubs lack it.
_remainder: Callable[[Any, int], Any] = cast(Any, pc).remainder

REPEATS = 7


def encoded(values: pa.Array[Any]) -> pa.Array[Any]:
    result: pa.Array[Any] = cast(Any, values).dictionary_encode()
    return result


def make_fact(rows: int) -> pa.Table:
    ids = pa.array(range(rows), pa.int64())
    regions = pa.array([f"region-{i}" for i in range(10)]).take(_remainder(ids, 10))
    products = pa.array([f"product-{i:04d}" for i in range(1000)]).take(_remainder(pc.multiply(ids, 7919), 1000))
    days = pa.array([date(2026, 1, 1) + timedelta(days=i) for i in range(365)], pa.date32()).take(_remainder(ids, 365))
    columns: dict[str, pa.Array[Any]] = {
        "id": ids,
        "region": encoded(regions),
        "product": encoded(products),
        "day": days,
        "qty": _remainder(ids, 17),
        "price": pc.divide(_remainder(ids, 1009).cast(pa.float64()), 10.0),
    }
    return pa.table(columns)


def make_products() -> pa.Table:
    columns: dict[str, pa.Array[Any]] = {
        "product": encoded(pa.array([f"product-{i:04d}" for i in range(1000)])),
        "category": encoded(pa.array([f"category-{i % 20}" for i in range(1000)])),
    }
    return pa.table(columns)


def medians_ms(runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Median time of each run; runs take turns so that a noisy neighbour hurts them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm up
    for _ in range(REPEATS):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    fact, products = make_fact(rows), make_products()
    tables = TableStore()
    cubes = CubeStore(tables)
    columns: list[tuple[str, DataType]] = [
        ("id", "int64"), ("region", "string"), ("product", "string"), ("day", "date"), ("qty", "int64"), ("price", "float64")
    ]
    tables.create(CreateTable("sales", [Column(n, t) for n, t in columns]))
    tables.create(CreateTable("products", [Column("product", "string"), Column("category", "string")], keys=["product"]))
    # Already in storage types: skip the load path.
    tables.get("sales").rows = HeldRows(fact)
    tables.get("products").rows = HeldRows(products)
    cubes.join("sales", Join("products"))
    cubes.create_cube(CreateCube("sales", mode="manual"))
    cubes.set_measure("sales", "qty", SetMeasure(Aggregate("sum", "qty")))
    cubes.set_measure("sales", "price", SetMeasure(Aggregate("sum", "price")))
    for level in ("region", "product", "category"):
        cubes.set_hierarchy("sales", level, SetHierarchy([LevelDefinition(level, level)]))

    def engine(levels: list[str]) -> Callable[[], pa.Table]:
        query = CubeQuery(measures=["qty", "price", "contributors.COUNT"], levels=levels)
        return lambda: cubes.query("sales", query, limits=QueryLimits(600, 10**9))

    def arrow() -> pa.Table:
        return fact.group_by(["region", "product"]).aggregate([("qty", "sum"), ("price", "sum"), ([], "count_all")])

    plain = decoded(fact)
    connection = duckdb.connect()
    connection.register("fact_dict", fact)
    connection.register("fact_plain", plain)
    connection.register("products", products)
    sql = "SELECT region, product, sum(qty), sum(price), count(*) FROM {} GROUP BY region, product"
    by_category = (
        "SELECT region, category, sum(qty), sum(price), count(*) FROM fact_dict "
        "LEFT JOIN products USING (product) GROUP BY region, category"
    )
    check = engine(["region", "product"])()
    assert check.num_rows == arrow().num_rows, "the engine and pyarrow disagree on the number of groups"
    figures = medians_ms({
        "pyarrow group_by, dictionary-encoded (region, product)": arrow,
        "engine cube.query by (region, product)": engine(["region", "product"]),
        "duckdb on the Arrow table, dictionary-encoded": lambda: connection.sql(sql.format("fact_dict")).arrow(),
        "duckdb on the Arrow table, plain strings": lambda: connection.sql(sql.format("fact_plain")).arrow(),
        "engine by (region, category) via the product join": engine(["region", "category"]),
        "duckdb by (region, category), joining the fact rows": lambda: connection.sql(by_category).arrow(),
    })
    print(f"{rows:,} fact rows, {REPEATS} runs, median ms")
    for name, value in figures.items():
        print(f"  {value:8.1f}  {name}")
    ratio = figures["engine cube.query by (region, product)"] / figures["pyarrow group_by, dictionary-encoded (region, product)"]
    print(f"engine / pyarrow: {ratio:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
