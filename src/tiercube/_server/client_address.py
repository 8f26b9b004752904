"""The address a request comes from: its connection's, or the one a trusted proxy says it forwarded.

Failed sign-ins are counted per address, so a caller that could pick its
address would never be throttled, and could lock out any address it names.
uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default; the server
turns that off (``main.py``) and reads the header here, only from connections
whose address is in ``trusted_proxies``. The client is then the right-most
address of the header that is not itself a trusted proxy: each proxy appends
the address it saw, and a client can put anything it likes before those.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

class ClientAddresses:
    """Tells the address of a request's client, believing only the proxies in ``trusted``."""

    def __init__(self, trusted: Sequence[str]) -> None:
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted]  # checked by SessionConfig

    def of(self, request: HTTPConnection) -> str:
        """The client's address: the connection's, unless that is a trusted proxy's."""
        peer = request.client.host if request.client else "unknown"
        if not self._trusted(peer):
            return peer
        forwarded = [part.strip() for header in request.headers.getlist("x-forwarded-for") for part in header.split(",")]
        for address in reversed(forwarded):
            if not self._trusted(address):
                return address if _is_address(address) else peer
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
