"""An OpenID Connect provider the server cannot reach: a 503 that names it, soon, never a hang or a 500.

The token may be valid; the server cannot check it now. So the answer is
``ServerUnavailableError`` (503, ``Retry-After``), not a 401 that would tell
the caller its credentials are wrong (SECURITY.md, promise 15). The provider
is the real one of ``tests/test_oidc.py``, stopped; a provider that never
answers, or trickles its answer, is a socket of this test's.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Generator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.in_process import in_process
from tests.test_oidc import STATED, Provider, config, free_port, installed, signing_key
from tiercube._server import oidc
from tiercube._wire import paths

__all__ = ["installed"]  # the fixture, used by name

FETCH_TIMEOUT = 1.0  # the servers' here: 3 s in use
MARGIN = 2.0  # what "answered within the timeout" allows on a busy machine


def grant(issuer: str, token: str) -> tuple[httpx.Response, float]:
    """The answer to ``token`` from a new server whose provider is ``issuer`` (its keys not yet fetched), and how
    long it took; then a second answer, which must come at once."""
    with in_process(config(issuer)) as server, server.client(headers={**STATED, "Authorization": f"Bearer {token}"}) as client:
        started = time.monotonic()
        answer = client.get(paths.EXPLORER_GRANT)
        elapsed = time.monotonic() - started
        again = time.monotonic()
        assert client.get(paths.EXPLORER_GRANT).status_code == answer.status_code
        assert time.monotonic() - again < 0.5, "the provider was asked again at once"
        return answer, elapsed


def unreachable(answer: httpx.Response, issuer: str) -> None:
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == "unavailable" and issuer in body["message"] and "OpenID Connect provider" in body["message"], body
    assert int(answer.headers["retry-after"]) >= 1


@pytest.fixture(autouse=True)
def short_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oidc, "FETCH_TIMEOUT", FETCH_TIMEOUT)


def test_a_stopped_provider_is_a_503_naming_it(installed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    key = signing_key("first")
    provider = Provider(free_port())
    provider.start(key)
    token = provider.token("analyst")
    provider.stop()
    answer, elapsed = grant(provider.issuer, token)
    unreachable(answer, provider.issuer)
    assert elapsed < MARGIN
    # Once the provider is back, the next fetch (no sooner than REFETCH_AFTER) lets the token in.
    monkeypatch.setattr(oidc, "REFETCH_AFTER", 0.5)
    with in_process(config(provider.issuer)) as server, server.client(headers={**STATED, "Authorization": f"Bearer {token}"}) as client:
        unreachable(client.get(paths.EXPLORER_GRANT), provider.issuer)
        provider.start(key)
        try:
            time.sleep(0.6)
            assert client.get(paths.EXPLORER_GRANT).json()["user"] == "analyst"
        finally:
            provider.stop()


def self_signed(issuer: str) -> str:
    """A token naming ``issuer``: no key will ever be fetched to check it, so whose key signed it does not matter."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims: dict[str, Any] = {"iss": issuer, "aud": "https://tiercube.test/api", "sub": "someone", "exp": time.time() + 300, "roles": []}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "first"})


@pytest.fixture
def silent() -> Generator[str]:
    """A provider that accepts connections (the kernel does, into its backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def trickling() -> Generator[str]:
    """A provider that answers its head, then a byte of its body every 0.2 s, for as long as it is read."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                peer.recv(65536)
                try:
                    peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                    while not stop.wait(0.2):
                        peer.sendall(b" ")
                except OSError:  # the server gave up and hung up: what it should do
                    continue

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("provider", ["silent", "trickling"])
def test_a_provider_that_never_answers_whole_is_a_503_within_the_timeout(provider: str, request: pytest.FixtureRequest) -> None:
    issuer: str = request.getfixturevalue(provider)
    answer, elapsed = grant(issuer, self_signed(issuer))
    unreachable(answer, issuer)
    assert FETCH_TIMEOUT * 0.9 <= elapsed < FETCH_TIMEOUT * 2 + MARGIN
