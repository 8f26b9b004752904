"""Queries: the stable endpoints every tier, even ``MinimalSession``, uses."""

from __future__ import annotations

from tiercube._server.access import check_cube
from tiercube._server.engine.cubes.results import Answer
from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.cubes import CubeQuery, MdxQuery


def cube_names(call: Call[None]) -> list[str]:
    scope = call.grant.caller.scope if call.grant.caller is not None else None
    return [name for name in call.state.cubes.names() if scope is None or scope.allows_cube(name)]


def query_cube(call: Call[CubeQuery]) -> Answer:
    return call.state.cubes.answer(call.params["cube"], call.body, call.grant.visibility)


def kept_answer(call: Call[CubeQuery]) -> Answer | None:
    """A repeated query's answer, if the server keeps it: sent without a worker thread."""
    return call.state.cubes.kept(call.params["cube"], call.body, call.grant.visibility)


def query_mdx(call: Call[MdxQuery]) -> Answer:
    return call.state.cubes.answer_mdx(call.body, call.grant.visibility, allowed=lambda cube: check_cube(call.grant, cube))


served = [
    endpoint(routes.QUERY_CUBE, query_cube, at_once=kept_answer),
    endpoint(routes.QUERY_CUBES, cube_names),
    endpoint(routes.QUERY_MDX, query_mdx),
]
