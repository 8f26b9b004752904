"""Queries: the stable endpoints every tier, even ``MinimalSession``, uses."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tiercube._server.engine.cubes.mdx import to_cube_query
from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.cubes import CubeQuery, MdxQuery


def cube_names(call: Call[None]) -> list[str]:
    return call.state.cubes.names()


def query_cube(call: Call[CubeQuery]) -> pa.Table:
    return _answer(call, call.params["cube"], call.body)


def query_mdx(call: Call[MdxQuery]) -> pa.Table:
    cube, request = to_cube_query(call.body.mdx, call.state.cubes.cube)
    return _answer(call, cube, request)


def _answer(call: Call[Any], cube: str, request: CubeQuery) -> pa.Table:
    state = call.state
    restriction = call.grant.restriction
    fact = state.cubes.cube(cube).fact_table
    config = state.config
    return state.cubes.query(
        state.tables,
        cube,
        request,
        timeout=config.query_timeout,
        max_rows=config.max_result_rows,
        # Restricted callers aggregate only the fact rows they may see, totals included.
        visible=state.visible_rows(fact, restriction),
    )


served = [
    endpoint(routes.QUERY_CUBES, cube_names),
    endpoint(routes.QUERY_CUBE, query_cube),
    endpoint(routes.QUERY_MDX, query_mdx),
]
