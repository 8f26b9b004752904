"""Conditions a to f of the capability contract, evaluated from one versions document."""

from __future__ import annotations

import hashlib
import os
import stat

import msgspec

from tiercube._client.channel import Connection
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube._wire.messages import ADMIN_ROLE, VersionsDocument
from tiercube._wire.tiers import MEANINGS, CapabilityReport, ConditionResult, choose_tier, narrower
from tiercube.errors import AuthenticationError, ProtocolError


def fetch_document(connection: Connection) -> VersionsDocument | None:
    """The server's versions document, or None when it does not speak tiercube's."""
    response = connection.request("GET", paths.VERSIONS)
    try:
        return msgspec.json.decode(response.content, type=VersionsDocument)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def evaluate(url: str, document: VersionsDocument | None, *, credentials_given: bool) -> tuple[CapabilityReport, str | None]:
    """The report, and the share nonce this client read (its proof of condition d), if any."""
    if document is None:
        why = "the server's /versions/rest is not a tiercube versions document"
        conditions = tuple(ConditionResult(letter, meaning, False, why) for letter, meaning in MEANINGS.items())
        return CapabilityReport(url, "MinimalSession", conditions), None
    if document.security and document.caller is None:
        if credentials_given:
            raise AuthenticationError(f"the server at {url} did not authenticate the credentials given")
        # Every request but /versions/rest would answer 401: say so now, not at first use.
        raise AuthenticationError(
            f"the server at {url} requires authentication: pass authentication=tiercube.BasicAuthentication(...) "
            "or a tiercube.ClientCertificate"
        )
    shared, nonce = _d(document)
    conditions = (
        _a(document),
        _b(document, credentials_given),
        _versions("c", document.tiercube_version, __version__, "tiercube version"),
        shared,
        _versions("e", str(document.protocol_version), str(PROTOCOL_VERSION), "wire protocol version"),
        ConditionResult("f", MEANINGS["f"], document.sdk_exposed, "the admin API is " + ("exposed" if document.sdk_exposed else "not exposed")),
    )
    user = document.caller.username if document.caller is not None else None
    tier = choose_tier({c.letter: c.held for c in conditions})
    scope = document.caller.scope if document.caller is not None else None
    if scope is not None:  # a token: the server grants no more than its tier
        return CapabilityReport(url, narrower(tier, scope.tier), conditions, user, scope.tier), nonce
    return CapabilityReport(url, tier, conditions, user), nonce


def _a(document: VersionsDocument) -> ConditionResult:
    reason = "security is configured" if document.security else "no security is configured"
    return ConditionResult("a", MEANINGS["a"], document.security, reason)


def _b(document: VersionsDocument, credentials_given: bool) -> ConditionResult:
    caller = document.caller
    if caller is None:
        reason = "no credentials were given" if not credentials_given else "the server has no security, so credentials grant nothing"
        return ConditionResult("b", MEANINGS["b"], False, reason)
    admin = ADMIN_ROLE in caller.roles
    roles = ", ".join(caller.roles) or "none"
    return ConditionResult("b", MEANINGS["b"], admin, f"authenticated as {caller.username!r} with roles {roles}")


def _versions(letter: str, server: str, client: str, what: str) -> ConditionResult:
    same = server == client
    reason = f"both are {client}" if same else f"the server's {what} is {server}, this client's is {client}"
    return ConditionResult(letter, MEANINGS[letter], same, reason)


def _d(document: VersionsDocument) -> tuple[ConditionResult, str | None]:
    """Condition d, and the nonce to send back: what proves it to the server."""
    caller = document.caller
    proof = caller.share_proof if caller else None
    if proof is None and caller is not None and caller.scope is not None and ADMIN_ROLE in caller.roles:
        why = f"not proved: a {caller.scope.tier} token loads no local files, so the server shows it no nonce file"
        return ConditionResult("d", MEANINGS["d"], False, why), None
    if proof is None:
        return ConditionResult("d", MEANINGS["d"], False, f"not proved: the server shows its nonce file to {ADMIN_ROLE} callers only"), None
    try:
        found = read_share_file(proof.path)
    except OSError as error:
        why = f"not the same host: the nonce file {proof.path} was not readable here ({error.strerror})"
        return ConditionResult("d", MEANINGS["d"], False, why), None
    if found is None or hashlib.sha256(found).hexdigest() != proof.sha256:
        return ConditionResult("d", MEANINGS["d"], False, f"not the same host: the file {proof.path} here holds another nonce"), None
    return ConditionResult("d", MEANINGS["d"], True, f"the server's nonce file {proof.path} was read back here"), found.decode("ascii")


def read_share_file(path: str) -> bytes | None:
    """The nonce file's content, read as a server might not expect: a malicious one names any path.

    Only a small regular file is read (None otherwise): never a device, a
    FIFO (opened without waiting for a writer) or anything large.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_size > _NONCE_BYTES:
            return None
        found = os.read(descriptor, _NONCE_BYTES + 1)
    finally:
        os.close(descriptor)
    return found if len(found) <= _NONCE_BYTES and found.isascii() else None


_NONCE_BYTES = 64


def require_tiercube(document: VersionsDocument | None, url: str) -> VersionsDocument:
    if document is None:
        raise ProtocolError(f"the server at {url} is not a tiercube server")
    return document
