"""Signing in to the explorer and out, what the page is granted, and sessions for embedding it."""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tiercube._server.access import check_cube
from tiercube._server.browser_sessions import WIDGET_LIFETIME, BrowserSession
from tiercube._server.explorer.pages import check_credentials
from tiercube._server.routing import authorize
from tiercube._wire import paths
from tiercube._wire.explorer import EmbedSession, OpenEmbed, PageGrant, SignIn
from tiercube._wire.messages import ADMIN_ROLE, Caller
from tiercube._wire.tiers import Group, narrower
from tiercube._wire.tokens import TokenScope
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
    set_session_cookie(response, request, session)
    return response


def set_session_cookie(response: Response, request: Request, session: BrowserSession) -> None:
    """The browser keeps the session's id where no script can read it and no other site's request carries it."""
    response.set_cookie(
        paths.EXPLORER_COOKIE, session.token, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


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
    """A session for a notebook widget: read and query one cube, for an hour at most, never more than the caller.

    Never the caller's own powers: the session's scope is ``ReadOnlySession``
    on the cube and its fact table (which the page reads the model of), so a
    token that leaks with a saved notebook can neither load a file, nor edit,
    nor register an endpoint, nor read another cube or table.
    """
    state, granted = await authorize(request, Group.QUERY)
    caller = granted.caller
    if paths.DELEGATION_HEADER in request.headers:
        # The owner answering for someone: a session would carry the owner's power, not theirs.
        raise PermissionDeniedError("an explorer session cannot be opened on behalf of a custom endpoint's caller")
    try:
        wanted = msgspec.json.decode(await request.body(), type=OpenEmbed)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
        raise InvalidRequestError(f"malformed request body: {error}") from None
    if caller is None:  # a server without security: the explorer is open to everyone anyway
        return _json(EmbedSession(paths.EXPLORER_EMBED, None, None))
    check_cube(granted, wanted.cube)
    fact_table = state.cubes.cube(wanted.cube).fact_table
    held = caller.scope
    scope = TokenScope(
        narrower(held.tier, "ReadOnlySession") if held is not None else "ReadOnlySession",
        tables=[fact_table] if held is None or held.allows_table(fact_table) else [],
        cubes=[wanted.cube],
    )
    opened_with = _bearer(request) if held is not None else None
    if held is not None and opened_with is None:
        # A widget's own session: opening another would outlive the hour it was given.
        raise PermissionDeniedError("a notebook widget's session cannot open another: run cube.explore() again")
    if caller.owner:
        # Not the owner: an administrator's grant, narrowed to the scope (and never a delegation).
        widget = Caller(username=caller.username, roles=[ADMIN_ROLE], scope=scope)
        session = state.authenticator.browsers.open(widget, None, lifetime=WIDGET_LIFETIME)
    else:
        account = state.authenticator.accounts.get(caller.username)
        password_hash = account.password_hash if account is not None else None
        widget = Caller(username=caller.username, roles=list(caller.roles), scope=scope)
        session = state.authenticator.browsers.open(widget, password_hash, lifetime=WIDGET_LIFETIME, opened_with=opened_with)
    return _json(EmbedSession(paths.EXPLORER_EMBED, session.token, WIDGET_LIFETIME))


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials if scheme.lower() == "bearer" else None
