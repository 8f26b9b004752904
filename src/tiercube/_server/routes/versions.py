"""``GET /versions/rest``: open to all, and with credentials, the whole negotiation."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._server.state import ServerState
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths, routes
from tiercube._wire.messages import ADMIN_ROLE, VersionsDocument
from tiercube._wire.tiers import GROUPS, Group


async def versions(request: Request) -> Response:
    state: ServerState = request.app.state.tiercube
    # Wrong credentials are a 401 here too, so a client learns it at connect().
    caller = await state.authenticator.caller(request)
    local = caller is not None and (caller.scope is None or Group.SHARED_FILES in GROUPS[caller.scope.tier])
    if caller is not None and ADMIN_ROLE in caller.roles and local:
        # Where the nonce is and its digest, never the nonce: the caller proves d by reading it.
        caller = msgspec.structs.replace(caller, share_proof=state.share.proof)
    document = VersionsDocument(
        protocol_version=PROTOCOL_VERSION,
        tiercube_version=state.started_by,
        security=state.config.security,
        sdk_exposed=state.config.sdk_exposed,
        caller=caller,
    )
    return Response(msgspec.json.encode(document), media_type=paths.JSON)


served = [Route(routes.VERSIONS.path, versions, methods=[routes.VERSIONS.method])]
