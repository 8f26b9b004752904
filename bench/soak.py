"""The upsert soak (issue 16): keyed rows replaced at a constant row count, the server's RSS sampled.

An owner session's server (its defaults) holds ``soak_rows`` keyed rows and a
cube on them. One client loops for the soak's duration: it appends rows whose
keys exist (1,000 at a time), asks q1 (the maintained grouping folds each
change in), and every tenth turn loads 100,000 such rows as an Arrow table
(``table.load``, as a ``LocalSession`` does). So the row count never changes
while replaced rows are marked, compacted and given back again and again.

A thread samples the server's RSS every few seconds. The duration is cut into
windows (2 minutes, fewer seconds in short runs); the first is the warm-up.
The figure is the drift after it: how far the lowest and the highest RSS of
the last window moved from those of the first window after warm-up, the
larger of the two, in percent. The issue measured +19 MB a minute (270 to
926 MB in 10 minutes) before; every sample goes into the JSON for the curve.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import psutil

import tiercube
from bench.changes import Keys, as_rows
from bench.common import SEED, Context, Figure, Target
from bench.data import fact_table, write_parquet
from bench.queries import MEASURES
from bench.servers import rss, session_server

MB = 1e6
DRIFT = Target(10.0, text="<= 10% after warm-up")
WINDOW_MOST = 120.0
LOAD_EVERY = 10


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss: int
    upserted: int  # rows replaced so far


class Sampler:
    """The server's RSS every ``interval`` seconds, on a thread of its own, until stopped."""

    def __init__(self, process: psutil.Process, interval: float) -> None:
        self.process = process
        self.interval = interval
        self.samples: list[Sample] = []
        self.upserted = 0  # updated by the client loop; read here only for the record
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(Sample(time.monotonic() - self._started, rss(self.process), self.upserted))
            self._stop.wait(self.interval)

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join()
        self.samples.append(Sample(time.monotonic() - self._started, rss(self.process), self.upserted))
        return self.samples


def measure(context: Context) -> list[Figure]:
    rows, duration = context.mode.soak_rows, context.mode.soak_seconds
    appended, loaded = min(1000, rows // 10), min(100_000, rows // 10)
    path = context.directory / "soak.parquet"
    write_parquet(fact_table(rows, SEED), path)
    keys = Keys()
    with tiercube.Session.start() as session:
        table = session.read_parquet(path, table_name="sales", keys=["id"])
        cube = session.create_cube(table)
        cube.query(*MEASURES, levels=["region", "product"])
        window = min(WINDOW_MOST, duration / 5)
        sampler = Sampler(session_server(session), interval=min(5.0, max(0.2, duration / 100)))
        context.log(f"soak: upserts into {rows:,} keyed rows for {duration:g} s, RSS every {sampler.interval:g} s")
        deadline = time.monotonic() + duration
        turn = 0
        while time.monotonic() < deadline:
            if turn % LOAD_EVERY == LOAD_EVERY - 1:
                table.load(keys.batch("replace", loaded, rows))
                sampler.upserted += loaded
            else:
                table.append(*as_rows(keys.batch("replace", appended, rows)))
                sampler.upserted += appended
            cube.query(*MEASURES, levels=["region", "product"])
            turn += 1
        samples = sampler.stop()
        if table.row_count != rows:
            raise RuntimeError(f"the soak's table holds {table.row_count:,} rows, not {rows:,}: upserts changed the row count")
    return [_drift(samples, window, sampler.upserted, turn)]


def _drift(samples: list[Sample], window: float, upserted: int, turns: int) -> Figure:
    """The figure: RSS drift after warm-up, with each window's lowest and highest RSS in the note."""
    seconds = np.array([s.seconds for s in samples])
    resident = np.array([s.rss for s in samples], dtype=np.float64)
    windows: list[tuple[float, float, float]] = []  # (start, lowest, highest)
    # Only (nearly) whole windows count: a trailing sliver holds a handful of samples whose
    # min and max are one GC phase, which read as drift where there was none.
    for index in range(max(1, int(seconds[-1] / window + 0.1))):  # a last sample a little early still closes its window
        start = index * window
        inside = resident[(seconds >= start) & (seconds < start + window)]
        if len(inside):
            windows.append((start, float(inside.min()), float(inside.max())))
    after = windows[1:] if len(windows) > 2 else windows  # the first window is the warm-up
    first, last = after[0], after[-1]
    lowest, highest = (last[1] - first[1]) / first[1] * 100, (last[2] - first[2]) / first[2] * 100
    drift = max(lowest, highest)
    shown = "; ".join(f"{_span(w[0], window)} {w[1] / MB:,.0f}/{w[2] / MB:,.0f}" for w in windows)
    return Figure(
        "soak.rss_drift",
        f"upsert soak at constant rows, {seconds[-1] / 60:.1f} min: server RSS drift after warm-up",
        "%",
        drift,
        target=DRIFT,
        note=(
            f"{upserted:,} rows replaced in {turns:,} turns; lowest RSS of the windows {lowest:+.1f}%, highest {highest:+.1f}%; "
            f"{len(samples)} samples from {resident.min() / MB:,.0f} to {resident.max() / MB:,.0f} MB; min/max MB per window: {shown}"
        ),
        series=[{"seconds": round(s.seconds, 2), "rss_mb": round(s.rss / MB, 1), "rows_replaced": float(s.upserted)} for s in samples],
    )


def _span(start: float, window: float) -> str:
    """A window's place in the run: in minutes when they are a minute or more."""
    if window >= 60:
        return f"{start / 60:g}-{(start + window) / 60:g} min"
    return f"{start:g}-{start + window:g} s"
