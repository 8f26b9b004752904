"""The server's application inside the test process, for route-level tests that need no second process.

``in_process(config)`` builds the application exactly as ``tiercube serve``
does (``ServerState``, ``create_app``, ``Admission``, ``RequestLimits``: see
``tiercube._server.main.serve``) and runs it on an event loop of its own, as
uvicorn runs it on one; ``InProcessServer.client()`` is an ``httpx.Client``
whose requests go to that loop without a socket. The owner's custom
endpoints are answered by the owner's own listener (``EndpointListener``), to
which the application forwards them over loopback as a real server does.

What it leaves out is what the process boundary holds: uvicorn's connection
handling (``connections.py``: connection limits, head timeouts, TLS and
client certificates, and the event set when a request's client goes, which
here is never set), signals, the owner's lifecycle, and responses read while
they are still being written (an answer arrives whole). Tests of those
start real servers (``tiercube.Session.start``, ``tests/tiers.py``).

Per request it costs about what a real server costs (1.3 to 1.5 ms of CPU
either way, measured): what it saves is a server process per module (1 to 2 s
to start on an idle machine, several under load) and its share of the cores.
Not starlette's TestClient: it gives each client a loop of its own (uvicorn
has one for all), hops between threads about seven times per request (here
once), has no request timeout (here a request that outlives its read timeout
raises ``httpx.ReadTimeout`` and is cancelled, as a client's disconnect
cancels it), and its httpx support is deprecated in favour of httpx2.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

import tiercube
from tiercube._client.endpoints import EndpointListener, Handler, HttpMethod
from tiercube._server.admission import Admission
from tiercube._server.app import create_app
from tiercube._server.connections import GONE
from tiercube._server.limits import RequestLimits
from tiercube._server.state import ServerState
from tiercube._wire import paths

BASE_URL = "http://127.0.0.1"
PEER = ("127.0.0.1", 50000)
"""Where requests come from, as the application sees them: loopback, as for a real server in these tests."""
TIMEOUT = 60.0
"""Seconds a client waits for an answer unless told otherwise, as the tests' clients of real servers do."""


class _Connected:
    """What the server's protocol adds to every request's scope (``connections.py``): the event set when
    the request's connection is lost, which nothing sets here (a test's request is never abandoned)."""

    def __init__(self, application: ASGIApp) -> None:
        self._application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._application({**scope, GONE: threading.Event()}, receive, send)


class ApplicationTransport(httpx.BaseTransport):
    """Sends each request to ``application`` on the transport's event loop and waits for the whole answer."""

    def __init__(self, application: RequestLimits) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="in-process-server", daemon=True)
        self._thread.start()
        # A server error is answered 500 as over the network, not raised in the test.
        self._asgi = httpx.ASGITransport(app=_Connected(application), raise_app_exceptions=False, client=PEER)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body, as one chunk both kinds of stream can give
        timeout: float | None = request.extensions.get("timeout", {}).get("read")
        answer = asyncio.run_coroutine_threadsafe(self._answer(request), self._loop)
        try:
            return answer.result(timeout)
        except concurrent.futures.TimeoutError:
            answer.cancel()
            raise httpx.ReadTimeout(f"the application did not answer within {timeout} s", request=request) from None

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        return httpx.Response(response.status_code, headers=response.headers, content=await response.aread())

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@dataclass
class InProcessServer:
    """A server's application and state, its owner token, and the owner's endpoint listener once it declares one."""

    state: ServerState
    transport: ApplicationTransport
    token: str
    listener: EndpointListener | None = field(default=None)

    @property
    def nonce(self) -> str:
        """The share proof a same-host admin sends back in the ``tiercube-share-proof`` header (condition d)."""
        return self.state.share.nonce

    @property
    def owner(self) -> dict[str, str]:
        """The headers of a request by the owner (what ``Session.start`` authenticates with)."""
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, *, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client of the application. Closing it leaves the server running."""
        return httpx.Client(base_url=BASE_URL, transport=self.transport, headers=headers, timeout=TIMEOUT)

    def endpoint(self, route: str, method: HttpMethod, handler: Handler) -> None:
        """Declare a custom endpoint, as ``Session.endpoint`` does: the owner's listener answers it."""
        if self.listener is None:
            self.listener = EndpointListener(self.token)
        self.listener.handlers[(method, route)] = handler
        registration = {"route": route, "method": method, "forward_url": self.listener.url}
        with self.client() as client:
            answer = client.put(paths.OWNER_ENDPOINTS, headers=self.owner, json=registration)
        assert answer.is_success, answer.text


@contextmanager
def in_process(config: tiercube.SessionConfig) -> Generator[InProcessServer]:
    """A server's application built from ``config`` in this process, until the block ends."""
    token = secrets.token_urlsafe(32)
    state = ServerState(config, owner_token=token)
    server = InProcessServer(state, ApplicationTransport(RequestLimits(Admission(create_app(state), state), config)), token)
    try:
        yield server
    finally:
        server.transport.stop()
        if server.listener is not None:
            server.listener.close()  # up to half a second: http.server polls for shutdown
        state.cleanup()
