"""``GET /explorer/events``: server-sent events that tell an open explorer what changed.

Each event is a ``CubeVersions``: every cube and a digest of its definition
and of the versions of the tables it reads. The page re-runs its query when
the digest of the cube it shows changes. The server looks every quarter of a
second, so a load, append or drop shows within a second; a comment line
every 15 s keeps proxies from closing a quiet stream. A stream ends after
ten minutes (the browser's EventSource reconnects by itself) and when the
server stops. ``?once=1`` sends the current versions and ends. A user holds
at most ``max_event_streams_per_user`` streams at once (callers without
credentials as many per address); past that a stream is refused 429.

A restricted caller's digest covers only the rows it may see
(``CubeStore.visible_version``): what it hears is the same whether or not
rows hidden from it changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tiercube._server.admission import ticket_of
from tiercube._server.routing import authorize
from tiercube._server.engine.visibility import Visibility
from tiercube._server.state import ServerState
from tiercube._wire.explorer import CubeVersions
from tiercube._wire.tiers import Group
from tiercube.errors import NotFoundError

TICK = 0.25
HEARTBEAT = 15.0
LIFETIME = 600.0


def versions(state: ServerState) -> CubeVersions:
    found: dict[str, str] = {}
    for name in state.cubes.names():
        try:
            found[name] = state.cubes.data_version(name)
        except NotFoundError:  # deleted meanwhile
            continue
    return CubeVersions(found)


class _SeenVersions:
    """A restricted caller's versions: each cube's digest of the rows it may see, made again only when its data changed."""

    def __init__(self, state: ServerState, visible: Visibility) -> None:
        self._state = state
        self._visible = visible
        self._known: dict[str, tuple[str, str]] = {}  # cube -> (data_version, visible_version)

    def of(self, current: CubeVersions) -> CubeVersions:
        found: dict[str, str] = {}
        for name, version in current.cubes.items():
            known = self._known.get(name)
            if known is None or known[0] != version:
                try:
                    known = self._known[name] = (version, self._state.cubes.visible_version(name, self._visible))
                except NotFoundError:  # deleted meanwhile
                    continue
            found[name] = known[1]
        return CubeVersions(found)


async def events(request: Request) -> Response:
    state, grant = await authorize(request, Group.QUERY)
    ticket_of(request).stream(grant)  # a user's streams are capped (admission.py): 1,021 once locked out the admin
    scope = grant.caller.scope if grant.caller is not None else None
    once = request.query_params.get("once") == "1"
    seen = _SeenVersions(state, grant.visibility) if grant.visibility.restricted else None

    async def stream() -> AsyncIterator[bytes]:
        sent: CubeVersions | None = None
        started = last_write = time.monotonic()
        while not state.stopping():
            current = versions(state)
            if scope is not None:  # a token limited to some cubes hears of those only
                current = CubeVersions({name: version for name, version in current.cubes.items() if scope.allows_cube(name)})
            if seen is not None:  # off the loop: it reads the caller's rows when a cube's data changed
                current = await anyio.to_thread.run_sync(seen.of, current)
            now = time.monotonic()
            if current != sent:
                yield b"data: " + msgspec.json.encode(current) + b"\n\n"
                sent, last_write = current, now
                if once:
                    return
            elif now - last_write > HEARTBEAT:
                yield b": still here\n\n"
                last_write = now
            if now - started > LIFETIME:
                return
            await asyncio.sleep(TICK)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
