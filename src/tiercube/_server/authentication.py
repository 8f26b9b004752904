"""Who is calling: the owner's token, a token, an OpenID Connect access token, HTTP Basic, an explorer
session, or a verified client certificate.

Password checks are the one expensive thing an anonymous caller can make the
server do, so they are fenced in:

- scrypt runs in a small pool of threads of its own, never on the event loop
  and never in the pool that runs queries;
- an unknown user costs the same scrypt as a wrong password, so timing does
  not tell which user names exist;
- a verified header is remembered by ``Accounts`` together with the hash it
  was verified against: once a password changes, the old one can never be
  accepted again, not even from a check that was in flight during the change;
- failed checks are counted per user and client address (``FailedLogins``;
  the address a trusted proxy forwarded, ``client_address``); past the limit,
  further attempts are answered 429 without running scrypt.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import math
import secrets
import time

import anyio
from starlette.requests import HTTPConnection

from tiercube._config import SessionConfig
from tiercube._server.accounts import Account, Accounts
from tiercube._server.browser_sessions import BrowserSession, BrowserSessions
from tiercube._server.client_address import ClientAddresses
from tiercube._server.engine.journal import NO_JOURNAL, Journal
from tiercube._server.oidc import OidcVerifier
from tiercube._server.oidc_sign_in import OidcSignIns
from tiercube._server.passwords import hash_password, verify_password
from tiercube._server.tls import SCOPE_KEY
from tiercube._server.tokens import Tokens
from tiercube._wire import paths, tokens
from tiercube._wire.messages import ADMIN_ROLE, Caller
from tiercube.errors import AuthenticationError, PermissionDeniedError, TooManyAttemptsError

_KEYS_TRACKED = 10_000
_WINDOW = 60.0
ACROSS = 10
"""A user from every address, and an address for every user, may fail this many times the limit of one user from one address."""


class _Counts:
    """Failures per key over the last minute, ``per_minute`` at most, for the most recent keys."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: collections.OrderedDict[object, collections.deque[float]] = collections.OrderedDict()

    def retry_after(self, key: object, now: float) -> float:
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        while failures and failures[0] < now - _WINDOW:
            failures.popleft()
        if len(failures) < self.per_minute:
            return 0.0
        return failures[0] + _WINDOW - now

    def record(self, key: object, now: float) -> None:
        failures = self._failures.setdefault(key, collections.deque(maxlen=self.per_minute))
        failures.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > _KEYS_TRACKED:
            self._failures.popitem(last=False)


