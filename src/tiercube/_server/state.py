"""Everything one server process holds: the engine, the gatekeeper, the share proof."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field

from tiercube._config import SessionConfig
from tiercube._server.access import Gatekeeper
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.tables import TableStore
from tiercube._version import __version__
from tiercube._wire.messages import ShareProof


@dataclass
class ServerState:
    config: SessionConfig
    gatekeeper: Gatekeeper
    tables: TableStore = field(default_factory=TableStore)
    cubes: CubeStore = field(default_factory=CubeStore)
    # (method, route) -> where the owner listens for it
    endpoints: dict[tuple[str, str], str] = field(default_factory=dict[tuple[str, str], str])
    owner_token: str | None = None
    share_proof: ShareProof = field(init=False)

    def __post_init__(self) -> None:
        # Condition d: a caller that can read this file shares our file system.
        directory = tempfile.mkdtemp(prefix="tiercube-share-")
        path = os.path.join(directory, "nonce")
        nonce = secrets.token_hex(16)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(nonce)
        self.share_proof = ShareProof(path=path, nonce=nonce)

    @property
    def started_by(self) -> str:
        return self.config.advertised_version or __version__

    def cleanup(self) -> None:
        shutil.rmtree(os.path.dirname(self.share_proof.path), ignore_errors=True)


def create_state(config: SessionConfig, owner_token: str | None) -> ServerState:
    started_by = config.advertised_version or __version__
    return ServerState(config=config, gatekeeper=Gatekeeper(config, owner_token, started_by), owner_token=owner_token)
