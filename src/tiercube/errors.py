"""The exceptions tiercube raises.

Every error the server reports travels as a ``code``, a ``message`` and its
fields (``details``: where a load failed, when to sign in again); the client
raises the class registered for that code with the same fields, so a
server-side failure surfaces as the exception the server itself raised, and
carries what the server knew (as psycopg's ``Error.diag`` does)::

    TiercubeError
    ├── ServerStartError        Session.start() could not bring the server up
    ├── ServerUnavailableError  no answer, or 503: the server is down, unreachable, busy or stopping
    │   ├── TooManyRequestsError 429: this caller's user or address holds its share of connections or requests
    │   ├── ServerTimeoutError  the server did not answer within the client's timeout (stopped, frozen)
    │   └── StorageError        507: a disk would not take a change, a log or a temporary file
    ├── ProtocolError           the answer is not what a tiercube server says
    ├── ClusterError            503: a cluster worker is gone, or a distributed table lost a partition
    ├── CapabilityError         connect(require=...) was not granted
    ├── CancelledError          499: the client went away (the server's own: no client reads it)
    ├── ResourceExhaustedError  503: the work needs more memory than the server has free now
    │   └── TooLargeForMemoryError 413: ... more than it could ever have under its memory_limit
    ├── AuthenticationError     401: missing or wrong credentials
    │   └── TooManyAttemptsError 429: too many failed sign-ins from this address
    ├── PermissionDeniedError   403: authenticated, but not allowed
    ├── NotFoundError           404: no such table, cube, measure, user...
    ├── ConflictError           409: the name is taken, or still in use
    └── InvalidRequestError     400: the request itself is wrong
        ├── RequestTooLargeError 413/431: over the server's size limits
        ├── BodyTooSlowError    408: the request body stopped coming
        ├── LoadError           a file or frame could not be loaded
        └── QueryError          a query is malformed or exceeds its limits
            ├── QueryTimeoutError
            └── ResultTooLargeError

A failed request never changes the session: loads are all or nothing.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar, Self, TypeAlias, cast

import msgspec

from tiercube._public import public
from tiercube._wire.tiers import CapabilityReport

Detail: TypeAlias = bool | int | float | str | None
"""A field's value as it travels: what JSON holds without nesting."""


@public
class TiercubeError(Exception):
    """Base class of every error tiercube raises on purpose.

    An error's fields are the keyword-only parameters of its class's
    ``__init__``, each kept in the attribute of the same name (``LoadError``'s
    ``path``, ``line``, ``column``); ``details`` gives them by name, and
    ``rebuilt`` makes the error again from them on the other side of the wire.
    """

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    @property
    def details(self) -> dict[str, Detail]:
        """The error's fields by name: what travels beside its message."""
        return {name: getattr(self, name) for name in _fields(type(self))}

    @classmethod
    def rebuilt(cls, message: str, details: Mapping[str, object]) -> Self:
        """The error as the peer raised it: ``message`` and every field ``details`` gives with the field's type.

        A field missing or of another type (a peer of another version) keeps its default.
        """
        kept: dict[str, object] = {}
        for name, wanted in _fields(cls).items():
            try:
                kept[name] = msgspec.convert(details[name], type=wanted)
            except (KeyError, msgspec.ValidationError):
                pass
        # The fields are the keyword-only parameters of this very class: every call has the right names.
        make = cast(Callable[..., Self], cls)
        return make(message, **kept)


def _fields(cls: type[TiercubeError]) -> dict[str, object]:
    """The keyword-only parameters of ``cls.__init__`` and their types (read when an error travels: rarely)."""
    init = cls.__init__
    if not inspect.isfunction(init):  # Exception's own: a message and nothing else
        return {}
    hints = typing.get_type_hints(init)
    return {p.name: hints[p.name] for p in inspect.signature(init).parameters.values() if p.kind is p.KEYWORD_ONLY}


