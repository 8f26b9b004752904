"""The owner's custom endpoints: where each is forwarded, and whom the owner answers for meanwhile.

While a custom endpoint's handler runs in the owner's process, the owner's
own requests that carry the call's delegation token see only the rows the
endpoint's caller may see: a restricted user cannot read more through an
endpoint than directly. ``seen_as`` says whose restrictions a request is under.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Generator
from contextlib import contextmanager
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from tiercube._wire import paths
from tiercube._wire.messages import Caller, EndpointRegistration
from tiercube.errors import InvalidRequestError, NotFoundError, PermissionDeniedError

METHODS = ("GET", "POST", "PUT", "DELETE")


class CustomEndpoints:
    """The endpoints the owner registered, and the calls being answered now."""

    def __init__(self, owner_token: str | None) -> None:
        # Sent with every forwarded call, so the owner's listener answers only its own server; derived
        # from the owner's token, which never leaves the server.
        self.forward_token = paths.forward_token(owner_token) if owner_token else ""
        self._registered: dict[tuple[str, str], EndpointRegistration] = {}
        # Delegation token -> the caller of a custom endpoint that is being answered.
        self._answering: dict[str, Caller | None] = {}
        self._lock = threading.Lock()

    def register(self, registration: EndpointRegistration) -> EndpointRegistration:
        target = urlsplit(registration.forward_url)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost", "::1") or target.port is None:
            raise InvalidRequestError(f"a custom endpoint forwards to the owner's own listener on loopback, not to {registration.forward_url!r}")
        if registration.method.upper() not in METHODS:
            raise InvalidRequestError(f"a custom endpoint answers {', '.join(METHODS)}, not {registration.method!r}")
        with self._lock:
            self._registered[(registration.method.upper(), registration.route.strip("/"))] = registration
        return registration

    def find(self, method: str, route: str) -> EndpointRegistration:
        registration = self._registered.get((method, route))
        if registration is None:
            declared = ", ".join(f"{m} {r}" for m, r in self._registered) or "none"
            raise NotFoundError(f"no custom endpoint {method} {route!r} (declared: {declared})")
        return registration

    @contextmanager
    def answering(self, registration: EndpointRegistration, caller: Caller | None) -> Generator[str | None]:
        """While the owner answers ``caller``: the delegation token its requests carry (None if unrestricted)."""
        if registration.unrestricted:
            yield None
            return
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._answering[token] = caller
        try:
            yield token
        finally:
            with self._lock:
                del self._answering[token]

    def seen_as(self, request: HTTPConnection, caller: Caller | None) -> Caller | None:
        """Whose restrictions ``request`` is under: its caller's, or for the owner answering a custom
        endpoint (the request names the call's delegation token), that endpoint's caller's."""
        token = request.headers.get(paths.DELEGATION_HEADER)
        if token is None or caller is None or not caller.owner:
            return caller
        try:
            return self._answering[token]
        except KeyError:
            raise PermissionDeniedError("the custom endpoint call this request was made for has ended") from None
