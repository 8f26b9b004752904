"""Request bodies: no larger than ``max_request_bytes``, and no slower than a trickle.

uvicorn hands the application a body as it arrives and never refuses one,
and ``request.body()`` joins it whole: a 1.5 GB anonymous request took 1.6 GB
of memory. This middleware, around the whole application, refuses a body
whose ``Content-Length`` is over the limit before reading any of it, counts
the bytes of one that comes without (chunked), and bounds the time a route
waits for it. A refused body is not read to its end: the answer says
``Connection: close`` and uvicorn hangs up after it.

A route may read less than ``max_request_bytes`` (``Route.max_body``: an MDX
query is at most 100,000 characters): its bodies are held to that, alike.

Heads, and connections as such, are limited in ``connections.py``; the one
head that can get past it whole, pipelined right behind another request in
the same read, is measured here as parsed and refused alike (431).
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiercube._config import SessionConfig
from tiercube._server.app import error_response
from tiercube._server.connections import head_too_large
from tiercube._wire.messages import ErrorBody
from tiercube._wire.routes import ROUTES
from tiercube.errors import BodyTooSlowError, RequestTooLargeError

log = logging.getLogger("tiercube.server")

# The pace a body must keep on average: every header_timeout of waiting must bring this much.
BODY_BYTES_PER_TIMEOUT = 64 * 1024


class RequestLimits:
    """The ASGI application ``app`` with ``config``'s limits on request bodies."""

    def __init__(self, app: ASGIApp, config: SessionConfig) -> None:
        self._app = app
        self._config = config
        # Routes without path parameters that read less than any body the server accepts.
        self._smaller = {(r.method, r.path): r.max_body for r in ROUTES if r.max_body is not None and "{" not in r.path}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if _head_size(scope) > self._config.max_header_bytes:
            log.info("%s %s -> 431 (a pipelined head)", scope["method"], scope["path"])
            limit = self._config.max_header_bytes
            response = error_response(431, ErrorBody.of(RequestTooLargeError(head_too_large(limit), limit=limit)))
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        limit = min(self._smaller.get((scope["method"], scope["path"]), self._config.max_request_bytes), self._config.max_request_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.info("%s %s -> 413 Content-Length %d", scope["method"], scope["path"], declared)
            response = error_response(413, ErrorBody.of(RequestTooLargeError(self._too_large(limit), limit=limit)))
            response.headers["connection"] = "close"
            await response(scope, receive, send)  # never reads the body, nor asks for it (100-continue)
            return
        body = _Body(receive, self._config, limit, self._too_large(limit))

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and body.refused:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self._app(scope, body.receive, send_closing)

    def _too_large(self, limit: int) -> str:
        if limit == self._config.max_request_bytes:
            return too_large(limit)
        return f"the request body is larger than {limit} bytes, the most a request to this route can need"


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (raise the limit with max_request_bytes)"


def _head_size(scope: Scope) -> int:
    """The bytes of the request line and headers as parsed: what was sent, but for extra whitespace."""
    query: bytes = scope["query_string"]
    size = len(scope["method"]) + len(scope["raw_path"]) + (len(query) + 1 if query else 0) + len(" HTTP/1.1\r\n") + 1
    for name, value in scope["headers"]:
        size += len(name) + len(value) + len(": \r\n")
    return size + len("\r\n")


def _content_length(scope: Scope) -> int | None:
    # h11 has already refused a malformed or conflicting Content-Length; this is only a guard.
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


class _Body:
    """A request's ``receive``: raises once the body passes the size limit or stops coming.

    Only the time a route spends waiting here counts: while it works instead,
    uvicorn stops reading and the client cannot send. Each wait may last
    ``header_timeout``, and all of them together ``header_timeout`` plus as
    much again for every ``BODY_BYTES_PER_TIMEOUT`` received, so neither a
    stall nor a trickle of bytes holds a connection for long.
    """

    def __init__(self, receive: Receive, config: SessionConfig, max_bytes: int, too_large: str) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._too_large = too_large
        self._timeout = config.header_timeout
        self._received = 0
        self._waited = 0.0
        self._complete = False
        self.refused = False

    async def receive(self) -> Message:
        if self._complete:  # e.g. starlette listening for a disconnect while it streams an answer
            return await self._receive()
        earned = self._timeout * (1 + self._received / BODY_BYTES_PER_TIMEOUT) - self._waited
        started = time.monotonic()
        try:
            async with asyncio.timeout(min(self._timeout, earned)):
                message = await self._receive()
        except TimeoutError:
            self.refused = True
            received = f"{self._received} bytes in {self._waited + time.monotonic() - started:.1f} s"
            raise BodyTooSlowError(
                f"the request body stopped coming ({received}); it must not pause for longer than header_timeout "
                f"({self._timeout} s), nor arrive slower than {BODY_BYTES_PER_TIMEOUT} bytes per header_timeout"
            ) from None
        finally:
            self._waited += time.monotonic() - started
        if message["type"] != "http.request" or not message.get("more_body", False):
            self._complete = True
        self._received += len(message.get("body", b""))
        if self._received > self._max_bytes:
            self.refused = True
            raise RequestTooLargeError(self._too_large, limit=self._max_bytes)
        return message
