"""The explorer's saved views, per user, journaled like users so that a data directory keeps them.

A view is the explorer's address fragment under a name: the page opens it as it
opens a link, and ``session.views`` reads it in Python. Its owner sees it, and
so does every user holding one of the roles it is shared with; only its owner
replaces or deletes it. A saved view belongs to a user: an anonymous caller (on
a server without security nobody signs in) keeps none, since whatever it saved
every other anonymous caller could replace. A user keeps at most ``MAX_VIEWS``
views of at most ``MAX_FRAGMENT`` characters each, so that no caller can fill
the server's memory, or its data directory, through this store. A view is
bound to its owner's account (its serial, as tokens are): once the user is
deleted its views are gone, also for a user made again under the same name.

Saving and deleting are journaled (``ViewSaved``, ``ViewDeleted``) before they
are answered, so a server restarted on the same data directory, after any stop,
has every acknowledged view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tiercube._server.engine.journal import NO_JOURNAL, Journal, ViewDeleted, ViewSaved
from tiercube._wire.explorer import SavedView, SaveView
from tiercube._wire.messages import Caller
from tiercube.errors import InvalidRequestError, NotFoundError, PermissionDeniedError

MAX_VIEWS = 100
MAX_FRAGMENT = 16_000
MAX_NAME = 100


def _user(caller: Caller | None) -> str:
    if caller is None:
        raise PermissionDeniedError(
            "saved views belong to a user, and this server has no security, so nobody signs in: "
            "keep the view's link instead, or start the server with users (SessionConfig(users=...)) and sign in"
        )
    return caller.username


def _view(record: ViewSaved) -> SavedView:
    return SavedView(record.name, record.owner, record.fragment, record.shared_with)


class SavedViews:
    """Every user's views; safe to use from the server's worker threads."""

    def __init__(self, journal: Journal = NO_JOURNAL, serial_of: Callable[[str], str] = lambda user: "") -> None:
        """``serial_of(user)``: that user's account serial now; ``""`` for one without an account here
        (signed in through the OpenID Connect provider), or none any more."""
        self._journal = journal
        self._serial_of = serial_of
        self._lock = threading.Lock()
        self._by_user: dict[str, dict[str, ViewSaved]] = {}

    def _views_of(self, user: str) -> dict[str, ViewSaved]:
        """``user``'s views, those saved by a former user of that name left out; under the lock."""
        serial = self._serial_of(user)
        views = self._by_user.get(user, {})
        if any(view.serial != serial for view in views.values()):
            views = {name: view for name, view in views.items() if view.serial == serial}
            if views:
                self._by_user[user] = views
            else:
                self._by_user.pop(user, None)
        return views

    def visible(self, caller: Caller | None) -> list[SavedView]:
        """The caller's own views by name, then those others shared with one of its roles."""
        user = _user(caller)
        roles = set(caller.roles) if caller is not None else set[str]()
        with self._lock:
            own = sorted(self._views_of(user).values(), key=lambda view: view.name)
            shared = [
                view
                for owner in sorted(self._by_user)
                if owner != user
                for view in sorted(self._views_of(owner).values(), key=lambda view: view.name)
                if roles & set(view.shared_with)
            ]
        return [_view(view) for view in own + shared]

    def save(self, caller: Caller | None, name: str, view: SaveView) -> SavedView:
        user = _user(caller)
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidRequestError(f"a saved view needs a name of 1 to {MAX_NAME} characters")
        if len(view.fragment) > MAX_FRAGMENT:
            raise InvalidRequestError(
                f"this view is {len(view.fragment):,} characters long, more than the {MAX_FRAGMENT:,} a saved view may hold: "
                "filter on fewer members, or collapse members, and save again"
            )
        with self._lock:
            record = ViewSaved(user, name, view.fragment, sorted(set(view.shared_with)), self._serial_of(user))
            views = self._views_of(user)
            if name not in views and len(views) >= MAX_VIEWS:
                raise InvalidRequestError(f"{user} already keeps {MAX_VIEWS} saved views: delete one before saving another")
            # Changed only inside the journal's block: a snapshot reads the views while no change is under way.
            with self._journal.committing(record):
                self._by_user.setdefault(user, {})[name] = record
        return _view(record)

    def delete(self, caller: Caller | None, name: str) -> None:
        user = _user(caller)
        with self._lock:
            if name not in self._views_of(user):
                raise NotFoundError(f"{user} has no saved view named {name[:MAX_NAME]!r} (a view shared with you is its owner's to delete)")
            with self._journal.committing(ViewDeleted(user, name)):
                del self._by_user[user][name]

    def recorded(self) -> list[ViewSaved]:
        """Every view, as the records that make it again (a snapshot's views).

        Called while the journal keeps changes out; not under this store's lock, which a
        change holds while it waits for the journal.
        """
        return [
            view for user, views in list(self._by_user.items()) for view in list(views.values()) if view.serial == self._serial_of(user)
        ]

    def replay(self, record: ViewSaved | ViewDeleted) -> None:
        match record:
            case ViewSaved():
                self._by_user.setdefault(record.owner, {})[record.name] = record
            case ViewDeleted(owner, name):
                self._by_user.get(owner, {}).pop(name, None)
