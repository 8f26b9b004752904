"""Distributed tables on a real Dask LocalCluster: same answers as the server's own, clear failures.

Every test of test_tables.py, test_cubes_e2e.py and test_restrictions.py also
runs with all tables on the cluster (``DISTRIBUTABLE``, see conftest); this
module covers what only a cluster has: placement by key, partitions, the
stats, lost workers, and a property test of distributed against local.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiercube
from tiercube._wire.messages import AggregateStats
from tests.conftest import ADMIN, SECURED, SECURED_TOML, USER, examples, serve, write_config
from tests.fake_s3 import shared_fake_s3

REGIONS = ["EU", "US", "ASIA", "", "Ünïcode"]


def aggregates(session: tiercube.Session) -> AggregateStats:
    """The owner's view of the maintained aggregates (shown to callers that manage security)."""
    stats = session.stats().aggregates
    assert stats is not None
    return stats



@pytest.fixture(scope="module")
def owner(dask_scheduler: str) -> Generator[tiercube.Session]:
    """A secured session with a cluster, where tables are distributed only when asked."""
    with tiercube.Session.start(SECURED, cluster=dask_scheduler) as session:
        yield session


def sales(rows: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + rows), pa.int64()),
            "region": [REGIONS[i % len(REGIONS)] if i % 7 else None for i in range(start, start + rows)],
            "qty": pa.array([i % 13 for i in range(start, start + rows)], pa.int64()),
        }
    )


def both(owner: tiercube.Session, name: str, data: pa.Table) -> tuple[tiercube.LocalTable, tiercube.LocalTable]:
    """The same data twice: held by the server, and distributed."""
    local = owner.read_arrow(data, table_name=f"{name}_local", keys=["id"], distributed=False)
    spread = owner.read_arrow(data, table_name=f"{name}_spread", keys=["id"], distributed=True)
    return local, spread


def test_a_distributed_table_is_split_by_key_over_every_worker(owner: tiercube.Session) -> None:
    local, spread = both(owner, "split", sales(10_000))
    assert local.partitions is None
    parts = spread.partitions
    assert parts is not None and len(parts) == 2
    assert sum(p.rows or 0 for p in parts) == spread.row_count == 10_000
    # A hash of the key spreads consecutive ids evenly.
    assert all(4_500 < (p.rows or 0) < 5_500 for p in parts)
    assert all(p.worker.startswith("tcp://") and (p.bytes or 0) > 0 for p in parts)


def test_upserts_replace_across_loads_and_files_as_on_the_server(owner: tiercube.Session) -> None:
    local, spread = both(owner, "upsert", sales(3_000))
    # Keys that repeat within one load and across loads: the last one wins, wherever it lives.
    again = pa.concat_tables([sales(2_000, start=2_000), sales(500, start=2_500)])
    again = again.set_column(2, "qty", pa.array([100 + i for i in range(again.num_rows)], pa.int64()))
    for table in (local, spread):
        table.load(again, on_duplicate_keys="last")
    assert spread.row_count == local.row_count == 4_000
    assert spread.query().equals(local.query())
    # An upsert of rows that exist moves no row to another worker.
    before = [p.rows for p in spread.partitions or []]
    same = local.query(filter=local["id"] < 10)
    for table in (local, spread):
        table.load(same)
    assert [p.rows for p in spread.partitions or []] == before
    assert spread.query().equals(local.query())


def test_cube_queries_and_table_queries_give_identical_results(owner: tiercube.Session) -> None:
    local, spread = both(owner, "answers", sales(50_000))
    for table in (local, spread):
        table.drop(table["qty"] == 3)
    answers: list[tuple[pa.Table, ...]] = []
    for table in (local, spread):
        cube = owner.create_cube(table, name=f"cube_{table.name}")
        m, lv = cube.measures, cube.levels
        m["share"] = m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "region")
        answers.append(
            (
                cube.query("qty.SUM", "qty.MEAN", "contributors.COUNT", "share", levels=["region"], include_totals=True),
                cube.query("qty.SUM", levels=["region"], filter=lv["region"] == "EU"),
                table.query("id", "qty", filter=table["region"] == "US", max_rows=7),
                table.query(filter=table["qty"] > 11),
            )
        )
    for server_answer, cluster_answer in zip(*answers, strict=True):
        assert cluster_answer.equals(server_answer)


