"""Queries: the cube issue's aggregation, ``table.query`` of 1,000 rows with a filter, a small MDX.

Engine time is the server's own ``CubeStore`` run in this process on the
same files loaded the same way (``TableStore.read``), since the server
reports no engine time; the probe server adds the server-side time of each
request (arrival to last byte), and end-to-end time is measured through
``connect()`` over loopback. Baselines: pyarrow ``group_by`` on the
dictionary-encoded table and duckdb on the same Arrow data.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import tiercube
from bench.common import ADMIN, SECURED, Context, Figure, Samples, Target, compare, repeat
from bench.data import Dataset
from bench.memory import MemoryProbe
from bench.servers import ProbeServer
from bench.workload import REGION, SMALL_MDX, fact_condition
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.tables import TableStore
from tiercube._wire.cubes import CreateCube, CubeQuery, Join, MdxQuery
from tiercube._wire.messages import ParquetSource, Read

MEASURES = ["qty.SUM", "price.SUM", "contributors.COUNT"]


@dataclass
class Engine:
    """The server's engine in this process, holding what the server holds."""

    tables: TableStore
    cubes: CubeStore

    def query(self, levels: list[str]) -> pa.Table:
        request = CubeQuery(measures=MEASURES, levels=levels)
        return self.cubes.query(self.tables, "sales", request, timeout=600, max_rows=10**9)

    def mdx(self, text: str) -> pa.Table:
        return self.cubes.query_mdx(self.tables, MdxQuery(text), timeout=600, max_rows=10**9)


def in_process_engine(data: Dataset) -> Engine:
    tables, cubes = TableStore(), CubeStore()
    tables.read(Read(table="sales", source=ParquetSource(str(data.parquet))))
    tables.read(Read(table="products", source=ParquetSource(str(data.products_parquet)), keys=["product"]))
    cubes.join(tables, "sales", Join("products"))
    cubes.create_cube(tables, CreateCube("sales"))
    return Engine(tables, cubes)


def _server_ms(probe: ProbeServer, path_part: str) -> str:
    """The median server-side time of the requests to paths containing ``path_part`` since the last call."""
    seconds = [s for path, times in probe.stats().seconds.items() if path_part in path for s in times]
    return f"server-side {statistics.median(seconds) * 1000:.2f} ms (probe)" if seconds else "no server-side time"


@dataclass
class Served:
    """The probe server holding the fact and product tables and the cube, and an admin's session on it."""

    probe: ProbeServer
    memory: MemoryProbe
    session: tiercube.LocalSession
    sales: tiercube.LocalTable
    dimension: tiercube.LocalTable
    cube: tiercube.EditableCube


