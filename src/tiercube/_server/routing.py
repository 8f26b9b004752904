"""One way to declare an endpoint: its capability group, its body type, its handler.

The wrapper authenticates, checks the grant, decodes the body with msgspec,
runs the handler in a worker thread (pyarrow releases the GIL) and encodes
the result: a Struct as JSON, a ``pa.Table`` as an Arrow IPC stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._server.access import Grant, Group
from tiercube._server.state import ServerState
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import arrow_ipc, paths
from tiercube._wire.messages import ADMIN_ROLE
from tiercube.errors import AuthenticationError, InvalidRequestError, PermissionDeniedError

BodyT = TypeVar("BodyT")


@dataclass(frozen=True)
class Call(Generic[BodyT]):
    state: ServerState
    grant: Grant
    params: dict[str, str]
    body: BodyT


def endpoint(
    method: str,
    path: str,
    group: Group,
    handler: Callable[[Call[BodyT]], object],
    body: type[BodyT] | None = None,
) -> Route:
    async def run(request: Request) -> Response:
        state, grant = authorize(request, group)
        decoded: Any = None
        if body is not None:
            try:
                decoded = msgspec.json.decode(await request.body(), type=body)
            except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
                raise InvalidRequestError(f"malformed request body: {error}") from None
            except RecursionError:
                raise InvalidRequestError("malformed request body: nested too deeply") from None
        call = Call(state, grant, dict(request.path_params), decoded)
        try:
            result = await run_in_threadpool(handler, call)
        except RecursionError:  # e.g. a filter of a thousand nested ~
            raise InvalidRequestError("the request is nested too deeply") from None
        return encode(result)

    return Route(path, run, methods=[method])


def authorize(request: Request, group: Group) -> tuple[ServerState, Grant]:
    """Authenticate the request and check that its grant includes ``group``."""
    state: ServerState = request.app.state.tiercube
    caller = state.gatekeeper.caller(request)
    if caller is None and state.config.security:
        raise AuthenticationError("this session requires authentication: give a user name and password")
    grant = state.gatekeeper.grant(request, caller)
    if group not in grant.groups:
        raise PermissionDeniedError(_refusal(state, request, grant, group))
    return state, grant


def encode(result: object) -> Response:
    if result is None:
        return Response(status_code=204)
    if isinstance(result, Response):
        return result
    if isinstance(result, pa.Table):
        return Response(arrow_ipc.encode(result), media_type=paths.ARROW_STREAM)
    return Response(msgspec.json.encode(result), media_type=paths.JSON)


def _refusal(state: ServerState, request: Request, grant: Grant, group: Group) -> str:
    who = grant.caller.username if grant.caller else "an anonymous caller"
    if group is Group.OWNER:
        reason = "only the process that started the server may"
    elif group is Group.READ_MODEL:
        reason = f"the client speaks wire protocol {request.headers.get(paths.CLIENT_PROTOCOL_HEADER)!r}, this server {PROTOCOL_VERSION}"
    elif not state.config.security:
        reason = "security is not configured, and a session without authentication cannot be modified from outside"
    elif grant.caller is None or ADMIN_ROLE not in grant.caller.roles:
        reason = f"it takes {ADMIN_ROLE}"
    elif group is Group.SECURITY:
        reason = f"security management needs the same tiercube version as the server's ({state.started_by})"
    elif not state.config.sdk_exposed:
        reason = "the client's tiercube version differs from the server's and the SDK admin API is not exposed"
    else:
        client = request.headers.get(paths.CLIENT_PROTOCOL_HEADER)
        reason = f"the client's tiercube version differs from the server's and it speaks wire protocol {client!r}, this server {PROTOCOL_VERSION}"
    return f"{who} may not {group.value} on this server: {reason}"
