"""``connect()``: probe a server in one request and return the tier it grants this caller.

``tiercube.connect`` is ``Session.connect``: the owner's class inherits ``Connecting``, and
``owner`` exports the function (see there why from there).
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from types import UnionType
from typing import Any, TypeAlias, TypeVar, Union, cast, get_args, overload

from typing_extensions import TypeForm

from tiercube._client.auth import Authenticate, ClientCertificate
from tiercube._client.negotiation import evaluate, fetch_document
from tiercube._client.opening import open_connection
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
from tiercube._client.timeouts import DEFAULT_TIMEOUT
from tiercube._client.token_auth import TokenAuthentication
from tiercube._wire.tiers import CapabilityReport, TierName, narrower
from tiercube.capabilities import AnonymousCapability, Capability
from tiercube.errors import CapabilityError

TierT = TypeVar("TierT", bound=AnySession)
"""A tier, or a union of tiers (``require=LocalSession | RemoteSession``)."""
AnonymousTierT = TypeVar("AnonymousTierT", bound=ReadOnlySession | MinimalSession)
"""The tiers a caller without credentials can be granted: asking for more needs ``authentication=``."""
# The tiers a token of each tier can give: its own and every narrower one.
RemoteT = TypeVar("RemoteT", RemoteSession, NoSecuritySession, ReadOnlySession, MinimalSession)
NoSecurityLocalT = TypeVar("NoSecurityLocalT", NoSecurityLocalSession, NoSecuritySession, ReadOnlySession, MinimalSession)
NoSecurityT = TypeVar("NoSecurityT", NoSecuritySession, ReadOnlySession, MinimalSession)
ReadOnlyT = TypeVar("ReadOnlyT", ReadOnlySession, MinimalSession)
UpToReadOnly: TypeAlias = "ReadOnlySession | MinimalSession"
UpToNoSecurity: TypeAlias = "NoSecuritySession | ReadOnlySession | MinimalSession"
P = TypeVar("P")

Location: TypeAlias = "Path | str | None"
Credentials: TypeAlias = "Authenticate | ClientCertificate | None"
Timeout: TypeAlias = "float | None"


class Connecting:
    """Where ``connect`` is defined, so that ``tiercube.connect`` and ``Session.connect`` are one function.

    A static method read from its class is the plain function, overloads and
    all, in every type checker: ``Session`` inherits it, and ``Session.connect``
    is ``tiercube.connect`` (assigning ``staticmethod(connect)`` in a class body
    loses the overloads in mypy and pyright).
    """

    @overload
    @staticmethod
    def connect(url: str, *, authentication: None = None, certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> ReadOnlySession | MinimalSession: ...
    # Credentials given: an explicit None is the anonymous case above, never a credentialed tier.
    @overload
    @staticmethod
    def connect(url: str, *, authentication: Authenticate | ClientCertificate, certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> AnySession: ...
    # Before the TypeForm overloads: ty refuses a marker as a type form instead of trying the next overload.
    # Without credentials only QUERY and READ_MODEL can be granted: the other markers need authentication=.
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: None = None, certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: AnonymousCapability[P]
    ) -> P: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: Authenticate | ClientCertificate, certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: Capability[P]
    ) -> P: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: None = None, certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: TypeForm[AnonymousTierT]
    ) -> AnonymousTierT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: Authenticate | ClientCertificate, certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: TypeForm[TierT]
    ) -> TierT: ...
    # A token: never a wider tier than its own (TokenAuthentication is no Authenticate, so the overloads above never take one).
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[MinimalSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> MinimalSession: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[ReadOnlySession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> UpToReadOnly: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[NoSecuritySession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> UpToNoSecurity: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[NoSecurityLocalSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT
    ) -> NoSecurityLocalSession | UpToNoSecurity: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[RemoteSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> RemoteSession | UpToNoSecurity: ...
    @overload
    @staticmethod
    def connect(url: str, *, authentication: TokenAuthentication[LocalSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT) -> AnySession: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[MinimalSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: type[MinimalSession]
    ) -> MinimalSession: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[ReadOnlySession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: type[ReadOnlyT]
    ) -> ReadOnlyT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[NoSecuritySession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: type[NoSecurityT]
    ) -> NoSecurityT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[NoSecurityLocalSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: type[NoSecurityLocalT]
    ) -> NoSecurityLocalT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[RemoteSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: type[RemoteT]
    ) -> RemoteT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[LocalSession], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: type[TierT]
    ) -> TierT: ...
    @overload
    @staticmethod
    def connect(
        url: str, *, authentication: TokenAuthentication[Any], certificate_authority: Location = None, timeout: Timeout = DEFAULT_TIMEOUT, require: Capability[P]
    ) -> P: ...
    @staticmethod
    def connect(
        url: str,
        *,
        authentication: Credentials | TokenAuthentication[Any] = None,
        certificate_authority: Location = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        require: TypeForm[AnySession] | Capability[Any] | None = None,
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

        ``timeout`` is how many seconds a call waits for the server to answer
        (default 300); past it the call raises ``ServerTimeoutError`` instead
        of hanging on a stopped server. None waits forever.

        ``require`` names what the caller needs: a tier class, returned as
        exactly that class when the server grants at least its capabilities;
        a union of tier classes (``LocalSession | RemoteSession``), returned as
        the strongest of them the server grants; or a marker from
        ``tiercube.capabilities`` such as ``SHARED_FILE_LOADING``. Otherwise
        ``CapabilityError`` says which conditions failed and why. A tier above
        ``ReadOnlySession`` needs credentials: the type checker refuses
        ``require=LocalSession`` without ``authentication=``.

        Changes made through a connected session live in the server's memory;
        they survive a restart only when the server has a data directory.

        Raises ``AuthenticationError`` for rejected credentials,
        ``ServerUnavailableError`` when nothing answers at ``url`` (``ServerTimeoutError``
        when something accepts the connection but does not answer in time), and
        ``ProtocolError`` when ``/versions/rest`` does not exist there.

        What it returns, by its arguments (the overloads type checkers use):

        - without ``authentication``: ``ReadOnlySession | MinimalSession``;
        - with ``authentication=`` credentials: ``AnySession``, the six tiers' union;
        - with ``require=`` a tier class or a union of them: that class or union
          (a tier above ``ReadOnlySession`` only with credentials);
        - with ``require=`` a marker: its protocol, such as ``SupportsEditing``
          (only ``QUERY`` and ``READ_MODEL`` without credentials);
        - with ``authentication=TokenAuthentication(...)``: the token's tier or a narrower one.
        """
        wanted = _wanted(require)

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
        connection = open_connection(  # httpx and pyarrow load on first use, not on import
            url,
            authentication=header_auth,
            client_certificate=certificate,
            certificate_authority=certificate_authority,
            timeout=timeout,
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
            # The strongest tier asked for that the grant covers (TIERS is strongest first).
            tier = next((tier for tier in TIERS.values() if tier in wanted and _grants(report.tier, tier)), None)
            if tier is not None:
                # The object is the class asked for, and its report says so (the server's grant is unchanged).
                return tier(connection, dataclasses.replace(report, tier=cast(TierName, tier.__name__)))
            raise CapabilityError(_refusal(report, " | ".join(tier.__name__ for tier in wanted)), report)
        except BaseException:
            connection.close()
            raise



def _public_signature() -> inspect.Signature:
    """``connect``'s parameters in the public names, for ``help()`` and ``inspect.signature``.

    The implementation's own annotations are this module's aliases (``Credentials``,
    ``Location``) and ``-> object``; what each combination returns is in the docstring.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature(
        [
            inspect.Parameter("url", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="str"),
            inspect.Parameter("authentication", keyword, default=None, annotation="Authenticate | ClientCertificate | TokenAuthentication | None"),
            inspect.Parameter("certificate_authority", keyword, default=None, annotation="Path | str | None"),
            inspect.Parameter("timeout", keyword, default=DEFAULT_TIMEOUT, annotation="float | None"),
            inspect.Parameter("require", keyword, default=None, annotation="type[AnySession] | Capability | None"),
        ],
        return_annotation="AnySession",
    )


setattr(Connecting.connect, "__signature__", _public_signature())  # a function's attribute: pyright refuses the plain assignment


def _wanted(require: object) -> list[type[AnySession]] | Capability[Any] | None:
    """``require`` checked before anything is sent: the tier classes it names (one, or the members
    of a union), a capability marker, or None."""
    if require is None or isinstance(require, Capability):
        return cast("Capability[object] | None", require)  # pyright would see Capability[Unknown]
    members = get_args(require) if isinstance(require, UnionType | type(Union[int, str])) else (require,)
    if members and all(member in TIERS.values() for member in members):
        return list(cast("tuple[type[AnySession], ...]", members))
    tiers = ", ".join(TIERS)
    raise TypeError(
        f"require= takes a tier class ({tiers}), a union of them, or a marker from tiercube.capabilities, not {require!r}"
    )


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