@contextmanager
def serve(data: Dataset) -> Generator[Served]:
    """Load the data through ``connect()`` (the shared file system) into a fresh probe server."""
    with ProbeServer(SECURED) as probe:
        memory = MemoryProbe(probe.info)
        with tiercube.connect(probe.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
            sales = session.read_parquet(data.parquet, table_name="sales")
            dimension = session.read_parquet(data.products_parquet, table_name="products", keys=["product"])
            sales.join(dimension)
            yield Served(probe, memory, session, sales, dimension, session.create_cube(sales))


def measure(context: Context, data: Dataset, served: Served) -> list[Figure]:
    runs = max(1, context.mode.repeats * 2)
    context.log("queries: in-process engine and baselines")
    engine = in_process_engine(data)
    fact = data.fact_dictionary
    duck = duckdb.connect()
    duck.register("fact", fact)
    duck.register("products", data.products)
    group_sql = "SELECT region, product, sum(qty), sum(price), count(*) FROM fact GROUP BY region, product"
    join_sql = (
        "SELECT region, category, sum(qty), sum(price), count(*) FROM fact "
        "LEFT JOIN products USING (product) GROUP BY region, category"
    )

    def arrow_group_by() -> pa.Table:
        return fact.group_by(["region", "product"]).aggregate([("qty", "sum"), ("price", "sum"), ([], "count_all")])

    checked = engine.query(["region", "product"])
    assert checked.num_rows == arrow_group_by().num_rows, "the engine and pyarrow disagree on the number of groups"
    ms = 1000.0

    def series(run: Callable[[], object]) -> Samples:
        """A small query's timings (ms): many runs, within the mode's time budget."""
        return repeat(run, context.mode.small_queries, scale=ms, budget=context.mode.budget)

    engine_q1 = repeat(lambda: engine.query(["region", "product"]), runs, scale=ms)
    arrow_q1 = repeat(arrow_group_by, runs, scale=ms)
    duck_q1 = repeat(lambda: duck.sql(group_sql).arrow(), runs, scale=ms)
    engine_join = repeat(lambda: engine.query(["region", "category"]), runs, scale=ms)
    duck_join = repeat(lambda: duck.sql(join_sql).arrow(), runs, scale=ms)
    engine_small = repeat(lambda: engine.query(["region"]), runs, scale=ms)
    engine_mdx = repeat(lambda: engine.mdx(SMALL_MDX), runs, scale=ms)
    products = data.small_filter_products()
    expression = (pc.field("region") == REGION) & cast(Any, pc.field("product")).isin(products)
    stored = engine.tables.get("sales").data
    arrow_filter = series(lambda: stored.filter(expression).slice(0, 1000))
    stored_products = engine.tables.get("products").data
    products_expression = pc.field("category") != "none"
    arrow_products = series(lambda: stored_products.filter(products_expression).slice(0, 1000))
    loaded_nbytes = stored.nbytes + stored_products.nbytes
    del engine, stored, stored_products
    duck.close()

    context.log("queries: end to end through connect()")
    probe, cube, sales, dimension = served.probe, served.cube, served.sales, served.dimension

    def remote(levels: list[str]) -> Callable[[], pa.Table]:
        return lambda: cube.query(*MEASURES, levels=levels)

    probe.stats()
    e2e_q1 = repeat(remote(["region", "product"]), runs, scale=ms)
    q1_server = _server_ms(probe, "/query/")
    e2e_small = repeat(remote(["region"]), runs, scale=ms)
    small_server = _server_ms(probe, "/query/")
    condition = fact_condition(sales, products)
    rows = sales.query(filter=condition, max_rows=1000).num_rows
    e2e_filter = series(lambda: sales.query(filter=condition, max_rows=1000))
    filter_server = _server_ms(probe, "/sales/")
    products_condition = dimension["category"] != "none"
    e2e_products = series(lambda: dimension.query(filter=products_condition, max_rows=1000))
    products_server = _server_ms(probe, "/products/")
    e2e_mdx = series(lambda: served.session.query_mdx(SMALL_MDX))
    mdx_server = _server_ms(probe, "/mdx")
    cube_memory = served.memory.after_load("cube", "loading the fact and product tables and querying", loaded_nbytes)

    overhead = Samples((e2e_small.median - engine_small.median,))
    return [
        compare("queries.q1.engine_vs_pyarrow", "cube engine: sum(qty), sum(price), count by (region, product)", "ms",
                engine_q1, arrow_q1, "pyarrow group_by, dictionary-encoded", Target(1.3, on="ratio", text="<= 1.3x pyarrow"),
                note="engine: the server's CubeStore in this process; result sorted by the levels"),
        compare("queries.q1.engine_vs_duckdb", "cube engine: sum(qty), sum(price), count by (region, product)", "ms",
                engine_q1, duck_q1, "duckdb on the same Arrow table", Target(1.0, on="ratio", text="faster than duckdb (< 1x)")),
        compare("queries.q1.e2e", "cube.query by (region, product), end to end through connect()", "ms",
                e2e_q1, engine_q1, "engine in process", note=f"{checked.num_rows:,} result rows; {q1_server}"),
        compare("queries.join.engine_vs_duckdb", "cube engine by (region, category) through the product join", "ms",
                engine_join, duck_join, "duckdb joining the fact rows to the dimension"),
        compare("queries.small.e2e", "cube.query by region (10 rows), end to end", "ms", e2e_small, engine_small,
                "engine in process", note=small_server),
        compare("queries.small.overhead", "end-to-end overhead on a small result (e2e - engine medians)", "ms", overhead,
                target=Target(10, text="< 10 ms"), note=f"{e2e_small.median:.1f} ms e2e - {engine_small.median:.1f} ms engine"),
        compare("queries.table_query.p50", f"table.query of {rows:,} fact rows with a filter, end to end, p50", "ms",
                e2e_filter, arrow_filter, "pyarrow filter + slice in process on the stored data", Target(3, text="< 3 ms"),
                note=f"filter region == {REGION!r} & product in {len(products)} products over {data.rows:,} rows; {filter_server}"),
        compare("queries.table_query_dimension.p50", "table.query of 1,000 rows of the product table with a filter, p50", "ms",
                e2e_products, arrow_products, "pyarrow filter + slice in process", note=products_server),
        compare("queries.mdx.p50", "small query_mdx (2 measures by region, one category), end to end, p50", "ms",
                e2e_mdx, engine_mdx, "engine query_mdx in process", note=mdx_server),
        cube_memory,
    ]
