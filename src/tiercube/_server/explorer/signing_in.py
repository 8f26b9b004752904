"""Signing in to the explorer and out, what the page is granted, and sessions for embedding it."""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tiercube._server.browser_sessions import BrowserSession
from tiercube._server.explorer.pages import check_credentials
from tiercube._server.routing import authorize
from tiercube._wire import paths
from tiercube._wire.explorer import EmbedSession, PageGrant, SignIn
from tiercube._wire.tiers import Group
from tiercube.errors import AuthenticationError, InvalidRequestError, PermissionDeniedError


def _json(message: msgspec.Struct) -> Response:
    return Response(msgspec.json.encode(message), media_type=paths.JSON, headers={"Cache-Control": "no-store"})


async def sign_in(request: Request) -> Response:
    """Check the user's password and give the browser a session cookie."""
    state = await check_credentials(request)
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        # Another site's page could otherwise sign a visitor's browser in as someone else.
        raise PermissionDeniedError("signing in is only possible from the explorer's own page")
    try:
        form = msgspec.json.decode(await request.body(), type=SignIn)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
        raise InvalidRequestError(f"malformed request body: {error}") from None
    if not state.config.security:
        return Response(status_code=204)  # the explorer is open to everyone: there is no one to sign in as
    session = await state.authenticator.sign_in(form.username, form.password, request)
    if session is None:
        raise AuthenticationError("wrong user name or password")
    response = Response(status_code=204)
    response.set_cookie(
        paths.EXPLORER_COOKIE, session.token, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


async def sign_out(request: Request) -> Response:
    state, _ = await authorize(request, Group.QUERY)
    session = state.authenticator.browser_session(request)
    if session is not None:
        state.authenticator.browsers.close(session.token)
    response = Response(status_code=204)
    response.delete_cookie(paths.EXPLORER_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def grant(request: Request) -> Response:
    """Who the page serves, its tier and groups, and (for a cookie) the CSRF token to send back."""
    state, granted = await authorize(request, Group.QUERY)
    session: BrowserSession | None = state.authenticator.browser_session(request)
    by_cookie = session is not None and paths.EXPLORER_TOKEN_HEADER not in request.headers
    return _json(
        PageGrant(
            user=granted.caller.username if granted.caller else None,
            tier=granted.tier,
            groups=sorted(group.name for group in granted.groups),
            csrf=session.csrf if session is not None and by_cookie else None,
            security=state.config.security,
        )
    )


async def embed_session(request: Request) -> Response:
    """A browser session for the calling credentials, for an explorer inside a notebook."""
    state, granted = await authorize(request, Group.QUERY)
    caller = granted.caller
    if paths.DELEGATION_HEADER in request.headers:
        # The owner answering for someone: a session would carry the owner's power, not theirs.
        raise PermissionDeniedError("an explorer session cannot be opened on behalf of a custom endpoint's caller")
    if caller is None:
        return _json(EmbedSession(paths.EXPLORER_EMBED, None, None))
    account = state.authenticator.accounts.get(caller.username)
    password_hash = None if caller.owner or account is None else account.password_hash
    session = state.authenticator.browsers.open(caller, password_hash)
    return _json(EmbedSession(paths.EXPLORER_EMBED, session.token, state.authenticator.browsers.idle))
