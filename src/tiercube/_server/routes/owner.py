"""The owner's custom endpoints: declared by the owner, forwarded to it, open to callers.

``session.endpoint("report")`` makes ``{url}/api/custom/report`` answer: the
server authenticates the caller as for any query, then hands the request to
a listener in the owner's process, which runs the decorated function.
"""

from __future__ import annotations

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._server.access import Group
from tiercube._server.routing import Call, authorize, endpoint
from tiercube._wire import paths
from tiercube._wire.messages import EndpointRegistration, ForwardedRequest
from tiercube.errors import NotFoundError, ServerUnavailableError

METHODS = ["GET", "POST", "PUT", "DELETE"]


def register(call: Call[EndpointRegistration]) -> EndpointRegistration:
    registration = call.body
    call.state.endpoints[(registration.method.upper(), registration.route.strip("/"))] = registration.forward_url
    return registration


async def custom(request: Request) -> Response:
    state, grant = authorize(request, Group.QUERY)
    route = request.path_params["route"].strip("/")
    forward_url = state.endpoints.get((request.method, route))
    if forward_url is None:
        declared = ", ".join(f"{m} {r}" for m, r in state.endpoints) or "none"
        raise NotFoundError(f"no custom endpoint {request.method} {route!r} (declared: {declared})")
    forwarded = ForwardedRequest(
        route=route,
        method=request.method,
        user=grant.caller.username if grant.caller else None,
        roles=list(grant.caller.roles) if grant.caller else [],
        query=dict(request.query_params),
        body=await request.body(),
    )
    import httpx  # only servers whose owner declared endpoints need it

    headers = {paths.FORWARD_TOKEN_HEADER: state.owner_token or ""}
    try:
        answer = await run_in_threadpool(
            httpx.post, forward_url, content=msgspec.json.encode(forwarded), headers=headers, timeout=state.config.query_timeout
        )
    except httpx.HTTPError as error:
        raise ServerUnavailableError(f"the owner's endpoint {route!r} did not answer: {error}") from None
    return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type"))


routes = [
    endpoint("PUT", paths.OWNER_ENDPOINTS, Group.OWNER, register, EndpointRegistration),
    Route(paths.CUSTOM, custom, methods=METHODS),
]
