"""The explorer's saved views, kept in the server's memory per user (they end with the server).

A view is the explorer's address fragment under a name: the page opens it as it
opens a link. Its owner sees it, and so does every user holding one of the
roles it is shared with; only its owner replaces or deletes it. A user keeps
at most ``MAX_VIEWS`` views of at most ``MAX_FRAGMENT`` characters each, so
that no caller can fill the server's memory through this store.
"""

from __future__ import annotations

import threading

from tiercube._wire.explorer import SavedView, SaveView
from tiercube._wire.messages import Caller
from tiercube.errors import InvalidRequestError, NotFoundError

MAX_VIEWS = 100
MAX_FRAGMENT = 16_000
MAX_NAME = 100
# Whose views they are on a server without security, where no one signs in.
ANYONE = "anyone"


def _user(caller: Caller | None) -> str:
    return caller.username if caller is not None else ANYONE


class SavedViews:
    """Every user's views; safe to use from the server's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[str, dict[str, SavedView]] = {}

    def visible(self, caller: Caller | None) -> list[SavedView]:
        """The caller's own views by name, then those others shared with one of its roles."""
        user = _user(caller)
        roles: set[str] = set(caller.roles) if caller is not None else set()
        with self._lock:
            own = sorted(self._by_user.get(user, {}).values(), key=lambda view: view.name)
            shared = [
                view
                for owner, views in sorted(self._by_user.items())
                if owner != user
                for view in sorted(views.values(), key=lambda view: view.name)
                if roles & set(view.shared_with)
            ]
        return own + shared

    def save(self, caller: Caller | None, name: str, view: SaveView) -> SavedView:
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidRequestError(f"a saved view needs a name of 1 to {MAX_NAME} characters")
        if len(view.fragment) > MAX_FRAGMENT:
            raise InvalidRequestError(
                f"this view is {len(view.fragment):,} characters long, more than the {MAX_FRAGMENT:,} a saved view may hold: "
                "filter on fewer members, or collapse members, and save again"
            )
        user = _user(caller)
        saved = SavedView(name, user, view.fragment, sorted(set(view.shared_with)))
        with self._lock:
            views = self._by_user.setdefault(user, {})
            if name not in views and len(views) >= MAX_VIEWS:
                raise InvalidRequestError(f"{user} already keeps {MAX_VIEWS} saved views: delete one before saving another")
            views[name] = saved
        return saved

    def delete(self, caller: Caller | None, name: str) -> None:
        user = _user(caller)
        with self._lock:
            if self._by_user.get(user, {}).pop(name, None) is None:
                raise NotFoundError(f"{user} has no saved view named {name[:MAX_NAME]!r} (a view shared with you is its owner's to delete)")
