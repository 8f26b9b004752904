"""Callers authenticated by an OpenID Connect provider's tokens (JWTs), verified with PyJWT: API callers'
access tokens, and the ID tokens that sign browsers in to the explorer (``oidc_sign_in``).

The provider's keys come from the JWKS its discovery document names. They
are kept, and fetched again when a token names a key id they do not hold (the
provider rotated its keys), at most once per ``REFETCH_AFTER`` seconds, so a
stream of tokens with made-up key ids cannot make the server hammer the
provider. Only asymmetric algorithms are accepted (never ``none`` nor an HMAC
whose secret would be the public key). The issuer is checked before any key
is looked up: a token of another provider is refused without a fetch. Both
kinds of token go through the same checks; an ID token's audience is the
client id, and it must carry the nonce its sign-in was started with.

When the provider cannot be reached (down, a closed port, an answer that
never comes or never ends, or is not a key set), a token whose key is not
held yet is answered ``ServerUnavailableError`` (503, with ``Retry-After``),
never a hang nor a 500: the token may well be valid, and a 401 would tell
the caller its credentials are wrong when it is the server that cannot check
them now. A fetch gives up after ``FETCH_TIMEOUT`` seconds (a read already
waiting then may take as long again) or ``MAX_KEYS_BYTES``; until the next
fetch may be tried, such tokens are refused at once. Tokens signed with a key already held are verified as ever.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
import jwt

from tiercube._config import OidcConfig
from tiercube._wire.messages import Caller
from tiercube.errors import AuthenticationError, ServerUnavailableError

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
REFETCH_AFTER = 10.0
FETCH_TIMEOUT = 3.0
"""Seconds a fetch of the provider's keys (its discovery document and key set together) may take."""
MAX_KEYS_BYTES = 1024 * 1024
"""The most a discovery document or key set may be: a provider's key set is a few kilobytes."""


class _Unreachable(Exception):
    """The provider's keys could not be fetched: why."""


@dataclass(frozen=True)
class ProviderEndpoints:
    """The provider's URLs that its discovery document names."""

    authorization: str
    token: str
    jwks: str


