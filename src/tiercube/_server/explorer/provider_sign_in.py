"""Signing in to the explorer through the OpenID Connect provider, on the sign-in page's own address.

``GET /explorer/sign-in?with=oidc`` starts a sign-in (``oidc_sign_in``) and
sends the browser to the provider; the provider sends it back to
``GET /explorer/sign-in?code=...&state=...`` (the redirect URI to register
with the provider), which opens a browser session as a password sign-in
does. That answer is the sign-in page, whose script goes on to the explorer:
a cookie set while the browser arrived from another site would not be sent
with a redirect followed from there (``SameSite=Strict``), while it is with
a navigation the explorer's own page starts.

A refusal (unknown or used state, another browser's sign-in, a code the
provider does not exchange, an ID token that fails a check, no roles claim)
is a 401 saying which, and opens no session.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tiercube._server.explorer import pages
from tiercube._server.explorer.signing_in import set_session_cookie
from tiercube._server.oidc_sign_in import PENDING_LIFETIME, OidcSignIns
from tiercube._server.state import ServerState
from tiercube._wire import paths
from tiercube.errors import NotFoundError

# The browser's half of a sign-in in progress. Lax: it must come back with the provider's redirect.
COOKIE = "tiercube_sign_in"
SESSION_LIFETIME = 12 * 3600.0
"""A provider's sign-in keeps the roles its ID token gave: it ends this long after, whatever its use."""
_MAX_VIEW = 4096


async def sign_in_page(request: Request) -> Response:
    """The sign-in page; with ``?with=oidc`` the start of a provider's sign-in, with its answer the end."""
    query = request.query_params
    if query.get("with") == "oidc":
        return await _start(request)
    if "state" in query or "code" in query or "error" in query:
        return await _finish(request)
    return await pages.sign_in_page(request)


def _sign_ins(state: ServerState) -> OidcSignIns:
    if state.authenticator.oidc_sign_ins is None:
        raise NotFoundError("this server has no OpenID Connect provider: configure [oidc] to sign in with one")
    return state.authenticator.oidc_sign_ins


async def _start(request: Request) -> Response:
    state = await pages.check_credentials(request)
    sign_ins = _sign_ins(state)
    configured = sign_ins.verifier.config.redirect_uri
    redirect_uri = configured or str(request.url.replace(query=None, fragment=None))
    view = request.query_params.get("view", "")[:_MAX_VIEW]
    started = await anyio.to_thread.run_sync(sign_ins.start, redirect_uri, view)
    response = RedirectResponse(started.authorization_url, status_code=303, headers={"Cache-Control": "no-store"})
    secure = request.url.scheme == "https"
    response.set_cookie(COOKIE, started.binding, max_age=int(PENDING_LIFETIME), path=paths.SIGN_IN, httponly=True, samesite="lax", secure=secure)
    return response


async def _finish(request: Request) -> Response:
    state = await pages.check_credentials(request)
    sign_ins = _sign_ins(state)
    query = request.query_params
    finished = await anyio.to_thread.run_sync(
        sign_ins.finish, query.get("state"), query.get("code"), query.get("error"), request.cookies.get(COOKIE)
    )
    session = state.authenticator.browsers.open(finished.caller, None, lifetime=SESSION_LIFETIME)
    response = pages.page("sign-in.html", state, fields={"signed_in": f"#{finished.view}"})
    set_session_cookie(response, request, session)
    response.delete_cookie(COOKIE, path=paths.SIGN_IN, httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response
