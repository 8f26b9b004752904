"""The explorer at ``session.link``: a pivot builder and charts over the cubes, in the browser.

The server serves the pages and assets (``pages``), signs browsers in and
out (``signing_in``; through an OpenID Connect provider, ``provider_sign_in``),
tells open pages what changed (``events``) and keeps each user's saved
views (``views``), which the dashboard page (``assets/dashboard.js``) shows
side by side. The page itself is ``assets/explorer.js``
(the builder and the page) with ``assets/view.js`` (queries and drawing) and
``assets/tree.js`` (the server's answers as the grid's rows): it queries the
same API as the Python client, with the same grant, so it can show no more than
the API answers, and it adds nothing up (``assets/viewer.js`` locks the
viewer's own grouping and aggregation).
The viewer it renders with, FINOS Perspective, is vendored under
``assets/vendor`` by ``explorer/build.py`` at the repository's root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._server.explorer import events, pages, provider_sign_in, signing_in, views
from tiercube._wire import routes


def _route(route: routes.Route, handler: Callable[[Request], Awaitable[Response]]) -> Route:
    return Route(route.path, handler, methods=[route.method])


served = [
    _route(routes.EXPLORER, pages.explorer),
    _route(routes.EXPLORER_EMBED, pages.embedded),
    _route(routes.EXPLORER_ASSET, pages.asset),
    _route(routes.SIGN_IN_PAGE, provider_sign_in.sign_in_page),
    _route(routes.SIGN_IN, signing_in.sign_in),
    _route(routes.SIGN_OUT, signing_in.sign_out),
    _route(routes.EXPLORER_GRANT, signing_in.grant),
    _route(routes.EXPLORER_EVENTS, events.events),
    _route(routes.EXPLORER_SESSIONS, signing_in.embed_session),
    _route(routes.DASHBOARD, pages.dashboard),
    *views.served,
]
