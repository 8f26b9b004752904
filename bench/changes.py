"""Keyed changes (issue 16): appends of 1, 1,000 and 100,000 rows into 1 M, 10 M and 20 M keyed rows.

Each table size is held three times in this run, from the same Parquet file:
by a probe server, changed end to end through ``connect()`` (``table.append``
for the small batches, ``table.load`` of an Arrow table for the largest, as a
``LocalSession`` does); by the server's ``TableStore`` in this process
(``TableStore.add``, what both routes end in); and by duckdb in a table with a
PRIMARY KEY (``INSERT OR REPLACE`` of the same rows registered as Arrow).

A batch either replaces existing keys (drawn at random, so the row count
stays) or adds new ones, which are dropped again after each run, untimed, so
every run meets the table at its size. The three sizes and three contenders
take turns, so drift and other engineers' load hit all alike; a turn's own
preparation (drawing keys, building rows) and undoing are not timed.

Then append-then-query: 1,000 rows appended to the middle size, then the cube
query q1 of ``bench.queries``, which the maintained aggregate answers with the
change folded in (the server's aggregate statistics say whether it did).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa

import tiercube
from bench.common import ADMIN, SECURED, SEED, Context, Figure, Samples, Target, compare, interleaved, kept_groupings, timed
from bench.data import fact_table, write_parquet
from bench.queries import MEASURES
from bench.servers import ProbeServer
from tiercube._client.conditions import Value
from tiercube._client.wire_form import wire_form
from tiercube._config import SessionConfig
from tiercube._server.engine.tables import StoredTable, TableStore
from tiercube._server.file_access import FileAccess
from tiercube._wire import paths
from tiercube._wire.messages import ParquetSource, Read
from tiercube._wire.paths import path

T = TypeVar("T")
Row = tuple[Value, ...]

KEY = "id"
# Keys of added rows: far above every loaded key, never used twice.
NEW_KEYS = 1 << 40
# Roles, in the sizes: figure keys name these whatever the mode's actual sizes.
BATCH_ROLES = ("1", "1k", "100k")
SIZE_ROLES = ("1m", "10m", "20m")
KINDS = ("replace", "new")
DUCKDB = "duckdb INSERT OR REPLACE into a PRIMARY KEY table"
WITHIN_2X = Target(2.0, on="ratio", text="<= 2x duckdb")
FLAT = Target(1.5, on="ratio", text="flat: <= 1.5x the smallest table's time")
APPEND_THEN_QUERY = Target(5.0, text="< 5 ms")
DUCKDB_SCHEMA = "id BIGINT PRIMARY KEY, region VARCHAR, product VARCHAR, day DATE, qty BIGINT, price DOUBLE"


@dataclass
class Held:
    """One table size, held by the three contenders under one name."""

    rows: int
    name: str
    remote: tiercube.LocalTable
    stored: StoredTable
    first_change_ms: dict[str, float]  # the first keyed change after the load, by contender: it builds the key index


class Keys:
    """Keys for batches: existing ones at random (without repeats in a batch), or new ones."""

    def __init__(self) -> None:
        self.generator = np.random.default_rng(SEED + 16)
        self.new = itertools.count(NEW_KEYS)

    def batch(self, kind: str, rows: int, table_rows: int) -> pa.Table:
        """``rows`` rows of the fact table's columns (plain strings, as a caller sends them) with keys of ``kind``."""
        if kind == "replace":
            ids = self.generator.choice(table_rows, rows, replace=False).astype(np.int64)
        else:
            ids = np.array([next(self.new) for _ in range(rows)], dtype=np.int64)
        data = fact_table(rows, int(self.generator.integers(1 << 31)))
        return data.set_column(0, KEY, pa.array(ids))


def as_rows(batch: pa.Table) -> list[Row]:
    """The batch as ``table.append`` takes it: one sequence per row, in column order."""
    return list(zip(*(column.to_pylist() for column in batch.columns), strict=True))


def _turn(prepare: Callable[[], T], change: Callable[[T], object], undo: Callable[[], object] | None, into: list[float]) -> Callable[[], None]:
    """One contender's turn: prepare (untimed), change (timed, ms, into ``into``), undo (untimed)."""

    def turn() -> None:
        payload = prepare()
        into.append(timed(lambda: change(payload)) * 1000)
        if undo is not None:
            undo()

    return turn


