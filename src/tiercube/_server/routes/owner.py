"""What only the process that started the server may do."""

from __future__ import annotations

from tiercube._server.access import Group
from tiercube._server.routing import Call, endpoint
from tiercube._wire import paths


def stop(call: Call[None]) -> None:
    call.state.stop()


routes = [endpoint("POST", paths.OWNER_STOP, Group.OWNER, stop)]
