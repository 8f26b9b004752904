"""Client certificates: who a TLS peer is, handed to the application per connection.

uvicorn verifies the certificate against ``client_ca`` but does not put it in
the ASGI scope, so the server's protocol (``connections.py``) wraps the
application of each TLS connection with the verified certificate's common
name. The gatekeeper treats that name as the user name, exactly as if it had
come with HTTP Basic.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

SCOPE_KEY = "tiercube.client_certificate_name"


class _WithClientName:
    def __init__(self, app: ASGIApp, name: str) -> None:
        self._app = app
        self._name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY] = self._name
        await self._app(scope, receive, send)


def with_client_name(app: ASGIApp, transport: asyncio.BaseTransport) -> ASGIApp:
    """``app``, told the common name of the peer's verified certificate, if it sent one."""
    ssl_object = transport.get_extra_info("ssl_object")
    # Without client_ca the server does not ask for certificates, and getpeercert() is empty.
    certificate: Any = ssl_object.getpeercert() if ssl_object is not None else None
    name = common_name(certificate)
    return app if name is None else _WithClientName(app, name)


def common_name(certificate: dict[str, Any] | None) -> str | None:
    """The subject's common name of a verified certificate (``getpeercert()`` form)."""
    for attributes in (certificate or {}).get("subject", ()):
        for key, value in attributes:
            if key == "commonName":
                return str(value)
    return None
