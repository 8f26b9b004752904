"""Queries: the stable endpoints every tier, even ``MinimalSession``, uses."""

from __future__ import annotations

import pyarrow as pa

from tiercube._server.access import Group
from tiercube._server.routing import Call, endpoint
from tiercube._wire import paths
from tiercube._wire.cubes import CubeQuery, MdxQuery


def cube_names(call: Call[None]) -> list[str]:
    return call.state.cubes.names()


def query_cube(call: Call[CubeQuery]) -> pa.Table:
    state = call.state
    config = state.config
    return state.cubes.query(
        state.tables, call.params["cube"], call.body, timeout=config.query_timeout, max_rows=config.max_result_rows
    )


def query_mdx(call: Call[MdxQuery]) -> pa.Table:
    state = call.state
    config = state.config
    return state.cubes.query_mdx(state.tables, call.body, timeout=config.query_timeout, max_rows=config.max_result_rows)


routes = [
    endpoint("GET", paths.QUERY_CUBES, Group.QUERY, cube_names),
    endpoint("POST", paths.QUERY_CUBE, Group.QUERY, query_cube, CubeQuery),
    endpoint("POST", paths.QUERY_MDX, Group.QUERY, query_mdx, MdxQuery),
]
