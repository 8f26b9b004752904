"""One dashboard client: ``python -m bench.dashboard_worker URL``.

Connects (no credentials: the bench's servers run without security), warms
up, prints ``ready``, reads the start and end instants (``time.time()``) on
stdin, issues the dashboard's queries in turn until the end instant, then
prints its latencies in milliseconds and the seconds it ran as one JSON line.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import pyarrow as pa

import tiercube
from bench.client_worker import take_turns
from bench.data import CATEGORIES, REGIONS


def dashboard(session: tiercube.ReadOnlySession | tiercube.MinimalSession | tiercube.LocalSession) -> list[Callable[[], pa.Table]]:
    """What a dashboard asks: totals by region, each region by product, each category by region."""
    cube = session.cubes["sales"]
    region, category = tiercube.level("region"), tiercube.level("category")
    queries: list[Callable[[], pa.Table]] = [functools.partial(cube.query, "qty.SUM", "price.SUM", "contributors.COUNT", levels=["region"])]
    queries += [functools.partial(cube.query, "qty.SUM", levels=["product"], filter=region == r) for r in REGIONS]
    queries += [functools.partial(cube.query, "qty.SUM", levels=["region"], filter=category == c) for c in CATEGORIES[:5]]
    return queries


def main() -> None:
    with tiercube.connect(sys.argv[1]) as session:
        take_turns(dashboard(session))


if __name__ == "__main__":
    main()
