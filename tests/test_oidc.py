"""API callers signed in by a real OpenID Connect provider: node's oidc-provider, started on loopback.

``tests/oidc/provider.js`` runs the provider (``npm ci`` in ``tests/oidc``
installs it the first time) with RSA keys made here; its clients get JWT
access tokens through the client credentials grant, and the server verifies
them against the provider's published keys. Never tokens this test signs
itself: every token comes from the provider's token endpoint.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import tiercube
from tests.in_process import InProcessServer, in_process
from tiercube._server import oidc
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths

HERE = Path(__file__).resolve().parent / "oidc"
AUDIENCE = "https://tiercube.test/api"
SECRET = "client-secret-" + "x" * 32
STATED = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
CLIENTS: list[dict[str, Any]] = [
    {"client_id": "analyst", "audience": AUDIENCE, "roles": ["analysts"]},
    {"client_id": "chief", "audience": AUDIENCE, "roles": ["admins", "analysts"]},
    {"client_id": "roleless", "audience": AUDIENCE},
    {"client_id": "elsewhere", "audience": "https://another.test/api", "roles": ["admins"]},
    {"client_id": "brief", "audience": AUDIENCE, "roles": ["analysts"], "ttl": 1},
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def signing_key(kid: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class Provider:
    """One oidc-provider process on a loopback port, started again with other keys to rotate them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None
        self.started = False

    def start(self, *keys: dict[str, Any], interactive: list[dict[str, Any]] | None = None, accounts: dict[str, Any] | None = None) -> None:
        """Listen, with these signing keys; ``interactive`` clients sign browsers in as ``accounts`` (see provider.js)."""
        settings = {
            "port": self.port,
            "issuer": self.issuer,
            "jwks": {"keys": list(keys)},
            "clients": [{**client, "client_secret": SECRET} for client in CLIENTS],
            "interactive": interactive or [],
            "accounts": accounts or {},
        }
        with tempfile.TemporaryFile("w+") as errors:
            process = subprocess.Popen(["node", str(HERE / "provider.js"), json.dumps(settings)], stdout=subprocess.PIPE, stderr=errors, text=True)
            if process.stdout is not None and process.stdout.readline().strip() == "ready":
                self.process, self.started = process, True
                return
            process.wait(timeout=30)
            errors.seek(0)
            why = errors.read()
        # The port was free when chosen, and something else (another test's kernel, say) took it
        # since: before its first start, nothing knows this provider's address yet, so take another.
        if "EADDRINUSE" in why and not self.started:
            self.port = free_port()
            self.issuer = f"http://127.0.0.1:{self.port}"
            self.start(*keys, interactive=interactive, accounts=accounts)
            return
        pytest.fail(f"the OIDC provider did not start on port {self.port}: {why[-2000:]}")

    def token(self, client: str) -> str:
        answer = httpx.post(f"{self.issuer}/token", data={"grant_type": "client_credentials", "scope": "api"}, auth=(client, SECRET))
        assert answer.is_success, answer.text
        token: str = answer.json()["access_token"]
        return token

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture(scope="module")
def installed() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is needed to run the OpenID Connect provider (oidc-provider) these tests use")
    # Three test files need it, on different xdist workers at once: one installs (npm ci first empties
    # node_modules) while the others wait, and a finished install is known by a mark written after it.
    done = HERE / "node_modules" / ".installed-by-tests"
    with (HERE / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True, timeout=600)
            done.touch()


@pytest.fixture(scope="module")
def provider(installed: None) -> Generator[Provider]:
    started = Provider(free_port())
    started.start(signing_key("first"))
    yield started
    started.stop()


def config(issuer: str) -> tiercube.SessionConfig:
    settings = tiercube.OidcConfig(
        issuer=issuer, client_id="tiercube", audience=AUDIENCE, role_mapping={"admins": ["ROLE_ADMIN"]}, clock_skew=0.0
    )
    return tiercube.SessionConfig(oidc=settings)


@pytest.fixture
def server(provider: Provider) -> Generator[InProcessServer]:
    with in_process(config(provider.issuer)) as served:
        yield served


def grant(server: InProcessServer, token: str) -> httpx.Response:
    with server.client(headers={**STATED, "Authorization": f"Bearer {token}"}) as client:
        return client.get(paths.EXPLORER_GRANT)


def refused(server: InProcessServer, token: str, why: str) -> None:
    answer = grant(server, token)
    assert answer.status_code == 401 and why in answer.json()["message"], answer.text


def test_the_providers_tokens_sign_callers_in_with_their_mapped_roles(server: InProcessServer, provider: Provider) -> None:
    analyst = grant(server, provider.token("analyst")).json()
    assert analyst["user"] == "analyst" and analyst["tier"] == "ReadOnlySession"
    chief = grant(server, provider.token("chief")).json()
    assert chief["user"] == "chief" and chief["tier"] == "RemoteSession"  # "admins" maps to ROLE_ADMIN


def test_connect_with_a_providers_access_token(provider: Provider) -> None:
    with tiercube.Session.start(config(provider.issuer)) as owner:
        token = provider.token("chief")
        with tiercube.connect(owner.url, authentication=lambda url: {"Authorization": f"Bearer {token}"}) as session:
            assert type(session) is tiercube.LocalSession and session.capabilities.user == "chief"
        wrong = provider.token("elsewhere")
        with pytest.raises(tiercube.AuthenticationError, match="not meant for this server"):
            tiercube.connect(owner.url, authentication=lambda url: {"Authorization": f"Bearer {wrong}"})


def test_wrong_audience_missing_roles_and_expired_tokens_are_refused(server: InProcessServer, provider: Provider) -> None:
    refused(server, provider.token("elsewhere"), "not meant for this server")
    refused(server, provider.token("roleless"), "no 'roles' claim")
    brief = provider.token("brief")
    assert grant(server, brief).is_success
    time.sleep(2.1)
    refused(server, brief, "the access token expired")
    analyst = provider.token("analyst")
    refused(server, analyst[:-4] + ("AAAA" if not analyst.endswith("AAAA") else "BBBB"), "not accepted")
    refused(server, "not.a.jwt", "neither a tiercube token nor a well-formed JWT")


def test_another_issuers_tokens_are_refused(server: InProcessServer, installed: None) -> None:
    stranger = Provider(free_port())
    stranger.start(signing_key("first"))  # even with the same key id
    try:
        refused(server, stranger.token("chief"), f"issued by '{stranger.issuer}'")
    finally:
        stranger.stop()


def test_rotated_keys(server: InProcessServer, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider replaces its key: new tokens are accepted, tokens signed with the old key no longer."""
    monkeypatch.setattr(oidc, "REFETCH_AFTER", 0.5)  # the server fetches the keys at most this often (10 s in use)
    old = provider.token("analyst")
    assert grant(server, old).is_success
    provider.stop()
    provider.start(signing_key("second"))
    time.sleep(0.6)
    new = provider.token("analyst")
    assert jwt.get_unverified_header(new)["kid"] == "second"
    assert grant(server, new).json()["user"] == "analyst"
    refused(server, old, "signed with a key ('first') the provider does not publish")