@public
class ServerStartError(TiercubeError):
    """The server process did not come up; the message ends with its log."""

    code = "server_start"

    def __init__(self, message: str, *, logs_path: str | None = None) -> None:
        super().__init__(message)
        self.logs_path = logs_path
        """The server's whole log file."""


@public
class ResourceExhaustedError(TiercubeError):
    """A load or query would need more memory than the server has free under its ``memory_limit``.

    Refused before it allocated anything: every table is as it was and the
    server keeps answering. Try again when other work is done, narrow the work
    (a filter, fewer levels, a smaller file), or give the server more memory.
    """

    code = "resource_exhausted"
    status = 503

    def __init__(self, message: str, *, needed: int | None = None, available: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.needed = needed
        """About how many bytes the work would need at its peak (the server's estimate)."""
        self.available = available
        """How many bytes of the limit were free when it was refused."""
        self.limit = limit
        """The server's ``memory_limit`` in bytes."""


@public
class TooLargeForMemoryError(ResourceExhaustedError):
    """A load or query would need more memory than the server could give it, even with nothing else running."""

    code = "too_large_for_memory"
    status = 413


@public
class ServerUnavailableError(TiercubeError):
    """The server could not be reached, stopped answering, or is too busy to take the request (503).

    When the server said how long to wait (``Retry-After``: its connections,
    or those of callers without credentials, are all taken), ``retry_after``
    holds the seconds.
    """

    code = "unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds to wait before trying again, when the server said; None otherwise."""


@public
class TooManyRequestsError(ServerUnavailableError):
    """This caller already holds its share of the server (429): connections from its address, requests
    under way for its user, or explorer event streams. Others are still served; finish or close some
    (``retry_after`` says when to try again), or ask for a larger limit in the server's config."""

    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, *, retry_after: int | None = 1) -> None:
        super().__init__(message, retry_after=retry_after)


@public
class ServerTimeoutError(ServerUnavailableError):
    """The server did not answer within the client's ``timeout`` (``connect(timeout=)``, ``Session.start(timeout=)``).

    It accepted the connection but sent nothing back in time: it is stopped
    (SIGSTOP), frozen, or busier than the timeout allows. The call is
    abandoned and its connection closed, which the server treats as a client
    that went away: work it had not finished is cancelled. ``session.health()``
    tells a frozen server from a live one; pass a larger ``timeout`` (or None,
    no limit) for loads and queries that take longer.
    """

    code = "server_timeout"
    status = 504

    def __init__(self, message: str, *, url: str | None = None, timeout: float | None = None) -> None:
        super().__init__(message)
        self.url = url
        """The server's URL."""
        self.timeout = timeout
        """The seconds the client waited for an answer."""


@public
class StorageError(ServerUnavailableError):
    """A disk would not take what had to be written (full, read-only, missing, an I/O error) (507).

    On the server: it could not keep a change in its data directory, so it did
    not make it; at start, the data directory could not be used (another
    server holds it, or a file in it is damaged: the message names the file and
    the offset), or its temporary directory could not be written. On the
    client: ``Session.start()`` could not make the directory for the server's
    log, or a frame could not be written for the server to read. ``path`` says
    where; the message says what to free or to point elsewhere (``TMPDIR``).
    """

    code = "storage"
    status = 507

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        """The file or directory that could not be written or used, when one is known."""


@public
class ProtocolError(TiercubeError):
    """The peer answered, but not as a compatible tiercube server would."""

    code = "protocol"


@public
class ClusterError(TiercubeError):
    """The Dask cluster behind the session lost a worker, or a distributed table lost a partition.

    A query never answers from part of a table: it fails with this error,
    naming the table and the partition. Empty the table (``table.drop()``
    makes new, empty partitions on the workers the cluster has now) and load
    it again.
    """

    code = "cluster"
    status = 503

    def __init__(self, message: str, *, table: str | None = None, partition: int | None = None) -> None:
        super().__init__(message)
        self.table = table
        """The distributed table that lost a partition, when that is what happened."""
        self.partition = partition
        """The number of the lost partition (from 0, in ``table.partitions``), when that is what happened."""


