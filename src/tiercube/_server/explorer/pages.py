"""The explorer's pages and assets: static files, served with headers that keep them to themselves.

The pages hold no data: the script they load asks the API for everything,
with the caller's own grant, so the explorer can show no more than the API
would answer. Only the explorer's own page needs a signed-in browser; the
embeddable page, the sign-in page and the assets are open.

No page may be framed except the embeddable one, and that one only by the
origins in ``embed_origins``, or (when there are none) by the notebook page
a widget names in the frame's address (``?embedder=``): a page that frames
it without a token gets nothing, as its script never sends the explorer's
cookie (``assets/api.js``).
"""

from __future__ import annotations

import functools
import html
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from tiercube._config import ORIGIN
from tiercube._server.routing import authorize
from tiercube._server.state import ServerState
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths
from tiercube._wire.tiers import Group
from tiercube.errors import AuthenticationError, NotFoundError

ASSETS = Path(__file__).resolve().parent / "assets"

# The viewer compiles WebAssembly and runs its engine in a worker made from a blob: URL.
_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
_FIELD = re.compile(r"\{\{(\w+)\}\}")
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css"}


async def check_credentials(request: Request) -> ServerState:
    """For open routes: credentials are not needed, but credentials given must be right (401 otherwise).

    Only an Authorization header counts here, not the explorer's cookie: the
    sign-in page must load for a browser whose session has ended.
    """
    state: ServerState = request.app.state.tiercube
    if "authorization" in request.headers:
        await state.authenticator.caller(request)
    return state


def page(name: str, state: ServerState, *, ancestors: str = "'none'", fields: Mapping[str, str] | None = None) -> Response:
    """A page from its template, each ``{{field}}`` replaced by text (escaped), framable by ``ancestors`` only."""
    values = {"version": state.started_by, "protocol": str(PROTOCOL_VERSION), "embedded": "", "provider": "", "signed_in": "", **(fields or {})}
    text = _FIELD.sub(lambda found: html.escape(values.get(found[1], "")), _template(name))
    response = Response(text, media_type="text/html")
    response.headers["Content-Security-Policy"] = f"{_CSP}; frame-ancestors {ancestors}"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@functools.cache
def _template(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def _signed_in_page(request: Request, name: str) -> Response:
    """Page ``name`` for a caller who may query; a browser that has not signed in is sent to sign in.

    A browser's navigation states no versions, so it is granted query at most: the
    page's script states them on its own requests, and the server judges those.
    """
    try:
        state, _ = await authorize(request, Group.QUERY)
    except AuthenticationError:
        if _wants_html(request) and "authorization" not in request.headers:
            return RedirectResponse(paths.SIGN_IN, status_code=303)
        raise
    return page(name, state)


async def explorer(request: Request) -> Response:
    """``session.link``: the explorer."""
    return await _signed_in_page(request, "explorer.html")


async def embedded(request: Request) -> Response:
    """The explorer inside another page (a notebook): it signs in with the token in its URL's fragment, never the cookie."""
    state = await check_credentials(request)
    allowed = state.config.embed_origins
    if not allowed:
        embedder = request.query_params.get("embedder", "")
        allowed = [embedder] if ORIGIN.fullmatch(embedder) else []
    return page("explorer.html", state, ancestors=" ".join(allowed) or "'none'", fields={"embedded": "1"})


async def sign_in_page(request: Request) -> Response:
    """The sign-in page: a password form, and a link to sign in with the provider when ``[oidc]`` is configured."""
    # Without security, signing in (the page's script) succeeds for anyone and opens the explorer.
    state = await check_credentials(request)
    sign_ins = state.authenticator.oidc_sign_ins
    return page("sign-in.html", state, fields={"provider": sign_ins.provider_name if sign_ins is not None else ""})


async def asset(request: Request) -> Response:
    await check_credentials(request)
    relative = request.path_params["path"]
    path = ASSETS / relative
    try:
        path = path.resolve()
        found = path.is_relative_to(ASSETS) and path.suffix != ".html" and path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL in it
        found = False
    if not found:
        raise NotFoundError(f"no explorer asset {relative[:200]!r}")
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = FileResponse(path, media_type=media_type, stat_result=path.stat())
    # Revalidated every time (a new tiercube may ship other files at the same path), answered 304 when unchanged.
    headers = {"Cache-Control": "no-cache", "ETag": response.headers["etag"], "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == response.headers["etag"]:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


async def dashboard(request: Request) -> Response:
    """``/dashboard``: saved views side by side."""
    return await _signed_in_page(request, "dashboard.html")
