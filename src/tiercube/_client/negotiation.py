"""Conditions a to f of the capability contract, evaluated from one versions document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import msgspec

from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube._wire.messages import ADMIN_ROLE, VersionsDocument
from tiercube.errors import AuthenticationError, ProtocolError

if TYPE_CHECKING:
    from tiercube._client.connection import Connection

TierName = Literal[
    "Session", "LocalSession", "RemoteSession", "NoSecurityLocalSession", "NoSecuritySession", "ReadOnlySession", "MinimalSession"
]


@dataclass(frozen=True)
class ConditionResult:
    """One condition of the contract: whether it held, and why."""

    letter: str
    meaning: str
    held: bool
    reason: str

    def __str__(self) -> str:
        return f"{self.letter}: {'yes' if self.held else 'no '} {self.meaning}: {self.reason}"


@dataclass(frozen=True)
class CapabilityReport:
    """What ``connect()`` found out, and the tier it chose from it."""

    url: str
    tier: TierName
    conditions: tuple[ConditionResult, ...]

    def held(self, letter: str) -> bool:
        return next(c.held for c in self.conditions if c.letter == letter)

    def __str__(self) -> str:
        lines = [f"{self.tier} at {self.url}", *(f"  {c}" for c in self.conditions)]
        return "\n".join(lines)


def fetch_document(connection: Connection) -> VersionsDocument | None:
    """The server's versions document, or None when it does not speak tiercube's."""
    response = connection.request("GET", paths.VERSIONS)
    try:
        return msgspec.json.decode(response.content, type=VersionsDocument)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def evaluate(url: str, document: VersionsDocument | None, *, credentials_given: bool) -> CapabilityReport:
    if document is None:
        why = "the server's /versions/rest is not a tiercube versions document"
        conditions = tuple(ConditionResult(letter, meaning, False, why) for letter, meaning in _MEANINGS.items())
        return CapabilityReport(url, "MinimalSession", conditions)
    if document.security and document.caller is None:
        if credentials_given:
            raise AuthenticationError(f"the server at {url} did not authenticate the credentials given")
        # Every request but /versions/rest would answer 401: say so now, not at first use.
        raise AuthenticationError(
            f"the server at {url} requires authentication: pass authentication=tiercube.BasicAuthentication(...) "
            "or a tiercube.ClientCertificate"
        )
    conditions = (
        _a(document),
        _b(document, credentials_given),
        _versions("c", document.tiercube_version, __version__, "tiercube version"),
        _d(document),
        _versions("e", str(document.protocol_version), str(PROTOCOL_VERSION), "wire protocol version"),
        ConditionResult("f", _MEANINGS["f"], document.sdk_exposed, "the admin API is " + ("exposed" if document.sdk_exposed else "not exposed")),
    )
    return CapabilityReport(url, choose_tier({c.letter: c.held for c in conditions}), conditions)


def choose_tier(held: dict[str, bool]) -> TierName:
    """The contract's tier table: the first row whose conditions hold."""
    a, b, c, d, e, f = (held[letter] for letter in "abcdef")
    if a and b and c:
        return "LocalSession" if d else "RemoteSession"
    if a and b and e and f:
        return "NoSecurityLocalSession" if d else "NoSecuritySession"
    return "ReadOnlySession" if e else "MinimalSession"


_MEANINGS = {
    "a": "the server requires authentication",
    "b": f"the credentials grant {ADMIN_ROLE}",
    "c": "same tiercube version",
    "d": "same host (shared file system)",
    "e": "same wire protocol version",
    "f": "SDK admin API exposed",
}


def _a(document: VersionsDocument) -> ConditionResult:
    reason = "security is configured" if document.security else "no security is configured"
    return ConditionResult("a", _MEANINGS["a"], document.security, reason)


def _b(document: VersionsDocument, credentials_given: bool) -> ConditionResult:
    caller = document.caller
    if caller is None:
        reason = "no credentials were given" if not credentials_given else "the server has no security, so credentials grant nothing"
        return ConditionResult("b", _MEANINGS["b"], False, reason)
    admin = ADMIN_ROLE in caller.roles
    roles = ", ".join(caller.roles) or "none"
    return ConditionResult("b", _MEANINGS["b"], admin, f"authenticated as {caller.username!r} with roles {roles}")


def _versions(letter: str, server: str, client: str, what: str) -> ConditionResult:
    same = server == client
    reason = f"both are {client}" if same else f"the server's {what} is {server}, this client's is {client}"
    return ConditionResult(letter, _MEANINGS[letter], same, reason)


def _d(document: VersionsDocument) -> ConditionResult:
    proof = document.caller.share_proof if document.caller else None
    if proof is None:
        return ConditionResult("d", _MEANINGS["d"], False, f"not proved: the server shows its nonce file to {ADMIN_ROLE} callers only")
    try:
        with open(proof.path, encoding="ascii") as file:
            found = file.read()
    except OSError as error:
        return ConditionResult("d", _MEANINGS["d"], False, f"not the same host: the nonce file {proof.path} was not readable here ({error.strerror})")
    if found != proof.nonce:
        return ConditionResult("d", _MEANINGS["d"], False, f"not the same host: the file {proof.path} here holds another nonce")
    return ConditionResult("d", _MEANINGS["d"], True, f"the server's nonce file {proof.path} was read back here")


def require_tiercube(document: VersionsDocument | None, url: str) -> VersionsDocument:
    if document is None:
        raise ProtocolError(f"the server at {url} is not a tiercube server")
    return document