@public
class CapabilityError(TiercubeError):
    """``connect(require=...)`` asked for more than the server grants.

    The message lists every condition a to f of the capability contract with
    whether it held and why; ``report`` holds the same as data.
    """

    code = "capability"

    def __init__(self, message: str, report: CapabilityReport | None = None) -> None:
        super().__init__(message)
        self.report = report
        """What ``connect()`` found out: each condition, whether it held and why (never sent by a server)."""


class CancelledError(TiercubeError):
    """The client went away; nobody reads this answer (499, as proxies log it).

    The server raises it at its next checkpoint, before the request changes anything.
    """

    code = "cancelled"
    status = 499


@public
class AuthenticationError(TiercubeError):
    """The server needs credentials, and those given are missing or wrong."""

    code = "unauthenticated"
    status = 401


@public
class TooManyAttemptsError(AuthenticationError):
    """Too many failed sign-ins for this user or from this address; ``retry_after`` says when to try again."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds until this address may sign in again, as the server counted them (60: its whole window)."""


@public
class PermissionDeniedError(TiercubeError):
    """The caller is known but its roles or tier do not allow the request."""

    code = "forbidden"
    status = 403


@public
class NotFoundError(TiercubeError, KeyError):
    """No table, cube, column, measure, user or route by that name."""

    code = "not_found"
    status = 404

    def __init__(self, message: str, *, kind: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        """What was looked for: ``"table"``, ``"cube"``, ``"measure"``, ``"user"``...; None when not said."""
        self.name = name
        """The name that was not found; None when not said."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""

    @classmethod
    def of(cls, kind: str, name: str, known: Iterable[str], *, within: str | None = None) -> NotFoundError:
        """``no table named 'salse' (did you mean 'sales'? tables: products, sales)``."""
        return cls(cls.describe(kind, name, known, within=within), kind=kind, name=name)

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


@public
class ConflictError(TiercubeError):
    """The name is already taken, or the object is still in use."""

    code = "conflict"
    status = 409


@public
class InvalidRequestError(TiercubeError, ValueError):
    """The request is malformed: a wrong type, an unknown column, a bad value."""

    code = "invalid"
    status = 400


@public
class RequestTooLargeError(InvalidRequestError):
    """The request's body or headers are larger than the server accepts (its config says how large)."""

    code = "request_too_large"
    status = 413

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        """The server's limit in bytes (``max_request_bytes``, or ``max_header_bytes`` for headers)."""


class BodyTooSlowError(InvalidRequestError):
    """A request body stopped coming, or came slower than the server allows (see ``SessionConfig``)."""

    code = "body_too_slow"
    status = 408


@public
class LoadError(InvalidRequestError):
    """A source could not be loaded; the message names the file, line or column, and so do the fields."""

    code = "load"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        """The file (as the server opened it) or cloud object (its URI) being loaded, or the caller's
        frame as the message names it (``"the polars.DataFrame loaded into table 'sales'"``); None
        when the failure is not about one (rows given to ``append`` are named ``"append"``)."""
        self.line = line
        """The line of a CSV file where the record that failed starts (1 is the first line, a header
        included); None when the failure is not about one record, or the record was not found."""
        self.column = column
        """The column whose values could not be read or converted; None when not about one column."""


@public
class QueryError(InvalidRequestError):
    """A query is malformed or refers to something that does not exist."""

    code = "query"


@public
class QueryTimeoutError(QueryError):
    """A query ran longer than the server's query timeout."""

    code = "query_timeout"

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout
        """The server's query timeout in seconds (``query_timeout``)."""


@public
class ResultTooLargeError(QueryError):
    """A query's result has more rows than the server's result limit."""

    code = "result_too_large"

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        """The most rows the query could return: the server's ``max_result_rows``, or less if the query asked."""


def _all_subclasses(cls: type[TiercubeError]) -> list[type[TiercubeError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


ERRORS_BY_CODE: dict[str, type[TiercubeError]] = {c.code: c for c in _all_subclasses(TiercubeError)}
"""How a client turns a server's error code back into the right exception."""
