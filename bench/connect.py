"""``connect()`` on loopback with credentials: p50 and p99, and HTTP requests per connect counted by the server.

The server is the probe server (tiercube's ``serve()`` with a request
counter, see ``bench.probe_server``), so the same 200 connects give both
the latencies and the count. The floor is one raw HTTP request.
"""

from __future__ import annotations

import base64
import http.client
import time
from urllib.parse import urlsplit

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
    """The floor: one GET of /versions/rest with the same credentials on a new connection (stdlib http.client)."""
    parts = urlsplit(url)
    headers = {"Authorization": "Basic " + base64.b64encode(f"{ADMIN.username}:{ADMIN.password}".encode()).decode()}
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    connection.request("GET", "/versions/rest", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status == 200, response.status
    return elapsed


def measure(context: Context) -> list[Figure]:
    count = context.mode.connects
    with ProbeServer(SECURED) as probe:
        for _ in range(5):  # the first pays scrypt on the server and the client's lazy imports
            _connect_once(probe.url)
            _bare_request(probe.url)
        probe.stats()  # count from here
        ours: list[float] = []
        for _ in range(count):
            ours.append(_connect_once(probe.url))
        counted = probe.stats()
        bare = Samples(tuple(_bare_request(probe.url) for _ in range(count)))
    latencies = Samples(tuple(ours))
    per_connect = counted.requests / count
    paths = ", ".join(f"{path} x{len(times)}" for path, times in sorted(counted.seconds.items()))
    floor = "one GET /versions/rest on a new connection (http.client)"
    server_side = Samples(tuple(s * 1000 for times in counted.seconds.values() for s in times) or (float("nan"),))
    return [
        Figure(
            "connect.p50",
            f"connect() with credentials, p50 of {count}",
            "ms",
            latencies.median,
            bare.median,
            floor,
            Target(3.0, text="< 3 ms"),
            spread=latencies.spread(),
            baseline_spread=bare.spread(),
            note=f"the server spends {server_side.median:.2f} ms (p50) on each connect's request",
        ),
        Figure(
            "connect.p99",
            f"connect() with credentials, p99 of {count}",
            "ms",
            latencies.percentile(99),
            bare.percentile(99),
            floor,
            spread=latencies.spread(),
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
