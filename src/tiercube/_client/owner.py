"""The owner: the session ``Session.start()`` returns, and its server process."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Protocol, cast, final

import msgspec

from tiercube._client.channel import Connection
from tiercube._client.connect import Connecting
from tiercube._client.core import register_tiers
from tiercube._client.file_loading import FileLoading
from tiercube._client.lifecycle import OwnerLifecycle, ServerProcess
from tiercube._client.negotiation import evaluate, fetch_document, require_tiercube
from tiercube._client.opening import open_connection
from tiercube._client.query import Querying
from tiercube._client.security import SecurityManagement
from tiercube._client.timeouts import DEFAULT_TIMEOUT, HEALTH_TIMEOUT
from tiercube._config import SessionConfig
from tiercube._public import public


class DaskCluster(Protocol):
    """A ``dask.distributed.LocalCluster`` (or any cluster object): what ``Session.start(cluster=...)`` takes."""

    @property
    def scheduler_address(self) -> str: ...


class DaskClient(Protocol):
    """A ``dask.distributed.Client``: what ``Session.start(cluster=...)`` takes."""

    def scheduler_info(self, n_workers: int = -1) -> Mapping[str, Any]:
        """Facts about the scheduler and its workers (``workers``: address to details)."""
        ...


def scheduler_address(cluster: str | DaskCluster | DaskClient) -> str:
    """The scheduler's address of what ``Session.start(cluster=...)`` was given."""
    if isinstance(cluster, str):
        return cluster
    address: object = getattr(cluster, "scheduler_address", None)
    if isinstance(address, str):
        return address
    info: object = getattr(cluster, "scheduler_info", None)
    if callable(info):
        details = cast("Mapping[str, object]", info(n_workers=0))
        return str(details["address"])
    raise TypeError(f"cluster must be a scheduler address, a Dask cluster or a Dask Client, not {type(cluster).__name__}")


@public
@final
class Session(Querying, FileLoading, SecurityManagement, OwnerLifecycle, Connecting):
    """The owner: the session ``Session.start()`` returns, with every capability.

    Its server is a child process of this one and never outlives it: ``close()``,
    leaving a ``with`` block, interpreter exit or this process being killed
    all stop it. Data lives in the server's memory and is lost when it stops,
    unless the session has a data directory (``start(data_dir=...)``).
    """

    def __init__(self, connection: Connection, server: ServerProcess) -> None:
        document = require_tiercube(fetch_document(connection), connection.url)
        report, _ = evaluate(connection.url, document, credentials_given=True)
        super().__init__(connection, dataclasses.replace(report, tier="Session"))
        self._server = server

    @classmethod
    def start(
        cls,
        config: SessionConfig | str | Path | None = None,
        *,
        cluster: str | DaskCluster | DaskClient | None = None,
        data_dir: str | Path | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> Session:
        """Start a session server and return its owner session.

        ``config`` is a ``SessionConfig``, or the path of a TOML file holding one
        (users and roles, TLS, limits). ``cluster`` (a Dask scheduler's address
        such as ``"tcp://scheduler:8786"``, a ``LocalCluster`` or a ``Client``)
        lets tables live on its workers: see ``create_table(distributed=...)``;
        it needs the ``tiercube[cluster]`` extra. With ``data_dir`` (a directory,
        created if missing) every change is kept there and the session starts
        from what it holds: see the README's "What survives a stop". The server listens on
        ``host`` (this machine only by default; ``"0.0.0.0"`` for every interface) and ``port``
        (0: any free one); with a fixed port, ``session.link`` stays the same across restarts.
        ``timeout`` is how many seconds a call waits for the server to answer, as in
        ``connect(timeout=)``. Raises ``ServerStartError`` with the end of the server's log if
        it does not come up (a port in use among them: pick another, or stop what holds it).
        """
        config_path = None if config is None or isinstance(config, SessionConfig) else str(Path(config).resolve())
        if not isinstance(config, SessionConfig):
            config = SessionConfig() if config is None else SessionConfig.from_toml(config)
        if cluster is not None:
            config = msgspec.structs.replace(config, cluster=scheduler_address(cluster))
        if data_dir is not None:
            config = msgspec.structs.replace(config, data_dir=str(Path(data_dir).resolve()))
        config.check_cluster()
        # The client's httpx and pyarrow (about 0.25 s) load while the child boots, not after.
        server = ServerProcess.spawn(
            config, config_path, while_starting=lambda: importlib.import_module("tiercube._client.connection"), host=host, port=port
        )
        token = server.owner_token
        ca = config.tls.certificate if config.tls else None
        try:
            connection = open_connection(
                server.url, authentication=lambda url: {"Authorization": f"Bearer {token}"}, certificate_authority=ca, timeout=timeout
            )
            return cls(connection, server)
        except BaseException:
            server.stop()
            raise

    def health(self, timeout: float = HEALTH_TIMEOUT) -> float:
        """Whether the server answers now: the seconds it took to answer a request that does no work.

        Raises ``ServerUnavailableError`` at once when the server's process has
        exited or is stopped (SIGSTOP, a debugger), ``ServerTimeoutError`` when it
        runs but does not answer within ``timeout`` seconds (frozen or swamped).
        """
        self._server.check_running()
        return super().health(timeout)

    def close(self) -> None:
        """Stop the server (its data is gone, unless kept in a data directory) and close the connection."""
        super().close()
        if self._listener is not None:
            self._listener.close()
        self._server.stop()


register_tiers(Session)

connect = public(Session.connect)
"""``tiercube.connect``: the same function as ``Session.connect`` (see ``Connecting``).

Exported from here rather than from ``connect``, so that a process that only
connects has the owner's class registered too: a connected session's error for
a member only the owner has then says so (``core.register_tiers``).
"""