class OidcVerifier:
    """Turns a provider's access token or ID token into a ``Caller``, or refuses it (401) saying why."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = 0.0
        self._endpoints: ProviderEndpoints | None = None
        # Why the last fetch failed; None once one succeeded.
        self._unreachable: str | None = None
        self._lock = threading.Lock()

    def caller(self, token: str) -> Caller:
        """Verify an access token (blocking: it may fetch the provider's keys; call it off the event loop)."""
        claims = self._verified(token, "access token", self.config.audience or self.config.client_id)
        return Caller(username=self._username(claims, "access token"), roles=self._roles(claims, "access token"))

    def signed_in(self, id_token: str, nonce: str) -> Caller:
        """Verify the ID token a sign-in's code was exchanged for: meant for this client, with this sign-in's nonce."""
        claims = self._verified(id_token, "ID token", self.config.client_id)
        if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
            raise AuthenticationError("the ID token was not issued for this sign-in (its nonce differs): sign in again")
        return Caller(username=self._username(claims, "ID token"), roles=self._roles(claims, "ID token"))

    def endpoints(self) -> ProviderEndpoints:
        """Where browsers sign in and codes are exchanged, from the provider's discovery document (read once);
        ``ServerUnavailableError`` (503) while the provider cannot be reached."""
        with self._lock:
            try:
                return self._discovered(time.monotonic() + FETCH_TIMEOUT)
            except (_Unreachable, httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                self._unreachable = f"{type(error).__name__}: {error}"
                raise self._unavailable(REFETCH_AFTER) from None

    def _verified(self, token: str, what: str, audience: str) -> dict[str, Any]:
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
            stated: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as error:
            if what == "access token":  # what a bearer token is when it is no tiercube token
                raise AuthenticationError(f"the bearer token is neither a tiercube token nor a well-formed JWT: {error}") from None
            raise AuthenticationError(f"the provider's {what} is not a well-formed JWT: {error}") from None
        if stated.get("iss") != config.issuer:
            raise AuthenticationError(f"the {what} was issued by {stated.get('iss')!r}, not by this server's provider {config.issuer!r}")
        key = self._key(str(header.get("kid", "")), what)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=config.issuer,
                leeway=config.clock_skew,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError(f"the {what} expired: get a new one from the provider") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError(f"the {what} is not meant for this server (its audience is not {audience!r})") from None
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(f"the {what} was not accepted: {error}") from None

    def _username(self, claims: dict[str, Any], what: str) -> str:
        name = claims.get(self.config.username_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationError(f"the {what} has no {self.config.username_claim!r} claim to name its user")
        return name

    def _roles(self, claims: dict[str, Any], what: str) -> list[str]:
        found: object = claims.get(self.config.roles_claim)
        listed: object = found.split() if isinstance(found, str) else found
        if not isinstance(listed, list) or not all(isinstance(role, str) for role in cast(list[object], listed)):
            raise AuthenticationError(
                f"the {what} has no {self.config.roles_claim!r} claim listing its roles: configure the provider to add it, "
                "or set roles_claim in [oidc] to the claim it uses"
            )
        mapping = self.config.role_mapping
        return sorted({mapped for role in cast(list[str], listed) for mapped in mapping.get(role, [role])})

    def _key(self, kid: str, what: str) -> jwt.PyJWK:
        held = self._keys  # replaced whole, never changed: a key held is found without waiting for a fetch
        if kid in held:
            return held[kid]
        with self._lock:
            since = time.monotonic() - self._fetched
            if kid not in self._keys and since > REFETCH_AFTER:
                self._fetch()
                since = 0.0
            if kid in self._keys:
                return self._keys[kid]
            if self._unreachable is not None:
                raise self._unavailable(since)
            raise AuthenticationError(f"the {what} is signed with a key ({kid!r}) the provider does not publish")

    def _unavailable(self, since: float) -> ServerUnavailableError:
        wait = max(1, math.ceil(REFETCH_AFTER - since))
        return ServerUnavailableError(
            f"this server cannot check the token now: its OpenID Connect provider {self.config.issuer} "
            f"did not answer ({self._unreachable}); try again in {wait} s, and if it persists, "
            "tell the server's operator (is the provider up, and reachable from the server?)",
            retry_after=wait,
        )

    def _discovered(self, deadline: float) -> ProviderEndpoints:
        """The provider's discovery document, read the first time it is needed; under the lock."""
        if self._endpoints is None:
            document = _get_json(f"{self.config.issuer.rstrip('/')}/.well-known/openid-configuration", deadline)
            self._endpoints = ProviderEndpoints(
                str(document["authorization_endpoint"]), str(document["token_endpoint"]), str(document["jwks_uri"])
            )
        return self._endpoints

    def _fetch(self) -> None:
        """The provider's keys now (its rotated-out keys are dropped), or why not; under the lock."""
        self._fetched = time.monotonic()
        deadline = self._fetched + FETCH_TIMEOUT
        try:
            keys = jwt.PyJWKSet.from_dict(_get_json(self._discovered(deadline).jwks, deadline)).keys
        except (_Unreachable, httpx.HTTPError, ValueError, KeyError, TypeError, jwt.PyJWKSetError) as error:
            self._unreachable = f"{type(error).__name__}: {error}"
            return
        self._unreachable = None
        self._keys = {str(key.key_id): key for key in keys if key.key_id is not None}


def _get_json(url: str, deadline: float) -> dict[str, Any]:
    """The JSON object at ``url``, read whole within ``MAX_KEYS_BYTES`` and by ``deadline``: httpx's
    timeouts are per read, so a provider trickling its answer would meet none; a read under way when
    the deadline passes may still take ``FETCH_TIMEOUT`` more."""
    body = bytearray()
    with httpx.stream("GET", url, timeout=max(0.01, deadline - time.monotonic())) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            body += chunk
            if time.monotonic() > deadline:
                raise _Unreachable(f"{url} did not answer whole within {FETCH_TIMEOUT} s")
            if len(body) > MAX_KEYS_BYTES:
                raise _Unreachable(f"{url} answered more than {MAX_KEYS_BYTES} bytes")
    document: object = json.loads(body)
    if not isinstance(document, dict):
        raise _Unreachable(f"{url} answered JSON that is not an object")
    return cast(dict[str, Any], document)
