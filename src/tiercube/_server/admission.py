"""Who may hold how much of the server at once: requests under way and event streams, per caller.

A restricted user holding 1,021 explorer event streams made the server answer
503 to the administrator for 15 s: one ``max_connections`` served every
caller, and nothing was counted per user. Connections are counted as they are
accepted, before anyone has said who they are (``connections.py``): per
client address, and past the general limit only as *reserved* connections,
which serve callers who manage security. Here, once a request has said who it
is (``routing.authorize``, ``explorer/events.py``), it is counted against:

- its user: ``max_requests_per_user`` requests under way (429), of them
  ``max_event_streams_per_user`` explorer event streams (429);
- its client's address (the one a trusted proxy forwarded, so behind a proxy
  this is where an address is counted): ``max_connections_per_address``
  requests under way (429);
- callers without credentials, all together: ``anonymous_requests`` requests
  under way (503: a pool they share), and per address
  ``max_event_streams_per_user`` event streams (429).

A caller who manages security is counted against its own user only: nobody
else can use up what it may hold, and the reserved connections get it in when
the others are all taken. The owner is counted against nothing. Each request
holds a ``Ticket``, given by the ``Admission`` middleware, which gives back
what it counted when the answer ends (an event stream's when its client
goes); the middleware also answers 503 on a reserved connection to anyone who
does not manage security. A refused request has changed nothing, and every
refusal says when to try again (``Retry-After``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tiercube._config import SessionConfig
from tiercube._server.access import Grant
from tiercube._server.client_address import ClientAddresses
from tiercube._server.connections import RESERVED, RETRY_AFTER
from tiercube._server.engine.visibility import EVERYTHING
from tiercube._server.state import ServerState
from tiercube._wire import paths
from tiercube._wire.messages import ErrorBody
from tiercube._wire.tiers import Group
from tiercube.errors import ServerUnavailableError, TiercubeError, TooManyRequestsError

# The scope key of a request's Ticket.
TICKET = "tiercube.ticket"
# Seconds a caller refused an event stream is told to wait: streams last minutes, not milliseconds.
STREAM_RETRY_AFTER = 15

# What a share is counted by: its kind ("user", "address", ...) and whose it is.
Key = tuple[str, str]


@dataclass(frozen=True)
class _Kind:
    """One kind of share: its limit in the config, and the refusal once it is full."""

    limit: Callable[[SessionConfig], int]
    refusal: Callable[[str, int], TiercubeError]


_KINDS: dict[str, _Kind] = {
    "user": _Kind(
        lambda config: config.max_requests_per_user,
        lambda who, held: TooManyRequestsError(
            f"user {who!r} already has {held} requests under way, as many as one user may (max_requests_per_user); "
            "wait for some to finish"
        ),
    ),
    "address": _Kind(
        lambda config: config.max_connections_per_address,
        lambda who, held: TooManyRequestsError(
            f"{who} already has {held} requests under way, as many as one client address may (max_connections_per_address); "
            "wait for some to finish"
        ),
    ),
    "anonymous": _Kind(
        lambda config: config.anonymous_requests,
        lambda who, held: ServerUnavailableError(
            f"callers without credentials already have {held} requests under way, all that they share (anonymous_requests); "
            "sign in, or try again later",
            retry_after=RETRY_AFTER,
        ),
    ),
    "user streams": _Kind(
        lambda config: config.max_event_streams_per_user,
        lambda who, held: TooManyRequestsError(
            f"user {who!r} already holds {held} explorer event streams open, as many as one user may "
            "(max_event_streams_per_user); close an explorer page, or try again later",
            retry_after=STREAM_RETRY_AFTER,
        ),
    ),
    "address streams": _Kind(
        lambda config: config.max_event_streams_per_user,
        lambda who, held: TooManyRequestsError(
            f"{who} already holds {held} explorer event streams open without credentials, as many as one address may "
            "(max_event_streams_per_user); close an explorer page, sign in, or try again later",
            retry_after=STREAM_RETRY_AFTER,
        ),
    ),
}


class Shares:
    """What every caller holds now, by key; all on the event loop, so without a lock."""

    def __init__(self, config: SessionConfig, addresses: ClientAddresses) -> None:
        self.config = config
        self.addresses = addresses
        self._held: collections.Counter[Key] = collections.Counter()

    def take(self, keys: list[Key]) -> None:
        """Count one more against each of ``keys``, or against none: the first that is full refuses."""
        for kind, who in keys:
            held = self._held[kind, who]
            if held >= _KINDS[kind].limit(self.config):
                raise _KINDS[kind].refusal(who, held)
        self._held.update(keys)

    def give_back(self, keys: list[Key]) -> None:
        """Count one less against each of ``keys``: what a request took, once its answer ended."""
        self._held.subtract(keys)
        for key in keys:
            if self._held[key] <= 0:
                del self._held[key]  # a caller that went leaves nothing behind


class Ticket:
    """One request's share of the server, given back by ``Admission`` when its answer ends."""

    def __init__(self, shares: Shares, request: HTTPConnection) -> None:
        self._shares = shares
        self._request = request
        self._held: list[Key] = []
        self._admitted = False

    def admit(self, grant: Grant) -> None:
        """Count the request against its caller's shares (``TooManyRequestsError``, 429, or
        ``ServerUnavailableError``, 503, when one is full); once per request."""
        if self._admitted:
            return
        self._admitted = True
        caller = grant.caller
        if caller is not None and caller.owner:
            return
        if caller is None:
            address = self._shares.addresses.of(self._request)
            self._take([("anonymous", ""), ("address", address)])
        elif Group.SECURITY in grant.groups:
            self._take([("user", caller.username)])
        else:
            self._take([("user", caller.username), ("address", self._shares.addresses.of(self._request))])

    def stream(self, grant: Grant) -> None:
        """Count an explorer event stream against its user, or without credentials its address (429 when full)."""
        caller = grant.caller
        if caller is not None and caller.owner:
            return
        if caller is None:
            self._take([("address streams", self._shares.addresses.of(self._request))])
        else:
            self._take([("user streams", caller.username)])

    def _take(self, keys: list[Key]) -> None:
        self._shares.take(keys)
        self._held.extend(keys)

    def give_back(self) -> None:
        """Give back all the request took (``Admission`` calls it when the answer ends, however it ends)."""
        self._shares.give_back(self._held)
        self._held = []


