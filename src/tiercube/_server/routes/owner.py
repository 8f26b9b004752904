"""The owner's custom endpoints: declared by the owner, forwarded to it, open to callers.

``session.endpoint("report")`` makes ``{url}/api/custom/report`` answer: the
server authenticates the caller as for any query, then hands the request to
a listener in the owner's process, which runs the decorated function.

While the function runs, the owner's own requests that carry the call's
delegation token see only the rows the caller may see (see ``ServerState``):
a restricted user cannot read more through an endpoint than directly.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._server.routing import Call, authorize, endpoint
from tiercube._wire import paths, routes
from tiercube._wire.messages import EndpointRegistration, ForwardedRequest
from tiercube._wire.tiers import Group
from tiercube.errors import InvalidRequestError, NotFoundError, ServerUnavailableError


METHODS = [route.method for route in routes.CUSTOM]


def register(call: Call[EndpointRegistration]) -> EndpointRegistration:
    registration = call.body
    target = urlsplit(registration.forward_url)
    if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost", "::1") or target.port is None:
        raise InvalidRequestError(f"a custom endpoint forwards to the owner's own listener on loopback, not to {registration.forward_url!r}")
    if registration.method.upper() not in METHODS:
        raise InvalidRequestError(f"a custom endpoint answers {', '.join(METHODS)}, not {registration.method!r}")
    call.state.endpoints[(registration.method.upper(), registration.route.strip("/"))] = registration
    return registration


async def custom(request: Request) -> Response:
    state, grant = await authorize(request, Group.QUERY)
    route = request.path_params["route"].strip("/")
    registration = state.endpoints.get((request.method, route))
    if registration is None:
        declared = ", ".join(f"{m} {r}" for m, r in state.endpoints) or "none"
        raise NotFoundError(f"no custom endpoint {request.method} {route!r} (declared: {declared})")
    token = None if registration.unrestricted else secrets.token_urlsafe(24)
    forwarded = ForwardedRequest(
        route=route,
        method=request.method,
        user=grant.caller.username if grant.caller else None,
        roles=list(grant.caller.roles) if grant.caller else [],
        query=dict(request.query_params),
        body=await request.body(),
        delegation=token,
        restricted=grant.restriction is not None,
    )
    import httpx  # only servers whose owner declared endpoints need it

    headers = {paths.FORWARD_TOKEN_HEADER: state.owner_token or ""}
    if token is not None:
        state.delegations[token] = grant.caller
    try:
        answer = await run_in_threadpool(
            httpx.post,
            registration.forward_url,
            content=msgspec.json.encode(forwarded),
            headers=headers,
            timeout=state.config.query_timeout,
        )
    except (httpx.HTTPError, ValueError) as error:  # ValueError: UnicodeError and httpx's InvalidURL
        raise ServerUnavailableError(f"the owner's endpoint {route!r} did not answer: {error}") from None
    finally:
        if token is not None:
            del state.delegations[token]
    return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type"))


served = [
    endpoint(routes.REGISTER_ENDPOINT, register),
    *(Route(route.path, custom, methods=[route.method]) for route in routes.CUSTOM),
]
