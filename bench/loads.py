"""Loads of the fact table, against pyarrow and duckdb reading the same file or data.

Each kind of load gets a fresh owner session, so its memory figure holds
that load alone: the first load is measured for memory, the repeats (each
followed by deleting the table) for time, taking turns with the baselines.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

import tiercube
from bench.common import Context, Figure, Samples, Target, compare, interleaved, throughput, timed
from bench.data import Dataset, dictionary_encoded, fact_table, read_parquet
from bench.memory import MemoryProbe
from bench.servers import session_server

SPEED = Target(1.25, on="ratio", text="time <= 1.25x (>= 0.8x the speed)")
GBPS = Target(1.0, at_most=False, text=">= 1 GB/s")
_names = itertools.count()


def _duckdb_load(connection: duckdb.DuckDBPyConnection, source: str) -> Callable[[], object]:
    return lambda: connection.execute(f"CREATE OR REPLACE TABLE loaded AS SELECT * FROM {source}")


def _load_kind(
    session: tiercube.Session,
    load: Callable[[str], object],
    baselines: list[Callable[[], object]],
    repeats: int,
) -> list[Samples]:
    """Samples in seconds: ours first, then each baseline's; loads are followed by deleting the table."""

    def ours() -> float:
        name = f"t{next(_names)}"
        seconds = timed(lambda: load(name))
        del session.tables[name]
        return seconds

    ours_times: list[float] = []

    def record() -> None:
        ours_times.append(ours())

    baseline_samples = interleaved([record, *baselines], repeats, warmup=0)[1:]
    return [Samples(tuple(ours_times)), *baseline_samples]


def _with_session(measure: Callable[[tiercube.Session, MemoryProbe], list[Figure]]) -> list[Figure]:
    with tiercube.Session.start() as session:
        return measure(session, MemoryProbe(session_server(session)))


def measure(context: Context, data: Dataset) -> list[Figure]:
    repeats = context.mode.repeats
    stored = data.fact_dictionary.nbytes
    connection = duckdb.connect()
    figures: list[Figure] = []
    rows = f"{data.rows:,} rows"

    def csv(session: tiercube.Session, memory: MemoryProbe) -> list[Figure]:
        path = data.csv
        pa_csv.read_csv(path)  # warm the page cache
        session.read_csv(path, table_name="first")
        found = [memory.after_load("csv", f"read_csv of {rows}", stored)]
        ours, arrow, duck = _load_kind(
            session,
            lambda name: session.read_csv(path, table_name=name),
            [lambda: pa_csv.read_csv(path), _duckdb_load(connection, f"read_csv('{path}')")],
            repeats,
        )
        size = f"{path.stat().st_size / 1e6:,.0f} MB CSV, {rows}"
        return [
            *found,
            compare("loads.csv.pyarrow", f"read_csv ({size})", "s", ours, arrow, "pyarrow.csv.read_csv", SPEED),
            compare("loads.csv.duckdb", f"read_csv ({size})", "s", ours, duck, "duckdb CREATE TABLE AS read_csv"),
        ]

    def parquet(session: tiercube.Session, memory: MemoryProbe) -> list[Figure]:
        path = data.parquet
        read_parquet(path)
        session.read_parquet(path, table_name="first")
        found = [memory.after_load("parquet", f"read_parquet of {rows}", stored)]
        ours, arrow, duck = _load_kind(
            session,
            lambda name: session.read_parquet(path, table_name=name),
            [lambda: read_parquet(path), _duckdb_load(connection, f"read_parquet('{path}')")],
            repeats,
        )
        size = f"{path.stat().st_size / 1e6:,.0f} MB Parquet, {rows}"
        return [
            *found,
            compare("loads.parquet.pyarrow", f"read_parquet ({size})", "s", ours, arrow, "pyarrow.parquet.read_table", SPEED),
            compare("loads.parquet.duckdb", f"read_parquet ({size})", "s", ours, duck, "duckdb CREATE TABLE AS read_parquet"),
        ]

    def arrow(session: tiercube.Session, memory: MemoryProbe) -> list[Figure]:
        table = data.fact
        session.read_arrow(table, table_name="first")
        found = [memory.after_load("arrow", f"read_arrow of {rows}", stored)]
        connection.register("arrow_source", table)
        ours, duck = _load_kind(
            session, lambda name: session.read_arrow(table, table_name=name), [_duckdb_load(connection, "arrow_source")], repeats
        )
        connection.unregister("arrow_source")
        what = f"read_arrow ({table.nbytes / 1e6:,.0f} MB of Arrow data, plain strings)"
        return [*found, _gbps("loads.arrow", what, table.nbytes, ours, duck, "duckdb CREATE TABLE AS the Arrow table")]

    def pandas(session: tiercube.Session, memory: MemoryProbe) -> list[Figure]:
        frame: pd.DataFrame = cast(Any, data.fact).to_pandas(date_as_object=False)
        as_arrow = pa.Table.from_pandas(frame, preserve_index=False)
        nbytes, frame_stored = as_arrow.nbytes, dictionary_encoded(as_arrow).nbytes  # its dates arrive as 8-byte timestamps
        del as_arrow
        session.read_pandas(frame, table_name="first")
        found = [memory.after_load("pandas", f"read_pandas of {rows}", frame_stored)]
        connection.register("pandas_source", frame)
        ours, duck = _load_kind(
            session, lambda name: session.read_pandas(frame, table_name=name), [_duckdb_load(connection, "pandas_source")], repeats
        )
        connection.unregister("pandas_source")
        dtypes = ", ".join(sorted({str(t) for t in frame.dtypes}))
        what = f"read_pandas ({nbytes / 1e6:,.0f} MB as Arrow; dtypes {dtypes})"
        return [*found, _gbps("loads.pandas", what, nbytes, ours, duck, "duckdb CREATE TABLE AS the DataFrame")]

    for step in (csv, parquet, arrow, pandas):
        context.log(f"loads: {step.__name__}")
        figures += _with_session(step)
    context.log("loads: issue 2's 1,000,000-row CSV")
    figures += _with_session(lambda session, memory: _csv_million(context, data, session))
    connection.close()
    return figures


def _gbps(key: str, what: str, nbytes: int, ours: Samples, baseline: Samples, name: str) -> Figure:
    return compare(key, what, "GB/s", throughput(nbytes, ours), throughput(nbytes, baseline), name, GBPS)


def _csv_million(context: Context, data: Dataset, session: tiercube.Session) -> list[Figure]:
    """Issue 2's figure: a 1,000,000-row CSV (fewer when the whole run is smaller)."""
    rows = min(data.rows, 1_000_000)
    path: Path = context.directory / "sales-1m.csv"
    if not path.exists():
        pa_csv.write_csv(fact_table(rows, data.seed), path)
    pa_csv.read_csv(path)
    session.read_csv(path, table_name="first")
    ours, arrow = _load_kind(
        session, lambda name: session.read_csv(path, table_name=name), [lambda: pa_csv.read_csv(path)], context.mode.repeats
    )
    return [compare("loads.csv_1m.pyarrow", f"read_csv ({rows:,} rows, issue 2)", "s", ours, arrow, "pyarrow.csv.read_csv", SPEED)]
