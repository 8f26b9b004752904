"""Durability: a restart from a data directory, and what the write-ahead log adds to an append.

Restart: a data directory holding the fact table (keyed by ``id``; the snapshot
a clean stop wrote) is opened by ``Session.start(data_dir=...)`` in a fresh
process, until the first answer (the table's row count). The baseline starts a
session without one and reads the same rows from the Parquet file, as one
would without a data directory. The snapshot's files are in the page cache,
as after a restart of the process (after a reboot they are read from disk).

Append: one-row appends to a keyed table in the engine's table store (no HTTP,
which costs the same either way), taking turns between a store whose data
directory is on /dev/shm and one without a data directory. On a tmpfs an
fsync costs nothing, so the paired difference is what the log itself adds
(encoding the rows, checksums, the write, the group commit's bookkeeping,
the barrier), beyond the fsync. For reference, the same with the data
directory on the disk the benchmark writes to, fsync included.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tiercube
from bench.common import Context, Figure, Samples, Target, compare, interleaved, paired
from bench.data import Dataset
from tiercube._server.accounts import Accounts
from tiercube._server.durability.directory import DataDirectory
from tiercube._server.durability.recovery import Parts
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.tables import TableStore
from tiercube._server.restrictions import Restrictions
from tiercube._server.saved_views import SavedViews
from tiercube._server.tokens import Tokens
from tiercube._wire.messages import Column, CreateTable

# Runs in a fresh interpreter after ``import tiercube``: seconds to the first answer from a data directory.
_RESTART = """
import json, sys, time
import tiercube
started = time.perf_counter()
session = tiercube.Session.start(data_dir=sys.argv[1])
rows = session.tables["fact"].row_count
answered = time.perf_counter() - started
session.close()
print(json.dumps({"answered": answered, "rows": rows}))
"""

_RELOAD = """
import json, sys, time
import tiercube
started = time.perf_counter()
session = tiercube.Session.start()
rows = session.read_parquet(sys.argv[1], table_name="fact", keys=["id"]).row_count
answered = time.perf_counter() - started
session.close()
print(json.dumps({"answered": answered, "rows": rows}))
"""


def _answered(code: str, argument: str, rows: int) -> float:
    output = subprocess.run([sys.executable, "-c", code, argument], check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    assert result["rows"] == rows, result
    return float(result["answered"])


def measure_restart(context: Context, data: Dataset) -> list[Figure]:
    data_dir = context.directory / "data-dir"
    with tiercube.Session.start(data_dir=data_dir) as session:
        session.read_parquet(str(data.parquet), table_name="fact", keys=["id"])
    restarts: list[float] = []
    reloads: list[float] = []
    for _ in range(context.mode.start_runs):  # taking turns, so that drift hits both alike
        restarts.append(_answered(_RESTART, str(data_dir), data.rows))
        reloads.append(_answered(_RELOAD, str(data.parquet), data.rows))
    shutil.rmtree(data_dir)
    return [
        compare(
            "durability.restart",
            f"Session.start(data_dir=...) holding {data.rows:,} rows, until the first answer",
            "s",
            Samples(tuple(restarts)),
            Samples(tuple(reloads)),
            "Session.start() then read_parquet(keys=['id']) of the same rows",
            Target(2.0, text="< 2 s (10 M rows)"),
            note="a fresh process per run; the snapshot's files memory-mapped, checksums verified",
        )
    ]


def _engine_appends(times: int, directory: str) -> tuple[Samples, Samples]:
    """One-row appends into the engine's table store, with the data directory ``directory`` and without."""
    data = DataDirectory(directory, tiercube.SessionConfig(data_dir=directory))
    logged = TableStore(journal=data)
    cubes = CubeStore(logged)
    accounts = Accounts([])
    data.recover(Parts(cubes, accounts, Restrictions(logged, cubes.joins), Tokens(accounts), SavedViews()))
    plain = TableStore()
    layout = CreateTable("appended", [Column("n", "int64"), Column("note", "string")], keys=["n"])
    logged.create(layout)
    plain.create(layout)
    a, b = itertools.count(), itertools.count()
    try:
        with_log, without = interleaved(
            [lambda: logged.append("appended", [[next(a), "one row"]]), lambda: plain.append("appended", [[next(b), "one row"]])],
            times,
            warmup=20,
            scale=1000,
        )
    finally:
        data.close()
    return with_log, without


def measure_append(context: Context) -> list[Figure]:
    times = max(context.mode.small_queries, 50)
    memory_disk = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=memory_disk, prefix="tiercube-bench-") as in_memory:
        with_log, without = _engine_appends(times, in_memory)
    with_disk, _ = _engine_appends(times, str(context.directory / "append-data-dir"))
    where = "/dev/shm, where an fsync costs nothing" if memory_disk is not None else "the temporary directory (no /dev/shm: fsync included)"
    return [
        compare(
            "durability.append_log_cost",
            f"what the log adds to a one-row append (data directory on {where})",
            "ms",
            paired(with_log, without),
            target=Target(1.0, text="< 1 ms beyond the fsync"),
            note="paired differences of interleaved appends into the engine's table store, in one process",
        ),
        compare(
            "durability.append_on_disk",
            "a one-row append with the data directory on the benchmark's disk (fsync included)",
            "ms",
            with_disk,
            without,
            "the same append without a data directory",
            note="in the engine, without HTTP: the round trip adds the same with and without a data directory",
        ),
    ]
