"""The explorer's messages: signing in, whom a page serves, the sessions a notebook embeds."""

from __future__ import annotations

import msgspec

from tiercube._wire.tiers import TierName


class SignIn(msgspec.Struct, frozen=True):
    """``POST /explorer/sign-in``: the sign-in page's form, sent by its script as JSON."""

    username: str
    password: str


class PageGrant(msgspec.Struct, frozen=True):
    """``GET /explorer/grant``: who the page serves and what it may show (the server decides the same per request)."""

    user: str | None
    tier: TierName
    # The capability groups of the tier, by name (``Group.READ_MODEL.name``, ...).
    groups: list[str]
    # What the page sends back in the CSRF header with every request; None when no cookie authenticates it.
    csrf: str | None
    security: bool


class OpenEmbed(msgspec.Struct, frozen=True):
    """``POST /api/v1/explorer/sessions``: the cube a notebook widget explores; its session reaches no other."""

    cube: str


class EmbedSession(msgspec.Struct, frozen=True):
    """The answer to ``OpenEmbed``: a browser session to embed the explorer elsewhere, for that cube only.

    ``path`` (on the server's URL) opens the explorer on it, with the token in
    the URL's fragment, which browsers never send to a server. Anonymous callers
    (a server without security) get no token: the explorer is open to them anyway.
    """

    path: str
    token: str | None
    expires_in: float | None


class CubeVersions(msgspec.Struct, frozen=True):
    """One event of ``GET /explorer/events``: each cube and the version of the data it reads."""

    cubes: dict[str, str]


class SaveView(msgspec.Struct, frozen=True):
    """``PUT /api/v1/explorer/views/{view}``: keep the page's view under a name, for its user.

    ``fragment`` is the view as the explorer's address holds it (cube, rows, columns,
    measures, filters, totals, expanded members, sort, chart); ``shared_with`` the roles
    whose users may open it too. Saving a name again replaces that view.
    """

    fragment: str
    shared_with: list[str] = []


class SavedView(msgspec.Struct, frozen=True):
    """A saved view, as ``GET /api/v1/explorer/views`` lists it."""

    name: str
    owner: str
    fragment: str
    shared_with: list[str]


class SavedViews(msgspec.Struct, frozen=True):
    """The caller's own views, then those shared with one of its roles."""

    views: list[SavedView]
