"""``connect()``: probe a server in one request and return the tier it grants this caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar, cast, overload

from tiercube._auth import Authenticate, ClientCertificate
from tiercube._client.negotiation import CapabilityReport, evaluate, fetch_document
from tiercube._sessions import (
    LocalSession,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    ReadOnlySession,
    RemoteSession,
)
from tiercube._wire.tiers import TierName
from tiercube.capabilities import Capability
from tiercube.errors import CapabilityError

AnySession: TypeAlias = (
    LocalSession | RemoteSession | NoSecurityLocalSession | NoSecuritySession | ReadOnlySession | MinimalSession
)
TierT = TypeVar("TierT", bound=AnySession)
P = TypeVar("P")

TIERS: dict[TierName, type[AnySession]] = {
    "LocalSession": LocalSession,
    "RemoteSession": RemoteSession,
    "NoSecurityLocalSession": NoSecurityLocalSession,
    "NoSecuritySession": NoSecuritySession,
    "ReadOnlySession": ReadOnlySession,
    "MinimalSession": MinimalSession,
}


class Connect:
    """The type of ``tiercube.connect`` (and ``Session.connect``): one object, one set of overloads."""

    def __repr__(self) -> str:
        return "<function tiercube.connect>"

    @overload
    def __call__(
        self, url: str, *, authentication: None = None, certificate_authority: Path | str | None = None
    ) -> ReadOnlySession | MinimalSession: ...
    @overload
    def __call__(
        self,
        url: str,
        *,
        authentication: Authenticate | ClientCertificate | None,
        certificate_authority: Path | str | None = None,
    ) -> AnySession: ...
    @overload
    def __call__(
        self,
        url: str,
        *,
        authentication: Authenticate | ClientCertificate | None = None,
        certificate_authority: Path | str | None = None,
        require: type[TierT],
    ) -> TierT: ...
    @overload
    def __call__(
        self,
        url: str,
        *,
        authentication: Authenticate | ClientCertificate | None = None,
        certificate_authority: Path | str | None = None,
        require: Capability[P],
    ) -> P: ...
    def __call__(
        self,
        url: str,
        *,
        authentication: Authenticate | ClientCertificate | None = None,
        certificate_authority: Path | str | None = None,
        require: type[Any] | Capability[Any] | None = None,
    ) -> object:
        """Connect to a running session server and return the session it grants.

        One request to ``{url}/versions/rest``, carrying the credentials, tells
        the conditions a to f of the capability contract; the returned object's
        class is the first tier whose conditions hold, and has exactly that
        tier's members (``session.capabilities`` prints why).

        ``authentication`` is an ``Authenticate`` callable such as
        ``BasicAuthentication(user, password)``, or a ``ClientCertificate``.
        ``certificate_authority`` is the CA file that signed the server's
        certificate, when it is not a public one.

        ``require`` names what the caller needs: a tier class, returned as
        exactly that class when the server grants at least its capabilities,
        or a marker from ``tiercube.capabilities`` such as ``SHARED_FILE_LOADING``.
        Otherwise ``CapabilityError`` says which conditions failed and why.

        Changes made through a connected session live in the server's memory and
        are lost when it restarts.

        Raises ``AuthenticationError`` for rejected credentials,
        ``ServerUnavailableError`` when nothing answers at ``url``, and
        ``ProtocolError`` when ``/versions/rest`` does not exist there.
        """
        from tiercube._client.connection import Connection  # httpx and pyarrow load on first use, not on import

        header_auth = authentication if not isinstance(authentication, ClientCertificate) else None
        connection = Connection(
            url,
            authentication=header_auth,
            client_certificate=authentication if isinstance(authentication, ClientCertificate) else None,
            certificate_authority=certificate_authority,
        )
        try:
            report, nonce = evaluate(connection.url, fetch_document(connection), credentials_given=authentication is not None)
            connection.share_proof = nonce
            granted = TIERS[report.tier](connection, report)
            if require is None:
                return granted
            if isinstance(require, Capability):
                if isinstance(granted, cast(type, require.protocol)):
                    return granted
                raise CapabilityError(_refusal(report, repr(require)), report)
            if _grants(report.tier, require):
                return require(connection, report)
            raise CapabilityError(_refusal(report, require.__name__), report)
        except BaseException:
            connection.close()
            raise


connect: Final = Connect()


def _grants(granted: TierName, wanted: type[AnySession]) -> bool:
    """Whether the granted tier has every member of the wanted one."""
    members = {name for name in dir(TIERS[granted]) if not name.startswith("_")}
    return {name for name in dir(wanted) if not name.startswith("_")} <= members


def _refusal(report: CapabilityReport, wanted: str) -> str:
    lines = [f"{wanted} was required, but the server at {report.url} grants {report.tier}:"]
    lines += [f"  {condition}" for condition in report.conditions]
    return "\n".join(lines)
