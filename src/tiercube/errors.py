"""The exceptions tiercube raises.

Every error the server reports travels as a ``code`` and a ``message``; the
client raises the class registered for that code, so a server-side failure
surfaces as the same exception type the server itself raised::

    TiercubeError
    ├── ServerStartError        Session.start() could not bring the server up
    ├── ServerUnavailableError  no answer, or 503: the server is down, unreachable, busy or stopping
    │   └── StorageError        507: the server could not keep a change in its data directory
    ├── ProtocolError           the answer is not what a tiercube server says
    ├── ClusterError            503: a cluster worker is gone, or a distributed table lost a partition
    ├── CapabilityError         connect(require=...) was not granted
    ├── AuthenticationError     401: missing or wrong credentials
    │   └── TooManyAttemptsError 429: too many failed sign-ins from this address
    ├── PermissionDeniedError   403: authenticated, but not allowed
    ├── NotFoundError           404: no such table, cube, measure, user...
    ├── ConflictError           409: the name is taken, or still in use
    └── InvalidRequestError     400: the request itself is wrong
        ├── RequestTooLargeError 413/431: over the server's size limits
        ├── LoadError           a file or frame could not be loaded
        └── QueryError          a query is malformed or exceeds its limits
            ├── QueryTimeoutError
            └── ResultTooLargeError

A failed request never changes the session: loads are all or nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from tiercube._client.negotiation import CapabilityReport


class TiercubeError(Exception):
    """Base class of every error tiercube raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400


class ServerStartError(TiercubeError):
    """The server process did not come up; the message ends with its log."""

    code = "server_start"


class ServerUnavailableError(TiercubeError):
    """The server could not be reached, stopped answering, or is too busy to take the request (503)."""

    code = "unavailable"
    status = 503


class StorageError(ServerUnavailableError):
    """The server could not keep a change in its data directory (full disk, I/O error), so it did not make it (507).

    At start, the data directory could not be used: another server holds it,
    or a file in it is damaged (the message names the file and the offset).
    """

    code = "storage"
    status = 507


class ProtocolError(TiercubeError):
    """The peer answered, but not as a compatible tiercube server would."""

    code = "protocol"


class ClusterError(TiercubeError):
    """The Dask cluster behind the session lost a worker, or a distributed table lost a partition.

    A query never answers from part of a table: it fails with this error,
    naming the table and the partition. Empty the table (``table.drop()``
    makes new, empty partitions on the workers the cluster has now) and load
    it again.
    """

    code = "cluster"
    status = 503


class CapabilityError(TiercubeError):
    """``connect(require=...)`` asked for more than the server grants.

    The message lists every condition a to f of the capability contract with
    whether it held and why; ``report`` holds the same as data.
    """

    code = "capability"

    def __init__(self, message: str, report: CapabilityReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class AuthenticationError(TiercubeError):
    """The server needs credentials, and those given are missing or wrong."""

    code = "unauthenticated"
    status = 401


class TooManyAttemptsError(AuthenticationError):
    """Too many failed sign-ins came from this address; ``retry_after`` says when to try again."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(TiercubeError):
    """The caller is known but its roles or tier do not allow the request."""

    code = "forbidden"
    status = 403


class NotFoundError(TiercubeError, KeyError):
    """No table, cube, column, measure, user or route by that name."""

    code = "not_found"
    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""

    @classmethod
    def of(cls, kind: str, name: str, known: Iterable[str], *, within: str | None = None) -> NotFoundError:
        """``no table named 'salse' (did you mean 'sales'? tables: products, sales)``."""
        return cls(cls.describe(kind, name, known, within=within))

    @staticmethod
    def describe(kind: str, name: str, known: Iterable[str], *, within: str | None = None) -> str:
        """The message ``of`` gives: what is missing, the closest name, and what exists."""
        names = list(known)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
        shown = ", ".join(names[:_LISTED]) + (f", ... ({len(names)} in all)" if len(names) > _LISTED else "")
        subject = f"{within} has no {kind} {name!r}" if within else f"no {kind} named {name!r}"
        return f"{subject} ({hint}{plural}: {shown or 'none'})"


_LISTED = 40


class ConflictError(TiercubeError):
    """The name is already taken, or the object is still in use."""

    code = "conflict"
    status = 409


class InvalidRequestError(TiercubeError, ValueError):
    """The request is malformed: a wrong type, an unknown column, a bad value."""

    code = "invalid"
    status = 400


class RequestTooLargeError(InvalidRequestError):
    """The request's body or headers are larger than the server accepts (its config says how large)."""

    code = "request_too_large"
    status = 413


class LoadError(InvalidRequestError):
    """A source could not be loaded; the message names the file, row or column."""

    code = "load"


class QueryError(InvalidRequestError):
    """A query is malformed or refers to something that does not exist."""

    code = "query"


class QueryTimeoutError(QueryError):
    """A query ran longer than the server's query timeout."""

    code = "query_timeout"


class ResultTooLargeError(QueryError):
    """A query's result has more rows than the server's result limit."""

    code = "result_too_large"


def _all_subclasses(cls: type[TiercubeError]) -> list[type[TiercubeError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


ERRORS_BY_CODE: dict[str, type[TiercubeError]] = {c.code: c for c in _all_subclasses(TiercubeError)}
"""How a client turns a server's error code back into the right exception."""
