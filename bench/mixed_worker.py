"""Clients mixing keyed appends and cube queries: ``python -m bench.mixed_worker URL ROWS THREADS SEED``.

Each of ``THREADS`` clients (one connection each; password in BENCH_PASSWORD)
warms up, then the process prints ``ready``, reads the start and end instants
(``time.time()``) on stdin, and every client runs until the end instant: with
probability ``APPEND_SHARE`` an append of ``APPEND_ROWS`` rows whose keys exist
(drawn from ``0..ROWS-1``, so the row count stays), otherwise the next of the
dashboard's cube queries. It prints the latencies in milliseconds of each kind,
the errors, and the seconds it ran, as one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import tiercube
from bench.dashboard_worker import dashboard
from bench.data import PRODUCTS, REGIONS

APPEND_SHARE = 0.2
APPEND_ROWS = 5
DAY = dt.date(2026, 6, 1)


@dataclass
class Latencies:
    """What one process's clients measured."""

    queries: list[float] = field(default_factory=lambda: list[float]())
    appends: list[float] = field(default_factory=lambda: list[float]())
    errors: list[str] = field(default_factory=lambda: list[str]())
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One connection, its queries in turn and its appends."""

    def __init__(self, url: str, rows: int, seed: int) -> None:
        authentication = tiercube.BasicAuthentication(os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"])
        self.session = tiercube.connect(url, authentication=authentication, require=tiercube.LocalSession)
        self.table = self.session.tables["sales"]
        self.queries = dashboard(self.session)
        self.rows = rows
        self.random = random.Random(seed)

    def append(self) -> None:
        keys = self.random.sample(range(self.rows), APPEND_ROWS)
        pick = self.random.choice
        self.table.append(*[(key, pick(REGIONS), pick(PRODUCTS), DAY, self.random.randint(1, 20), 9.99) for key in keys])

    def warm_up(self) -> None:
        for query in self.queries:
            query()
        self.append()

    def run(self, start_at: float, end_at: float, found: Latencies) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        queries: list[float] = []
        appends: list[float] = []
        errors: list[str] = []
        index = 0
        while time.time() < end_at:
            operation: Callable[[], object]
            if self.random.random() < APPEND_SHARE:
                operation, into = self.append, appends
            else:
                operation, into = self.queries[index % len(self.queries)], queries
                index += 1
            started = time.perf_counter()
            try:
                operation()
            except tiercube.errors.TiercubeError as error:  # counted, not fatal: the figures say how many
                errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            into.append((time.perf_counter() - started) * 1000)
        with found.lock:
            found.queries += queries
            found.appends += appends
            found.errors += errors

    def close(self) -> None:
        self.session.close()


def main() -> None:
    url, rows, threads, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    clients = [Client(url, rows, seed * 1000 + number) for number in range(threads)]
    for client in clients:
        client.warm_up()
    print("ready", flush=True)
    start_at, end_at = (float(x) for x in sys.stdin.readline().split())
    found = Latencies()
    running = [threading.Thread(target=client.run, args=(start_at, end_at, found)) for client in clients]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    for client in clients:
        client.close()
    elapsed = time.time() - start_at
    print(json.dumps({"queries": found.queries, "appends": found.appends, "errors": found.errors, "elapsed": elapsed}), flush=True)


if __name__ == "__main__":
    main()
