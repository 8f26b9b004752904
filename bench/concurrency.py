"""1, 2, 4 and 8 client processes issuing the small queries at once: throughput, p99, server CPU.

Every client connects and warms up first; then all start at the same
instant and run for the same window. The server's CPU use over the window
comes from psutil (user + system seconds of the server process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.common import ADMIN, Context, Figure, Samples
from bench.queries import Served
from bench.servers import ROOT


def _run_clients(served: Served, clients: int, seconds: float, products: list[str]) -> tuple[Samples, float, float]:
    """Latencies (ms), queries per second, and the server's CPU use in cores, over one window."""
    environment = {**os.environ, "BENCH_USER": ADMIN.username, "BENCH_PASSWORD": ADMIN.password}
    command = [sys.executable, "-m", "bench.client_worker", served.probe.url, ",".join(products)]
    workers = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
        for _ in range(clients)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a client process did not start: {line!r}")
        start_at = time.time() + 0.2
        end_at = start_at + seconds
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start_at} {end_at}\n")
            worker.stdin.flush()
        time.sleep(max(0.0, start_at - time.time()))
        before = served.probe.info.cpu_times()
        time.sleep(max(0.0, end_at - time.time()))
        after = served.probe.info.cpu_times()
        latencies: list[float] = []
        rate = 0.0
        for worker in workers:
            output, _ = worker.communicate(timeout=120)
            result = json.loads(output.strip().splitlines()[-1])
            latencies += [float(x) for x in result["latencies"]]
            rate += len(result["latencies"]) / float(result["elapsed"])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    cpu = (after.user + after.system - before.user - before.system) / seconds
    return Samples(tuple(latencies)), rate, cpu


def measure(context: Context, served: Served, products: list[str]) -> list[Figure]:
    figures: list[Figure] = []
    seconds = context.mode.concurrency_seconds
    cores = os.cpu_count() or 1
    single_rate = 0.0
    for clients in context.mode.clients:
        context.log(f"concurrency: {clients} client process(es)")
        latencies, rate, cpu = _run_clients(served, clients, seconds, products)
        if clients == context.mode.clients[0]:
            single_rate = rate
        share = f"server CPU {cpu:.2f} cores ({cpu / cores:.0%} of {cores})"
        workload = f"{len(latencies.values)} queries in {seconds:g} s; {share}; clients and server share the machine"
        figures += [
            Figure(
                f"concurrency.{clients}.throughput",
                f"{clients} client process(es): small queries per second",
                "queries/s",
                rate,
                single_rate,
                f"{context.mode.clients[0]} client process",
                note=workload,
            ),
            Figure(
                f"concurrency.{clients}.p99",
                f"{clients} client process(es): p99 latency",
                "ms",
                latencies.percentile(99),
                spread=latencies.spread() | {"p50": latencies.median},
            ),
            Figure(f"concurrency.{clients}.server_cpu", f"{clients} client process(es): server CPU use", "cores", cpu,
                   note=f"of {cores} cores, user + system time of the server process over the window"),
        ]
    return figures
