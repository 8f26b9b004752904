"""The server's application inside the test process, for route-level tests that need no second process.

``in_process(config)`` builds the application exactly as ``tiercube serve``
does (``ServerState``, ``create_app``, ``RequestLimits``: see
``tiercube._server.main.serve``), and ``InProcessServer.client()`` sends
requests to it through starlette's TestClient, an ``httpx.Client`` without a
socket. The owner's custom endpoints are answered by the owner's own
listener (``EndpointListener``), to which the application forwards them
over loopback as a real server does.

What it leaves out is what the process boundary holds: uvicorn's connection
handling (``connections.py``: connection limits, head timeouts, TLS and
client certificates), signals, the owner's lifecycle, and one event loop for
all callers (each client here runs the application on a loop of its own, so
requests that must overlap go to a real server). Tests of those start real
servers (``tiercube.Session.start``, ``tests/tiers.py``).

Per request it costs about what a real server costs (1.3 to 1.5 ms of CPU
either way, measured): what it saves is a server process per module (1 to 2 s
to start on an idle machine, several under load) and its share of the cores.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from starlette.testclient import TestClient
from starlette.types import ASGIApp

import tiercube
from tiercube._client.endpoints import EndpointListener, Handler, HttpMethod
from tiercube._server.app import create_app
from tiercube._server.limits import RequestLimits
from tiercube._server.state import ServerState
from tiercube._wire import paths

BASE_URL = "http://127.0.0.1"
PEER = ("127.0.0.1", 50000)
"""Where requests come from, as the application sees them: loopback, as from a real server's tests."""


@dataclass
class InProcessServer:
    """A server's application, its owner token, and the owner's endpoint listener once it declares an endpoint."""

    state: ServerState
    application: ASGIApp
    token: str
    listener: EndpointListener | None = None

    @property
    def nonce(self) -> str:
        """The share proof a same-host admin sends back in the ``tiercube-share-proof`` header (condition d)."""
        return self.state.share.nonce

    @property
    def owner(self) -> dict[str, str]:
        """The headers of a request by the owner (what ``Session.start`` authenticates with)."""
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, *, base_url: str = BASE_URL, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client of the application, to use in a ``with`` block (which starts its event loop).

        Redirects are not followed (as by any ``httpx.Client``) and a server
        error is answered 500 as over the network, not raised here.
        """
        return TestClient(
            self.application, base_url=base_url, raise_server_exceptions=False, follow_redirects=False, client=PEER, headers=headers
        )

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
    server = InProcessServer(state, RequestLimits(create_app(state), config), token)
    try:
        yield server
    finally:
        if server.listener is not None:
            server.listener.close()  # up to half a second: http.server polls for shutdown
        state.cleanup()
