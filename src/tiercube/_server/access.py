"""Who is calling, and which capability groups the server grants that request.

The server decides for itself, from the credentials and the versions the
client states, exactly as the contract's tiers say; it never trusts a tier a
client might claim.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from tiercube._config import SessionConfig
from tiercube._server.passwords import hash_password, verify_password
from tiercube._server.tls import SCOPE_KEY
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths
from tiercube._wire.filters import And, Filter, Or, filter_names
from tiercube._wire.messages import ADMIN_ROLE, Caller
from tiercube.errors import AuthenticationError


class Group(enum.Enum):
    """The capability groups of the contract that the server can enforce."""

    QUERY = "query"
    READ_MODEL = "read the data model"
    EDIT = "edit the data model and data"
    SECURITY = "manage security"
    OWNER = "manage the owner's custom endpoints"


@dataclass(frozen=True)
class Grant:
    caller: Caller | None
    groups: frozenset[Group]
    # Rows this caller may see (None: all); see ``Restriction``.
    restriction: Filter | None = None

    def restrict(self, condition: Filter | None, names: Collection[str]) -> Filter | None:
        """``condition`` narrowed by the caller's restriction, where the restriction applies."""
        if self.restriction is None or not set(filter_names(self.restriction)) <= set(names):
            return condition
        return self.restriction if condition is None else And([condition, self.restriction])


@dataclass
class Account:
    name: str
    roles: list[str]
    password_hash: str


class Gatekeeper:
    """Authenticates requests and computes their grants."""

    def __init__(self, config: SessionConfig, owner_token: str | None, started_by: str) -> None:
        self.config = config
        self.started_by = started_by
        self._owner_digest = hashlib.sha256(owner_token.encode()).digest() if owner_token else None
        self.accounts = {
            u.name: Account(u.name, list(u.roles), u.password_hash or hash_password(u.password or secrets.token_hex()))
            for u in config.users
        }
        self.restrictions: dict[str, Filter] = {}
        # sha256(header) -> user name: scrypt runs once per credential, not per request.
        self._verified: dict[bytes, str] = {}

    def forget(self, username: str) -> None:
        self._verified = {k: v for k, v in self._verified.items() if v != username}

    def caller(self, request: HTTPConnection) -> Caller | None:
        header = request.headers.get("authorization")
        if header is None:
            return self._certificate_caller(request)
        scheme, _, credentials = header.partition(" ")
        digest = hashlib.sha256(header.encode()).digest()
        if scheme.lower() == "bearer" and self._owner_digest is not None:
            if hmac.compare_digest(hashlib.sha256(credentials.encode()).digest(), self._owner_digest):
                return Caller(username="owner", roles=[ADMIN_ROLE], owner=True)
        if not self.config.security:
            return None  # without security every caller is anonymous, and read-only
        if scheme.lower() == "basic":
            name = self._verified.get(digest) or self._check_basic(credentials, digest)
            account = self.accounts.get(name) if name else None
            if account is not None:
                return Caller(username=account.name, roles=list(account.roles))
        raise AuthenticationError("the credentials were not accepted: wrong user name or password")

    def _certificate_caller(self, request: HTTPConnection) -> Caller | None:
        name = request.scope.get(SCOPE_KEY)
        if name is None or not self.config.security:
            return None
        account = self.accounts.get(name)
        if account is None:
            raise AuthenticationError(f"the client certificate of {name!r} names no user of this server")
        return Caller(username=account.name, roles=list(account.roles))

    def _check_basic(self, credentials: str, digest: bytes) -> str | None:
        try:
            name, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        account = self.accounts.get(name)
        if account is None or not verify_password(password, account.password_hash):
            return None
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[digest] = name
        return name

    def grant(self, request: HTTPConnection, caller: Caller | None) -> Grant:
        groups = {Group.QUERY}
        same_protocol = request.headers.get(paths.CLIENT_PROTOCOL_HEADER) == str(PROTOCOL_VERSION)
        if caller is not None and caller.owner:
            groups.update(Group)
        elif caller is not None and self.config.security and ADMIN_ROLE in caller.roles:
            same_version = request.headers.get(paths.CLIENT_VERSION_HEADER) == self.started_by
            if same_version:
                groups.update({Group.READ_MODEL, Group.EDIT, Group.SECURITY})
            elif same_protocol and self.config.sdk_exposed:
                groups.update({Group.READ_MODEL, Group.EDIT})
        if same_protocol:
            groups.add(Group.READ_MODEL)
        return Grant(caller, frozenset(groups), self._restriction(caller))

    def _restriction(self, caller: Caller | None) -> Filter | None:
        if caller is None or caller.owner or ADMIN_ROLE in caller.roles:
            return None
        filters = [self.restrictions.get(role) for role in caller.roles]
        if not filters or any(f is None for f in filters):
            return None  # one unrestricted role is enough to see everything
        return Or([f for f in filters if f is not None])
