"""Distributed tables on a Dask LocalCluster: query time by worker count, merge overhead, memory.

The fact table is read with ``distributed=True`` by a session on a cluster of
1, 2 and 4 worker processes (the machine's cores shared between them) and two
cube queries run end to end: q1 (qty by region: a 10-row result, where the
merge is pure overhead) and q2 (qty and price by region x product). The
baseline is the same query on the same data held by one session server,
taking turns in the same run. Maintained aggregates and kept answers are off
on both sides: every query reads every fact row (a served query does not
touch the workers at all). Memory: each worker's resident memory against the
Arrow size of the partition it holds.

In full mode the same runs on ``BIG_ROWS`` rows too, generated on the
workers as Parquet shards (each worker writes its share) that both sessions
read.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

import tiercube
from bench.common import Context, Figure, Samples, Target, compare, timed
from bench.data import Dataset, fact_table

COLD = tiercube.SessionConfig(aggregate_memory_bytes=0)
BIG_ROWS = 100_000_000
SHARD_ROWS = 10_000_000
QUERIES = {
    "q1": "qty.SUM by region (10 rows)",
    "q2": "qty.SUM, price.SUM by region x product",
}


def measure(context: Context, data: Dataset) -> list[Figure]:
    cores = os.cpu_count() or 1
    counts = (1, 2) if context.mode.name == "smoke" else (1, 2, 4)
    figures = _scaling(context, [data.parquet], data.rows, counts)
    if context.mode.name == "full":
        context.log(f"cluster: generating {BIG_ROWS:,} rows on the workers")
        shards = _generate_on_workers(context.directory, BIG_ROWS, cores)
        figures += _scaling(context, shards, BIG_ROWS, counts, alone=True)
    return figures


def _scaling(context: Context, files: Sequence[Path], rows: int, counts: Sequence[int], *, alone: bool = False) -> list[Figure]:
    """The cluster's figures for each worker count, against one server taking turns with it; or,
    ``alone``, against one server measured after the clusters are gone (at 100 M rows a server
    running beside a cluster that holds the same rows was measured up to 2x slower than alone)."""
    from distributed import LocalCluster

    cores = os.cpu_count() or 1
    runs = max(3, context.mode.repeats)
    measured: list[tuple[int, int, str, Samples, Samples | None, pa.Table]] = []
    figures: list[Figure] = []
    with contextlib.ExitStack() as stack:
        held = None if alone else stack.enter_context(tiercube.Session.start(COLD))
        held_cube = None if held is None else held.create_cube(_read(held, files, distributed=False))
        for workers in counts:
            context.log(f"cluster: {rows:,} rows, {workers} worker(s)")
            threads = max(1, cores // workers)
            with (
                LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=":0") as cluster,
                tiercube.Session.start(COLD, cluster=cluster) as owner,
            ):
                spread = _read(owner, files, distributed=True)
                cube = owner.create_cube(spread)
                for name in QUERIES:
                    query = functools.partial(_query, cube, name)
                    if held_cube is None:
                        measured.append((workers, threads, name, _samples(query, runs), None, query()))
                    else:
                        mine, theirs = _turns(query, functools.partial(_query, held_cube, name), runs)
                        measured.append((workers, threads, name, mine, theirs, query()))
                figures.append(_memory(owner, spread, rows, workers))
        if held_cube is None:
            context.log(f"cluster: {rows:,} rows, one server alone")
            held = stack.enter_context(tiercube.Session.start(COLD))
            held_cube = held.create_cube(_read(held, files, distributed=False))
        expected = {name: _query(held_cube, name) for name in QUERIES}
        alone_samples = {name: _samples(functools.partial(_query, held_cube, name), runs) for name in QUERIES} if alone else {}
    for workers, threads, name, ours, turned, answer in measured:
        _check_same(name, answer, expected[name])
        baseline = alone_samples[name] if turned is None else turned
        # One worker with the server's threads runs the server's engine code on the same rows and
        # cores: all that differs is the trip to the worker and the merge.
        overhead = workers == 1 and threads == cores and name == "q1" and rows == context.mode.rows
        figures.append(
            compare(
                f"cluster.{name}.{rows}_rows.{workers}_workers",
                f"cluster: {QUERIES[name]}, {rows:,} rows, {workers} worker(s) x {threads} thread(s)",
                "ms",
                ours,
                baseline,
                "the same query, table held by one session server" + (" (measured alone, after)" if alone else ""),
                Target(1.2, on="ratio", text="overhead < 20%") if overhead else None,
                note=f"speed-up {baseline.median / ours.median:.2f}x; {cores} cores",
            )
        )
    return figures


def _samples(run: Callable[[], object], runs: int) -> Samples:
    run()  # warm
    return Samples(tuple(timed(run) * 1000 for _ in range(runs)))


def _read(session: tiercube.Session, files: Sequence[Path], distributed: bool) -> tiercube.LocalTable:
    table = session.read_parquet(files[0], table_name="sales", distributed=distributed)
    for path in files[1:]:
        table.load(tiercube.ParquetLoad(path))
    return table


def _generate_on_workers(directory: Path, rows: int, cores: int) -> list[Path]:
    """``rows`` fact rows written as Parquet shards by the workers of a cluster (generating 100 M rows
    in the benchmark's process would hold them all in its memory first)."""
    from distributed import Client, LocalCluster

    shards = [(directory / f"big-{i}.parquet", i * SHARD_ROWS, min(SHARD_ROWS, rows - i * SHARD_ROWS)) for i in range(-(-rows // SHARD_ROWS))]
    with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, Client(cluster) as client:
        futures = [client.submit(_write_shard, path, start, count, pure=False) for path, start, count in shards]
        client.gather(futures)
    return [path for path, _, _ in shards]


def _write_shard(path: Path, start: int, rows: int) -> None:
    shard = fact_table(rows, seed=start)
    shard = shard.set_column(0, "id", pa.array(range(start, start + rows), pa.int64()))
    cast(Any, pq).write_table(shard, path, row_group_size=1_000_000)


def _query(cube: tiercube.EditableCube, name: str) -> pa.Table:
    if name == "q1":
        return cube.query("qty.SUM", levels=["region"])
    return cube.query("qty.SUM", "price.SUM", levels=["region", "product"])


def _check_same(name: str, ours: pa.Table, theirs: pa.Table) -> None:
    """Equal, but for the last bits of float sums (the workers add in another order)."""
    same = ours.schema == theirs.schema and ours.num_rows == theirs.num_rows
    for column in ours.column_names if same else []:
        left, right = ours[column], theirs[column]
        if pa.types.is_floating(left.type):
            pairs = zip(left.to_pylist(), right.to_pylist(), strict=True)
            same = same and all(_close(a, b) for a, b in pairs)
        else:
            same = same and left.equals(right)
    if not same:
        raise RuntimeError(f"the distributed {name} differs from the single server's")


def _close(left: float | None, right: float | None) -> bool:
    if left is None or right is None:
        return left is right
    return abs(left - right) <= abs(right) * 1e-9


def _turns(ours: Callable[[], object], theirs: Callable[[], object], runs: int) -> tuple[Samples, Samples]:
    ours()  # warm both
    theirs()
    mine: list[float] = []
    other: list[float] = []
    for _ in range(runs):
        mine.append(timed(ours) * 1000)
        other.append(timed(theirs) * 1000)
    return Samples(tuple(mine)), Samples(tuple(other))


def _memory(owner: tiercube.Session, table: tiercube.LocalTable, rows: int, workers: int) -> Figure:
    stats = owner.stats().cluster
    parts = table.partitions or []
    if stats is None:
        raise RuntimeError("a session with a cluster reports it")
    held = {p.worker: p.bytes or 0 for p in parts}
    resident = {w.address: w.memory for w in stats.workers}
    ratios = tuple(resident[w] / held[w] for w in held if held[w])
    return compare(
        f"cluster.memory.{rows}_rows.{workers}_workers",
        f"cluster: worker memory / its partition's Arrow size, {rows:,} rows, {workers} worker(s)",
        "x",
        Samples(ratios),
        note="resident memory of each worker process (Python, pyarrow, Dask included) over its partition's bytes",
    )
