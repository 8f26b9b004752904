"""Everything one server process holds: the engine, who may do what, the share proof."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from tiercube._config import SessionConfig
from tiercube._server.access import Judge
from tiercube._server.authentication import Authenticator
from tiercube._server.cluster.connection import Cluster
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.cubes.results import Results
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.tables import TableStore
from tiercube._server.engine.visibility import RowPlan, RowRestriction, TableConditions, plan_rows
from tiercube._server.file_access import FileAccess
from tiercube._version import __version__
from tiercube._wire import paths
from tiercube._wire.filters import Filter
from tiercube._wire.messages import ADMIN_ROLE, Caller, EndpointRegistration, ShareProof
from tiercube.errors import PermissionDeniedError


@dataclass(frozen=True)
class RoleRestriction:
    """A role's restriction as it was given, and as it applies: one condition per table."""

    condition: Filter
    tables: TableConditions


class ShareFile:
    """Condition d: a nonce in a file only this server's user can read; it is never sent.

    A caller proves it shares our file system by reading the file and sending
    the nonce back; the versions document gives admins the path and a digest,
    so that a client can tell the right file without a second request.
    """

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="tiercube-share-")
        self.path = os.path.join(self.directory, "nonce")
        self.nonce = secrets.token_hex(16)
        with open(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(self.nonce)
        self.proof = ShareProof.of(self.path, self.nonce)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class ServerState:
    config: SessionConfig
    owner_token: str | None = None
    tables: TableStore = field(init=False)
    cubes: CubeStore = field(init=False)
    restrictions: dict[str, RoleRestriction] = field(default_factory=dict[str, RoleRestriction])
    # (method, route) -> the owner's registration: where it listens for it
    endpoints: dict[tuple[str, str], EndpointRegistration] = field(default_factory=dict[tuple[str, str], EndpointRegistration])
    share: ShareFile = field(default_factory=ShareFile)
    # Delegation token -> the caller of a custom endpoint that is being answered.
    delegations: dict[str, Caller | None] = field(default_factory=dict[str, "Caller | None"])
    # Files no load may read besides the TLS files and the share nonce: the config file, the log.
    protected_files: list[str] = field(default_factory=list[str])
    # Whether the server is stopping: long-lived responses (the explorer's events) end then.
    stopping: Callable[[], bool] = lambda: False
    authenticator: Authenticator = field(init=False)
    judge: Judge = field(init=False)
    files: FileAccess = field(init=False)

    def __post_init__(self) -> None:
        # Kept groupings get the budget; answers to repeated queries an eighth more of it.
        partials = Partials(self.config.aggregate_memory_bytes)
        cluster = Cluster(self.config.cluster) if self.config.cluster is not None else None
        self.tables = TableStore(partials, cluster, self.config.distribute_over_rows)
        self.cubes = CubeStore(partials, Results(self.config.aggregate_memory_bytes // 8))
        self.authenticator = Authenticator(self.config, self.owner_token)
        self.judge = Judge(self.config, self.started_by, self.share.nonce)
        self.files = FileAccess(self.config, [*self.protected_files, self.share.path])

    @property
    def started_by(self) -> str:
        return self.config.advertised_version or __version__

    def restriction_of(self, request: HTTPConnection, caller: Caller | None) -> RowRestriction | None:
        """The restriction a request is under: its caller's, or for the owner answering a
        custom endpoint (it names the call's delegation token), that endpoint's caller's."""
        token = request.headers.get(paths.DELEGATION_HEADER)
        if token is None or caller is None or not caller.owner:
            return self.restriction(caller)
        if token not in self.delegations:
            raise PermissionDeniedError("the custom endpoint call this request was made for has ended")
        return self.restriction(self.delegations[token])

    def restriction(self, caller: Caller | None) -> RowRestriction | None:
        """What ``caller`` may see: None for all (admins, the owner, a role without restriction)."""
        if caller is None or caller.owner or ADMIN_ROLE in caller.roles or not caller.roles:
            return None
        found = [self.restrictions.get(role) for role in caller.roles]
        if any(restriction is None for restriction in found):
            return None  # one unrestricted role is enough to see everything
        return RowRestriction(tuple(r.tables for r in found if r is not None))

    def visible_rows(self, table: str, restriction: RowRestriction | None) -> RowPlan | None:
        """Which rows of ``table`` a caller may see, as a plan any snapshot or partition can apply; None: all."""
        return plan_rows(self.tables, self.cubes.joins, table, restriction)

    def cleanup(self) -> None:
        self.share.remove()
        if self.tables.cluster is not None:
            self.tables.cluster.close()
