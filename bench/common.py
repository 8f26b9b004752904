"""What every area shares: run sizes, timing of repeated runs, and the figures they produce."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import tiercube

SEED = 20261127
MIN_RUNS = 20  # a time budget never cuts a series of small queries shorter than this
ADMIN = tiercube.BasicAuthentication("bench-admin", "bench-admin-password")
SECURED = tiercube.SessionConfig(
    users=[tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"])]
)


@dataclass(frozen=True)
class Mode:
    """How big and how often: ``full`` uses the sizes of issue 5, the others only prove the scripts work."""

    name: Literal["full", "quick", "smoke"]
    rows: int
    repeats: int  # loads and cube queries
    import_runs: int
    start_runs: int
    connects: int
    small_queries: int  # samples of each small query, for p50
    concurrency_seconds: float
    budget: float  # seconds one series of small queries may take before it stops early
    clients: tuple[int, ...] = (1, 2, 4, 8)
    # Keyed changes (issue 16): table sizes and batch sizes, three of each.
    change_rows: tuple[int, ...] = (1_000_000, 10_000_000, 20_000_000)
    change_batches: tuple[int, ...] = (1, 1_000, 100_000)
    # Clients mixing keyed appends and cube queries, and how long they run (seconds).
    mixed_clients: tuple[int, ...] = (16, 64, 256)
    mixed_seconds: float = 30.0
    # The upsert soak: its duration (seconds) and the keyed rows it keeps replacing.
    soak_seconds: float = 300.0
    soak_rows: int = 1_000_000


MODES = {
    "full": Mode("full", 10_000_000, 5, 30, 7, 200, 300, 10.0, 30.0),
    "quick": Mode(
        "quick", 200_000, 3, 10, 3, 200, 100, 2.0, 5.0,
        change_rows=(50_000, 500_000, 1_000_000), change_batches=(1, 100, 10_000),
        mixed_clients=(4, 16), mixed_seconds=5.0, soak_seconds=30.0, soak_rows=100_000,
    ),
    "smoke": Mode(
        "smoke", 3_000, 1, 2, 1, 10, 5, 0.3, 1.0, clients=(1, 2),
        change_rows=(1_000, 5_000, 20_000), change_batches=(1, 10, 100),
        mixed_clients=(2,), mixed_seconds=1.0, soak_seconds=3.0, soak_rows=2_000,
    ),
}


@dataclass
class Context:
    mode: Mode
    directory: Path  # a temporary directory for the generated files
    log: Callable[[str], None]


@dataclass(frozen=True)
class Samples:
    """Repeated measurements of one figure, in its unit."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100): p99 of 200 runs is the second largest."""
        ordered = sorted(self.values)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1]

    def spread(self) -> dict[str, float | int]:
        return {
            "runs": len(self.values),
            "min": min(self.values),
            "p90": self.percentile(90),
            "max": max(self.values),
        }


@dataclass(frozen=True)
class Target:
    """A goal from the issues: ``value`` or ``ratio`` (tiercube / baseline) at most or at least ``limit``."""

    limit: float
    on: Literal["value", "ratio"] = "value"
    at_most: bool = True
    text: str = ""

    def met(self, value: float, ratio: float | None) -> bool | None:
        subject = value if self.on == "value" else ratio
        if subject is None or math.isnan(subject):
            return None
        return subject <= self.limit if self.at_most else subject >= self.limit


@dataclass
class Figure:
    """One row of the report: tiercube's figure, its baseline and its target."""

    key: str  # stable identifier, e.g. "loads.csv.pyarrow"
    name: str
    unit: str
    value: float
    baseline: float | None = None
    baseline_name: str = ""
    target: Target | None = None
    spread: dict[str, float | int] = field(default_factory=lambda: dict[str, float | int]())
    baseline_spread: dict[str, float | int] = field(default_factory=lambda: dict[str, float | int]())
    note: str = ""
    # Measurements over time behind the figure (e.g. the soak's RSS samples), written to the JSON for a curve.
    series: list[dict[str, float]] = field(default_factory=lambda: list[dict[str, float]]())

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value, self.ratio) if self.target is not None else None

    def as_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "tiercube": self.value,
            "tiercube_spread": self.spread,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "baseline_spread": self.baseline_spread,
            "ratio": self.ratio,
            "target": self.target.text if self.target else None,
            "met": self.met,
            "note": self.note,
        }
        if self.series:
            document["series"] = self.series
        return document


def timed(run: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


@contextmanager
def no_gc() -> Generator[None]:
    """Collect once, then keep the cyclic collector out of the timings (as ``timeit`` does)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def repeat(
    run: Callable[[], object], times: int, *, warmup: int = 1, scale: float = 1.0, budget: float | None = None
) -> Samples:
    """``times`` timings of ``run`` after ``warmup`` untimed calls, in seconds times ``scale``.

    With a ``budget`` (seconds), stop early once it is spent and at least ``MIN_RUNS`` timings exist.
    """
    return interleaved([run], times, warmup=warmup, scale=scale, budget=budget)[0]


def interleaved(
    runs: Sequence[Callable[[], object]],
    times: int,
    *,
    warmup: int = 1,
    scale: float = 1.0,
    budget: float | None = None,
    block: int = 1,
) -> list[Samples]:
    """Like ``repeat`` for several contenders, taking turns so that drift and other load hit all of them alike.

    Each turn runs each contender ``block`` times in a row: more than 1 measures a client
    that asks again at once, as a dashboard does, rather than one each process waits for.
    """
    for run in runs:
        for _ in range(warmup):
            run()
    values: list[list[float]] = [[] for _ in runs]
    started = time.perf_counter()
    with no_gc():
        while (done := len(values[0])) < times:
            for index, run in enumerate(runs):
                for _ in range(min(block, times - done)):
                    values[index].append(timed(run) * scale)
            if budget is not None and len(values[0]) >= MIN_RUNS and time.perf_counter() - started > budget:
                break
    return [Samples(tuple(v)) for v in values]


def paired(later: Samples, earlier: Samples) -> Samples:
    """Differences of interleaved runs, one per turn: what ``later`` adds to ``earlier``."""
    return Samples(tuple(a - b for a, b in zip(later.values, earlier.values, strict=True)))


def compare(
    key: str,
    name: str,
    unit: str,
    ours: Samples,
    baseline: Samples | None = None,
    baseline_name: str = "",
    target: Target | None = None,
    note: str = "",
) -> Figure:
    """A figure from medians of repeated runs, with both spreads."""
    return Figure(
        key=key,
        name=name,
        unit=unit,
        value=ours.median,
        baseline=baseline.median if baseline is not None else None,
        baseline_name=baseline_name,
        target=target,
        spread=ours.spread(),
        baseline_spread=baseline.spread() if baseline is not None else {},
        note=note,
    )


def throughput(nbytes: int, seconds: Samples) -> Samples:
    """GB/s (10^9 bytes per second) of each timing."""
    return Samples(tuple(nbytes / 1e9 / s for s in seconds.values))


def kept_groupings(session: tiercube.LocalSession) -> tiercube.AggregateStats:
    """The server's maintained aggregates, as an owner (who manages security) is shown them."""
    aggregates = session.stats().aggregates
    if aggregates is None:
        raise RuntimeError("the server shows its maintained aggregates only to callers that manage security")
    return aggregates
