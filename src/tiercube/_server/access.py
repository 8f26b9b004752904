"""What a request may do: conditions a to f as the server verifies them, and the tier they give.

The server never trusts a tier a client claims. For every request it judges
the six conditions itself: a from its config, b from the authenticated
caller, c and e from the versions the client states (which only ever lower
what it gets), d from the share proof the request carries (the nonce the
server wrote to its own disk and never sends), f from its config. The tier
and its groups then come from the one table in ``tiercube._wire.tiers``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from tiercube._config import SessionConfig
from tiercube._server.engine.visibility import EVERYTHING, Visibility
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths
from tiercube._wire.messages import ADMIN_ROLE, Caller
from tiercube._wire.routes import SCOPE_FREE, Route
from tiercube._wire.tiers import GROUPS, Group, TierName, choose_tier, narrower, wanting
from tiercube.errors import PermissionDeniedError


@dataclass(frozen=True)
class Stated:
    """What a request states for conditions c, d and e: kept to explain a refusal, which is rare."""

    version: str | None = None
    protocol: str | None = None


@dataclass(frozen=True)
class Grant:
    """The tier a request was granted, the conditions that held, and what explains the others."""

    caller: Caller | None
    tier: TierName
    held: frozenset[str]
    # Which rows the caller may see (the engine asks it per table).
    visibility: Visibility = EVERYTHING
    stated: Stated = Stated()
    judge: Judge | None = field(default=None, repr=False)

    @property
    def failed(self) -> dict[str, str]:
        """Letter -> why the condition does not hold, for every condition that does not."""
        why = self.judge.reasons(self.caller, self.stated) if self.judge is not None else {}
        return {letter: reason for letter, reason in why.items() if letter not in self.held}

    @property
    def groups(self) -> frozenset[Group]:
        return GROUPS[self.tier]

    def refusal(self, group: Group) -> str:
        """Why ``group`` is not granted: the smallest sets of failed conditions that would grant it."""
        who = self.caller.username if self.caller else "an anonymous caller"
        if group is Group.OWNER:
            return f"{who} may not {group.value} on this server: only the process that started the server may"
        scope = self.caller.scope if self.caller else None
        if scope is not None and group not in GROUPS[scope.tier]:
            return f"{who} may not {group.value} with this token: it grants at most {scope.tier}"
        held = {letter: letter in self.held for letter in "abcdef"}
        alternatives = wanting(held, lambda tier: group in GROUPS[tier])
        failed = self.failed
        reasons = " or, ".join("; ".join(failed[letter] for letter in letters) for letters in alternatives)
        return f"{who} may not {group.value} on this server ({self.tier} is granted): {reasons or 'no tier allows it'}"


def check_scope(grant: Grant, route: Route, params: Mapping[str, str]) -> None:
    """Refuse what a token limited to some tables or cubes may not reach (403, the same whether the
    table or cube exists or not)."""
    scope = grant.caller.scope if grant.caller is not None else None
    if scope is None or not scope.scoped:
        return
    table, cube = params.get("table"), params.get("cube")
    if table is not None and not scope.allows_table(table):
        raise PermissionDeniedError(f"this token grants only the tables {scope.tables}, not {table!r}")
    if cube is not None and not scope.allows_cube(cube):
        raise PermissionDeniedError(f"this token grants only the cubes {scope.cubes}, not {cube!r}")
    if table is None and cube is None and route not in SCOPE_FREE:
        raise PermissionDeniedError(f"a token limited to some tables or cubes cannot use {route}: sign in as its user for that")


def check_cube(grant: Grant, cube: str) -> None:
    """Refuse ``cube`` to a token that does not grant it (an MDX query names its cube in its text)."""
    scope = grant.caller.scope if grant.caller is not None else None
    if scope is not None and not scope.allows_cube(cube):
        raise PermissionDeniedError(f"this token grants only the cubes {scope.cubes}, not {cube!r}")


class Judge:
    """Computes each request's grant from the server's own configuration."""

    def __init__(self, config: SessionConfig, started_by: str, nonce: str) -> None:
        self.config = config
        self.started_by = started_by
        self._nonce = nonce.encode()

    def grant(self, request: HTTPConnection, caller: Caller | None, visibility: Visibility) -> Grant:
        """The caller's tier: from conditions a to f, and for a token, no more than the token's tier."""
        if caller is not None and caller.owner:
            # The owner's visibility is that of the custom endpoint caller it answers for, if any.
            return Grant(caller, "Session", frozenset("abcdef"), visibility)
        headers = request.headers
        stated = Stated(headers.get(paths.CLIENT_VERSION_HEADER), headers.get(paths.CLIENT_PROTOCOL_HEADER))
        proof = headers.get(paths.SHARE_PROOF_HEADER, "").encode("utf-8", "surrogateescape")
        held = {
            "a": self.config.security,
            "b": caller is not None and ADMIN_ROLE in caller.roles,
            "c": stated.version == self.started_by,
            "d": hmac.compare_digest(proof, self._nonce),
            "e": stated.protocol == _PROTOCOL,
            "f": self.config.sdk_exposed,
        }
        tier = choose_tier(held)
        if caller is not None and caller.scope is not None:
            # What the server would grant the token's user now, and never more than the token's tier.
            tier = narrower(tier, caller.scope.tier)
        return Grant(caller, tier, frozenset(letter for letter, ok in held.items() if ok), visibility, stated, self)

    def reasons(self, caller: Caller | None, stated: Stated) -> dict[str, str]:
        """Why each condition would not hold for a request: written only when a refusal is explained."""
        return {
            "a": "security is not configured, and a session without authentication cannot be modified from outside",
            "b": f"it takes {ADMIN_ROLE}",
            "c": f"it needs the same tiercube version as the server's ({self.started_by}); the client states {stated.version!r}",
            "d": "it needs proof of a shared file system (condition d), which this request does not carry",
            "e": f"the client speaks wire protocol {stated.protocol!r}, this server {PROTOCOL_VERSION}",
            "f": "the SDK admin API is not exposed",
        }


_PROTOCOL = str(PROTOCOL_VERSION)
