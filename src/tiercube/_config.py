"""Server configuration: what ``Session.start(config=...)`` and ``tiercube serve --config`` take."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tiercube.errors import InvalidRequestError


class UserConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A user who can authenticate with HTTP Basic.

    Give ``password_hash`` (from ``tiercube hash-password``) in files you keep;
    a plain ``password`` is accepted for tests and notebooks and is hashed as
    soon as the server reads it.
    """

    name: str
    roles: list[str] = msgspec.field(default_factory=lambda: ["ROLE_USER"])
    password: str | None = None
    password_hash: str | None = None


class TlsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Serve HTTPS with this certificate; ``client_ca`` also accepts client certificates."""

    certificate: str
    key: str
    client_ca: str | None = None


class SessionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How a session server runs. Every field has a default, so ``SessionConfig()`` works.

    Security (condition a of the contract) is on as soon as users or client
    certificates are configured. ``advertised_version`` makes the server claim
    another tiercube version; it exists so tests can reach the NoSecurity tiers.
    """

    users: list[UserConfig] = []
    tls: TlsConfig | None = None
    sdk_exposed: bool = True
    query_timeout: float = 30.0
    max_result_rows: int = 10_000_000
    advertised_version: str | None = None

    @property
    def security(self) -> bool:
        return bool(self.users) or (self.tls is not None and self.tls.client_ca is not None)

    @classmethod
    def from_toml(cls, path: str | Path) -> SessionConfig:
        """Read a TOML file; a mistake raises ``InvalidRequestError`` naming the field."""
        try:
            return msgspec.toml.decode(Path(path).read_bytes(), type=cls)
        except OSError as error:
            raise InvalidRequestError(f"cannot read config {path}: {error.strerror}") from None
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise InvalidRequestError(f"config {path}: {error}") from None
