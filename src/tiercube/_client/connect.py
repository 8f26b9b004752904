"""``connect()``: probe a server in one request and return the tier it grants this caller.

``tiercube.connect`` is ``Session.connect``: the owner's class inherits ``Connecting``, and
``owner`` exports the function (see there why from there).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import UnionType
from typing import Any, Never, TypeAlias, TypeVar, Union, cast, overload

from typing_extensions import deprecated

from tiercube._client.auth import Authenticate, ClientCertificate
from tiercube._client.negotiation import evaluate, fetch_document
from tiercube._client.sessions import (
    TIERS,
    AnySession,
    LocalSession,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    ReadOnlySession,
    RemoteSession,
)
from tiercube._client.token_auth import TokenAuthentication
from tiercube._wire.tiers import CapabilityReport, TierName, narrower
from tiercube.capabilities import Capability
from tiercube.errors import CapabilityError

TierT = TypeVar("TierT", LocalSession, RemoteSession, NoSecurityLocalSession, NoSecuritySession, ReadOnlySession, MinimalSession)
# The tiers a token of each tier can give: its own and every narrower one.
RemoteT = TypeVar("RemoteT", RemoteSession, NoSecuritySession, ReadOnlySession, MinimalSession)
NoSecurityLocalT = TypeVar("NoSecurityLocalT", NoSecurityLocalSession, NoSecuritySession, ReadOnlySession, MinimalSession)
NoSecurityT = TypeVar("NoSecurityT", NoSecuritySession, ReadOnlySession, MinimalSession)
ReadOnlyT = TypeVar("ReadOnlyT", ReadOnlySession, MinimalSession)
_UpToReadOnly: TypeAlias = "ReadOnlySession | MinimalSession"
_UpToNoSecurity: TypeAlias = "NoSecuritySession | ReadOnlySession | MinimalSession"
P = TypeVar("P")

Location: TypeAlias = "Path | str | None"
Credentials: TypeAlias = "Authenticate | ClientCertificate | None"


class Connecting:
    """Where ``connect`` is defined, so that ``tiercube.connect`` and ``Session.connect`` are one function.

    A static method read from its class is the plain function, overloads and
    all, in every type checker: ``Session`` inherits it, and ``Session.connect``
    is ``tiercube.connect`` (assigning ``staticmethod(connect)`` in a class body
    loses the overloads in mypy and pyright).
    """

    # A token: never a wider tier than its own (listed first: TokenAuthentication is no Authenticate).
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[MinimalSession], certificate_authority: Location = None) -> MinimalSession: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[ReadOnlySession], certificate_authority: Location = None) -> _UpToReadOnly: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[NoSecuritySession], certificate_authority: Location = None) -> _UpToNoSecurity: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[NoSecurityLocalSession], certificate_authority: Location = None
    ) -> NoSecurityLocalSession | _UpToNoSecurity: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[RemoteSession], certificate_authority: Location = None) -> RemoteSession | _UpToNoSecurity: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[LocalSession], certificate_authority: Location = None) -> AnySession: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[MinimalSession], certificate_authority: Location = None, require: type[MinimalSession]
    ) -> MinimalSession: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[ReadOnlySession], certificate_authority: Location = None, require: type[ReadOnlyT]
    ) -> ReadOnlyT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[NoSecuritySession], certificate_authority: Location = None, require: type[NoSecurityT]
    ) -> NoSecurityT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[NoSecurityLocalSession], certificate_authority: Location = None, require: type[NoSecurityLocalT]
    ) -> NoSecurityLocalT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[RemoteSession], certificate_authority: Location = None, require: type[RemoteT]
    ) -> RemoteT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[LocalSession], certificate_authority: Location = None, require: type[TierT]
    ) -> TierT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[Any], certificate_authority: Location = None, require: Capability[P]
    ) -> P: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: None = None, certificate_authority: Location = None) -> ReadOnlySession | MinimalSession: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: Credentials, certificate_authority: Location = None) -> AnySession: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: Credentials = None, certificate_authority: Location = None, require: type[TierT]) -> TierT: ...
    @overload
    @staticmethod
    @deprecated("require= takes one tier class (or a capability marker): a union of tiers is not a tier")
    def connect(url: str, *, authentication: Credentials = None, certificate_authority: Location = None, require: UnionType) -> Never: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: Credentials = None, certificate_authority: Location = None, require: Capability[P]) -> P: ...
    @staticmethod
    def connect(
        url: str,
        *,
        authentication: Credentials | TokenAuthentication[Any] = None,
        certificate_authority: Location = None,
        require: type[Any] | Capability[Any] | UnionType | None = None,
    ) -> object:
        """Connect to a running session server and return the session it grants.

        One request to ``{url}/versions/rest``, carrying the credentials, tells
        the conditions a to f of the capability contract; the returned object's
        class is the first tier whose conditions hold, and has exactly that
        tier's members (``session.capabilities`` prints why).

        ``authentication`` is an ``Authenticate`` callable such as
        ``BasicAuthentication(user, password)``, a ``ClientCertificate``, or a
        ``TokenAuthentication(token)``: a token never yields a wider tier than
        its own, in the type as on the server.
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
        wanted = _wanted(require)
        from tiercube._client.connection import Connection  # httpx and pyarrow load on first use, not on import

        token: TokenAuthentication[Any] | None = None
        header_auth: Authenticate | None = None
        certificate: ClientCertificate | None = None
        match authentication:
            case TokenAuthentication():
                token, header_auth = authentication, authentication.headers
            case ClientCertificate():
                certificate = authentication
            case _:
                header_auth = authentication
        connection = Connection(
            url,
            authentication=header_auth,
            client_certificate=certificate,
            certificate_authority=certificate_authority,
        )
        try:
            report, nonce = evaluate(connection.url, fetch_document(connection), credentials_given=authentication is not None)
            if token is not None:
                report = dataclasses.replace(report, tier=narrower(report.tier, token.tier), ceiling=narrower(report.ceiling or token.tier, token.tier))
            connection.share_proof = nonce
            granted = TIERS[report.tier](connection, report)
            if wanted is None:
                return granted
            if isinstance(wanted, Capability):
                if isinstance(granted, cast(type, wanted.protocol)):
                    return granted
                raise CapabilityError(_refusal(report, repr(wanted)), report)
            if _grants(report.tier, wanted):
                # The object is the class asked for, and its report says so (the server's grant is unchanged).
                return wanted(connection, dataclasses.replace(report, tier=cast(TierName, wanted.__name__)))
            raise CapabilityError(_refusal(report, wanted.__name__), report)
        except BaseException:
            connection.close()
            raise



