"""Every route of the server: method, path, the capability group it needs, and its body.

The server builds its application from ``ROUTES`` and refuses to start if a
handler is missing or a route is not listed here; the authorization matrix
and the fuzzing tests iterate over it. So a new route is enforced, tested and
fuzzed the day it is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import msgspec

from tiercube._wire import cubes, explorer, messages, paths, tokens
from tiercube._wire.tiers import Group

HttpMethod: TypeAlias = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Route:
    method: HttpMethod
    path: str
    # None: open to anyone, without authentication (the versions document, and the explorer's
    # pages and assets that hold no data); credentials that are given must still be right.
    group: Group | None
    body: type[msgspec.Struct] | None = None
    # A second group the request needs, which depends on its body (what a load reads from).
    body_group: Callable[[Any], Group] | None = None
    # The largest body the route reads, when it is smaller than the server's max_request_bytes:
    # a larger one is refused (413) before any of it is read, whoever sends it.
    max_body: int | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def load_group(body: messages.Read | messages.Load) -> Group:
    """What a load takes: a path on the server's disk needs the shared file system."""
    match body.source:
        case messages.CsvSource(messages.CloudLocation()) | messages.ParquetSource(messages.CloudLocation()):
            return Group.CLOUD_LOADING
        case _:
            return Group.SHARED_FILES


VERSIONS = Route("GET", paths.VERSIONS, None)

# The explorer: its page answers whoever may query (a browser without a session is sent to
# sign in); its assets, the embeddable page and signing in hold no data and are open.
EXPLORER = Route("GET", paths.EXPLORER, Group.QUERY)
EXPLORER_EMBED = Route("GET", paths.EXPLORER_EMBED, None)
EXPLORER_ASSET = Route("GET", paths.EXPLORER_ASSET, None)
SIGN_IN_PAGE = Route("GET", paths.SIGN_IN, None)
SIGN_IN = Route("POST", paths.SIGN_IN, None, explorer.SignIn)
SIGN_OUT = Route("POST", paths.SIGN_OUT, Group.QUERY)
EXPLORER_GRANT = Route("GET", paths.EXPLORER_GRANT, Group.QUERY)
EXPLORER_EVENTS = Route("GET", paths.EXPLORER_EVENTS, Group.QUERY)
EXPLORER_SESSIONS = Route("POST", paths.EXPLORER_SESSIONS, Group.QUERY, explorer.OpenEmbed)
# Saved views: each user's own, and those shared with its roles. They are the tiers' that read the
# model (``session.views``): a MinimalSession knows only the query API. An anonymous caller keeps none.
LIST_VIEWS = Route("GET", paths.EXPLORER_VIEWS, Group.READ_MODEL)
SAVE_VIEW = Route("PUT", paths.EXPLORER_VIEW, Group.READ_MODEL, explorer.SaveView)
DELETE_VIEW = Route("DELETE", paths.EXPLORER_VIEW, Group.READ_MODEL)
# The dashboard: saved views side by side. Like the explorer's page it holds no data and answers whoever
# may query (a browser's navigation states no versions); its script asks for the views.
DASHBOARD = Route("GET", paths.DASHBOARD, Group.QUERY)
QUERY_CUBES = Route("GET", paths.QUERY_CUBES, Group.QUERY)
QUERY_CUBE = Route("POST", paths.QUERY_CUBE, Group.QUERY, cubes.CubeQuery)
QUERY_MDX = Route("POST", paths.QUERY_MDX, Group.QUERY, cubes.MdxQuery, max_body=cubes.MAX_MDX_BODY_BYTES)
# Custom endpoints answer any caller that may query; the owner's handler decides the rest.
CUSTOM = tuple(Route(method, paths.CUSTOM, Group.QUERY) for method in ("GET", "POST", "PUT", "DELETE"))

LIST_TABLES = Route("GET", paths.TABLES, Group.READ_MODEL)
TABLE_INFO = Route("GET", paths.TABLE, Group.READ_MODEL)
QUERY_TABLE = Route("POST", paths.TABLE_QUERY, Group.READ_MODEL, messages.TableQuery)
CUBE_INFO = Route("GET", paths.CUBE, Group.READ_MODEL)
STATS = Route("GET", paths.STATS, Group.READ_MODEL)

