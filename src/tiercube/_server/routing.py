"""One way to serve a route of ``tiercube._wire.routes``: authenticate, grant, decode, run, encode.

The wrapper authenticates the caller, checks that its grant includes the
route's group (and, for loads, the group of the source the body names)
before anything else happens, decodes the body with msgspec, runs the
handler in a worker thread (pyarrow releases the GIL) and encodes the result:
a Struct as JSON, a ``pa.Table`` as an Arrow IPC stream.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from tiercube._server.access import Grant, check_scope
from tiercube._server.admission import ticket_of
from tiercube._server.connections import GONE
from tiercube._server.engine.cancellation import cancellable
from tiercube._server.engine.cubes.results import Answer
from tiercube._server.state import ServerState
from tiercube._wire import arrow_ipc, paths
from tiercube._wire.routes import Route
from tiercube._wire.tiers import Group
from tiercube.errors import AuthenticationError, InvalidRequestError, PermissionDeniedError, ServerUnavailableError

BodyT = TypeVar("BodyT")


@dataclass(frozen=True)
class Call(Generic[BodyT]):
    state: ServerState
    grant: Grant
    params: dict[str, str]
    body: BodyT


def endpoint(
    route: Route, handler: Callable[[Call[BodyT]], object], *, at_once: Callable[[Call[BodyT]], object | None] | None = None
) -> StarletteRoute:
    """The starlette route that serves ``route`` with ``handler``.

    ``at_once`` may answer a request on the event loop, without a worker
    thread (a trip to one costs 0.2 ms and more on 2 cores): it must never
    compute or wait, and answers None when ``handler`` has to run (a query
    whose answer is not kept). Only small bodies are decoded on the loop.
    """
    assert route.group is not None, "open routes are not served through endpoint()"
    group = route.group

    async def run(request: Request) -> Response:
        state, grant = await authorize(request, group)
        params = dict(request.path_params)
        check_scope(grant, route, params)
        raw = await request.body() if route.body is not None else b""
        call = _call(route, state, grant, params, raw) if at_once is not None and len(raw) <= _DECODED_AT_ONCE else None
        if call is not None and at_once is not None and (answered := at_once(call)) is not None:
            return encode(answered)
        # Set by the server's protocol when the client disconnects (Ctrl+C closes its connection).
        gone: threading.Event = request.scope[GONE]
        try:
            # One trip to a worker thread for decoding and running.
            result = await run_in_threadpool(_run, route, handler, call, state, grant, params, raw, gone)
        except RecursionError:  # e.g. a measure nested a thousand deep
            raise InvalidRequestError("the request is nested too deeply") from None
        return encode(result)

    return StarletteRoute(route.path, run, methods=[route.method])


# Bodies up to this size are decoded on the event loop when the route may answer at once (about 20 us).
_DECODED_AT_ONCE = 16 * 1024


# Decoding a JSON body into Python values takes many times its size (a list of small rows: up to 12x).
_DECODED_PER_BYTE = 12
_LARGE_BODY = 1 << 20


def _run(
    route: Route,
    handler: Callable[[Call[Any]], object],
    call: Call[Any] | None,
    state: ServerState,
    grant: Grant,
    params: dict[str, str],
    raw: bytes,
    gone: threading.Event,
) -> object:
    decoding = len(raw) >= _LARGE_BODY
    what = f"decoding a request body of {len(raw):,} bytes"
    with state.tables.memory.reserve(_DECODED_PER_BYTE * len(raw), what, "send it in smaller requests") if decoding else nullcontext():
        if call is None:
            call = _call(route, state, grant, params, raw)
        with cancellable(gone):
            return handler(call)


def _call(route: Route, state: ServerState, grant: Grant, params: dict[str, str], raw: bytes) -> Call[Any]:
    """Decode the body (off the event loop: a large one takes a while) and check what it asks for."""
    body: Any = None
    if route.body is not None:
        try:
            body = msgspec.json.decode(raw, type=route.body)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
            raise InvalidRequestError(f"malformed request body: {error}") from None
        except RecursionError:
            raise InvalidRequestError("malformed request body: nested too deeply") from None
        if route.body_group is not None:
            needed = route.body_group(body)
            if needed not in grant.groups:
                raise PermissionDeniedError(grant.refusal(needed))
    return Call(state, grant, params, body)


async def authorize(request: Request, group: Group) -> tuple[ServerState, Grant]:
    """Authenticate the request, check that its grant includes ``group``, and count it against the caller's shares."""
    state: ServerState = request.app.state.tiercube
    if state.stopping():
        # What is under way finishes (and is kept); nothing new starts.
        raise ServerUnavailableError("the server is stopping; try again once it is back")
    caller = await state.authenticator.caller(request)
    if caller is None and state.config.security:
        raise AuthenticationError("this session requires authentication: give a user name and password")
    grant = state.judge.grant(request, caller, state.restrictions.visibility(state.endpoints.seen_as(request, caller)))
    if group not in grant.groups:
        raise PermissionDeniedError(grant.refusal(group))
    ticket_of(request).admit(grant)  # counted against its user's and address's shares of the server
    return state, grant


def encode(result: object) -> Response:
    if result is None:
        return Response(status_code=204)
    if isinstance(result, Response):
        return result
    if isinstance(result, Answer):
        return Response(result.encoded(), media_type=paths.ARROW_STREAM)
    if isinstance(result, pa.Table):
        return Response(arrow_ipc.encode(result), media_type=paths.ARROW_STREAM)
    return Response(msgspec.json.encode(result), media_type=paths.JSON)
