"""Transport (issue 15): a query the server answers from what it keeps, against a bare request.

Three servers, each ``python -m bench.transport_server``: tiercube's own
``serve()``, and a bare starlette app with one route under the very uvicorn
configuration ``serve()`` uses (same protocol class, connection limits and
parser), once with httptools and once with h11. This process takes turns
between them, 20 requests in a row each (as a dashboard asks): ``cube.query``
of 3 measures by region (10 rows, kept by the server after its first run)
through ``connect()`` as an admin with HTTP Basic; ``GET /bare`` through an
``httpx.Client`` set up as tiercube's own, under httptools and h11; and a
``POST /bare`` of the query's JSON body. The ratio of the first two medians is
what tiercube's per-request work (middleware, authentication, grant, routing,
the worker thread, encoding and decoding) adds to a request on the same stack.
"""

from __future__ import annotations

import httpx
import msgspec
import pyarrow as pa

import tiercube
from bench.common import ADMIN, SECURED, SEED, Context, Figure, Target, compare, interleaved
from bench.data import fact_table
from bench.servers import ChildServer
from bench.transport_server import BARE_ANSWER, BARE_PATH
from tiercube._server.main import PARSER_VARIABLE
from tiercube._wire.cubes import CubeQuery

ROWS = 100_000  # the answer is kept: the fact table's size does not matter once it is
MEASURES = ("qty.SUM", "price.SUM", "contributors.COUNT")
IN_A_ROW = 20


def measure(context: Context) -> list[Figure]:
    turns = context.mode.small_queries * 10
    ms = 1000.0
    # As tiercube's Connection sets up its client: no timeout but for connecting.
    timeout = httpx.Timeout(None, connect=10.0)
    body = msgspec.json.encode(CubeQuery(measures=list(MEASURES), levels=["region"]))
    with (
        ChildServer("bench.transport_server", SECURED, "tiercube") as served,
        ChildServer("bench.transport_server", SECURED, "bare", environment={PARSER_VARIABLE: "httptools"}) as bare,
        ChildServer("bench.transport_server", SECURED, "bare", environment={PARSER_VARIABLE: "h11"}) as bare_h11,
        tiercube.connect(served.url, authentication=ADMIN, require=tiercube.LocalSession) as session,
        httpx.Client(base_url=bare.url, timeout=timeout) as plain,
        httpx.Client(base_url=bare_h11.url, timeout=timeout) as plain_h11,
    ):
        context.log(f"transport: loading {ROWS:,} rows")
        cube = session.create_cube(session.read_arrow(fact_table(ROWS, SEED), table_name="sales"))

        def warm_query() -> pa.Table:
            return cube.query(*MEASURES, levels=["region"])

        def bare_get() -> bytes:
            return plain.get(BARE_PATH).content

        def bare_get_h11() -> bytes:
            return plain_h11.get(BARE_PATH).content

        def bare_post() -> bytes:
            return plain.post(BARE_PATH, content=body, headers={"content-type": "application/json"}).content

        assert warm_query().num_rows == 10 and bare_get() == bare_get_h11() == bare_post() == BARE_ANSWER
        context.log(f"transport: {turns} warm queries and bare requests, {IN_A_ROW} in a row each, taking turns")
        ours, floor, floor_h11, post = interleaved(
            [warm_query, bare_get, bare_get_h11, bare_post], turns, warmup=50, scale=ms, block=IN_A_ROW
        )
    return [
        compare(
            "transport.warm_query",
            "cube.query answered from what the server keeps (10 rows), p50",
            "ms",
            ours,
            floor,
            "a bare starlette GET, same uvicorn config and protocol (httptools), same httpx settings",
            Target(1.3, on="ratio", text="<= 1.3x a bare request"),
            note=(
                f"as an admin with HTTP Basic, through connect(), {IN_A_ROW} in a row, taking turns with the bare requests; "
                f"a bare POST of the query's body took {post.median:.2f} ms"
            ),
        ),
        compare(
            "transport.bare_parser",
            "a bare starlette GET through httpx, httptools, p50",
            "ms",
            floor,
            floor_h11,
            "the same under h11",
            note="both through serve()'s uvicorn config and connection limits",
        ),
    ]
