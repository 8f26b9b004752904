"""What every session object is made of: a connection and the report that chose its tier."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import quote

from tiercube._client.negotiation import CapabilityReport
from tiercube.errors import NotFoundError

if TYPE_CHECKING:
    from tiercube._client.connection import Connection


def path(template: str, **names: str) -> str:
    """A route template filled with URL-quoted names (names may hold any character)."""
    for kind, name in names.items():
        if name in ("", ".", ".."):  # the server refuses such names, and no URL could reach them
            raise NotFoundError(f"no {kind} named {name!r}")
    return template.format(**{k: quote(v, safe="") for k, v in names.items()})


class SessionCore:
    """Private base of every tier: it grants nothing by itself."""

    def __init__(self, connection: Connection, report: CapabilityReport) -> None:
        self._connection = connection
        self._report = report

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; the server and its data are not affected."""
        self._connection.close()

    def __repr__(self) -> str:
        state = " (closed)" if self._connection.closed else ""
        return f"<{type(self).__name__} {self._connection.url}{state}>"
