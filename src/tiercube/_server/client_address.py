"""The address a request comes from: its connection's, or the one a trusted proxy says it forwarded.

Failed sign-ins are counted per address, so a caller that could pick its
address would never be throttled, and could lock out any address it names.
uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default; the server
turns that off (``main.py``) and reads the header here, only from connections
whose address is in ``trusted_proxies``. The client is then the right-most
address of the header that is not itself a trusted proxy: each proxy appends
the address it saw, and a client can put anything it likes before those.

Connections are capped per address too (``connections.py``), counted here by
``AddressTally`` as they open and close; a trusted proxy's are not counted,
since they carry many clients (``admission.py`` counts those per request).
"""

from __future__ import annotations

import collections
import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

from tiercube._config import SessionConfig

class ClientAddresses:
    """Tells the address of a request's client, believing only the proxies in ``trusted``."""

    def __init__(self, trusted: Sequence[str]) -> None:
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted]  # checked by SessionConfig

    def of(self, request: HTTPConnection) -> str:
        """The client's address: the connection's, unless that is a trusted proxy's."""
        peer = request.client.host if request.client else "unknown"
        if not self.trusted(peer):
            return peer
        forwarded = [part.strip() for header in request.headers.getlist("x-forwarded-for") for part in header.split(",")]
        for address in reversed(forwarded):
            if not self.trusted(address):
                return address if _is_address(address) else peer
        return peer

    def trusted(self, address: str) -> bool:
        """Whether ``address`` is a trusted proxy's: its connections carry many clients, told apart per request."""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._networks)


class AddressTally:
    """Open connections per client address, of every protocol of one server.

    A trusted proxy's connections are not counted: they carry many clients,
    each counted per request by the address the proxy forwards.
    """

    def __init__(self, config: SessionConfig) -> None:
        self._addresses = ClientAddresses(config.trusted_proxies)
        self._open: collections.Counter[str] = collections.Counter()

    def held(self, address: str) -> int | None:
        """How many connections ``address`` has open; None for a trusted proxy, which is not counted."""
        return None if self._addresses.trusted(address) else self._open[address]

    def opened(self, address: str) -> None:
        """A connection from ``address`` was accepted."""
        self._open[address] += 1

    def closed(self, address: str) -> None:
        """A connection from ``address`` that was counted is gone."""
        self._open[address] -= 1
        if not self._open[address]:
            del self._open[address]  # an address that went leaves nothing behind


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
