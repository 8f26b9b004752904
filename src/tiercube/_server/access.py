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
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from tiercube._config import SessionConfig
from tiercube._server.engine.visibility import EVERYTHING, Visibility
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths
from tiercube._wire.messages import ADMIN_ROLE, Caller
from tiercube._wire.tiers import GROUPS, Group, TierName, choose_tier, wanting


@dataclass(frozen=True)
class Grant:
    """The tier a request was granted, and why conditions that failed did."""

    caller: Caller | None
    tier: TierName
    # Letter -> why the condition does not hold, for every condition that does not.
    failed: dict[str, str]
    # Which rows the caller may see (the engine asks it per table).
    visibility: Visibility = EVERYTHING
    held: frozenset[str] = field(default=frozenset())

    @property
    def groups(self) -> frozenset[Group]:
        return GROUPS[self.tier]

    def refusal(self, group: Group) -> str:
        """Why ``group`` is not granted: the smallest sets of failed conditions that would grant it."""
        who = self.caller.username if self.caller else "an anonymous caller"
        if group is Group.OWNER:
            return f"{who} may not {group.value} on this server: only the process that started the server may"
        held = {letter: letter in self.held for letter in "abcdef"}
        alternatives = wanting(held, lambda tier: group in GROUPS[tier])
        reasons = " or, ".join("; ".join(self.failed[letter] for letter in letters) for letters in alternatives)
        return f"{who} may not {group.value} on this server ({self.tier} is granted): {reasons or 'no tier allows it'}"


class Judge:
    """Computes each request's grant from the server's own configuration."""

    def __init__(self, config: SessionConfig, started_by: str, nonce: str) -> None:
        self.config = config
        self.started_by = started_by
        self._nonce = nonce.encode()

    def grant(self, request: HTTPConnection, caller: Caller | None, visibility: Visibility) -> Grant:
        if caller is not None and caller.owner:
            # The owner's visibility is that of the custom endpoint caller it answers for, if any.
            return Grant(caller, "Session", {}, visibility, frozenset("abcdef"))
        headers = request.headers
        version = headers.get(paths.CLIENT_VERSION_HEADER)
        protocol = headers.get(paths.CLIENT_PROTOCOL_HEADER)
        proof = headers.get(paths.SHARE_PROOF_HEADER, "").encode("utf-8", "surrogateescape")
        checks = {
            "a": (self.config.security, "security is not configured, and a session without authentication cannot be modified from outside"),
            "b": (caller is not None and ADMIN_ROLE in caller.roles, f"it takes {ADMIN_ROLE}"),
            "c": (version == self.started_by, f"it needs the same tiercube version as the server's ({self.started_by}); the client states {version!r}"),
            "d": (hmac.compare_digest(proof, self._nonce), "it needs proof of a shared file system (condition d), which this request does not carry"),
            "e": (protocol == str(PROTOCOL_VERSION), f"the client speaks wire protocol {protocol!r}, this server {PROTOCOL_VERSION}"),
            "f": (self.config.sdk_exposed, "the SDK admin API is not exposed"),
        }
        held = {letter: ok for letter, (ok, _) in checks.items()}
        failed = {letter: why for letter, (ok, why) in checks.items() if not ok}
        tier = choose_tier(held)
        return Grant(caller, tier, failed, visibility, frozenset(letter for letter, ok in held.items() if ok))
