"""Signing browsers in to the explorer through the OpenID Connect provider: authorization code with PKCE.

``start`` keeps three random values under the ``state`` it sends the
provider: the PKCE code verifier (only its S256 challenge travels; the token
endpoint wants the verifier, so a code caught on its way back is worthless to
anyone else), the nonce the ID token must carry (an ID token of another
sign-in is refused), and the digest of a value the browser keeps in a cookie
(a provider's answer is accepted only by the browser that started the
sign-in, so nobody can sign a victim's browser in as themselves by handing it
their own code). ``finish`` takes the pending sign-in out whatever happens
next (a state works once), exchanges the code (with the client secret when
one is configured: a confidential client; PKCE always), and verifies the ID
token as access tokens are verified (``oidc``): issuer, signature with a key
the provider publishes, audience (the client id), expiry, nonce and roles.

Anyone may start a sign-in, so at most ``PENDING_LIMIT`` wait at once (the
oldest are dropped first), each for ``PENDING_LIFETIME`` seconds.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
import msgspec

from tiercube._server.oidc import OidcVerifier
from tiercube._wire.messages import Caller
from tiercube.errors import AuthenticationError

PENDING_LIFETIME = 600.0
PENDING_LIMIT = 10_000
_EXCHANGE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and what its cookie must hold when it comes back."""

    authorization_url: str
    binding: str


@dataclass(frozen=True)
class Finished:
    """Who signed in, and the explorer view the browser asked for before it left."""

    caller: Caller
    view: str


@dataclass(frozen=True)
class _Pending:
    binding_digest: bytes
    nonce: str
    code_verifier: str
    redirect_uri: str
    view: str
    started: float


class _TokenAnswer(msgspec.Struct):
    """What of the token endpoint's answer is read: the ID token, or why there is none."""

    id_token: str | None = None
    error: str | None = None
    error_description: str | None = None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class OidcSignIns:
    """The sign-ins started and not yet finished, and the two steps of each."""

    def __init__(self, verifier: OidcVerifier) -> None:
        self.verifier = verifier
        self._pending: collections.OrderedDict[str, _Pending] = collections.OrderedDict()
        self._lock = threading.Lock()

    @property
    def provider_name(self) -> str:
        """What the sign-in page calls the provider."""
        return self.verifier.config.name or self.verifier.config.issuer

    def start(self, redirect_uri: str, view: str) -> Started:
        """A new sign-in coming back to ``redirect_uri`` (blocking: it may read the provider's discovery document)."""
        config = self.verifier.config
        state, nonce, code_verifier, binding = (secrets.token_urlsafe(32) for _ in range(4))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        })
        endpoint = self.verifier.endpoints().authorization
        now = time.monotonic()
        with self._lock:
            while self._pending and (len(self._pending) >= PENDING_LIMIT or now - next(iter(self._pending.values())).started > PENDING_LIFETIME):
                self._pending.popitem(last=False)
            self._pending[state] = _Pending(_digest(binding), nonce, code_verifier, redirect_uri, view, now)
        return Started(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", binding)

    def finish(self, state: str | None, code: str | None, error: str | None, binding: str | None) -> Finished:
        """The provider's answer to a sign-in, checked, its code exchanged and its ID token verified (blocking)."""
        with self._lock:
            pending = self._pending.pop(state, None) if state is not None else None
        if pending is None or time.monotonic() - pending.started > PENDING_LIFETIME:
            raise AuthenticationError("this sign-in is unknown, expired or finished already (its state is missing or used): sign in again")
        if binding is None or not hmac.compare_digest(_digest(binding), pending.binding_digest):
            raise AuthenticationError("this sign-in was started by another browser (its cookie does not match): sign in again from this one")
        if error is not None:
            raise AuthenticationError(f"the provider refused the sign-in ({error[:200]}): sign in again")
        if not code:
            raise AuthenticationError("the provider's answer has no code: sign in again")
        return Finished(self.verifier.signed_in(self._exchange(code, pending), pending.nonce), pending.view)

    def _exchange(self, code: str, pending: _Pending) -> str:
        """The ID token the provider's token endpoint gives for ``code``, sent with the PKCE verifier."""
        config = self.verifier.config
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": pending.redirect_uri, "code_verifier": pending.code_verifier}
        auth: tuple[str, str] | None = None
        if config.client_secret is not None:  # client_secret_basic, its parts form-encoded first (RFC 6749, 2.3.1)
            auth = (quote(config.client_id, safe=""), quote(config.client_secret, safe=""))
        else:  # a public client: PKCE is what binds the code to this server
            form["client_id"] = config.client_id
        try:
            answer = httpx.post(self.verifier.endpoints().token, data=form, auth=auth, timeout=_EXCHANGE_TIMEOUT)
        except httpx.HTTPError as failure:
            raise AuthenticationError(f"the provider's token endpoint could not be reached: {failure}") from None
        try:
            said = msgspec.json.decode(answer.content, type=_TokenAnswer)
        except (msgspec.ValidationError, msgspec.DecodeError):
            said = _TokenAnswer()
        if not answer.is_success:
            why = f"{said.error or answer.status_code}: {said.error_description or ''}"[:300]
            raise AuthenticationError(f"the provider did not exchange the code ({why}): sign in again")
        if said.id_token is None:
            raise AuthenticationError("the provider answered no ID token: include 'openid' in scopes in [oidc]")
        return said.id_token
