"""API callers authenticated by an OpenID Connect provider's access tokens (JWTs), verified with PyJWT.

The provider's keys come from the JWKS its discovery document names. They
are kept, and fetched again when a token names a key id they do not hold (the
provider rotated its keys), at most once per ``REFETCH_AFTER`` seconds, so a
stream of tokens with made-up key ids cannot make the server hammer the
provider. Only asymmetric algorithms are accepted (never ``none`` nor an HMAC
whose secret would be the public key). The issuer is checked before any key
is looked up: a token of another provider is refused without a fetch.

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


class OidcVerifier:
    """Turns a provider's access token into a ``Caller``, or refuses it (401) saying why."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = 0.0
        self._jwks_uri: str | None = None
        # Why the last fetch failed; None once one succeeded.
        self._unreachable: str | None = None
        self._lock = threading.Lock()

    def caller(self, token: str) -> Caller:
        """Verify ``token`` (blocking: it may fetch the provider's keys; call it off the event loop)."""
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
            stated: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(f"the bearer token is neither a tiercube token nor a well-formed JWT: {error}") from None
        if stated.get("iss") != config.issuer:
            raise AuthenticationError(f"the access token was issued by {stated.get('iss')!r}, not by this server's provider {config.issuer!r}")
        key = self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=config.audience or config.client_id,
                issuer=config.issuer,
                leeway=config.clock_skew,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the access token expired: get a new one from the provider") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError(f"the access token is not meant for this server (its audience is not {config.audience or config.client_id!r})") from None
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(f"the access token was not accepted: {error}") from None
        return Caller(username=self._username(claims), roles=self._roles(claims))

    def _username(self, claims: dict[str, Any]) -> str:
        name = claims.get(self.config.username_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationError(f"the access token has no {self.config.username_claim!r} claim to name its user")
        return name

    def _roles(self, claims: dict[str, Any]) -> list[str]:
        found: object = claims.get(self.config.roles_claim)
        listed: object = found.split() if isinstance(found, str) else found
        if not isinstance(listed, list) or not all(isinstance(role, str) for role in cast(list[object], listed)):
            raise AuthenticationError(
                f"the access token has no {self.config.roles_claim!r} claim listing its roles: configure the provider to add it, "
                "or set roles_claim in [oidc] to the claim it uses"
            )
        mapping = self.config.role_mapping
        return sorted({mapped for role in cast(list[str], listed) for mapped in mapping.get(role, [role])})

    def _key(self, kid: str) -> jwt.PyJWK:
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
                wait = max(1, math.ceil(REFETCH_AFTER - since))
                raise ServerUnavailableError(
                    f"this server cannot check the access token now: its OpenID Connect provider {self.config.issuer} "
                    f"did not give its keys ({self._unreachable}); try again in {wait} s, and if it persists, "
                    "tell the server's operator (is the provider up, and reachable from the server?)",
                    retry_after=wait,
                )
            raise AuthenticationError(f"the access token is signed with a key ({kid!r}) the provider does not publish")

    def _fetch(self) -> None:
        """The provider's keys now (its rotated-out keys are dropped), or why not; under the lock."""
        self._fetched = time.monotonic()
        deadline = self._fetched + FETCH_TIMEOUT
        try:
            if self._jwks_uri is None:
                discovery = _get_json(f"{self.config.issuer.rstrip('/')}/.well-known/openid-configuration", deadline)
                self._jwks_uri = str(discovery["jwks_uri"])
            keys = jwt.PyJWKSet.from_dict(_get_json(self._jwks_uri, deadline)).keys
        except (_Unreachable, httpx.HTTPError, ValueError, KeyError, jwt.PyJWKSetError) as error:
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
