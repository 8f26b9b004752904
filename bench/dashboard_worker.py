"""One dashboard client: ``python -m bench.dashboard_worker URL``.

Connects (no credentials: the bench's servers run without security), warms
up, prints ``ready``, reads the start and end instants (``time.time()``) on
stdin, issues the dashboard's queries in turn until the end instant, then
prints its latencies in milliseconds and the seconds it ran as one JSON line.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable

import pyarrow as pa

import tiercube
from bench.data import CATEGORIES, REGIONS


def dashboard(session: tiercube.ReadOnlySession | tiercube.MinimalSession) -> list[Callable[[], pa.Table]]:
    """What a dashboard asks: totals by region, each region by product, each category by region."""
    cube = session.cubes["sales"]
    region, category = tiercube.level("region"), tiercube.level("category")
    queries: list[Callable[[], pa.Table]] = [functools.partial(cube.query, "qty.SUM", "price.SUM", "contributors.COUNT", levels=["region"])]
    queries += [functools.partial(cube.query, "qty.SUM", levels=["product"], filter=region == r) for r in REGIONS]
    queries += [functools.partial(cube.query, "qty.SUM", levels=["region"], filter=category == c) for c in CATEGORIES[:5]]
    return queries


def main() -> None:
    with tiercube.connect(sys.argv[1]) as session:
        queries = dashboard(session)
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


if __name__ == "__main__":
    main()