class FailedLogins:
    """Failed password checks over the last minute: of a user from an address, of a user, from an address.

    A user guessed at from one address is stopped after ``per_minute``
    failures, and only that user from that address: a wrong password for one
    user never locks out another, nor the same user elsewhere (behind a proxy
    every client may share one address). ``ACROSS`` times as many failures of
    one user from any addresses stop guesses spread over addresses, and as many
    from one address over any user names stop one address trying them all.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._pairs = _Counts(per_minute)
        self._users = _Counts(per_minute * ACROSS)
        self._addresses = _Counts(per_minute * ACROSS)

    def retry_after(self, user: str | None, address: str) -> float:
        """Seconds until ``user`` may try again from ``address``; 0 when it may now."""
        now = time.monotonic()
        return max(
            self._pairs.retry_after((user, address), now),
            self._users.retry_after(user, now),
            self._addresses.retry_after(address, now),
        )

    def record(self, user: str | None, address: str) -> None:
        now = time.monotonic()
        self._pairs.record((user, address), now)
        self._users.record(user, now)
        self._addresses.record(address, now)


class Authenticator:
    """Turns a request's credentials into a ``Caller``; holds the accounts."""

    def __init__(self, config: SessionConfig, owner_token: str | None, journal: Journal = NO_JOURNAL) -> None:
        self.security = config.security
        self._owner_digest = hashlib.sha256(owner_token.encode()).digest() if owner_token else None
        self.accounts = Accounts(config.users, journal)
        # An unknown user is checked against this, so that it costs what a wrong password costs.
        self._decoy = hash_password(secrets.token_hex())
        self._failures = FailedLogins(config.max_failed_logins_per_minute)
        self.addresses = ClientAddresses(config.trusted_proxies)
        self._scrypt = anyio.CapacityLimiter(2)
        self.browsers = BrowserSessions()
        self.tokens = Tokens(self.accounts, journal)
        self.oidc = OidcVerifier(config.oidc) if config.oidc is not None else None
        self.oidc_sign_ins = OidcSignIns(self.oidc) if self.oidc is not None else None

    async def caller(self, request: HTTPConnection) -> Caller | None:
        header = request.headers.get("authorization")
        if header is None:
            session = self.browser_session(request)
            return self._caller_of(session) if session is not None else self._certificate_caller(request)
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and self._owner_digest is not None:
            if hmac.compare_digest(hashlib.sha256(credentials.encode()).digest(), self._owner_digest):
                return Caller(username="owner", roles=[ADMIN_ROLE], owner=True)
        if not self.security:
            return None  # without security every caller is anonymous, and read-only
        if scheme.lower() == "bearer" and tokens.parse(credentials) is not None:
            return self.tokens.caller(credentials)
        if scheme.lower() == "bearer" and self.oidc is not None:
            # Off the event loop: the provider's keys may have to be fetched.
            return await anyio.to_thread.run_sync(self.oidc.caller, credentials)
        if scheme.lower() == "basic":
            account = await self._basic(credentials, request)
            if account is not None:
                return Caller(username=account.name, roles=list(account.roles))
        raise AuthenticationError("the credentials were not accepted: wrong user name or password")

    async def sign_in(self, name: str, password: str, request: HTTPConnection) -> BrowserSession | None:
        """A new browser session for ``name``, if ``password`` is theirs (rate-limited like HTTP Basic)."""
        account = await self._verified_account(name, password, request)
        return self.browsers.open(Caller(username=account.name, roles=list(account.roles)), account.password_hash) if account else None

    def browser_session(self, request: HTTPConnection) -> BrowserSession | None:
        """The explorer session the request names (by header, or by cookie with the CSRF header), if any.

        A session that ended is a 401 on a secured server, so that the page signs in again.
        """
        token = request.headers.get(paths.EXPLORER_TOKEN_HEADER)
        by_cookie = token is None
        if token is None:
            token = request.cookies.get(paths.EXPLORER_COOKIE)
        if token is None:
            return None
        session = self.browsers.find(token)
        if session is None or self._caller_of(session) is None:
            if not self.security and by_cookie:
                return None  # a stale cookie: the server is open to anonymous callers anyway
            raise AuthenticationError("this explorer session has ended (signed out, expired or its password changed): sign in again")
        if by_cookie and request.scope.get("method") not in ("GET", "HEAD") and not session.csrf_matches(request.headers.get(paths.CSRF_HEADER)):
            raise PermissionDeniedError("the request carries the explorer's cookie but not its CSRF token: reload the explorer's page")
        return session

    def _caller_of(self, session: BrowserSession) -> Caller | None:
        """The session's caller as the accounts are now (roles may have changed), within the session's
        scope (a widget's); None once it may not go on."""
        if session.password_hash is None:  # the owner's, or a provider's sign-in: its caller is as opened
            return session.caller
        if session.opened_with is not None:  # a widget opened with a token: it ends with the token
            try:
                self.tokens.caller(session.opened_with)
            except AuthenticationError:
                return None
        account = self.accounts.current(session.caller.username, session.password_hash)
        return Caller(username=account.name, roles=list(account.roles), scope=session.caller.scope) if account is not None else None

    def _certificate_caller(self, request: HTTPConnection) -> Caller | None:
        name = request.scope.get(SCOPE_KEY)
        if name is None or not self.security:
            return None
        account = self.accounts.get(name)
        if account is None:
            raise AuthenticationError(f"the client certificate of {name!r} names no user of this server")
        return Caller(username=account.name, roles=list(account.roles))

    async def _basic(self, credentials: str, request: HTTPConnection) -> Account | None:
        digest = hashlib.sha256(credentials.encode("utf-8", "surrogateescape")).digest()
        account = self.accounts.recall(digest)
        if account is not None:
            return account
        name, password = _decode_basic(credentials)
        account = await self._verified_account(name, password, request)
        if account is not None:
            self.accounts.remember(digest, account)
        return account

    async def _verified_account(self, name: str | None, password: str, request: HTTPConnection) -> Account | None:
        """The account, if ``password`` is its password; scrypt runs either way, within the failure limit."""
        address = self.addresses.of(request)
        wait = self._failures.retry_after(name, address)
        if wait > 0:
            raise TooManyAttemptsError(
                f"too many failed sign-ins for this user or from {address}; try again in {math.ceil(wait)} s", retry_after=math.ceil(wait)
            )
        account = self.accounts.get(name)
        stored = account.password_hash if account is not None else self._decoy
        matched = await anyio.to_thread.run_sync(verify_password, password, stored, limiter=self._scrypt)
        # The account as it is now: its password may have changed while scrypt ran.
        current = self.accounts.current(account.name, stored) if account is not None and matched else None
        if current is None:
            self._failures.record(name, address)
        return current


def _decode_basic(credentials: str) -> tuple[str | None, str]:
    """(user name, password) of HTTP Basic credentials; no name when they are malformed."""
    try:
        name, separator, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text, or bytes that are not UTF-8
        return None, ""
    return (name, password) if separator else (None, "")
