"""API callers authenticated by an OpenID Connect provider's access tokens (JWTs), verified with PyJWT.

The provider's keys come from the JWKS its discovery document names. They
are kept, and fetched again when a token names a key id they do not hold (the
provider rotated its keys), at most once per ``REFETCH_AFTER`` seconds, so a
stream of tokens with made-up key ids cannot make the server hammer the
provider. Only asymmetric algorithms are accepted (never ``none`` nor an HMAC
whose secret would be the public key). The issuer is checked before any key
is looked up: a token of another provider is refused without a fetch.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import httpx
import jwt

from tiercube._config import OidcConfig
from tiercube._wire.messages import Caller
from tiercube.errors import AuthenticationError

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
REFETCH_AFTER = 10.0
_FETCH_TIMEOUT = 10.0


class OidcVerifier:
    """Turns a provider's access token into a ``Caller``, or refuses it (401) saying why."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = 0.0
        self._jwks_uri: str | None = None
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
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched > REFETCH_AFTER:
                self._fetch()
            try:
                return self._keys[kid]
            except KeyError:
                raise AuthenticationError(f"the access token is signed with a key ({kid!r}) the provider does not publish") from None

    def _fetch(self) -> None:
        """The provider's keys now (its rotated-out keys are dropped); under the lock."""
        self._fetched = time.monotonic()
        try:
            if self._jwks_uri is None:
                discovery = httpx.get(f"{self.config.issuer.rstrip('/')}/.well-known/openid-configuration", timeout=_FETCH_TIMEOUT)
                self._jwks_uri = str(discovery.raise_for_status().json()["jwks_uri"])
            published = httpx.get(self._jwks_uri, timeout=_FETCH_TIMEOUT).raise_for_status().json()
            keys = jwt.PyJWKSet.from_dict(published).keys
        except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKSetError) as error:
            raise AuthenticationError(f"the provider's keys could not be read from {self.config.issuer}: {error}") from None
        self._keys = {str(key.key_id): key for key in keys if key.key_id is not None}
