"""``/api/v1/explorer/views``: the explorer's views saved on the server, listed, saved and deleted per user."""

from __future__ import annotations

from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.explorer import SavedView, SavedViews, SaveView


def list_views(call: Call[None]) -> SavedViews:
    return SavedViews(call.state.saved_views.visible(call.grant.caller))


def save_view(call: Call[SaveView]) -> SavedView:
    return call.state.saved_views.save(call.grant.caller, call.params["view"], call.body)


def delete_view(call: Call[None]) -> None:
    call.state.saved_views.delete(call.grant.caller, call.params["view"])


served = [
    endpoint(routes.LIST_VIEWS, list_views),
    endpoint(routes.SAVE_VIEW, save_view),
    endpoint(routes.DELETE_VIEW, delete_view),
]
