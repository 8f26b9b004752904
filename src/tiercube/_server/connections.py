"""The server's HTTP protocols: what a connection may cost before any route runs.

uvicorn's protocols accept any number of connections and time nothing out
until a first response is sent (their keep-alive timer starts only then, and
any byte cancels it), so a thousand idle or half-sent requests locked
everybody out; with httptools a request head had no size limit at all. Every
connection, plain or TLS, is served by a subclass of uvicorn's protocol for
the server's parser (httptools, or h11: ``PARSERS``) whose ``Guard``:

- counts connections per client address, and answers 429 and hangs up past
  ``max_connections_per_address`` (plus ``reserved_connections``) from one
  (a trusted proxy's are not counted here: its clients are told apart per
  request, ``admission.py``);
- past ``max_connections`` open connections, or past an address's own limit,
  accepts up to ``reserved_connections`` more as *reserved*: their requests
  are served only to callers who manage security (``admission.py`` tells,
  once a request says who it is; the scope's ``RESERVED`` is true), so an
  administrator can still get in while others hold every ordinary connection;
  past those, answers 503 and hangs up;
- closes a connection that has not sent a whole request head within
  ``header_timeout`` seconds of opening, or of its previous response, however
  steadily it trickles bytes;
- answers 431 and hangs up once a head grows past ``max_header_bytes``: while
  the parser waits for a head it is never fed more than that, so neither
  h11's own limit (a plain-text 400) nor httptools' lack of one is met. A
  head that arrives in the same read as the end of the request before it
  (only a client that pipelines sends one) gets past this count, by at most
  that read; it is measured once parsed, by ``limits.py`` (under h11, one
  more than ``H11_HEAD_SLACK`` over the limit meets h11's 400 first);
- aborts a connection whose client stops reading its answer for
  ``header_timeout`` seconds (a request sent whole whose answer, or event
  stream, is never read held its connection, and the server's buffers, for good);
- names the peer of a TLS connection by its client certificate (``tls.py``);
- tells each request when its client has gone: ``scope[GONE]`` is a
  ``threading.Event`` set when the connection is lost, which a handler in a
  worker thread can check (Ctrl+C in a client closes its connection).

Request bodies have limits of their own, per request: ``limits.py``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from http import HTTPStatus
from typing import ClassVar, Literal, cast

import h11
import msgspec
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tiercube._config import SessionConfig
from tiercube._server.client_address import AddressTally
from tiercube._server.tls import with_client_name
from tiercube._wire.messages import ErrorBody
from tiercube.errors import RequestTooLargeError, ServerUnavailableError, TiercubeError, TooManyRequestsError

log = logging.getLogger("tiercube.server")

Parser = Literal["httptools", "h11"]
PARSERS: tuple[Parser, ...] = ("httptools", "h11")

# The scope key of the event set when a request's connection is lost.
GONE = "tiercube.connection_gone"
# The scope key that says the request's connection was accepted past a limit, for callers who manage security only.
RESERVED = "tiercube.reserved_connection"
# Seconds a caller refused for want of a connection is told to wait (Retry-After): connections come and go fast.
RETRY_AFTER = 1

# h11's own limit on a head it buffers sits above ours: only a head pipelined right behind
# another request can still meet it (and get uvicorn's 400).
H11_HEAD_SLACK = 1024
# How long a refused peer may go on sending before we close: enough to read our answer.
LINGER_SECONDS = 1.0
# Sockets the server needs besides its connections: the listener, log and data files, pyarrow's.
RESERVED_FILES = 64


class Guard:
    """The limits of one connection, whichever parser reads it; its protocol says when a head arrives."""

    def __init__(self, config: SessionConfig, tally: AddressTally, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._config = config
        self._tally = tally
        self._transport = transport
        self._loop = loop
        peer: object = transport.get_extra_info("peername")  # (host, port) over TCP, (host, port, flow, scope) over IPv6
        self._address = str(cast("tuple[object, ...]", peer)[0]) if isinstance(peer, tuple) else "unknown"
        self._counted = False  # in the tally of its address
        # Accepted past a limit: its requests are served to callers who manage security only.
        self.reserved = False
        self._deadline: asyncio.TimerHandle | None = None
        self._stalled: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the head being waited for, fed to the parser so far
        self._heads = 0
        self.refused = False
        # One event for every request of the connection: losing it ends whichever one is running.
        self.gone = threading.Event()

    def admit(self, open_connections: int) -> bool:
        """Whether the connection may stay (then its first head is awaited), and whether as a reserved one.

        Past every connection the server or this address may hold, reserved
        ones included, the answer is 503 or 429.
        """
        config = self._config
        general, reserve = config.max_connections, config.reserved_connections
        if open_connections > general + reserve:
            message = (
                f"the server already has {general + reserve} connections open: its limit, max_connections ({general}), and the "
                f"reserved_connections ({reserve}) kept for callers who manage security; try again later, or raise the limits"
            )
            self._refuse(503, ServerUnavailableError(message, retry_after=RETRY_AFTER))
            return False
        held = self._tally.held(self._address)
        per_address = config.max_connections_per_address
        if held is not None and held >= per_address + reserve:
            message = (
                f"{self._address} already has {held} connections open to this server, as many as one address may "
                f"(max_connections_per_address = {per_address}, and {reserve} reserved for callers who manage security); "
                "close some, or try again later"
            )
            self._refuse(429, TooManyRequestsError(message, retry_after=RETRY_AFTER))
            return False
        if held is not None:
            self._tally.opened(self._address)
            self._counted = True
        self.reserved = open_connections > general or (held is not None and held >= per_address)
        self.await_head()
        return True

    def feed_head(self, data: bytes, feed: Callable[[bytes], None]) -> None:
        """Feed ``data`` to a parser that waits for a head, never more than the head may still take."""
        room = self._config.max_header_bytes - self._head_bytes
        heads = self._heads
        feed(data[:room])  # room > 0, or we would have refused: never b"", which ends h11's input
        if self._transport.is_closing() or self.refused:
            return
        if self._heads == heads:
            self._head_bytes += min(room, len(data))
            if len(data) > room:
                limit = self._config.max_header_bytes
                self._refuse(431, RequestTooLargeError(head_too_large(limit), limit=limit))
        elif len(data) > room:
            feed(data[room:])  # the body, or pipelined requests, behind a head that fit

    def head_arrived(self, scope: MutableMapping[str, object]) -> None:
        """A whole head is parsed, ``scope`` made for it: its body has deadlines of its own (``limits.py``).

        ASGI lets a server add keys of its own to a scope; uvicorn's type of it knows none, hence the casts.
        """
        scope[GONE] = self.gone
        scope[RESERVED] = self.reserved
        self._heads += 1
        self._head_bytes = 0
        self._cancel_deadline()

    def await_head(self) -> None:
        """Start waiting for a head. One deadline for all of it: data does not push it back, so trickling cannot."""
        self._cancel_deadline()
        self._deadline = self._loop.call_later(self._config.header_timeout, self._timed_out)

    def writing_paused(self) -> None:
        """The client does not read what we send (the transport's buffer is full): it has ``header_timeout`` to go on."""
        if self._stalled is None:
            self._stalled = self._loop.call_later(self._config.header_timeout, self._stalled_out)

    def writing_resumed(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def lost(self) -> None:
        """The connection is gone."""
        if self._counted:
            self._counted = False
            self._tally.closed(self._address)
        self.gone.set()
        self._cancel_deadline()
        self.writing_resumed()

    def _stalled_out(self) -> None:
        self._stalled = None
        _warn("read_timeout", f"aborted connections whose client read nothing of its answer for {self._config.header_timeout} s")
        # close() would wait to send what the client does not read; abort() alone would still leave
        # up to megabytes in the kernel's send buffer, trickling out for minutes. A reset drops them.
        connection = self._transport.get_extra_info("socket")
        if connection is not None:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if not self._transport.is_closing():
            _warn("header_timeout", f"closed connections that sent no whole request head in {self._config.header_timeout} s")
            self._transport.close()

    def _refuse(self, status: int, error: TiercubeError) -> None:
        """Answer ``status`` and hang up, whatever state the parser is in.

        The answer is written raw, since the parser may be mid-head. Closing at
        once, with the peer's request still arriving, would send a reset that can
        destroy the answer before the peer reads it; so we half-close, drop what
        still comes, and close for good a moment later.
        """
        self.refused = True
        self._cancel_deadline()
        _warn(error.code, f"answered {status}: {error}")
        body = msgspec.json.encode(ErrorBody.of(error))
        retry_after = f"retry-after: {RETRY_AFTER}\r\n" if status in (429, 503) else ""
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{retry_after}connection: close\r\n\r\n"
        )
        self._transport.write(head.encode("ascii") + body)
        if self._transport.can_write_eof():  # TLS cannot half-close
            self._transport.write_eof()
        self._loop.call_later(LINGER_SECONDS, self._transport.close)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C) with a ``Guard``; built by ``protocol_for``."""

    session_config: ClassVar[SessionConfig]
    tally: ClassVar[AddressTally]
    guard: Guard
    # llhttp parses whatever it is fed: between a request's end and the next head, what comes is a head.
    _awaiting_head = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard = Guard(self.session_config, self.tally, transport, self.loop)
        if self.guard.admit(len(self.connections)):
            self.app = with_client_name(self.app, transport)  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        else:
            self.connections.discard(self)  # not counted, and not waited for at shutdown: it only lingers to be read

    def data_received(self, data: bytes) -> None:
        if self.guard.refused:
            return  # read and dropped, so the peer's unread bytes do not turn our close into a reset
        if self._awaiting_head:
            self.guard.feed_head(data, super().data_received)
        else:
            super().data_received(data)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        super().on_headers_complete()
        self.guard.head_arrived(cast("MutableMapping[str, object]", self.cycle.scope))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True

    def on_response_complete(self) -> None:
        # A pipelined request whose head is already here starts now, and needs no deadline.
        if not self.transport.is_closing() and not self.pipeline:
            self.guard.await_head()
        super().on_response_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.guard.writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.guard.writing_resumed()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.lost()
        super().connection_lost(exc)


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol (pure Python) with a ``Guard``; built by ``protocol_for``."""

    session_config: ClassVar[SessionConfig]
    tally: ClassVar[AddressTally]
    guard: Guard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard = Guard(self.session_config, self.tally, transport, self.loop)
        if self.guard.admit(len(self.connections)):
            self.app = with_client_name(self.app, transport)  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        else:
            self.connections.discard(self)  # not counted, and not waited for at shutdown: it only lingers to be read

    def data_received(self, data: bytes) -> None:
        if self.guard.refused:
            return  # read and dropped, so the peer's unread bytes do not turn our close into a reset
        if self.conn.their_state is h11.IDLE:
            self.guard.feed_head(data, super().data_received)
        else:
            super().data_received(data)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self.guard.head_arrived(cast("MutableMapping[str, object]", self.cycle.scope))

    def on_response_complete(self) -> None:
        # Before the parent's: it may go straight on to a pipelined request, which cancels this.
        if not self.transport.is_closing():
            self.guard.await_head()
        super().on_response_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.guard.writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.guard.writing_resumed()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.lost()
        super().connection_lost(exc)


