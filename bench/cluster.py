"""Distributed tables on a Dask LocalCluster: query time by worker count, merge overhead, memory.

For 1, 2 and 4 worker processes (1 thread each), the fact table is read with
``distributed=True`` and two cube queries run end to end through the
session: q1 (qty by region: a 10-row result, where the merge is pure
overhead) and q2 (qty and price by region x product). The baseline is the
same query on the same data held by a single session server, taking turns
in the same run. Maintained aggregates and kept answers are off on both
sides: every query reads every fact row (a served query does not touch the
workers at all). Memory: each worker's resident memory against the Arrow
size of the partition it holds.
"""

from __future__ import annotations

import functools
import os

import pyarrow as pa

import tiercube
from bench.common import Context, Figure, Samples, Target, compare, timed
from bench.data import Dataset

COLD = tiercube.SessionConfig(aggregate_memory_bytes=0)


def measure(context: Context, data: Dataset) -> list[Figure]:
    from distributed import LocalCluster

    figures: list[Figure] = []
    runs = max(3, context.mode.repeats)
    counts = (1, 2) if context.mode.name == "smoke" else (1, 2, 4)
    with tiercube.Session.start(COLD) as single:
        held = single.read_parquet(data.parquet, table_name="sales")
        held_cube = single.create_cube(held)
        baseline = {name: functools.partial(_query, held_cube, name) for name in QUERIES}
        for workers in counts:
            context.log(f"cluster: {workers} worker(s)")
            with (
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
                tiercube.Session.start(COLD, cluster=cluster) as owner,
            ):
                spread = owner.read_parquet(data.parquet, table_name="sales", distributed=True)
                cube = owner.create_cube(spread)
                for name, description in QUERIES.items():
                    ours, theirs = _turns(functools.partial(_query, cube, name), baseline[name], runs)
                    _check_same(name, _query(cube, name), _query(held_cube, name))
                    overhead = workers == 1 and name == "q1"
                    figures.append(
                        compare(
                            f"cluster.{name}.{workers}_workers",
                            f"cluster: {description}, {workers} worker(s)",
                            "ms",
                            ours,
                            theirs,
                            "the same query, table held by one session server",
                            # One worker does what the single server does, plus the trip and the merge.
                            Target(1.2, on="ratio", text="overhead < 20%") if overhead else None,
                            note=f"{data.rows:,} fact rows; speed-up {theirs.median / ours.median:.2f}x; {os.cpu_count()} cores",
                        )
                    )
                figures.append(_memory(owner, spread, workers))
    return figures


QUERIES = {
    "q1": "qty.SUM by region (10 rows)",
    "q2": "qty.SUM, price.SUM by region x product",
}


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


def _turns(ours: functools.partial[pa.Table], theirs: functools.partial[pa.Table], runs: int) -> tuple[Samples, Samples]:
    ours()  # warm both
    theirs()
    mine: list[float] = []
    other: list[float] = []
    for _ in range(runs):
        mine.append(timed(ours) * 1000)
        other.append(timed(theirs) * 1000)
    return Samples(tuple(mine)), Samples(tuple(other))


def _memory(owner: tiercube.Session, table: tiercube.LocalTable, workers: int) -> Figure:
    stats = owner.stats().cluster
    parts = table.partitions or []
    if stats is None:
        raise RuntimeError("a session with a cluster reports it")
    held = {p.worker: p.bytes or 0 for p in parts}
    resident = {w.address: w.memory for w in stats.workers}
    ratios = tuple(resident[w] / held[w] for w in held if held[w])
    return compare(
        f"cluster.memory.{workers}_workers",
        f"cluster: worker memory / its partition's Arrow size, {workers} worker(s)",
        "x",
        Samples(ratios),
        note="resident memory of each worker process (Python, pyarrow, Dask included) over its partition's bytes",
    )