class Contenders:
    """The probe server, the engine in this process and duckdb, holding the same tables."""

    def __init__(self, context: Context, probe: ProbeServer, session: tiercube.LocalSession) -> None:
        self.context = context
        self.probe = probe
        self.session = session
        self.store = TableStore()
        self.files = FileAccess(SessionConfig(), protected=[])
        self.duck = duckdb.connect()
        self.keys = Keys()
        self.held: list[Held] = []

    def load(self, sizes: Sequence[int]) -> None:
        """Write each size's rows as Parquet (a prefix of the largest), and load it three times."""
        largest = fact_table(max(sizes), SEED)
        for role, size in zip(SIZE_ROLES, sizes, strict=True):
            path = self.context.directory / f"keyed-{role}.parquet"
            write_parquet(largest.slice(0, size), path)
            name = f"keyed_{role}"
            self.context.log(f"changes: loading {size:,} keyed rows into the server, the engine and duckdb")
            remote = self.session.read_parquet(path, table_name=name, keys=[KEY])
            stored = self.store.read(Read(table=name, source=ParquetSource(str(path)), keys=[KEY]), self.files).table
            self.duck.execute(f"CREATE TABLE {name} ({DUCKDB_SCHEMA}); INSERT INTO {name} SELECT * FROM read_parquet('{path}')")
            held = Held(size, name, remote, stored, {})
            # The first keyed change builds the key index: timed once, apart from the runs.
            for where, change in self._changes(held).items():
                batch = self.keys.batch("replace", 1, size)
                held.first_change_ms[where] = timed(lambda: change(batch)) * 1000
            self.held.append(held)

    def _changes(self, held: Held) -> dict[str, Callable[[pa.Table], object]]:
        return {
            "e2e": lambda batch: held.remote.append(*as_rows(batch)),
            "engine": lambda batch: self.store.add(held.stored, batch, "append"),
            "duckdb": lambda batch: self._duck_upsert(held.name, batch),
        }

    def _duck_upsert(self, name: str, batch: pa.Table) -> None:
        self.duck.register("batch", batch)
        self.duck.execute(f"INSERT OR REPLACE INTO {name} SELECT * FROM batch")
        self.duck.unregister("batch")

    def turns(self, held: Held, kind: str, rows: int, loaded: bool, into: dict[str, list[float]]) -> list[Callable[[], None]]:
        """The three contenders' turns on one table size."""

        def batch() -> pa.Table:
            return self.keys.batch(kind, rows, held.rows)

        new = kind == "new"
        condition = held.remote[KEY] >= NEW_KEYS
        undo_remote = (lambda: held.remote.drop(condition)) if new else None
        remote = (
            _turn(batch, held.remote.load, undo_remote, into["e2e"])
            if loaded
            else _turn(lambda: as_rows(batch()), lambda r: held.remote.append(*r), undo_remote, into["e2e"])
        )
        return [
            remote,
            _turn(batch, lambda b: self.store.add(held.stored, b, "append"),
                  (lambda: self.store.drop(held.name, wire_form(condition))) if new else None, into["engine"]),
            _turn(batch, lambda b: self._duck_upsert(held.name, b),
                  (lambda: self.duck.execute(f"DELETE FROM {held.name} WHERE id >= {NEW_KEYS}")) if new else None, into["duckdb"]),
        ]

    def server_side(self) -> dict[str, list[float]]:
        """Server-side milliseconds of the requests since the last call, by path (probe server)."""
        return {path: [s * 1000 for s in times] for path, times in self.probe.stats().seconds.items()}

    def close(self) -> None:
        self.duck.close()
        self.store.close()


