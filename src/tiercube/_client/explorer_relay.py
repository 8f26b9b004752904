"""The kernel's side of ``cube.explore()``: the explorer's requests, made to the server for the browser.

A notebook's browser may not reach the server at all (a remote kernel on
JupyterHub, over SSH, in Codespaces), but it always reaches the kernel. The
widget's page therefore sends every request, its own scripts included, as a
widget message; the relay makes it to the server and sends the answer back
in parts. It adds the widget's token, which never reaches the browser or the
notebook file, and nothing of the session's own credentials: the page acts
with the narrow grant of a widget session (``POST /api/v1/explorer/sessions``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Literal

import httpx
import msgspec

from tiercube._client.channel import Answer, Connection, Send
from tiercube._wire import paths
from tiercube._wire.explorer import EmbedSession

MAX_REQUESTS = 6
"""Requests carried at once per widget; more wait their turn (a browser allows six per server, too)."""

MAX_WAITING = 64
"""Requests waiting for their turn per widget; past that a request fails at once (a page gone wrong,
or a hostile server's script, would otherwise start a kernel thread per request without end)."""

MAX_STREAMS = 2
"""Event streams held open per widget; a newer one ends the oldest (a reloaded page leaves its own behind)."""

_PATH = re.compile(r"/(?!/)[!-~]*")
"""A path on the server, with its query: never another host (``//host``), never spaces or controls."""

_PASSED_ON = frozenset({"content-type", "accept", paths.CLIENT_VERSION_HEADER, paths.CLIENT_PROTOCOL_HEADER})
"""What the page may say in a request's headers. Credentials are the relay's to add."""

_ANSWERED = frozenset({"content-type", "retry-after", "content-disposition"})


class Request(msgspec.Struct, tag_field="kind", tag="request", frozen=True):
    """The page asks for ``method path``; the body, if any, is the message's one buffer."""

    id: int
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    headers: dict[str, str] = {}


class Abort(msgspec.Struct, tag_field="kind", tag="abort", frozen=True):
    """The page no longer wants the answer to request ``id`` (an event stream it stopped)."""

    id: int


Message = Request | Abort


class Relay:
    """Carries one widget's requests to the server, ``MAX_REQUESTS`` at a time, each on a thread of its own."""

    def __init__(self, connection: Connection, open_session: Callable[[], EmbedSession]) -> None:
        self._connection = connection
        self._open_session = open_session
        self._send: Send = lambda content, buffers: None
        self._session = open_session()
        self._turns = threading.BoundedSemaphore(MAX_REQUESTS)
        self._closed = False
        self._waiting = 0
        self._lock = threading.Lock()
        self._streams: dict[int, Answer] = {}  # open event streams, oldest first

    @property
    def page(self) -> str:
        """The explorer's embeddable page, on the server."""
        return self._session.path

    @property
    def token(self) -> str | None:
        """The widget session's token (None on a server without security)."""
        return self._session.token

    def bind(self, send: Send) -> None:
        """Answer through ``send`` from now on (the widget's, once it exists: it needs ``page`` first)."""
        self._send = send

    def receive(self, content: object, buffers: Sequence[bytes | memoryview]) -> None:
        """One message from the page. Answers come later, each from a thread of its own."""
        try:
            message = msgspec.convert(content, Message)
        except msgspec.ValidationError:
            return  # not the relay's: another widget message, or a page of another version
        if isinstance(message, Abort):
            self._end_stream(message.id)
            return
        body = bytes(buffers[0]) if buffers else None
        with self._lock:
            full = self._waiting >= MAX_WAITING
            if not full:
                self._waiting += 1
        if full:
            self._fail(message.id, f"the page has {MAX_WAITING} requests waiting already")
            return
        # Daemon threads: an event stream never ends by itself, and must not keep the kernel from exiting.
        threading.Thread(target=self._take_turn, args=(message, body), name="tiercube-explorer", daemon=True).start()

    def close(self) -> None:
        """End the open streams and stop carrying requests."""
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
        for response in streams:
            response.close()
        self._closed = True

    def _take_turn(self, request: Request, body: bytes | None) -> None:
        with self._turns:
            with self._lock:
                self._waiting -= 1
            if not self._closed:
                self._carry(request, body)

    def _carry(self, request: Request, body: bytes | None) -> None:
        if not _PATH.fullmatch(request.path):
            self._fail(request.id, f"not a path on the server: {request.path!r}")
            return
        headers = {name: value for name, value in request.headers.items() if name.lower() in _PASSED_ON}
        try:
            for attempt in range(2):
                if self.token is not None:
                    headers[paths.EXPLORER_TOKEN_HEADER] = self.token
                with self._connection.carry(request.method, request.path, headers=headers, content=body) as response:
                    if response.status_code == 401 and attempt == 0 and self.token is not None:
                        self._renew()  # the widget's hour is over; the kernel's caller opens another
                        continue
                    self._answer(request.id, response)
                    return
        except httpx.HTTPError as error:
            self._fail(request.id, f"the kernel cannot reach the tiercube server at {self._connection.url}: {error}")
        except Exception as error:  # a thread's exception would be lost: the page would wait forever
            self._fail(request.id, f"{type(error).__name__}: {error}")

    def _renew(self) -> None:
        session = self._open_session()
        with self._lock:
            self._session = session

    def _answer(self, id: int, response: Answer) -> None:
        head: dict[str, object] = {
            "kind": "part",
            "id": id,
            "status": response.status_code,
            "headers": {name: value for name, value in response.headers.items() if name in _ANSWERED},
        }
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            self._send({**head, "done": True}, [response.read()])
            return
        self._hold_stream(id, response)
        self._send({**head, "done": False}, [])
        try:
            for chunk in response.iter_bytes():
                self._send({"kind": "part", "id": id, "done": False}, [chunk])
        except (httpx.HTTPError, httpx.StreamError, OSError):
            pass  # ended by the page (Abort), by close(), or by the server: the page reconnects if it wants
        finally:
            with self._lock:
                self._streams.pop(id, None)
        self._send({"kind": "part", "id": id, "done": True}, [])

    def _hold_stream(self, id: int, response: Answer) -> None:
        with self._lock:
            self._streams[id] = response
            ended = list(self._streams)[:-MAX_STREAMS]
        for oldest in ended:
            self._end_stream(oldest)

    def _end_stream(self, id: int) -> None:
        with self._lock:
            response = self._streams.pop(id, None)
        if response is not None:
            response.close()

    def _fail(self, id: int, message: str) -> None:
        self._send({"kind": "fail", "id": id, "message": message}, [])