CREATE_TABLE = Route("POST", paths.TABLES, Group.EDIT, messages.CreateTable)
READ = Route("POST", paths.READ, Group.EDIT, messages.Read, load_group)
LOAD = Route("POST", paths.TABLE_LOAD, Group.EDIT, messages.Load, load_group)
# Answers each caller about its own loads only (anything else: "nothing known"), so those who may load may ask.
LOAD_PROGRESS = Route("GET", paths.LOAD_PROGRESS, Group.EDIT)
APPEND = Route("POST", paths.TABLE_APPEND, Group.EDIT, messages.Append)
DROP = Route("POST", paths.TABLE_DROP, Group.EDIT, messages.Drop)
DELETE_TABLE = Route("DELETE", paths.TABLE, Group.EDIT)
JOIN = Route("POST", paths.TABLE_JOIN, Group.EDIT, cubes.Join)
CREATE_CUBE = Route("POST", paths.CUBES, Group.EDIT, cubes.CreateCube)
DELETE_CUBE = Route("DELETE", paths.CUBE, Group.EDIT)
SET_MEASURE = Route("PUT", paths.CUBE_MEASURE, Group.EDIT, cubes.SetMeasure)
DELETE_MEASURE = Route("DELETE", paths.CUBE_MEASURE, Group.EDIT)
UPDATE_MEASURE = Route("PATCH", paths.CUBE_MEASURE, Group.EDIT, cubes.UpdateMeasure)
SET_HIERARCHY = Route("PUT", paths.CUBE_HIERARCHY, Group.EDIT, cubes.SetHierarchy)
DELETE_HIERARCHY = Route("DELETE", paths.CUBE_HIERARCHY, Group.EDIT)

LIST_USERS = Route("GET", paths.USERS, Group.SECURITY)
CREATE_USER = Route("POST", paths.USERS, Group.SECURITY, messages.CreateUser)
UPDATE_USER = Route("PATCH", paths.USER, Group.SECURITY, messages.UpdateUser)
DELETE_USER = Route("DELETE", paths.USER, Group.SECURITY)
LIST_RESTRICTIONS = Route("GET", paths.RESTRICTIONS, Group.SECURITY)
SET_RESTRICTION = Route("PUT", paths.RESTRICTION, Group.SECURITY, messages.Restriction)
DELETE_RESTRICTION = Route("DELETE", paths.RESTRICTION, Group.SECURITY)
LIST_TOKENS = Route("GET", paths.TOKENS, Group.SECURITY)
CREATE_TOKEN = Route("POST", paths.TOKENS, Group.SECURITY, tokens.CreateToken)
REVOKE_TOKEN = Route("DELETE", paths.TOKEN, Group.SECURITY)

REGISTER_ENDPOINT = Route("PUT", paths.OWNER_ENDPOINTS, Group.OWNER, messages.EndpointRegistration)

SCOPE_FREE: frozenset[Route] = frozenset({
    EXPLORER, SIGN_OUT, EXPLORER_GRANT, EXPLORER_EVENTS, EXPLORER_SESSIONS, QUERY_CUBES, LIST_TABLES, QUERY_MDX,
    LOAD_PROGRESS,
})  # fmt: skip
"""Routes a token limited to some tables or cubes may use although their path names none: the lists
answer it only its own, an MDX query is checked for the cube it names, an explorer session keeps the
token's limits. Every other route that names no table or cube (statistics, custom endpoints) is refused
to such a token; one that names them is allowed for its own only."""

ROUTES: tuple[Route, ...] = (
    VERSIONS, QUERY_CUBES, QUERY_CUBE, QUERY_MDX, *CUSTOM,
    EXPLORER, EXPLORER_EMBED, EXPLORER_ASSET, SIGN_IN_PAGE, SIGN_IN, SIGN_OUT, EXPLORER_GRANT, EXPLORER_EVENTS, EXPLORER_SESSIONS,
    LIST_VIEWS, SAVE_VIEW, DELETE_VIEW, DASHBOARD,
    LIST_TABLES, TABLE_INFO, QUERY_TABLE, CUBE_INFO, STATS,
    CREATE_TABLE, READ, LOAD, APPEND, DROP, DELETE_TABLE, JOIN,
    CREATE_CUBE, DELETE_CUBE, SET_MEASURE, DELETE_MEASURE, SET_HIERARCHY, DELETE_HIERARCHY,
    LIST_USERS, CREATE_USER, UPDATE_USER, DELETE_USER, LIST_RESTRICTIONS, SET_RESTRICTION, DELETE_RESTRICTION,
    LIST_TOKENS, CREATE_TOKEN, REVOKE_TOKEN,
    REGISTER_ENDPOINT,
    UPDATE_MEASURE,
    LOAD_PROGRESS,
)  # fmt: skip