def measure(context: Context) -> list[Figure]:
    sizes, batches = context.mode.change_rows, context.mode.change_batches
    figures: list[Figure] = []
    with ProbeServer(SECURED) as probe, tiercube.connect(probe.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
        contenders = Contenders(context, probe, session)
        try:
            contenders.load(sizes)
            for kind in KINDS:
                for role, rows in zip(BATCH_ROLES, batches, strict=True):
                    loaded = rows == max(batches)  # the largest batch goes as a load of an Arrow table
                    context.log(f"changes: {kind} {rows:,} row(s), {'table.load' if loaded else 'table.append'}, every size taking turns")
                    figures += _batch_figures(context, contenders, kind, role, rows, loaded)
            context.log("changes: append 1,000 rows, then q1 from the maintained aggregate")
            figures += _append_then_query(context, contenders, contenders.held[len(sizes) // 2])
        finally:
            contenders.close()
    return figures


def _batch_figures(context: Context, contenders: Contenders, kind: str, role: str, rows: int, loaded: bool) -> list[Figure]:
    found: dict[int, dict[str, list[float]]] = {held.rows: {"e2e": [], "engine": [], "duckdb": []} for held in contenders.held}
    turns = [turn for held in contenders.held for turn in contenders.turns(held, kind, rows, loaded, found[held.rows])]
    runs = context.mode.repeats if loaded else 4 * context.mode.repeats
    contenders.server_side()  # forget earlier requests
    interleaved(turns, runs)
    server = contenders.server_side()
    # The first call of each contender was its warm-up.
    samples = {size: {where: Samples(tuple(times[1:])) for where, times in by.items()} for size, by in found.items()}
    verb = "replace" if kind == "replace" else "add"
    how = "table.load of an Arrow table" if loaded else "table.append"
    figures: list[Figure] = []
    for size_role, held in zip(SIZE_ROLES, contenders.held, strict=True):
        mine = samples[held.rows]
        what = f"{verb} {rows:,} row(s) ({'existing' if kind == 'replace' else 'new'} keys) into {held.rows:,} keyed rows"
        first = ""
        if kind == "replace" and role == BATCH_ROLES[0]:
            first = "; the first keyed change after the load (it builds the key index) took " + ", ".join(
                f"{where} {ms:,.0f} ms" for where, ms in held.first_change_ms.items()
            )
        figures += [
            compare(f"changes.{kind}.{role}.{size_role}.e2e", f"{what}, end to end ({how})", "ms", mine["e2e"], mine["duckdb"], DUCKDB,
                    WITHIN_2X, note=_server_note(server.get(path(paths.TABLE_LOAD if loaded else paths.TABLE_APPEND, table=held.name), [])) + first),
            compare(f"changes.{kind}.{role}.{size_role}.engine", f"{what}, TableStore.add in process", "ms", mine["engine"], mine["duckdb"],
                    DUCKDB, WITHIN_2X),
        ]
    smallest, largest = contenders.held[0].rows, contenders.held[-1].rows
    duck_flat = samples[largest]["duckdb"].median / samples[smallest]["duckdb"].median
    for where in ("e2e", "engine"):
        figures.append(compare(
            f"changes.{kind}.{role}.flat.{where}",
            f"{verb} {rows:,} row(s) into {largest:,} against {smallest:,} keyed rows, {'end to end' if where == 'e2e' else 'in process'}",
            "ms", samples[largest][where], samples[smallest][where], f"the same into {smallest:,} rows", FLAT,
            note=f"duckdb's own ratio {duck_flat:.2f}x",
        ))
    return figures


def _server_note(server: list[float]) -> str:
    """What the server's side of the e2e runs took (probe server: arrival to last byte); the first was the warm-up."""
    return f"server-side {statistics.median(server[1:]):.2f} ms (median, probe)" if len(server) > 1 else "no server-side time"


def _append_then_query(context: Context, contenders: Contenders, held: Held) -> list[Figure]:
    session, table = contenders.session, held.remote
    cube = session.create_cube(table)

    def q1() -> pa.Table:
        return cube.query(*MEASURES, levels=["region", "product"])

    q1()  # the first one groups every row; the kept grouping then answers and folds each change in
    figures: list[Figure] = []
    for kind in KINDS:
        before = kept_groupings(session)
        totals: list[float] = []
        appends: list[float] = []
        for _ in range(max(10, 4 * context.mode.repeats)):
            rows = as_rows(contenders.keys.batch(kind, 1000, held.rows))
            appended = timed(lambda: table.append(*rows))
            queried = timed(q1)
            totals.append((appended + queried) * 1000)
            appends.append(appended * 1000)
            if kind == "new":
                table.drop(table[KEY] >= NEW_KEYS)
        after = kept_groupings(session)
        served = f"the kept grouping served {after.hits - before.hits} queries and missed {after.misses - before.misses}"
        verb = "replace" if kind == "replace" else "add"
        figures.append(compare(
            f"changes.append_then_q1.{kind}",
            f"{verb} 1,000 rows in {held.rows:,} keyed rows, then q1 by region x product (p50)", "ms", Samples(tuple(totals)),
            target=APPEND_THEN_QUERY,
            note=f"append alone {statistics.median(appends):.2f} ms (median); {served}",
        ))
    return figures
