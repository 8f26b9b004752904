"""The session classes: one ``@final`` class per tier, assembled from capability mixins.

A tier lacks a capability by not having the mixin that provides it, so the
member is absent from the type and from the object alike. Which mixins make
which tier is the contract's table, read across:

=======================  =====  ==========  =======  =====  =============  ========  ======
class                    query  read model  editing  cloud  shared files   security  owner
=======================  =====  ==========  =======  =====  =============  ========  ======
Session (owner)          yes    yes         yes      yes    yes            yes       yes
LocalSession             yes    yes         yes      yes    yes            yes
RemoteSession            yes    yes         yes      yes                   yes
NoSecurityLocalSession   yes    yes         yes      yes    yes
NoSecuritySession        yes    yes         yes      yes
ReadOnlySession          yes    yes
MinimalSession           yes
=======================  =====  ==========  =======  =====  =============  ========  ======
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, final

from tiercube._client.cloud_loading import CloudLoading
from tiercube._client.file_loading import FileLoading
from tiercube._client.lifecycle import OwnerLifecycle, ServerProcess
from tiercube._client.negotiation import evaluate, fetch_document, require_tiercube
from tiercube._client.query import MinimalCubes, Querying
from tiercube._client.read_model import ReadOnlyModel
from tiercube._client.security import SecurityManagement
from tiercube._config import SessionConfig

if TYPE_CHECKING:
    from tiercube._client.connection import Connection


@final
class LocalSession(Querying, FileLoading, SecurityManagement):
    """Admin on a secured server of the same tiercube version, on the same host: all but the lifecycle."""


@final
class RemoteSession(Querying, CloudLoading, SecurityManagement):
    """Like ``LocalSession`` on another host: no loading of local files, Arrow tables or frames."""


@final
class NoSecurityLocalSession(Querying, FileLoading):
    """Admin, another tiercube version with the same protocol, same host: no security management."""


@final
class NoSecuritySession(Querying, CloudLoading):
    """Admin, another tiercube version with the same protocol, another host."""


@final
class ReadOnlySession(Querying, ReadOnlyModel):
    """Same protocol, without admin rights: read the model and data, query; change nothing."""


@final
class MinimalSession(Querying, MinimalCubes):
    """Query only: what any server answering ``/versions/rest`` allows."""


@final
class Session(Querying, FileLoading, SecurityManagement, OwnerLifecycle):
    """The owner: the session ``Session.start()`` returns, with every capability.

    Its server is a child process of this one and never outlives it: ``close()``,
    leaving a ``with`` block, interpreter exit or this process being killed
    all stop it. Data lives in the server's memory and is lost when it stops.
    """

    def __init__(self, connection: Connection, server: ServerProcess) -> None:
        document = require_tiercube(fetch_document(connection), connection.url)
        report = evaluate(connection.url, document, credentials_given=True)
        super().__init__(connection, type(report)(report.url, "Session", report.conditions))
        self._server = server

    @classmethod
    def start(cls, config: SessionConfig | str | Path | None = None) -> Session:
        """Start a session server and return its owner session.

        ``config`` is a ``SessionConfig``, or the path of a TOML file holding one
        (users and roles, TLS, limits). Raises ``ServerStartError`` with the
        end of the server's log if it does not come up.
        """
        from tiercube._client.connection import Connection  # httpx and pyarrow load on first use, not on import

        if not isinstance(config, SessionConfig):
            config = SessionConfig() if config is None else SessionConfig.from_toml(config)
        server = ServerProcess.spawn(config)
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
        self._server.stop()