def test_files_and_cloud_objects_are_read_by_the_workers_as_the_server_reads_them(owner: tiercube.Session, tmp_path: Path) -> None:
    data = sales(40_000)
    parquet, csv_path = tmp_path / "sales.parquet", tmp_path / "sales.csv"
    pq.write_table(data, parquet, row_group_size=5_000)  # pyright: ignore[reportUnknownMemberType]  # 8 row groups, 4 a worker
    pa_csv.write_csv(data, csv_path)
    cloud = shared_fake_s3().put("cluster/sales.parquet", parquet.read_bytes())
    def read(kind: str, table_name: str, distributed: bool) -> tiercube.LocalTable:
        if kind == "csv":
            return owner.read_csv(csv_path, table_name=table_name, keys=["id"], distributed=distributed)
        return owner.read_parquet(parquet if kind == "parquet" else cloud, table_name=table_name, keys=["id"], distributed=distributed)

    for kind in ("parquet", "csv", "cloud"):
        local = read(kind, f"files_{kind}_local", distributed=False)
        spread = read(kind, f"files_{kind}_spread", distributed=True)
        assert spread.query().equals(local.query()), kind
        assert [p.rows for p in spread.partitions or []] == [p.rows for p in owner.tables["files_parquet_spread"].partitions or []]
    # Duplicate keys across files: the later file wins, wherever the key lives.
    later = data.slice(30_000).set_column(2, "qty", pa.array(range(10_000), pa.int64()))
    pq.write_table(pa.concat_tables([later, sales(5_000, start=40_000)]), tmp_path / "later.parquet", row_group_size=3_000)  # pyright: ignore[reportUnknownMemberType]
    for name in ("files_parquet_local", "files_parquet_spread"):
        owner.tables[name].load(tiercube.ParquetLoad(tmp_path / "later.parquet"))
    local, spread = owner.tables["files_parquet_local"], owner.tables["files_parquet_spread"]
    assert spread.row_count == local.row_count == 45_000
    assert spread.query().equals(local.query())


def test_a_bad_file_read_by_the_workers_names_its_line_and_changes_nothing(owner: tiercube.Session, tmp_path: Path) -> None:
    spread = owner.read_arrow(sales(1_000), table_name="bad_file_spread", keys=["id"], distributed=True)
    before, rows = spread.partitions, spread.query()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,region,qty\n1,EU,2\n2,US,abc\n")
    with pytest.raises(tiercube.LoadError, match=r"bad.csv: column 'qty' \(the 3rd\), line 3: 'abc' is not a valid int64"):
        spread.load(tiercube.CsvLoad(bad))
    with pytest.raises(tiercube.LoadError, match="no such file"):
        spread.load(tiercube.CsvLoad(tmp_path / "missing.csv"))
    assert spread.partitions == before and spread.query().equals(rows)
    with pytest.raises(tiercube.LoadError, match="qty"):
        owner.read_csv(bad, table_name="bad_file_new", keys=["id"], distributed=True, data_types={"qty": "int64"})
    assert "bad_file_new" not in owner.tables


