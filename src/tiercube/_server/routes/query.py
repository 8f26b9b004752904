"""Queries: the stable endpoints every tier, even ``MinimalSession``, uses."""

from __future__ import annotations

import pyarrow as pa

from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.cubes import CubeQuery, MdxQuery


def cube_names(call: Call[None]) -> list[str]:
    return call.state.cubes.names()


def query_cube(call: Call[CubeQuery]) -> pa.Table:
    return call.state.cubes.query(call.params["cube"], call.body, call.grant.visibility)


def query_mdx(call: Call[MdxQuery]) -> pa.Table:
    return call.state.cubes.query_mdx(call.body, call.grant.visibility)


served = [
    endpoint(routes.QUERY_CUBES, cube_names),
    endpoint(routes.QUERY_CUBE, query_cube),
    endpoint(routes.QUERY_MDX, query_mdx),
]
