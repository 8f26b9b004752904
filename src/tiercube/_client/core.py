"""What every session object is made of: a connection and the report that chose its tier."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn, Self

from tiercube._client import display
from tiercube._client.channel import Connection
from tiercube._client.public_names import PublicNames
from tiercube._wire.tiers import GROUPS, CapabilityReport, wanting


_TIERS: dict[str, type[SessionCore]] = {}
"""Every tier class, by name, registered by the modules that assemble them (``sessions``, ``owner``)."""


def register_tiers(*tiers: type[SessionCore]) -> None:
    """Make ``tiers`` known to the errors of a session that lacks a member: they say which tiers have it.

    The tier classes are built on this module, so it cannot import them: they register here instead.
    """
    _TIERS.update((tier.__name__, tier) for tier in tiers)


def is_tier(cls: type) -> bool:
    """Whether ``cls`` is one of the registered tier classes."""
    return _TIERS.get(cls.__name__) is cls


class SessionCore(PublicNames):
    """Private base of every tier: it grants nothing by itself."""

    def __init__(self, connection: Connection, report: CapabilityReport) -> None:
        self._connection = connection
        self._report = report

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None, /
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; the server and its data are not affected."""
        self._connection.close()

    def __repr__(self) -> str:
        state = " (closed)" if self._connection.closed else ""
        return f"<{type(self).__name__} {self._connection.url}{state}>"

    def _repr_html_(self) -> str:
        """For notebooks: the tier, server, user, capability groups and why, and what it may read."""
        return display.session(type(self).__name__, self._connection, self._report)

    if not TYPE_CHECKING:  # absent from the types on purpose: a checker must keep flagging the member

        def __getattr__(self, name: str) -> NoReturn:
            raise AttributeError(self._missing(name))

    def _missing(self, name: str) -> str:
        """Why this session lacks ``name``: which tiers have it, and which conditions would give one."""
        plain = f"{type(self).__name__!r} object has no attribute {name!r}"
        having = [tier for tier in GROUPS if tier in _TIERS and hasattr(_TIERS[tier], name)]
        if name.startswith("_") or not having:
            return plain
        return _explained(plain, name, having, self._report)


def _explained(plain: str, name: str, having: Sequence[str], report: CapabilityReport) -> str:
    if having == ["Session"]:
        return f"{plain}: only the owner, the process that started the server with Session.start(), has it"
    held = {condition.letter: condition.held for condition in report.conditions}
    alternatives = wanting(held, lambda tier: tier in having)
    reasons = {condition.letter: f"{condition.letter} ({condition.meaning}: {condition.reason})" for condition in report.conditions}
    why = " or ".join(" and ".join(reasons.get(letter, letter) for letter in letters) for letters in alternatives)
    tiers = ", ".join(tier for tier in having if tier != "Session")
    return f"{plain}: {name} is on {tiers}; the server at {report.url} grants {report.tier}, and would grant one of those if {why} held"