def ticket_of(request: HTTPConnection) -> Ticket:
    """The request's ticket (``Admission`` gives every request one)."""
    ticket: Ticket = request.scope[TICKET]
    return ticket


class Admission:
    """The ASGI application ``app`` whose requests hold a ``Ticket``, and on a reserved connection only
    if their caller manages security."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self._app = app
        self._state = state
        self._shares = Shares(state.config, state.authenticator.addresses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = HTTPConnection(scope)
        if scope.get(RESERVED) and not await self._manages_security(request):
            await _reserved_refusal(self._state.config)(scope, receive, send)
            return
        ticket = Ticket(self._shares, request)
        scope[TICKET] = ticket
        try:
            await self._app(scope, receive, send)
        finally:
            ticket.give_back()

    async def _manages_security(self, request: HTTPConnection) -> bool:
        """Whether the request's caller manages security: authenticated once more, on reserved connections only."""
        try:
            caller = await self._state.authenticator.caller(request)
        except TiercubeError:  # wrong credentials, an ended session: not someone the reserve is for
            return False
        if caller is None:
            return False
        return Group.SECURITY in self._state.judge.grant(request, caller, EVERYTHING).groups


def _reserved_refusal(config: SessionConfig) -> Response:
    error = ServerUnavailableError(
        f"the server has {config.max_connections} connections open (max_connections), or this address its "
        f"{config.max_connections_per_address} (max_connections_per_address): this connection is one of the "
        f"reserved_connections ({config.reserved_connections}) kept for callers who manage security; try again later",
        retry_after=RETRY_AFTER,
    )
    response = Response(msgspec.json.encode(ErrorBody.of(error)), status_code=error.status, media_type=paths.JSON)
    response.headers["retry-after"] = str(RETRY_AFTER)
    response.headers["connection"] = "close"  # the reserved connection is freed for whom it is kept
    return response
