"""The starlette application: every route of ``tiercube._wire.routes``, and error bodies.

Every failure a client can cause answers 4xx with an ``ErrorBody``, the
error's fields included; a 500 is a bug in tiercube, and even then the body
carries no traceback.
"""

from __future__ import annotations

import logging

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tiercube._server import explorer
from tiercube._server.routes import cubes, editing, owner, query, security, tables, versions
from tiercube._server.state import ServerState
from tiercube._wire import paths
from tiercube._wire.messages import ErrorBody
from tiercube._wire.routes import ROUTES
from tiercube.errors import TiercubeError, TooManyAttemptsError

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
    if isinstance(error, TooManyAttemptsError):
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


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, ErrorBody("internal", f"internal error ({type(error).__name__}); the server log has the details"))


def create_app(state: ServerState) -> Starlette:
    # Queries first: starlette tries routes in order, and a dashboard sends little else.
    served = [*query.served, *versions.served, *explorer.served, *tables.served, *cubes.served, *editing.served, *security.served, *owner.served]
    # Every route of the table is served, and nothing else: the authorization tests iterate over the table.
    assert {(r.path, m) for r in served for m in (r.methods or ()) if m != "HEAD"} == {(r.path, r.method) for r in ROUTES}
    app = Starlette(
        routes=served,
        exception_handlers={TiercubeError: _tiercube_error, HTTPException: _http_error, Exception: _unexpected},
    )
    # /api/v1/tables/ is a 404, not a redirect built from the caller's Host header before authentication.
    app.router.redirect_slashes = False
    app.state.tiercube = state
    return app
