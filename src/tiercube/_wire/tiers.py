"""The capability contract as data: conditions a to f, the tiers, and the groups each tier grants.

Both sides read this one table. The client picks the class it returns with
``choose_tier``; the server, for every request, computes the same conditions
from what it can verify itself and grants ``GROUPS[choose_tier(...)]``. The
tier classes in ``tiercube._client.sessions`` are assembled from one mixin per group,
and a test holds them equal to this table.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from tiercube._public import public

TierName: TypeAlias = Literal[
    "Session", "LocalSession", "RemoteSession", "NoSecurityLocalSession", "NoSecuritySession", "ReadOnlySession", "MinimalSession"
]


class Group(enum.Enum):
    """The capability groups of the contract; the value is how refusals name them."""

    QUERY = "query"
    READ_MODEL = "read the data model"
    EDIT = "edit the data model and data"
    CLOUD_LOADING = "load from cloud storage"
    SHARED_FILES = "load through the shared file system"
    SECURITY = "manage security"
    OWNER = "manage the owner's custom endpoints"


MEANINGS: dict[str, str] = {
    "a": "the server requires authentication",
    "b": "the credentials grant ROLE_ADMIN",
    "c": "same tiercube version",
    "d": "same host (shared file system)",
    "e": "same wire protocol version",
    "f": "SDK admin API exposed",
}
"""The six conditions, by letter."""

_EDITING = frozenset({Group.QUERY, Group.READ_MODEL, Group.EDIT, Group.CLOUD_LOADING})

GROUPS: dict[TierName, frozenset[Group]] = {
    "Session": frozenset(Group),
    "LocalSession": _EDITING | {Group.SHARED_FILES, Group.SECURITY},
    "RemoteSession": _EDITING | {Group.SECURITY},
    "NoSecurityLocalSession": _EDITING | {Group.SHARED_FILES},
    "NoSecuritySession": _EDITING,
    "ReadOnlySession": frozenset({Group.QUERY, Group.READ_MODEL}),
    "MinimalSession": frozenset({Group.QUERY}),
}
"""What each tier may do: the contract's group table, read down each tier's column."""


def choose_tier(held: dict[str, bool]) -> TierName:
    """The contract's tier table: the first row whose conditions (``held[letter]``) hold."""
    a, b, c, d, e, f = (held[letter] for letter in "abcdef")
    if a and b and c:
        return "LocalSession" if d else "RemoteSession"
    if a and b and e and f:
        return "NoSecurityLocalSession" if d else "NoSecuritySession"
    return "ReadOnlySession" if e else "MinimalSession"


def narrower(granted: TierName, ceiling: TierName) -> TierName:
    """The tier whose groups are both ``granted``'s and ``ceiling``'s: what a token of tier ``ceiling`` gets.

    The tiers' groups are closed under intersection (RemoteSession and
    NoSecurityLocalSession meet in NoSecuritySession), so this is always a tier.
    """
    both = GROUPS[granted] & GROUPS[ceiling]
    return next(tier for tier, groups in GROUPS.items() if groups == both)


def wanting(held: Mapping[str, bool], grants: Callable[[TierName], bool]) -> list[tuple[str, ...]]:
    """The smallest sets of conditions that, held as well, would give a tier that ``grants``.

    Empty when no set does (nothing but the owner has the owner's lifecycle).
    Both sides explain refusals with it: the server its 403s, the client a
    member its session lacks.
    """
    failed: list[str] = sorted(letter for letter in "abcdef" if not held.get(letter, False))
    for size in range(1, len(failed) + 1):
        found = [
            letters
            for letters in itertools.combinations(failed, size)
            if grants(choose_tier({letter: held.get(letter, False) or letter in letters for letter in "abcdef"}))
        ]
        if found:
            return found
    return []


@public
@dataclass(frozen=True)
class ConditionResult:
    """One condition of the contract: whether it held, and why."""

    letter: str
    meaning: str
    held: bool
    reason: str

    def __str__(self) -> str:
        return f"{self.letter}: {'yes' if self.held else 'no '} {self.meaning}: {self.reason}"


@public
@dataclass(frozen=True)
class CapabilityReport:
    """What ``connect()`` found out, and the tier it chose from it."""

    url: str
    tier: TierName
    conditions: tuple[ConditionResult, ...]
    user: str | None = None
    """Who the server authenticated the caller as (``"owner"`` for the owner); None when anonymous."""
    ceiling: TierName | None = None
    """The most the token the caller connected with grants, whatever the conditions; None without a token."""

    def held(self, letter: str) -> bool:
        """Whether condition ``letter`` (a to f) holds for this caller."""
        return next(c.held for c in self.conditions if c.letter == letter)

    def __str__(self) -> str:
        lines = [f"{self.tier} at {self.url}", *(f"  {c}" for c in self.conditions)]
        if self.ceiling is not None:
            lines.append(f"  the token grants at most {self.ceiling}")
        return "\n".join(lines)
