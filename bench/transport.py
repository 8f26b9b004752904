"""Transport (issue 15): a query the server answers from what it keeps, against a bare request.

Three servers, each ``python -m bench.transport_server``: tiercube's own
``serve()``, and a bare starlette app with one route under the very uvicorn
configuration ``serve()`` uses (same protocol class, connection limits and
parser), once with httptools and once with h11. This process takes turns
between them, 20 requests in a row each (as a dashboard asks): ``cube.query``
of 3 measures by region (10 rows, kept by the server after its first run)
through ``connect()`` as an admin with HTTP Basic; a ``POST /bare`` of the
query's very body with the very headers tiercube's client sends (HTTP Basic
included), answered with as many bytes as the query's answer, through an
``httpx.Client`` set up as tiercube's own; and ``GET /bare`` under httptools
and h11. The ratio of the first two medians is what tiercube's per-request
work (middleware, authentication, grant, routing, the kept answer, the typed
client's encoding and decoding) adds to the same request on the same stack.
"""

from __future__ import annotations

import httpx
import msgspec
import pyarrow as pa

import tiercube
from bench.common import ADMIN, SECURED, SEED, Context, Figure, Target, compare, interleaved
from bench.data import fact_table
from bench.servers import ChildServer
from bench.transport_server import BARE_ANSWER, BARE_PATH, ECHO_SIZE_HEADER
from tiercube._server.main import PARSER_VARIABLE
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
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

        answer_size = len(cube.query(*MEASURES, levels=["region"]).schema.serialize()) + 1024
        headers = {
            "content-type": paths.JSON,
            paths.CLIENT_VERSION_HEADER: __version__,
            paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION),
            ECHO_SIZE_HEADER: str(answer_size),
            **ADMIN(bare.url + BARE_PATH),
        }

        def bare_post() -> bytes:
            return plain.post(BARE_PATH, content=body, headers=headers).content

        assert warm_query().num_rows == 10 and bare_get() == bare_get_h11() == BARE_ANSWER and len(bare_post()) == answer_size
        context.log(f"transport: {turns} warm queries and bare requests, {IN_A_ROW} in a row each, taking turns")
        ours, post, floor, floor_h11 = interleaved(
            [warm_query, bare_post, bare_get, bare_get_h11], turns, warmup=50, scale=ms, block=IN_A_ROW
        )
    return [
        compare(
            "transport.warm_query",
            "cube.query answered from what the server keeps (10 rows), p50",
            "ms",
            ours,
            post,
            "the same request to a bare starlette route: same body and headers, an answer as large, same uvicorn config and httpx settings",
            Target(1.3, on="ratio", text="<= 1.3x a bare request"),
            note=(
                f"as an admin with HTTP Basic, through connect(), {IN_A_ROW} in a row, taking turns with the bare requests; "
                f"a bare GET of a few bytes took {floor.median:.2f} ms"
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
