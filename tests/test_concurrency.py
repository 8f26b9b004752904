"""Writers and readers at once: no acknowledged row lost, every answer a consistent state, no 5xx.

Eight writers append batches to one keyed fact table (and now and then send
a batch again, which replaces its rows: an upsert); eight readers query the
cube over it, served from maintained aggregates and kept answers. Every
batch is one load, so whatever a reader sees must hold whole batches only,
at least those acknowledged before its query started and at most those sent
before it ended, and the sum of ``qty`` (1 per row) must equal the count:
an aggregate that disagreed with the rows would show. At the end every
acknowledged row is there.

``TIERCUBE_CONCURRENCY_SECONDS`` sets the duration (the issue's figure is a
60 s run; CI runs it shorter).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, USER

SECONDS = float(os.environ.get("TIERCUBE_CONCURRENCY_SECONDS", "12"))
WRITERS = READERS = 8
BATCH = 50


@dataclass
class Writer:
    number: int
    sent: int = 0  # batches sent (acknowledged or not)
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list[str])


@dataclass
class Readers:
    answers: int = 0
    errors: list[str] = field(default_factory=list[str])


def rows(writer: int, batch: int) -> list[tuple[int, int, int, int]]:
    return [(writer * 10**9 + batch * BATCH + i, writer, batch, 1) for i in range(BATCH)]


@pytest.mark.slow
def test_writers_and_readers_together() -> None:
    with tiercube.Session.start(SECURED) as owner:
        events = owner.create_table("events", data_types={"id": "int64", "writer": "int32", "batch": "int32", "qty": "int64"}, keys=["id"])
        cube = owner.create_cube(events)
        cube.hierarchies["by writer"] = {"writer": "writer"}
        writers = [Writer(n) for n in range(WRITERS)]
        readers = Readers()
        stop = time.monotonic() + SECONDS

        def write(state: Writer) -> None:
            with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
                table = session.tables["events"]
                turn = 0
                while time.monotonic() < stop:
                    turn += 1
                    again = state.acknowledged > 2 and turn % 7 == 0
                    batch = state.acknowledged - 1 if again else state.sent  # an upsert of rows already there
                    if not again:
                        state.sent += 1
                    try:
                        table.append(*rows(state.number, batch))
                    except tiercube.TiercubeError as error:
                        state.errors.append(f"{type(error).__name__}: {error}")
                        continue
                    if not again:
                        state.acknowledged = max(state.acknowledged, batch + 1)

        def read() -> None:
            with tiercube.connect(owner.url, authentication=USER, require=tiercube.ReadOnlySession) as session:
                view = session.cubes["events"]
                while time.monotonic() < stop:
                    floor = [w.acknowledged for w in writers]
                    try:
                        answer = view.query("contributors.COUNT", "qty.SUM", levels=["writer"]).to_pylist()
                    except tiercube.TiercubeError as error:
                        readers.errors.append(f"{type(error).__name__}: {error}")
                        continue
                    ceiling = [w.sent for w in writers]
                    readers.answers += 1
                    for row in answer:
                        n, count, total = int(row["writer"]), int(row["contributors.COUNT"]), int(row["qty.SUM"])
                        if count != total or count % BATCH or not floor[n] * BATCH <= count <= ceiling[n] * BATCH:
                            readers.errors.append(f"writer {n}: {count} rows, qty {total}, between {floor[n]} and {ceiling[n]} batches")

        threads: list[threading.Thread] = []
        jobs: list[Callable[[], None]] = [*(lambda w=w: write(w) for w in writers), *(read for _ in range(READERS))]
        for job in jobs:
            threads.append(threading.Thread(target=job))
            threads[-1].start()
        for thread in threads:
            thread.join(timeout=SECONDS + 120)
        assert not any(thread.is_alive() for thread in threads)

        assert [e for w in writers for e in w.errors] == [] and readers.errors == []
        final = {int(r["writer"]): int(r["contributors.COUNT"]) for r in cube.query("contributors.COUNT", levels=["writer"]).to_pylist()}
        assert final == {w.number: w.acknowledged * BATCH for w in writers if w.acknowledged}
        assert owner.tables["events"].row_count == sum(w.acknowledged for w in writers) * BATCH
        written = sum(w.acknowledged for w in writers)
        print(f"\nconcurrency: {SECONDS:.0f} s, {written} batches of {BATCH} rows acknowledged, {readers.answers} answers checked, 0 errors")
        assert written > WRITERS and readers.answers > READERS
