"""The session modules' protocols (``_client/channel.py``) are met by the implementations ``opening`` imports by name.

``opening`` reaches ``connection.Connection`` and ``explorer_relay.Relay`` by
name, so that a user's mypy does not analyse httpx, and the checkers then see
them as ``Any`` there: these assignments are what holds them to the protocols.
The test checks that opening by name gives those classes.
"""

from __future__ import annotations

from tiercube._client import connection, explorer_relay
from tiercube._client.channel import Opener, RelayOpener
from tiercube._client.opening import open_connection

CONNECTION: Opener = connection.Connection
RELAY: RelayOpener = explorer_relay.Relay


def test_open_connection_gives_the_implementation() -> None:
    opened = open_connection("http://127.0.0.1:9")  # nothing listens: opening sends nothing
    try:
        assert type(opened) is connection.Connection
        assert opened.url == "http://127.0.0.1:9"
    finally:
        opened.close()
