"""``open_connection`` and ``open_relay``: the implementations of ``channel``'s protocols, imported by name on first use.

By name, so that mypy, reading the session modules for a user's type check, does
not analyse httpx too (see ``channel``); httpx and pyarrow load when a session
first connects, not when tiercube is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from tiercube._client.auth import Authenticate, ClientCertificate
from tiercube._client.channel import Connection, Opener, Relay, RelayOpener
from tiercube._client.timeouts import DEFAULT_TIMEOUT
from tiercube._wire.explorer import EmbedSession


def open_connection(
    url: str,
    *,
    authentication: Authenticate | None = None,
    client_certificate: ClientCertificate | None = None,
    certificate_authority: Path | str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Connection:
    """A ``connection.Connection`` to ``url``."""
    opener: Opener = importlib.import_module("tiercube._client.connection").Connection
    return opener(
        url,
        authentication=authentication,
        client_certificate=client_certificate,
        certificate_authority=certificate_authority,
        timeout=timeout,
    )


def open_relay(connection: Connection, open_session: Callable[[], EmbedSession]) -> Relay:
    """An ``explorer_relay.Relay`` over ``connection``, opening the widget's session with ``open_session``."""
    opener: RelayOpener = importlib.import_module("tiercube._client.explorer_relay").Relay
    return opener(connection, open_session)
