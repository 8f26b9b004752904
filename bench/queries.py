"""Queries: the cube issue's aggregation, ``table.query`` of 1,000 rows with a filter, a small MDX.

Engine time is the server's own ``CubeStore`` run in this process on the
same files loaded the same way (``TableStore.read``), since the server
reports no engine time; the probe server adds the server-side time of each
request (arrival to last byte), and end-to-end time is measured through
``connect()`` over loopback. Baselines: pyarrow ``group_by`` on the
dictionary-encoded table and duckdb on the same Arrow data.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

import tiercube
from bench.common import ADMIN, SECURED, Context, Figure, Samples, Target, compare, interleaved, paired
from bench.data import Dataset
from bench.memory import MemoryProbe
from bench.servers import ProbeServer
from bench.workload import REGION, SMALL_MDX, fact_condition
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._config import SessionConfig
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.file_access import FileAccess
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
        return self.cubes.query("sales", request, limits=QueryLimits(600, 10**9))

    def mdx(self, text: str) -> pa.Table:
        return self.cubes.query_mdx(MdxQuery(text), limits=QueryLimits(600, 10**9))


def in_process_engine(data: Dataset) -> Engine:
    tables = TableStore()
    cubes = CubeStore(tables)
    files = FileAccess(SessionConfig(), protected=[])
    tables.read(Read(table="sales", source=ParquetSource(str(data.parquet))), files)
    tables.read(Read(table="products", source=ParquetSource(str(data.products_parquet)), keys=["product"]), files)
    cubes.join("sales", Join("products"))
    cubes.create_cube(CreateCube("sales"))
    return Engine(tables, cubes)


def _server_side(probe: ProbeServer, path_part: str, client: Samples) -> str:
    """Server-side time (probe) of the requests since the last call, and the rest of ``client``'s time.

    The first request was the warm-up; the others pair with ``client``'s runs in order.
    """
    seconds = [s * 1000 for path, times in probe.stats().seconds.items() if path_part in path for s in times][1:]
    if len(seconds) != len(client.values):
        return "no server-side time"
    server = Samples(tuple(seconds))
    rest = paired(client, server)
    return f"server-side {server.median:.2f} ms (probe), client and transport {rest.median:.2f} ms (medians)"


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
    """Load the data through ``connect()`` (the shared file system) into a fresh probe server.

    Its maintained aggregates and kept answers are off: these figures compare the
    cold path, end to end, with the engine in process (``peers`` measures what is kept).
    """
    with ProbeServer(msgspec.structs.replace(SECURED, aggregate_memory_bytes=0)) as probe:
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
    ms, budget, many = 1000.0, context.mode.budget, context.mode.small_queries
    engine_q1, arrow_q1, duck_q1 = interleaved(
        [lambda: engine.query(["region", "product"]), arrow_group_by, lambda: duck.sql(group_sql).arrow()], runs, scale=ms
    )
    engine_join, duck_join = interleaved(
        [lambda: engine.query(["region", "category"]), lambda: duck.sql(join_sql).arrow()], runs, scale=ms
    )
    duck.close()
    products = data.small_filter_products()
    expression = (pc.field("region") == REGION) & cast(Any, pc.field("product")).isin(products)
    stored = engine.tables.get("sales").rows.gathered()
    stored_products = engine.tables.get("products").rows.gathered()
    products_expression = pc.field("category") != "none"
    loaded_nbytes = stored.nbytes + stored_products.nbytes

    context.log("queries: end to end through connect(), taking turns with the engine in process")
    probe, cube, sales, dimension = served.probe, served.cube, served.sales, served.dimension

    def remote(levels: list[str]) -> Callable[[], pa.Table]:
        return lambda: cube.query(*MEASURES, levels=levels)

    probe.stats()
    turn_q1, e2e_q1 = interleaved([lambda: engine.query(["region", "product"]), remote(["region", "product"])], runs, scale=ms)
    q1_server = _server_side(probe, "/query/", e2e_q1)
    turn_small, e2e_small = interleaved([lambda: engine.query(["region"]), remote(["region"])], many, scale=ms, budget=budget)
    small_server = _server_side(probe, "/query/", e2e_small)
    overhead = paired(e2e_small, turn_small)
    condition = fact_condition(sales, products)
    rows = sales.query(filter=condition, max_rows=1000).num_rows
    probe.stats()
    arrow_filter, e2e_filter = interleaved(
        [lambda: stored.filter(expression).slice(0, 1000), lambda: sales.query(filter=condition, max_rows=1000)],
        many, scale=ms, budget=budget,
    )
    filter_server = _server_side(probe, "/sales/", e2e_filter)
    products_condition = dimension["category"] != "none"
    arrow_products, e2e_products = interleaved(
        [
            lambda: stored_products.filter(products_expression).slice(0, 1000),
            lambda: dimension.query(filter=products_condition, max_rows=1000),
        ],
        many, scale=ms, budget=budget,
    )
    products_server = _server_side(probe, "/products/", e2e_products)
    engine_mdx, e2e_mdx = interleaved(
        [lambda: engine.mdx(SMALL_MDX), lambda: served.session.query_mdx(SMALL_MDX)], many, scale=ms, budget=budget
    )
    mdx_server = _server_side(probe, "/mdx", e2e_mdx)
    cube_memory = served.memory.after_load("cube", "loading the fact and product tables and querying", loaded_nbytes)
    del engine, stored, stored_products

    return [
        compare("queries.q1.engine_vs_pyarrow", "cube engine: sum(qty), sum(price), count by (region, product)", "ms",
                engine_q1, arrow_q1, "pyarrow group_by, dictionary-encoded", Target(1.3, on="ratio", text="<= 1.3x pyarrow"),
                note="engine: the server's CubeStore in this process; result sorted by the levels"),
        compare("queries.q1.engine_vs_duckdb", "cube engine: sum(qty), sum(price), count by (region, product)", "ms",
                engine_q1, duck_q1, "duckdb on the same Arrow table", Target(1.0, on="ratio", text="faster than duckdb (< 1x)")),
        compare("queries.q1.e2e", "cube.query by (region, product), end to end through connect()", "ms",
                e2e_q1, turn_q1, "engine in process, taking turns", note=f"{checked.num_rows:,} result rows; {q1_server}"),
        compare("queries.join.engine_vs_duckdb", "cube engine by (region, category) through the product join", "ms",
                engine_join, duck_join, "duckdb joining the fact rows to the dimension"),
        compare("queries.small.e2e", "cube.query by region (10 rows), end to end", "ms", e2e_small, turn_small,
                "engine in process, taking turns", note=small_server),
        compare("queries.small.overhead", "end-to-end overhead on a small result (e2e - engine, per turn)", "ms", overhead,
                target=Target(10, text="< 10 ms"), note="median of each turn's end-to-end time minus the in-process engine's"),
        compare("queries.table_query.p50", f"table.query of {rows:,} fact rows with a filter, end to end, p50", "ms",
                e2e_filter, arrow_filter, "pyarrow filter + slice in process on the stored data", Target(3, text="< 3 ms"),
                note=f"filter region == {REGION!r} & product in {len(products)} products over {data.rows:,} rows; {filter_server}"),
        compare("queries.table_query_dimension.p50", "table.query of 1,000 rows of the product table with a filter, p50", "ms",
                e2e_products, arrow_products, "pyarrow filter + slice in process", note=products_server),
        compare("queries.mdx.p50", "small query_mdx (2 measures by region, one category), end to end, p50", "ms",
                e2e_mdx, engine_mdx, "engine query_mdx in process", note=mdx_server),
        cube_memory,
    ]
