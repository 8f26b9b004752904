"""The starlette application: every route of ``tiercube._wire.routes``, and error bodies.

Every failure a client can cause answers 4xx with an ``ErrorBody``, the
error's fields included; running out of memory answers 503
(``ResourceExhaustedError``); a 500 is a bug in tiercube, and even then the
body carries no traceback. None of them closes the connection: the client's
next request on it is answered as usual.
"""

from __future__ import annotations

import logging

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiercube._server import explorer
from tiercube._server.routes import cubes, editing, owner, query, security, tables, versions
from tiercube._server.state import ServerState
from tiercube._wire import paths
from tiercube._wire.messages import ErrorBody
from tiercube._wire.routes import ROUTES
from tiercube.errors import ResourceExhaustedError, ServerUnavailableError, TiercubeError, TooManyAttemptsError

log = logging.getLogger("tiercube.server")


def error_response(status: int, body: ErrorBody) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type=paths.JSON)


async def _tiercube_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, TiercubeError)
    log.info("%s %s -> %d %s", request.method, request.url.path, error.status, error)
    response = error_response(error.status, ErrorBody.of(error))
    # Not to the explorer's requests: the browser would answer a challenge with its own password dialog.
    if error.status == 401 and not _from_explorer(request):
        response.headers["WWW-Authenticate"] = 'Basic realm="tiercube"'
    if isinstance(error, TooManyAttemptsError | ServerUnavailableError) and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _from_explorer(request: Request) -> bool:
    headers = request.headers
    return (
        request.url.path.startswith("/explorer/")
        or paths.CSRF_HEADER in headers
        or paths.EXPLORER_TOKEN_HEADER in headers
        or paths.EXPLORER_COOKIE in request.cookies
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "invalid")
    message = f"{request.method} {request.url.path}: {error.detail}"
    return error_response(error.status_code, ErrorBody(code, message))


async def _out_of_memory(request: Request, error: Exception) -> Response:
    """An allocation failed (pyarrow's ``ArrowMemoryError`` is a ``MemoryError``): the memory governor's estimate
    fell short, or something outside the server took the memory. The work is lost, the server is not."""
    state: ServerState = request.app.state.tiercube
    limit = state.tables.memory.limit
    log.warning("%s %s ran out of memory: %s: %s", request.method, request.url.path, type(error).__name__, error)
    exhausted = ResourceExhaustedError(
        f"the server ran out of memory for {request.method} {request.url.path} ({type(error).__name__}: {error}); "
        "try again when other work is done, narrow the work (a filter, fewer levels, a smaller file), "
        "or give the server more memory (its memory_limit, or its machine's or container's)",
        limit=limit,
    )
    return await _tiercube_error(request, exhausted)


def _internal_error(request_line: str, error: Exception) -> Response:
    log.error("internal error on %s", request_line, exc_info=error)
    return error_response(500, ErrorBody("internal", f"internal error ({type(error).__name__}); the server log has the details"))


class AnswerUnexpected:
    """Any other exception answers 500, and the connection stays open for the client's next request.

    Starlette's own handler for ``Exception`` re-raises after answering, so that
    the server logs it; uvicorn then closes the connection under a client that
    was told it could keep it, and the client's next request on it failed with
    a reset (measured: an ``ArrowMemoryError``, then any query). This answers
    and swallows; only an error after the answer has started goes on to uvicorn,
    which can do nothing else but close.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            if started or scope["type"] != "http":
                raise
            await _internal_error(f"{scope['method']} {scope['path']}", error)(scope, receive, send)


def create_app(state: ServerState) -> Starlette:
    # Queries first: starlette tries routes in order, and a dashboard sends little else.
    served = [*query.served, *versions.served, *explorer.served, *tables.served, *cubes.served, *editing.served, *security.served, *owner.served]
    # Every route of the table is served, and nothing else: the authorization tests iterate over the table.
    assert {(r.path, m) for r in served for m in (r.methods or ()) if m != "HEAD"} == {(r.path, r.method) for r in ROUTES}
    app = Starlette(
        routes=served,
        # Handlers of classes below Exception answer and return (starlette's ExceptionMiddleware); see AnswerUnexpected.
        exception_handlers={TiercubeError: _tiercube_error, HTTPException: _http_error, MemoryError: _out_of_memory},
        middleware=[Middleware(AnswerUnexpected)],
    )
    # /api/v1/tables/ is a 404, not a redirect built from the caller's Host header before authentication.
    app.router.redirect_slashes = False
    app.state.tiercube = state
    return app
