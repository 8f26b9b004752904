"""The server's one HTTP protocol: what a connection may cost before any route runs.

uvicorn's H11Protocol accepts any number of connections and times nothing
out until a first response is sent (its keep-alive timer starts only then,
and any byte cancels it), so a thousand idle or half-sent requests locked
everybody out. This subclass, used for every connection, plain or TLS:

- answers 503 and hangs up past ``max_connections`` open connections;
- closes a connection that has not sent a whole request head within
  ``header_timeout`` seconds of opening, or of its previous response, however
  steadily it trickles bytes;
- answers 431 and hangs up once a head grows past ``max_header_bytes``: h11
  is never fed more than that while it waits for one, so its own limit (a
  plain-text 400) cannot trigger first;
- names the peer of a TLS connection by its client certificate (``tls.py``).

Request bodies have limits of their own, per request: ``limits.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from http import HTTPStatus
from typing import ClassVar

import h11
import msgspec
from uvicorn.protocols.http.h11_impl import H11Protocol

from tiercube._config import SessionConfig
from tiercube._server.tls import with_client_name
from tiercube._wire.messages import ErrorBody
from tiercube.errors import RequestTooLargeError, ServerUnavailableError, TiercubeError

log = logging.getLogger("tiercube.server")

# h11's own limit on a head it buffers sits above ours: only a client that pipelines
# garbage right behind a body can still meet it (and get uvicorn's 400).
H11_HEAD_SLACK = 1024
# How long a refused peer may go on sending before we close: enough to read our answer.
LINGER_SECONDS = 1.0
# Sockets the server needs besides its connections: the listener, log and data files, pyarrow's.
RESERVED_FILES = 64


class LimitedProtocol(H11Protocol):
    """H11Protocol with the connection limits of ``session_config``; built by ``protocol_for``."""

    session_config: ClassVar[SessionConfig]
    _head_deadline: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self.session_config.max_connections
        if len(self.connections) > limit:
            # Not counted, and not waited for at shutdown: it only lingers to be read.
            self.connections.discard(self)
            message = f"the server already has {limit} connections open, its limit (raise it with max_connections); try again later"
            self._refuse(503, ServerUnavailableError(message))
            return
        self.app = with_client_name(self.app, transport)  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped, so the peer's unread bytes do not turn our close into a reset
        if self.conn.their_state is not h11.IDLE:
            super().data_received(data)
            return
        # Waiting for a head: give h11 no more than the limit, and see whether that completed one.
        room = self.session_config.max_header_bytes - len(self.conn.trailing_data[0])
        if room > 0:
            super().data_received(data[:room])  # never b"": to h11 that means end of input
        if self.transport.is_closing() or self._refused:
            return
        if self.conn.their_state is h11.IDLE:
            if len(data) > room:
                limit = self.session_config.max_header_bytes
                message = f"the request line and headers are larger than {limit} bytes (raise the limit with max_header_bytes)"
                self._refuse(431, RequestTooLargeError(message, limit=limit))
        elif len(data) > room:
            super().data_received(data[room:])  # the body, or pipelined requests, behind a head that fit

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a head arrived; its body has deadlines of its own (limits.py)
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        # Before the parent's: it may go straight on to a pipelined request, which cancels this.
        if not self.transport.is_closing():
            self._await_head()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        # One deadline for the whole head: data does not push it back, so trickling cannot either.
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.session_config.header_timeout, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            _warn("header_timeout", f"closed connections that sent no whole request head in {self.session_config.header_timeout} s")
            self.transport.close()

    def _refuse(self, status: int, error: TiercubeError) -> None:
        """Answer ``status`` and hang up, whatever state h11 is in.

        The answer is written raw, since h11 may be mid-head. Closing at once,
        with the peer's request still arriving, would send a reset that can
        destroy the answer before the peer reads it; so we half-close, drop
        what still comes, and close for good a moment later.
        """
        self._refused = True
        self._cancel_head_deadline()
        _warn(error.code, f"answered {status}: {error}")
        body = msgspec.json.encode(ErrorBody.of(error))
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        if self.transport.can_write_eof():  # TLS cannot half-close
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def protocol_for(config: SessionConfig) -> type[LimitedProtocol]:
    """The protocol class to give uvicorn (``http=``) for a server with ``config``.

    uvicorn builds protocols itself, ``Protocol(config=..., server_state=...,
    app_state=...)``, with its own config; ours travels as a class attribute.
    """

    class Configured(LimitedProtocol):
        session_config = config

    return Configured


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
