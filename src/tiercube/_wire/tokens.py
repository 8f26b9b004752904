"""Tokens: what one grants (a tier, and optionally only some tables and cubes), and how one is written.

A token reads ``tiercube.<tier>.<id>.<secret>``. The tier is in the text so
that a client holding only the text knows the most it can be granted; the
server never believes it: it looks the token up by ``id`` and compares the
SHA-256 of the whole text with the digest it stored, so a token whose tier,
id or secret was changed matches nothing.
"""

from __future__ import annotations

from typing import get_args

import msgspec

from tiercube._public import public
from tiercube._wire.tiers import TierName

PREFIX = "tiercube"
# Tiers a token may carry: every tier but the owner's.
TOKEN_TIERS: tuple[TierName, ...] = tuple(tier for tier in get_args(TierName) if tier != "Session")


class TokenScope(msgspec.Struct, frozen=True):
    """What a token grants at most: its tier, and when given, only these tables and cubes."""

    tier: TierName
    tables: list[str] | None = None
    cubes: list[str] | None = None

    @property
    def scoped(self) -> bool:
        """Whether the token is limited to some tables or cubes."""
        return self.tables is not None or self.cubes is not None

    def allows_table(self, name: str) -> bool:
        return self.tables is None or name in self.tables

    def allows_cube(self, name: str) -> bool:
        return self.cubes is None or name in self.cubes


class CreateToken(msgspec.Struct, frozen=True):
    """``POST /api/v1/security/tokens``: a token for ``user``, valid for ``expires_in`` seconds."""

    user: str
    tier: TierName
    expires_in: float
    tables: list[str] | None = None
    cubes: list[str] | None = None


@public
class TokenInfo(msgspec.Struct, frozen=True):
    """A token the server issued, as ``security.tokens`` lists it: never its secret.

    ``expires_at`` is in seconds since the epoch (UTC).
    """

    id: str
    user: str
    # A tier's name (a str: a public Struct's fields are resolved in the tiercube namespace).
    tier: str
    expires_at: float
    tables: list[str] | None = None
    cubes: list[str] | None = None


class IssuedToken(msgspec.Struct, frozen=True):
    """The answer to ``CreateToken``: the token's text, shown this once, and what it grants."""

    token: str
    info: TokenInfo


def text(tier: TierName, token_id: str, secret: str) -> str:
    return f"{PREFIX}.{tier}.{token_id}.{secret}"


def parse(token: str) -> tuple[TierName, str] | None:
    """The tier and id a token's text states (unverified), or None when it is not a token's text."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] not in TOKEN_TIERS or not parts[2] or not parts[3]:
        return None
    tier: TierName = next(tier for tier in TOKEN_TIERS if tier == parts[1])
    return tier, parts[2]
