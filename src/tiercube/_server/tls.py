"""Client certificates: who a TLS peer is, handed to the application per connection.

uvicorn verifies the certificate against ``client_ca`` but does not put it in
the ASGI scope, so this protocol wraps the application of each TLS connection
with the verified certificate's common name. The gatekeeper treats that name
as the user name, exactly as if it had come with HTTP Basic.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

SCOPE_KEY = "tiercube.client_certificate_name"


class _WithClientName:
    def __init__(self, app: ASGIApp, name: str) -> None:
        self._app = app
        self._name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY] = self._name
        await self._app(scope, receive, send)


class ClientCertificateProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        certificate: Any = ssl_object.getpeercert() if ssl_object is not None else None
        name = common_name(certificate)
        if name is not None:
            self.app = _WithClientName(self.app, name)  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def common_name(certificate: dict[str, Any] | None) -> str | None:
    """The subject's common name of a verified certificate (``getpeercert()`` form)."""
    for attributes in (certificate or {}).get("subject", ()):
        for key, value in attributes:
            if key == "commonName":
                return str(value)
    return None
