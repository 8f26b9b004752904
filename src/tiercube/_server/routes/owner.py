"""The owner's custom endpoints: declared by the owner, forwarded to it, open to callers.

``session.endpoint("report")`` makes ``{url}/api/custom/report`` answer: the
server authenticates the caller as for any query, then hands the request to
a listener in the owner's process, which runs the decorated function.

While the function runs, the owner's own requests that carry the call's
delegation token see only the rows the caller may see (see ``custom_endpoints``):
a restricted user cannot read more through an endpoint than directly.
"""

from __future__ import annotations

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._server.access import check_scope
from tiercube._server.routing import Call, authorize, endpoint
from tiercube._wire import paths, routes
from tiercube._wire.messages import EndpointRegistration, ForwardedRequest
from tiercube._wire.tiers import Group
from tiercube.errors import ServerUnavailableError


def register(call: Call[EndpointRegistration]) -> EndpointRegistration:
    return call.state.endpoints.register(call.body)


async def custom(request: Request) -> Response:
    state, grant = await authorize(request, Group.QUERY)
    check_scope(grant, routes.CUSTOM[0], {})  # the owner's handler may read any table: not for a limited token
    route = request.path_params["route"].strip("/")
    registration = state.endpoints.find(request.method, route)
    import httpx  # only servers whose owner declared endpoints need it

    body = await request.body()
    with state.endpoints.answering(registration, grant.caller) as token:
        forwarded = ForwardedRequest(
            route=route,
            method=request.method,
            user=grant.caller.username if grant.caller else None,
            roles=list(grant.caller.roles) if grant.caller else [],
            query=dict(request.query_params),
            body=body,
            delegation=token,
            restricted=grant.visibility.restricted,
        )
        try:
            answer = await run_in_threadpool(
                httpx.post,
                registration.forward_url,
                content=msgspec.json.encode(forwarded),
                headers={paths.FORWARD_TOKEN_HEADER: state.endpoints.forward_token},
                timeout=state.config.query_timeout,
            )
        except (httpx.HTTPError, ValueError) as error:  # ValueError: UnicodeError and httpx's InvalidURL
            raise ServerUnavailableError(f"the owner's endpoint {route!r} did not answer: {error}") from None
    return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type"))


served = [
    endpoint(routes.REGISTER_ENDPOINT, register),
    *(Route(route.path, custom, methods=[route.method]) for route in routes.CUSTOM),
]