def test_a_distributed_grouping_is_kept_until_the_table_changes(owner: tiercube.Session) -> None:
    local, spread = both(owner, "kept", sales(20_000))
    cube = owner.create_cube(spread, name="kept_spread")
    held = owner.create_cube(local, name="kept_local")
    by_region = cube.query("qty.SUM", "contributors.COUNT", levels=["region"])  # grouped on the workers, kept
    hits = aggregates(owner).hits
    total = cube.query("qty.SUM", "contributors.COUNT")  # rolled up on the server: no worker asked
    assert aggregates(owner).hits == hits + 1
    assert by_region.equals(held.query("qty.SUM", "contributors.COUNT", levels=["region"]))
    assert total.equals(held.query("qty.SUM", "contributors.COUNT"))
    # An append of new keys only: the kept grouping folds the rows in (no worker regroups).
    maintained = aggregates(owner).maintained
    for table in (local, spread):
        table.append((10**6, "EU", 1000), (10**6 + 1, None, 7))
    assert aggregates(owner).maintained > maintained
    hits = aggregates(owner).hits
    assert cube.query("qty.SUM", "contributors.COUNT").equals(held.query("qty.SUM", "contributors.COUNT"))
    assert aggregates(owner).hits >= hits + 1
    # An upsert that replaces a row: the kept grouping is dropped, and the next answer is fresh.
    for table in (local, spread):
        table.append((5, "US", 2000))
    assert cube.query("qty.SUM", "contributors.COUNT").equals(held.query("qty.SUM", "contributors.COUNT"))
    assert cube.query("qty.SUM", levels=["region"]).equals(held.query("qty.SUM", levels=["region"]))


def test_cluster_stats_name_the_workers_to_admins_only(owner: tiercube.Session, dask_scheduler: str) -> None:
    owner.read_arrow(sales(100), table_name="stats_spread", keys=["id"], distributed=True)
    stats = owner.stats().cluster
    assert stats is not None and stats.scheduler == dask_scheduler
    assert len(stats.workers) == 2 and all(w.memory > 0 and w.memory_limit > 0 for w in stats.workers)
    user = tiercube.connect(owner.url, authentication=USER, require=tiercube.ReadOnlySession)
    assert user.stats().cluster is None
    parts = user.tables["stats_spread"].partitions
    assert parts is not None and [p.worker for p in parts] == ["worker 0", "worker 1"]
    admin = tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession)
    seen = admin.stats().cluster
    assert seen is not None and [w.address for w in seen.workers] == [w.address for w in stats.workers]


def test_a_bad_load_changes_no_partition(owner: tiercube.Session) -> None:
    _, spread = both(owner, "atomic", sales(1_000))
    before, rows = spread.partitions, spread.query()
    bad = sales(10, start=5_000).set_column(2, "qty", pa.array(["x"] * 10))
    with pytest.raises(tiercube.LoadError, match="qty"):
        spread.load(bad)
    assert spread.partitions == before and spread.query().equals(rows)


def test_distributing_without_a_cluster_says_how_to_get_one() -> None:
    with tiercube.Session.start() as session:
        with pytest.raises(tiercube.InvalidRequestError, match=r"no cluster .*Session.start\(cluster=...\)"):
            session.create_table("t", data_types={"id": "int64"}, distributed=True)
        assert "t" not in session.tables


def test_a_session_can_start_from_a_dask_client_object(dask_scheduler: str) -> None:
    from distributed import Client

    with Client(dask_scheduler) as client, tiercube.Session.start(cluster=client) as session:
        table = session.read_arrow(sales(100), table_name="t", keys=["id"], distributed=True)
        assert table.row_count == 100 and table.partitions is not None


