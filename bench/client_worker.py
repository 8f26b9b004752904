"""One concurrent client: ``python -m bench.client_worker URL PRODUCTS`` (password in BENCH_PASSWORD).

It connects, warms up, prints ``ready``, reads the start and end instants
(``time.time()``) on stdin, issues the small queries in turn until the end
instant, then prints its latencies in milliseconds and the seconds it ran as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import tiercube
from bench.workload import small_queries


def take_turns(queries: Sequence[Callable[[], object]]) -> None:
    """Warm up, say ``ready``, wait for the start and end instants on stdin, run ``queries`` in turn, report."""
    for query in queries:
        query()
    print("ready", flush=True)
    start_at, end_at = (float(x) for x in sys.stdin.readline().split())
    time.sleep(max(0.0, start_at - time.time()))
    latencies: list[float] = []
    index = 0
    while time.time() < end_at:
        started = time.perf_counter()
        queries[index % len(queries)]()
        latencies.append((time.perf_counter() - started) * 1000)
        index += 1
    print(json.dumps({"latencies": latencies, "elapsed": time.time() - start_at}), flush=True)


def main() -> None:
    url, products = sys.argv[1], sys.argv[2].split(",")
    authentication = tiercube.BasicAuthentication(os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"])
    with tiercube.connect(url, authentication=authentication, require=tiercube.LocalSession) as session:
        take_turns(small_queries(session, products))


if __name__ == "__main__":
    main()
