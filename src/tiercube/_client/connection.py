"""One HTTP(S) connection to a server: credentials, version headers, error mapping."""

from __future__ import annotations

import functools
import ssl
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

import httpx
import msgspec
import pyarrow as pa

from tiercube._client.auth import Authenticate, ClientCertificate
from tiercube._client.endpoints import ON_BEHALF_OF
from tiercube._client.timeouts import CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import arrow_ipc, paths
from tiercube._wire.messages import ErrorBody
from tiercube.errors import ProtocolError, ServerTimeoutError, ServerUnavailableError, TiercubeError

T = TypeVar("T")


@functools.cache
def _system_trust() -> ssl.SSLContext:
    return ssl.create_default_context()


def _tls_context(
    url: str, certificate_authority: Path | str | None, client_certificate: ClientCertificate | None
) -> ssl.SSLContext | bool:
    """What verifies the server. Building a context costs about 60 ms, so it is built once, and only for https."""
    if certificate_authority is None and client_certificate is None:
        # Plain http never uses it; httpx would still load the system's CA bundle for nothing.
        return _system_trust() if url.startswith("https://") else False
    context = ssl.create_default_context(cafile=str(certificate_authority) if certificate_authority else None)
    # Trust exactly what the file lists, even a server's own certificate (an owner pins its child's).
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if client_certificate is not None:
        key = str(client_certificate.key) if client_certificate.key else None
        context.load_cert_chain(str(client_certificate.certificate), key)
    return context


class Connection:
    """Sends requests to one server and turns its error bodies back into exceptions."""

    def __init__(
        self,
        url: str,
        *,
        authentication: Authenticate | None = None,
        client_certificate: ClientCertificate | None = None,
        certificate_authority: Path | str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self.url: str = url.rstrip("/")
        self.timeout = timeout
        """Seconds a call waits for the server to answer (between two reads of the answer); None: forever."""
        # Asked for headers on every request, so tokens may refresh (merged here: an httpx.Auth flow
        # costs a generator and a request copy per request).
        self._authenticate = authentication
        self._client = httpx.Client(
            base_url=self.url,
            verify=_tls_context(self.url, certificate_authority, client_certificate),
            headers={paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
            # A frozen server accepts connections (the kernel does) but never answers: reads are bounded too.
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
        )

    share_proof: str | None = None
    """The server's share nonce as this client read it: proof of condition d, sent with every request."""

    def request(
        self, method: str, path: str, body: object = None, *, timeout: float | None = None, anonymous: bool = False
    ) -> httpx.Response:
        """Send one request; ``timeout`` (seconds) overrides the connection's for it, ``anonymous`` sends no credentials."""
        content = msgspec.json.encode(body) if body is not None else None
        headers = {"content-type": paths.JSON} if content is not None else {}
        if self.share_proof is not None:
            headers[paths.SHARE_PROOF_HEADER] = self.share_proof
        delegation = ON_BEHALF_OF.get()
        if delegation is not None:
            headers[paths.DELEGATION_HEADER] = delegation
        if self._authenticate is not None and not anonymous:
            headers.update(self._authenticate(self.url + path))
        if self._client.is_closed:
            raise ServerUnavailableError(f"this session's connection to {self.url} is closed")
        waited = self.timeout if timeout is None else timeout
        try:
            response = self._client.request(
                method, path, content=content, headers=headers, timeout=httpx.Timeout(waited, connect=CONNECT_TIMEOUT)
            )
        except httpx.ConnectTimeout:
            raise ServerTimeoutError(
                f"the tiercube server at {self.url} did not accept a connection within {CONNECT_TIMEOUT:g} s",
                url=self.url,
                timeout=CONNECT_TIMEOUT,
            ) from None
        except httpx.TimeoutException:
            within = "in time" if waited is None else f"within {waited:g} s"
            raise ServerTimeoutError(
                f"the tiercube server at {self.url} did not answer {method} {path} {within}: it is stopped, "
                "frozen or busier than that; session.health() tells which, and a larger timeout= (or None) waits longer",
                url=self.url,
                timeout=waited,
            ) from None
        except httpx.TransportError as error:
            raise ServerUnavailableError(f"cannot reach the tiercube server at {self.url}: {error}") from None
        if response.is_success:
            return response
        raise self._error(response)

    def json(self, method: str, path: str, response_type: type[T], body: object = None) -> T:
        """Send ``body`` as JSON and decode the answer as ``response_type``; raises the server's error, or ``ProtocolError``."""
        response = self.request(method, path, body)
        try:
            return msgspec.json.decode(response.content, type=response_type)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise ProtocolError(f"{method} {self.url}{path} answered something unexpected: {error}") from None

    def arrow(self, method: str, path: str, body: object = None) -> pa.Table:
        """Send ``body`` as JSON and decode the Arrow stream it answers; raises the server's error, or ``ProtocolError``."""
        response = self.request(method, path, body)
        if response.headers.get("content-type") != paths.ARROW_STREAM:
            raise ProtocolError(f"{method} {self.url}{path} did not answer with Arrow data")
        return arrow_ipc.decode(response.content)

    def carry(
        self, method: str, path: str, *, headers: dict[str, str], content: bytes | None
    ) -> AbstractContextManager[httpx.Response]:
        """A page's request, streamed, with none of this connection's credentials: only ``headers``.

        The notebook widget's explorer reaches the server through the kernel
        (``explorer_relay.py``); it signs in with a token of its own, which is
        narrower than this connection's caller.
        """
        if self._client.is_closed:
            raise ServerUnavailableError(f"this session's connection to {self.url} is closed")
        return self._client.stream(method, path, headers=headers, content=content)

    def _error(self, response: httpx.Response) -> TiercubeError:
        try:
            body = msgspec.json.decode(response.content, type=ErrorBody)
        except (msgspec.ValidationError, msgspec.DecodeError):
            # Not a tiercube error body: a web server, a proxy's error page. Its HTML says nothing
            # the caller can act on, and dumping it buries the one line that matters.
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            return ProtocolError(
                f"{self.url} does not answer as a tiercube server: {response.request.method} {response.request.url.path} "
                f"answered {response.status_code} {response.reason_phrase} ({kind}, {len(response.content):,} bytes); "
                "check the URL (a tiercube server prints it when it starts)"
            )
        return body.error()

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()

    @property
    def closed(self) -> bool:
        return self._client.is_closed