@pytest.mark.slow
def test_tiercube_serve_takes_a_cluster(dask_scheduler: str, tmp_path: Path) -> None:
    with serve("--cluster", dask_scheduler, config=write_config(tmp_path, SECURED_TOML)) as url:
        admin = tiercube.connect(url, authentication=ADMIN)
        assert isinstance(admin, tiercube.LocalSession | tiercube.RemoteSession)
        admin.create_table("t", data_types={"id": "int64"}, keys=["id"], distributed=True).append((1,), (2,))
        assert admin.tables["t"].row_count == 2
        stats = admin.stats().cluster
        assert stats is not None and stats.scheduler == dask_scheduler
    result = subprocess.run(
        [sys.executable, "-m", "tiercube._cli", "serve", "--cluster", "tcp://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr


def test_a_server_started_after_a_local_cluster_keeps_every_core(owner: tiercube.Session) -> None:
    # The dask_scheduler fixture started a LocalCluster in this process: Dask's nanny left
    # OMP_NUM_THREADS=1 in os.environ, which would make Arrow in the server use one core.
    assert os.environ.get("OMP_NUM_THREADS") == "1"
    pid = owner._server.process.pid  # pyright: ignore[reportPrivateUsage]
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not [v for v in environment if v.startswith((b"OMP_NUM_THREADS=", b"MKL_NUM_THREADS=", b"OPENBLAS_NUM_THREADS="))]


def test_without_a_cluster_the_server_never_imports_dask() -> None:
    code = (
        "import sys\n"
        "from tiercube._config import SessionConfig\n"
        "from tiercube._server.state import ServerState\n"
        "state = ServerState(SessionConfig())\n"
        "state.cleanup()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_a_lost_worker_fails_queries_by_name_and_the_table_can_be_reloaded() -> None:
    from distributed import Client, LocalCluster

    # A cluster of its own: this test kills one of its workers.
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        tiercube.Session.start(cluster=cluster) as session,
    ):
        data = sales(2_000)
        table = session.read_arrow(data, table_name="fragile", keys=["id"], distributed=True)
        cube = session.create_cube(table)
        held = session.read_arrow(data, table_name="held", keys=["id"])
        victim = (table.partitions or [])[0].worker
        os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while victim in client.scheduler_info()["workers"] and time.monotonic() < deadline:
            time.sleep(0.1)

        with pytest.raises(tiercube.ClusterError, match=r"table 'fragile' lost partition 0 of 2 .*table.drop\(\)"):
            cube.query("qty.SUM")
        with pytest.raises(tiercube.ClusterError, match="lost partition 0"):
            table.query(max_rows=5)
        with pytest.raises(tiercube.ClusterError, match="lost partition 0"):
            table.append((10**6, "EU", 1))
        parts = table.partitions
        assert parts is not None and parts[0].rows is None and parts[1].rows is not None
        assert held.row_count == 2_000  # tables the server holds are untouched

        table.drop()
        table.load(data)
        assert table.query().equals(held.query())
        assert cube.query("qty.SUM").equals(pa.table({"qty.SUM": [data["qty"].to_numpy().sum()]}))


# --------------------------------------------------------------------------- property


COLUMNS: dict[str, pa.DataType] = {"id": pa.int64(), "region": pa.string(), "qty": pa.int64()}
SCHEMA = pa.schema(COLUMNS)
KEYS = st.integers(min_value=0, max_value=60)
ROWS = st.lists(st.tuples(KEYS, st.sampled_from([*REGIONS, None]), st.integers(-5, 5) | st.none()), max_size=40)
Row = tuple[int, str | None, int | None]


@dataclass(frozen=True)
class Step:
    """Load ``rows``, or drop the rows whose ``qty`` or ``region`` is ``value``."""

    kind: str
    rows: tuple[Row, ...] = ()
    value: int | str = 0


STEPS = st.lists(
    st.one_of(
        st.builds(Step, st.just("load"), ROWS.map(tuple)),
        st.builds(Step, st.just("drop qty"), value=st.integers(-5, 5)),
        st.builds(Step, st.just("drop region"), value=st.sampled_from(REGIONS)),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=examples(20), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_distributed_tables_answer_like_the_servers_own(owner: tiercube.Session, steps: list[Step]) -> None:
    name = f"prop{time.monotonic_ns()}"
    tables = [
        owner.create_table(f"{name}_{where}", data_types={"id": "int64", "region": "string", "qty": "int64"}, keys=["id"], distributed=where == "spread")
        for where in ("local", "spread")
    ]
    cubes = [owner.create_cube(t, name=f"cube_{t.name}") for t in tables]
    for cube in cubes:
        # Every kind of partial the workers compute, merged on the server: sum, count, min, max, distinct.
        cube.measures["low"] = tiercube.agg.min("qty")
        cube.measures["high"] = tiercube.agg.max("qty")
        cube.measures["ids"] = tiercube.agg.distinct_count("id")
        cube.measures["mean"] = tiercube.agg.mean("qty")
    try:
        for step in steps:
            for table in tables:
                if step.kind == "load":
                    columns = list(zip(*step.rows, strict=True)) or [(), (), ()]
                    rows = pa.Table.from_arrays([pa.array(c, kind) for c, kind in zip(columns, SCHEMA.types, strict=True)], schema=SCHEMA)
                    table.load(rows, on_duplicate_keys="last")
                else:
                    table.drop(table["qty" if step.kind == "drop qty" else "region"] == step.value)
            answers = [
                (
                    t.query(),
                    t.row_count,
                    c.query("qty.SUM", "low", "high", "ids", "mean", "contributors.COUNT", levels=["region"], include_totals=True),
                    # Filtered: the workers drop rows before grouping.
                    c.query("qty.SUM", "ids", levels=["region"], filter=c.levels["region"].isin("EU", "", "US") & (c.levels["id"] > 10)),
                )
                for t, c in zip(tables, cubes, strict=True)
            ]
            assert answers[0][0].equals(answers[1][0])
            assert answers[0][1] == answers[1][1]
            assert answers[0][2].equals(answers[1][2])
            assert answers[0][3].equals(answers[1][3])
    finally:
        for table, cube in zip(tables, cubes, strict=True):
            del owner.cubes[cube.name]
            del owner.tables[table.name]



def test_a_distribution_rule_needs_a_cluster(dask_scheduler: str) -> None:
    with pytest.raises(tiercube.InvalidRequestError, match="distribute_over_rows needs a cluster"):
        tiercube.Session.start(tiercube.SessionConfig(distribute_over_rows=10))
    # The rule in the config, the cluster given to start(): every table read goes to the cluster.
    with tiercube.Session.start(tiercube.SessionConfig(distribute_over_rows=0), cluster=dask_scheduler) as session:
        assert session.read_arrow(sales(10), table_name="t").partitions is not None


def test_the_readme_cube_example_gives_the_same_result_on_distributed_tables(
    dask_scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    monkeypatch.chdir(examples)
    source = (examples / "quickstart.py").read_text()
    start = "tiercube.Session.start()"
    assert start in source
    held = runpy.run_path("quickstart.py")["result"]
    # The same code; only the session is started with a cluster, and the fact table is distributed.
    distributed = source.replace(start, f"tiercube.Session.start(cluster={dask_scheduler!r})").replace(
        'keys=["id"])', 'keys=["id"], distributed=True)'
    )
    assert distributed.count("distributed=True") == 1
    namespace: dict[str, object] = {}
    exec(compile(distributed, "quickstart.py", "exec"), namespace)  # noqa: S102
    result = namespace["result"]
    assert isinstance(held, pa.Table) and isinstance(result, pa.Table) and held.num_rows > 0
    assert result.select(["region", "country", "qty.SUM"]).equals(held.select(["region", "country", "qty.SUM"]))
    # Float sums: the workers add in another order, so the last bits may differ.
    for column in ("margin", "share of region"):
        assert result[column].to_pylist() == pytest.approx(held[column].to_pylist(), rel=1e-12)


def test_work_on_a_worker_that_dies_fails_instead_of_waiting_for_it() -> None:
    from distributed import Client, LocalCluster

    from tiercube._server.cluster.connection import Cluster

    # Dask waits forever for a task pinned to a worker that left; a load must fail instead.
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        Client(local) as client,
    ):
        cluster = Cluster(local.scheduler_address)
        try:
            victim = sorted(cluster.workers())[0]
            slow = cluster.submit(victim, time.sleep, 60)
            os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
            started = time.monotonic()
            with pytest.raises(tiercube.ClusterError, match="left while it was working"):
                cluster.results([slow], [victim])
            assert time.monotonic() - started < 30
        finally:
            cluster.close()
