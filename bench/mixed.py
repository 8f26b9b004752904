"""Clients mixing keyed appends and cube queries against one server (issue 16): 16, 64 and 256 of them.

The server is the probe server with its defaults (maintained aggregates and
kept answers on), secured; it holds the run's fact table with ``id`` as its
key (10,000,000 rows in full mode), the product dimension joined to it, and
the cube. Each client (``python -m bench.mixed_worker``) makes one operation
in five an append of 5 rows replacing existing keys, and the others the
dashboard's cube queries in turn (``bench.dashboard_worker``). The issue
measured appends waiting 36-68 s and query p99 of 10-50 s this way, when a
keyed append rebuilt the table under one lock for the whole server.

Up to 64 clients run one per process; more run as threads, several per
process (a client process holds about 70 MB of its own, so 256 processes
would not fit beside the others' work). Clients and server share the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import tiercube
from bench.common import ADMIN, SECURED, Context, Figure, Samples, Target, kept_groupings
from bench.data import Dataset
from bench.mixed_worker import APPEND_ROWS, APPEND_SHARE
from bench.servers import ROOT, ProbeServer

MAX_PROCESSES = 64
TARGET_CLIENTS = 64  # the target is stated for 64 clients
QUERY_P99 = Target(100.0, text="< 100 ms")


@dataclass
class Window:
    """What every client measured over one window, and the server's CPU meanwhile."""

    queries: Samples
    appends: Samples
    errors: list[str]
    operations_per_second: float
    server_cores: float
    processes: int
    kept: str  # how the kept groupings served during the window


def _run(probe: ProbeServer, session: tiercube.LocalSession, rows: int, clients: int, seconds: float) -> Window:
    processes = min(clients, MAX_PROCESSES)
    threads = [clients // processes + (1 if number < clients % processes else 0) for number in range(processes)]
    environment = {**os.environ, "BENCH_USER": ADMIN.username, "BENCH_PASSWORD": ADMIN.password}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.mixed_worker", probe.url, str(rows), str(count), str(number)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment, cwd=ROOT,
        )
        for number, count in enumerate(threads)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a mixed client process did not start: {line!r}")
        start_at = time.time() + 0.5
        end_at = start_at + seconds
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start_at} {end_at}\n")
            worker.stdin.flush()
        time.sleep(max(0.0, start_at - time.time()))
        before, kept_before = probe.info.cpu_times(), kept_groupings(session)
        time.sleep(max(0.0, end_at - time.time()))
        after, kept_after = probe.info.cpu_times(), kept_groupings(session)
        queries: list[float] = []
        appends: list[float] = []
        errors: list[str] = []
        elapsed = 0.0
        for worker in workers:
            # A client finishes the operation it is in when the window ends: wait for the slowest.
            output, _ = worker.communicate(timeout=seconds + 600)
            result = json.loads(output.strip().splitlines()[-1])
            queries += [float(x) for x in result["queries"]]
            appends += [float(x) for x in result["appends"]]
            errors += [str(x) for x in result["errors"]]
            elapsed = max(elapsed, float(result["elapsed"]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    if not queries or not appends:
        raise RuntimeError(f"{clients} mixed clients measured {len(queries)} queries and {len(appends)} appends; errors: {errors[:3]}")
    cpu = (after.user + after.system - before.user - before.system) / seconds
    rate = (len(queries) + len(appends)) / elapsed
    kept = f"kept groupings during the window: {kept_after.hits - kept_before.hits} hits, {kept_after.misses - kept_before.misses} misses"
    return Window(Samples(tuple(queries)), Samples(tuple(appends)), errors, rate, cpu, processes, kept)


def measure(context: Context, data: Dataset) -> list[Figure]:
    figures: list[Figure] = []
    seconds = context.mode.mixed_seconds
    cores = os.cpu_count() or 1
    with ProbeServer(SECURED) as probe:
        with tiercube.connect(probe.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
            context.log(f"mixed: loading {data.rows:,} keyed rows, the products and the cube")
            sales = session.read_parquet(data.parquet, table_name="sales", keys=["id"])
            sales.join(session.read_parquet(data.products_parquet, table_name="products", keys=["product"]))
            session.create_cube(sales)
            for clients in context.mode.mixed_clients:
                context.log(f"mixed: {clients} clients, {APPEND_SHARE:.0%} appends of {APPEND_ROWS} rows, {seconds:g} s")
                figures += _figures(clients, _run(probe, session, data.rows, clients, seconds), seconds, cores)
    return figures


def _figures(clients: int, window: Window, seconds: float, cores: int) -> list[Figure]:
    layout = f"{window.processes} process(es)" + (f" of {clients / window.processes:g} client threads" if clients > window.processes else "")
    errors = f"; {len(window.errors)} errors, e.g. {window.errors[0]}" if window.errors else "; no errors"
    workload = (
        f"{len(window.queries.values)} queries and {len(window.appends.values)} appends in {seconds:g} s from {layout}; "
        f"server CPU {window.server_cores:.2f} cores of {cores}{errors}"
    )
    queries, appends = window.queries, window.appends
    return [
        Figure(f"mixed.{clients}.query_p99", f"{clients} clients, 20% keyed appends: cube query p99", "ms", queries.percentile(99),
               target=QUERY_P99 if clients == TARGET_CLIENTS else None, spread=queries.spread() | {"p50": queries.median}, note=window.kept),
        Figure(f"mixed.{clients}.append_p99", f"{clients} clients, 20% keyed appends: append of {APPEND_ROWS} rows p99", "ms",
               appends.percentile(99), spread=appends.spread() | {"p50": appends.median}),
        Figure(f"mixed.{clients}.throughput", f"{clients} clients, 20% keyed appends: operations per second", "operations/s",
               window.operations_per_second, note=workload),
    ]
