"""Managing users, passwords, roles, tokens and restrictions of a server with security configured."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

from tiercube._client.channel import Connection
from tiercube._client.conditions import Condition
from tiercube._client.core import SessionCore
from tiercube._client.public_names import PublicNames
from tiercube._client.tokens import Token, TokenTierT, check_token_tier
from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire.paths import path
from tiercube._wire import paths
from tiercube._wire.messages import USER_ROLE, CreateUser, Restriction, UpdateUser, User
from tiercube._wire.tiers import TierName
from tiercube._wire.tokens import CreateToken, IssuedToken, TokenInfo, parse as parse_token


@public
class Security(PublicNames):
    """The server's users, tokens and restrictions. Changes apply at once to every new request.

    Like all changes made through a session, they live in the server's memory
    and are lost when it restarts, unless it runs with a data directory; the
    config file is not rewritten.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def users(self) -> Mapping[str, User]:
        """Every user by name, with its roles (never its password); a read-only snapshot
        (``create_user``, ``set_roles`` and ``delete_user`` change them)."""
        return MappingProxyType({u.name: u for u in self._connection.json("GET", paths.USERS, list[User])})

    def create_user(self, name: str, /, *, password: str, roles: Sequence[str] = (USER_ROLE,)) -> User:
        """Create a user with ``roles`` and return it; raises ``ConflictError`` if the name is taken."""
        return self._connection.json("POST", paths.USERS, User, CreateUser(name, password, list(roles)))

    def set_password(self, name: str, /, password: str) -> None:
        """Change a user's password; raises ``NotFoundError`` if there is no such user."""
        self._connection.json("PATCH", path(paths.USER, user=name), User, UpdateUser(password=password))

    def set_roles(self, name: str, /, roles: Sequence[str]) -> None:
        """Replace a user's roles; raises ``NotFoundError`` if there is no such user."""
        self._connection.json("PATCH", path(paths.USER, user=name), User, UpdateUser(roles=list(roles)))

    def delete_user(self, name: str, /) -> None:
        """Delete a user; raises ``NotFoundError`` if there is no such user."""
        self._connection.request("DELETE", path(paths.USER, user=name))

    def create_token(
        self,
        user: str,
        /,
        *,
        tier: type[TokenTierT],
        tables: Sequence[str] | None = None,
        cubes: Sequence[str] | None = None,
        expires_in: datetime.timedelta | float = datetime.timedelta(days=1),
    ) -> Token[TokenTierT]:
        """A token for ``user`` that grants at most ``tier``, for ``expires_in`` (seconds or a timedelta).

        Whoever holds it connects with ``tiercube.TokenAuthentication(token)``
        and gets the narrower of ``tier`` and what the server would grant
        ``user`` at that moment, on every request; ``tables`` and ``cubes``,
        when given, limit it to those (such a token grants at most
        ``ReadOnlySession``). The token's text is in the answer only: the
        server keeps a digest. It ends when it expires, when it is revoked
        (``revoke_token``) and when ``user`` is deleted.
        """
        check_token_tier(tier)
        seconds = expires_in.total_seconds() if isinstance(expires_in, datetime.timedelta) else float(expires_in)
        body = CreateToken(user, cast(TierName, tier.__name__), seconds, _names(tables, "tables"), _names(cubes, "cubes"))
        issued = self._connection.json("POST", paths.TOKENS, IssuedToken, body)
        return Token(issued.token, tier, issued.info)

    @property
    def tokens(self) -> Mapping[str, TokenInfo]:
        """Every token that still grants something, by id (never its text); a read-only snapshot
        (``create_token`` and ``revoke_token`` change them)."""
        return MappingProxyType({t.id: t for t in self._connection.json("GET", paths.TOKENS, list[TokenInfo])})

    def revoke_token(self, token: Token[Any] | TokenInfo | str, /) -> None:
        """End ``token`` (a ``Token``, an entry of ``tokens``, its id or its text) at once."""
        match token:
            case Token() | TokenInfo():
                token_id = token.id
            case str():
                stated = parse_token(token)
                token_id = stated[1] if stated is not None else token
        self._connection.request("DELETE", path(paths.TOKEN, token=token_id))

    @property
    def restrictions(self) -> Mapping[str, Condition]:
        """What each restricted role may see, as the condition rows must meet; a read-only snapshot
        (assigning into it would change nothing on the server: ``restrict`` and ``unrestrict`` do)."""
        found = self._connection.json("GET", paths.RESTRICTIONS, list[Restriction])
        return MappingProxyType({r.role: Condition(r.filter) for r in found})

    def restrict(self, role: str, /, condition: Condition) -> None:
        """Let callers with ``role`` see only the rows ``condition`` allows.

        The condition compares columns of tables, and ``&`` may combine
        tables: ``regions["region"] == "Europe"`` with ``regions =
        session.tables["regions"]``. Each table's part restricts that table
        and, along joins, every table that references it: a fact table joined
        to ``regions`` shows only its European rows, in its own queries, in
        every cube over it (totals included), in row counts and in custom
        endpoints. A row whose join finds no row, or whose condition is null,
        is hidden. ``ROLE_ADMIN`` is never restricted; a caller with several
        roles sees what any of them allows, everything if one is unrestricted.
        """
        body = Restriction(role, wire_form(condition))
        self._connection.json("PUT", path(paths.RESTRICTION, role=role), Restriction, body)

    def unrestrict(self, role: str, /) -> None:
        """Remove the restriction on ``role``: its users see every row again."""
        self._connection.request("DELETE", path(paths.RESTRICTION, role=role))

    def __repr__(self) -> str:
        return f"<Security of {self._connection.url}>"


def _names(names: Sequence[str] | None, what: str) -> list[str] | None:
    if isinstance(names, str):
        raise TypeError(f"{what}= takes a list of names, not the string {names!r}")
    return list(names) if names is not None else None


class SecurityManagement(SessionCore):
    """The tiers that manage users, passwords, roles, tokens and restrictions."""

    @property
    def security(self) -> Security:
        """Users, passwords and roles of the server."""
        return Security(self._connection)
