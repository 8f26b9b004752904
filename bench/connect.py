"""``connect()`` on loopback with credentials: p50 and p99, and HTTP requests per connect counted by the server."""

from __future__ import annotations

import time

import httpx

import tiercube
from bench.common import ADMIN, SECURED, Context, Figure, Samples, Target
from bench.servers import ProbeServer


def _connect_once(url: str) -> float:
    started = time.perf_counter()
    session = tiercube.connect(url, authentication=ADMIN)
    elapsed = time.perf_counter() - started
    assert isinstance(session, tiercube.LocalSession), f"expected a LocalSession, got {type(session).__name__}"
    session.close()
    return elapsed * 1000


def _bare_request(url: str) -> float:
    """The floor: one GET of /versions/rest with the same credentials on a new connection."""
    started = time.perf_counter()
    with httpx.Client(base_url=url, auth=(ADMIN.username, ADMIN.password)) as client:
        client.get("/versions/rest").raise_for_status()
    return (time.perf_counter() - started) * 1000


def latencies(url: str, count: int) -> tuple[Samples, Samples]:
    for _ in range(5):  # the first pays scrypt on the server and the client's lazy imports
        _connect_once(url)
        _bare_request(url)
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(count):
        ours.append(_connect_once(url))
        bare.append(_bare_request(url))
    return Samples(tuple(ours)), Samples(tuple(bare))


def measure(context: Context) -> list[Figure]:
    count = context.mode.connects
    with tiercube.Session.start(SECURED) as owner:
        ours, bare = latencies(owner.url, count)
    with ProbeServer(SECURED) as probe:
        _connect_once(probe.url)
        probe.stats()  # start counting from here
        for _ in range(count):
            _connect_once(probe.url)
        counted = probe.stats()
    per_connect = counted.requests / count
    paths = ", ".join(f"{path} x{len(times)}" for path, times in sorted(counted.seconds.items()))
    floor = "one GET /versions/rest with httpx on a new connection"
    return [
        Figure(
            "connect.p50",
            f"connect() with credentials, p50 of {count}",
            "ms",
            ours.median,
            bare.median,
            floor,
            Target(3.0, text="< 3 ms"),
            spread=ours.spread(),
            baseline_spread=bare.spread(),
        ),
        Figure(
            "connect.p99",
            f"connect() with credentials, p99 of {count}",
            "ms",
            ours.percentile(99),
            bare.percentile(99),
            floor,
            spread=ours.spread(),
            baseline_spread=bare.spread(),
        ),
        Figure(
            "connect.requests",
            "HTTP requests per connect(), counted by the server",
            "requests",
            per_connect,
            target=Target(1, text="1 request"),
            note=f"{counted.requests} requests for {count} connects: {paths}",
        ),
    ]
