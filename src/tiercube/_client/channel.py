"""What sessions need of their connection to a server, as protocols free of httpx.

The session classes are what a user's type checker reads (``__init__.pyi``
names them), and mypy analyses every module those import, inside functions and
under ``TYPE_CHECKING`` too. Were they to import ``connection`` or
``explorer_relay`` (httpx's client), a user's ``mypy --strict`` on a file using
tiercube would analyse all of httpx as well: about 150 more modules, a third of
its time (issue 20). So they name these protocols, and ``opening`` imports the
implementations by name when a session first connects
(``typecheck/check_channel.py`` holds the implementations to the protocols).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from tiercube._client.auth import Authenticate, ClientCertificate
from tiercube._client.timeouts import DEFAULT_TIMEOUT
from tiercube._wire.explorer import EmbedSession

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")


class Answer(Protocol):
    """A server's answer (an ``httpx.Response``), as its callers read it."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The answer's headers."""
        ...

    @property
    def content(self) -> bytes:
        """The whole body."""
        ...

    def read(self) -> bytes:
        """The whole body, read now."""
        ...

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk as it arrives (an event stream)."""
        ...

    def close(self) -> None:
        """Stop reading the body and release the connection."""
        ...


class Connection(Protocol):
    """One connection to a server (``connection.Connection``): see its members there."""

    url: str
    share_proof: str | None

    def request(
        self, method: str, path: str, body: object = None, *, timeout: float | None = None, anonymous: bool = False
    ) -> Answer:
        """Send one request; ``timeout`` (seconds) overrides the connection's for it, ``anonymous`` sends no credentials."""
        ...

    def json(self, method: str, path: str, response_type: type[T], body: object = None) -> T:
        """Send ``body`` as JSON and decode the answer as ``response_type``; raises the server's error, or ``ProtocolError``."""
        ...

    def arrow(self, method: str, path: str, body: object = None) -> pa.Table:
        """Send ``body`` as JSON and decode the Arrow stream it answers; raises the server's error, or ``ProtocolError``."""
        ...

    def carry(self, method: str, path: str, *, headers: dict[str, str], content: bytes | None) -> AbstractContextManager[Answer]:
        """A page's request, streamed, with none of this connection's credentials: only ``headers``."""
        ...

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        ...

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        ...


class Opener(Protocol):
    """``connection.Connection``'s constructor."""

    def __call__(
        self,
        url: str,
        *,
        authentication: Authenticate | None = None,
        client_certificate: ClientCertificate | None = None,
        certificate_authority: Path | str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Connection: ...


Send = Callable[[dict[str, object], list[bytes]], None]
"""Sends one widget message (content, binary buffers) to the browser."""


class Relay(Protocol):
    """Carries a notebook widget's requests to the server (``explorer_relay.Relay``): see its members there."""

    @property
    def page(self) -> str:
        """The explorer's embeddable page, on the server."""
        ...

    @property
    def token(self) -> str | None:
        """The widget session's token (None on a server without security)."""
        ...

    def bind(self, send: Send) -> None:
        """Answer through ``send`` from now on (the widget's, once it exists: it needs ``page`` first)."""
        ...

    def receive(self, content: object, buffers: Sequence[bytes | memoryview]) -> None:
        """One message from the page. Answers come later, from the relay's threads."""
        ...

    def close(self) -> None:
        """End the open streams and stop carrying requests."""
        ...


class RelayOpener(Protocol):
    """``explorer_relay.Relay``'s constructor."""

    def __call__(self, connection: Connection, open_session: Callable[[], EmbedSession]) -> Relay: ...