def head_too_large(limit: int) -> str:
    return f"the request line and headers are larger than {limit} bytes (raise the limit with max_header_bytes)"


def protocol_for(config: SessionConfig, parser: Parser) -> type[LimitedHttpToolsProtocol | LimitedH11Protocol]:
    """The protocol class to give uvicorn (``http=``) for a server with ``config``.

    uvicorn builds protocols itself, ``Protocol(config=..., server_state=...,
    app_state=...)``, with its own config; ours travels as a class attribute,
    as does the count of connections per address that all of them share.
    """
    shared = AddressTally(config)
    if parser == "h11":

        class ConfiguredH11(LimitedH11Protocol):
            session_config = config
            tally = shared

        return ConfiguredH11

    class ConfiguredHttpTools(LimitedHttpToolsProtocol):
        session_config = config
        tally = shared

    return ConfiguredHttpTools


def allow_open_files(max_connections: int) -> None:
    """Raise the soft limit on open files to the hard one, so ``max_connections`` is what bites.

    With a soft limit of 1024 (a common default) the process ran out of file
    descriptors near a thousand sockets, before any limit of ours could answer.
    """
    if sys.platform == "win32":
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # macOS: an unlimited hard limit is above what the kernel allows
            pass
    raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    log.info("open files: soft limit %d (was %d, hard limit %d)", raised, soft, hard)
    if raised != resource.RLIM_INFINITY and raised < max_connections + RESERVED_FILES:
        log.warning("open files are limited to %d, too few for max_connections = %d", raised, max_connections)


_last_warned: dict[str, float] = {}


def _warn(kind: str, message: str) -> None:
    # An attack repeats the same refusal thousands of times a second: once a minute in the log is enough.
    now = time.monotonic()
    if now - _last_warned.get(kind, float("-inf")) >= 60.0:
        _last_warned[kind] = now
        log.warning("%s (at most one such message a minute)", message)
