"""Tokens a caller who manages security issued: each for one user, a tier at most, until it expires.

The server keeps a token's SHA-256, never its text: the text is shown once,
in the answer that issued it. A token is found by the id its text carries and
accepted only if the digest of the whole text matches, it has not expired
(wall-clock time, so that expiry holds across restarts) and its user is
still the user it was issued to (the account's serial: a user deleted and
created again under the same name does not inherit the old tokens).
Revoking removes it at once: the next request with it is a 401.

Without security a token is issued like a user is created, and grants what
every caller gets there: reading and querying, anonymously.

Issued and revoked tokens are journaled like users, so a session with a data
directory keeps them across any stop.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from tiercube._server.accounts import Account, Accounts
from tiercube._server.engine.journal import NO_JOURNAL, Journal, TokenIssued, TokenRevoked
from tiercube._wire import tokens
from tiercube._wire.messages import Caller
from tiercube._wire.tiers import GROUPS, Group
from tiercube._wire.tokens import CreateToken, IssuedToken, TokenInfo, TokenScope
from tiercube.errors import AuthenticationError, InvalidRequestError, NotFoundError, PermissionDeniedError

# A token lives at most a year: one that is forgotten should not stay valid for good.
LONGEST = 366 * 24 * 3600.0
# Tokens per server: issuing cannot exhaust memory (expired ones are dropped first).
LIMIT = 100_000


@dataclass(frozen=True)
class _Held:
    record: TokenIssued

    @property
    def info(self) -> TokenInfo:
        record = self.record
        return TokenInfo(record.id, record.user, record.scope.tier, record.expires_at, record.scope.tables, record.scope.cubes)


class Tokens:
    """The tokens a server issued, by id."""

    def __init__(self, accounts: Accounts, journal: Journal = NO_JOURNAL) -> None:
        self._accounts = accounts
        self._journal = journal
        self._tokens: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def issue(self, request: CreateToken, issuer: Caller | None) -> IssuedToken:
        """A new token for ``request.user``; its text is in the answer and nowhere else."""
        if issuer is not None and issuer.scope is not None:
            # A token issues nothing: what it may do must not outlive its own expiry or revocation.
            raise PermissionDeniedError("a token cannot issue tokens: sign in with the user's own credentials to issue one")
        scope = _checked_scope(request)
        account = self._accounts.get(request.user)
        if account is None:
            raise NotFoundError.of("user", request.user, {user.name: user for user in self._accounts.users()})
        if not 0 < request.expires_in <= LONGEST:
            raise InvalidRequestError(f"a token expires within {LONGEST:.0f} s (366 days), not in {request.expires_in!r} s: give expires_in in that range")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        text = tokens.text(scope.tier, token_id, secret)
        record = TokenIssued(token_id, account.name, account.serial, scope, time.time() + request.expires_in, _digest(text))
        with self._lock:
            self._drop_expired()
            if len(self._tokens) >= LIMIT:
                raise InvalidRequestError(f"this server holds {LIMIT:,} tokens: revoke some before issuing more")
            with self._journal.committing(record):
                self._tokens[token_id] = _Held(record)
        return IssuedToken(text, _Held(record).info)

    def revoke(self, token_id: str) -> None:
        with self._lock:
            if token_id not in self._tokens:
                raise NotFoundError(f"no token with id {token_id!r} (revoked already, expired, or never issued); security.tokens lists them")
            with self._journal.committing(TokenRevoked(token_id)):
                del self._tokens[token_id]

    def infos(self) -> list[TokenInfo]:
        """Every token that still grants something (not expired, its user still there)."""
        now = time.time()
        return [held.info for held in list(self._tokens.values()) if held.record.expires_at > now and self._account_of(held.record) is not None]

    def caller(self, text: str) -> Caller:
        """Who presents ``text``: its user as the accounts are now, with the token's scope; else a 401."""
        stated = tokens.parse(text)
        held = self._tokens.get(stated[1]) if stated is not None else None
        if held is None or not hmac.compare_digest(held.record.digest, _digest(text)):
            raise AuthenticationError("the token was not accepted: it was revoked, or this server never issued it; ask for a new one")
        record = held.record
        if record.expires_at <= time.time():
            expired = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.expires_at))
            raise AuthenticationError(f"the token expired at {expired}; ask whoever issued it for a new one")
        account = self._account_of(record)
        if account is None:
            raise AuthenticationError(f"the token's user {record.user!r} no longer exists: its tokens grant nothing")
        return Caller(username=account.name, roles=list(account.roles), scope=record.scope)

    def recorded(self) -> list[TokenIssued]:
        """The tokens as the records that make them again (a snapshot's tokens); expired ones are left out."""
        now = time.time()
        return [held.record for held in list(self._tokens.values()) if held.record.expires_at > now]

    def replay(self, record: TokenIssued | TokenRevoked) -> None:
        match record:
            case TokenIssued():
                self._tokens[record.id] = _Held(record)
            case TokenRevoked(token_id):
                self._tokens.pop(token_id, None)

    def _account_of(self, record: TokenIssued) -> Account | None:
        account = self._accounts.get(record.user)
        return account if account is not None and account.serial == record.serial else None

    def _drop_expired(self) -> None:
        """Forget expired tokens (not journaled: a replayed one is expired again, and a snapshot leaves it out)."""
        now = time.time()
        for token_id in [token_id for token_id, held in self._tokens.items() if held.record.expires_at <= now]:
            del self._tokens[token_id]


def _checked_scope(request: CreateToken) -> TokenScope:
    if request.tier not in tokens.TOKEN_TIERS:
        raise InvalidRequestError(f"a token's tier is one of {', '.join(tokens.TOKEN_TIERS)}, not {request.tier!r}")
    scope = TokenScope(request.tier, _names(request.tables), _names(request.cubes))
    if scope.scoped and Group.EDIT in GROUPS[scope.tier]:
        # Editing one table changes what others show (joins, cubes over it): a scope could not contain it.
        raise InvalidRequestError(
            f"a token limited to some tables or cubes grants at most ReadOnlySession, not {scope.tier}: "
            "give tier=ReadOnlySession (or MinimalSession), or no tables= and cubes="
        )
    return scope


def _names(names: list[str] | None) -> list[str] | None:
    return sorted(set(names)) if names is not None else None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
