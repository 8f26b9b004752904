"""How a client proves who it is: HTTP Basic, any header-producing callable, or a certificate."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from tiercube._public import public


@public
@runtime_checkable
class Authenticate(Protocol):
    """Anything that, given the URL being requested, returns the headers that authenticate it.

    Plug in your own for tokens: ``lambda url: {"Authorization": f"Bearer {token()}"}``.
    It is called for every request, so it may refresh what it returns.
    """

    def __call__(self, url: str, /) -> Mapping[str, str]: ...


@public
@dataclass(frozen=True)
class BasicAuthentication:
    """HTTP Basic credentials of a user declared in the server's configuration."""

    username: str
    password: str = field(repr=False)

    def __call__(self, url: str, /) -> Mapping[str, str]:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@public
@dataclass(frozen=True)
class ClientCertificate:
    """A TLS client certificate (PEM) and its key, for servers configured with ``client_ca``."""

    certificate: Path
    key: Path | None = None
