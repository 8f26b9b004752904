"""The owner: the session ``Session.start()`` returns, and its server process."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, final

from tiercube._client.file_loading import FileLoading
from tiercube._client.lifecycle import OwnerLifecycle, ServerProcess
from tiercube._client.negotiation import evaluate, fetch_document, require_tiercube
from tiercube._client.query import Querying
from tiercube._client.security import SecurityManagement
from tiercube._config import SessionConfig
from tiercube._connect import Connecting

if TYPE_CHECKING:
    from tiercube._client.connection import Connection


@final
class Session(Querying, FileLoading, SecurityManagement, OwnerLifecycle, Connecting):
    """The owner: the session ``Session.start()`` returns, with every capability.

    Its server is a child process of this one and never outlives it: ``close()``,
    leaving a ``with`` block, interpreter exit or this process being killed
    all stop it. Data lives in the server's memory and is lost when it stops.
    """

    def __init__(self, connection: Connection, server: ServerProcess) -> None:
        document = require_tiercube(fetch_document(connection), connection.url)
        report, _ = evaluate(connection.url, document, credentials_given=True)
        super().__init__(connection, dataclasses.replace(report, tier="Session"))
        self._server = server

    @classmethod
    def start(cls, config: SessionConfig | str | Path | None = None) -> Session:
        """Start a session server and return its owner session.

        ``config`` is a ``SessionConfig``, or the path of a TOML file holding one
        (users and roles, TLS, limits). Raises ``ServerStartError`` with the
        end of the server's log if it does not come up.
        """
        config_path = None if config is None or isinstance(config, SessionConfig) else str(Path(config).resolve())
        if not isinstance(config, SessionConfig):
            config = SessionConfig() if config is None else SessionConfig.from_toml(config)
        # The client's httpx and pyarrow (about 0.25 s) load while the child boots, not after.
        server = ServerProcess.spawn(
            config, config_path, while_starting=lambda: importlib.import_module("tiercube._client.connection")
        )
        from tiercube._client.connection import Connection

        token = server.owner_token
        ca = config.tls.certificate if config.tls else None
        try:
            connection = Connection(server.url, authentication=lambda url: {"Authorization": f"Bearer {token}"}, certificate_authority=ca)
            return cls(connection, server)
        except BaseException:
            server.stop()
            raise

    def close(self) -> None:
        """Stop the server (its data is gone) and close the connection."""
        super().close()
        if self._listener is not None:
            self._listener.close()
        self._server.stop()