def _wanted(require: object) -> type[AnySession] | Capability[Any] | None:
    """``require`` checked before anything is sent: a tier class, a capability marker, or None."""
    if require is None or isinstance(require, Capability) or require in TIERS.values():
        return cast("type[AnySession] | Capability[Any] | None", require)
    if isinstance(require, UnionType | type(Union[int, str])):
        raise TypeError(
            f"require= takes one tier class, not the union {require}: ask for the least you need "
            "(e.g. tiercube.ReadOnlySession) or a marker such as tiercube.capabilities.EDITING, "
            "then narrow the session with isinstance()"
        )
    tiers = ", ".join(TIERS)
    raise TypeError(f"require= takes a tier class ({tiers}) or a marker from tiercube.capabilities, not {require!r}")


def _grants(granted: TierName, wanted: type[AnySession]) -> bool:
    """Whether the granted tier has every member of the wanted one."""
    members = {name for name in dir(TIERS[granted]) if not name.startswith("_")}
    return {name for name in dir(wanted) if not name.startswith("_")} <= members


def _refusal(report: CapabilityReport, wanted: str) -> str:
    lines = [f"{wanted} was required, but the server at {report.url} grants {report.tier}:"]
    lines += [f"  {condition}" for condition in report.conditions]
    if report.ceiling is not None:
        lines.append(f"  and the token connected with grants at most {report.ceiling}")
    return "\n".join(lines)
