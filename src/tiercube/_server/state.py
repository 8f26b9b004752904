"""Everything one server process holds, wired together once: the engine, who may do what, the share proof.

This is the one module that knows a session may have a Dask cluster: it
picks where tables' rows live (``Placement``) and hands it to the engine,
which never imports ``cluster``. Likewise it hands the engine a ``Journal``:
the session's data directory (``durability``), which it then asks to
rebuild the session, or nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import msgspec

from tiercube._config import SessionConfig
from tiercube._temporary import owned_directory, storage_errors
from tiercube._server.access import Grant, Judge
from tiercube._server.authentication import Authenticator
from tiercube._server.cluster.connection import Cluster
from tiercube._server.cluster.placement import ClusterPlacement
from tiercube._server.custom_endpoints import CustomEndpoints
from tiercube._server.durability.directory import DataDirectory
from tiercube._server.durability.recovery import Parts
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.cubes.results import Results
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.held import ServerPlacement
from tiercube._server.engine.journal import NO_JOURNAL
from tiercube._server.engine.memory import MemoryGovernor, default_limit
from tiercube._server.engine.load_progress import LoadsUnderWay
from tiercube._server.engine.rows import Placement
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.file_access import FileAccess
from tiercube._server.restrictions import Restrictions
from tiercube._server.saved_views import SavedViews
from tiercube._version import __version__
from tiercube._wire.messages import AggregateStats, ServerStats, ShareProof
from tiercube.errors import StorageError
from tiercube._wire.tiers import Group

log = logging.getLogger("tiercube.server")


class ShareFile:
    """Condition d: a nonce in a file only this server's user can read; it is never sent.

    A caller proves it shares our file system by reading the file and sending
    the nonce back; the versions document gives admins the path and a digest,
    so that a client can tell the right file without a second request.
    """

    def __init__(self) -> None:
        self.directory = owned_directory("share")
        self.path = os.path.join(self.directory, "nonce")
        self.nonce = secrets.token_hex(16)
        try:
            with storage_errors(self.path, "write the share proof to"):
                with open(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
                    file.write(self.nonce)
        except StorageError:
            self.remove()
            raise
        self.proof = ShareProof.of(self.path, self.nonce)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def placement_for(config: SessionConfig) -> Placement:
    """Where tables' rows live: on the server, or also on the configured Dask cluster."""
    if config.cluster is None:
        return ServerPlacement()
    return ClusterPlacement(Cluster(config.cluster), config.distribute_over_rows)


@dataclass
class ServerState:
    """One server's parts. ``owner_token`` authenticates the owner; ``protected_files`` (the config
    file, the log) are never loadable, like the TLS files and the share nonce.

    With a ``data_dir``, the session is rebuilt from it before anything else
    (the server does not listen yet), then the config's ``tables`` it does
    not hold are read.
    """

    config: SessionConfig
    owner_token: str | None = None
    protected_files: list[str] = field(default_factory=list[str])
    share: ShareFile = field(init=False)
    data: DataDirectory | None = field(init=False)
    cubes: CubeStore = field(init=False)
    restrictions: Restrictions = field(init=False)
    authenticator: Authenticator = field(init=False)
    judge: Judge = field(init=False)
    files: FileAccess = field(init=False)
    endpoints: CustomEndpoints = field(init=False)
    saved_views: SavedViews = field(init=False)  # the explorer's, per user
    loads: LoadsUnderWay = field(default_factory=LoadsUnderWay)  # those whose callers follow them
    # Whether the server is stopping: long-lived responses (the explorer's events) end then.
    stopping: Callable[[], bool] = lambda: False

    def __post_init__(self) -> None:
        # What is taken first is let go again if a later part fails (a damaged or locked data
        # directory, a declared table that cannot be read); once built, cleanup() lets go of it.
        with ExitStack() as undo:
            self.share = ShareFile()
            undo.callback(self.share.remove)
            self.data = DataDirectory(self.config.data_dir, self.config) if self.config.data_dir is not None else None
            if self.data is not None:
                undo.callback(self.data.close)
            journal = self.data if self.data is not None else NO_JOURNAL
            limit = self.config.memory_limit or default_limit()
            # Kept groupings get the budget (within a quarter of the memory limit); answers to repeated
            # queries an eighth more of it. Both give their memory back when a load or query needs it.
            budget = min(self.config.aggregate_memory_bytes, limit // 4)
            partials, results = Partials(budget), Results(budget // 8)
            memory = MemoryGovernor(limit, [results.clear, partials.release])
            limits = QueryLimits(self.config.query_timeout, self.config.max_result_rows)
            tables = TableStore(placement_for(self.config), partials, limits, memory, journal)
            self.cubes = CubeStore(tables, partials, results)
            self.restrictions = Restrictions(tables, self.cubes.joins)
            self.authenticator = Authenticator(self.config, self.owner_token, journal)
            self.judge = Judge(self.config, self.started_by, self.share.nonce)
            self.files = FileAccess(self.config, [*self.protected_files, self.share.path])
            self.endpoints = CustomEndpoints(self.owner_token)
            accounts = self.authenticator.accounts
            self.saved_views = SavedViews(journal, lambda user: account.serial if (account := accounts.get(user)) else "")
            if self.data is not None:
                tokens = self.authenticator.tokens
                self.data.recover(Parts(self.cubes, accounts, self.restrictions, tokens, self.saved_views))
            self._read_declared_tables()
            undo.pop_all()

    def _read_declared_tables(self) -> None:
        """Read the config's tables the session does not hold (with a data directory: held since a former run)."""
        held = set(self.tables.names())
        for declared in self.config.tables:
            if declared.name not in held:
                loaded = self.tables.read(declared.request, self.files)
                log.info("table %r read from %s at start: %d rows", declared.name, declared.path or declared.location, loaded.rows)

    @property
    def tables(self) -> TableStore:
        return self.cubes.tables

    @property
    def started_by(self) -> str:
        return self.config.advertised_version or __version__

    def stats(self, grant: Grant) -> ServerStats:
        """The caller's own facts; what the engine keeps, and the cluster's workers, only to those who manage security."""
        caller = grant.caller.username if grant.caller is not None else None
        own = ServerStats(caller, grant.tier, grant.visibility.restricted)
        if Group.SECURITY not in grant.groups:
            return own
        partials, results = self.cubes.partials, self.cubes.results
        kept = partials.stats() if partials is not None else AggregateStats(0, 0, 0, 0, 0, 0, 0)
        answers, answer_bytes = results.size() if results is not None else (0, 0)
        return msgspec.structs.replace(
            own, aggregates=kept, kept_answers=answers, kept_answer_bytes=answer_bytes, cluster=self.tables.placement.stats()
        )

    def cleanup(self) -> None:
        """Stop: the data directory (if any) takes its last snapshot, then everything is let go."""
        if self.data is not None:
            self.data.close()
        self.share.remove()
        self.tables.close()
