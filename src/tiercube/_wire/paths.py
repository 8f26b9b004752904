"""URL paths and headers, so that client and server cannot drift apart."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from tiercube.errors import NotFoundError

VERSIONS = "/versions/rest"

# Query endpoints are the stable surface every tier, even MinimalSession, uses.
QUERY_CUBES = "/api/query/cubes"
QUERY_CUBE = "/api/query/cubes/{cube}/query"
QUERY_MDX = "/api/query/mdx"

TABLES = "/api/v1/tables"
TABLE = "/api/v1/tables/{table}"
TABLE_LOAD = "/api/v1/tables/{table}/load"
TABLE_APPEND = "/api/v1/tables/{table}/append"
TABLE_DROP = "/api/v1/tables/{table}/drop"
TABLE_QUERY = "/api/v1/tables/{table}/query"
TABLE_JOIN = "/api/v1/tables/{table}/joins"
READ = "/api/v1/read"
# How far the caller's load with this id (``Load.load_id``) has read its file.
LOAD_PROGRESS = "/api/v1/loads/{load}"
STATS = "/api/v1/stats"

CUBES = "/api/v1/cubes"
CUBE = "/api/v1/cubes/{cube}"
CUBE_MEASURE = "/api/v1/cubes/{cube}/measures/{measure}"
CUBE_HIERARCHY = "/api/v1/cubes/{cube}/hierarchies/{hierarchy}"

USERS = "/api/v1/security/users"
USER = "/api/v1/security/users/{user}"
RESTRICTIONS = "/api/v1/security/restrictions"
RESTRICTION = "/api/v1/security/restrictions/{role}"
TOKENS = "/api/v1/security/tokens"
TOKEN = "/api/v1/security/tokens/{token}"

# The explorer, at session.link: its page, assets, signing in, and what changed.
EXPLORER = "/"
EXPLORER_EMBED = "/explorer/embed"
EXPLORER_ASSET = "/explorer/assets/{path:path}"
SIGN_IN = "/explorer/sign-in"
SIGN_OUT = "/explorer/sign-out"
EXPLORER_GRANT = "/explorer/grant"
EXPLORER_EVENTS = "/explorer/events"
EXPLORER_SESSIONS = "/api/v1/explorer/sessions"
EXPLORER_VIEWS = "/api/v1/explorer/views"
EXPLORER_VIEW = "/api/v1/explorer/views/{view}"
DASHBOARD = "/dashboard"
# A signed-in browser holds its session in this cookie (HttpOnly, SameSite=Strict, Secure over
# TLS) and sends the session's CSRF token in this header; an embedded explorer, which a browser
# gives no cookie, sends its session token in the other.
EXPLORER_COOKIE = "tiercube_explorer"
CSRF_HEADER = "tiercube-csrf"
EXPLORER_TOKEN_HEADER = "tiercube-explorer-token"

OWNER_ENDPOINTS = "/api/v1/owner/endpoints"
# Custom endpoints an owner declared with session.endpoint(); the server forwards them to it.
CUSTOM = "/api/custom/{route:path}"
FORWARD_TOKEN_HEADER = "tiercube-forward-token"
# On the owner's requests made while a custom endpoint answers: see only what its caller may see.
DELEGATION_HEADER = "tiercube-on-behalf-of"

# Headers by which a client states its own versions (conditions c and e are
# judged by the server from these, never from a tier the client claims).
CLIENT_VERSION_HEADER = "tiercube-client-version"
CLIENT_PROTOCOL_HEADER = "tiercube-client-protocol"
# The nonce read from the server's share file: proof of condition d, judged on every request.
SHARE_PROOF_HEADER = "tiercube-share-proof"

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"


def forward_token(owner_token: str) -> str:
    """What the server sends its owner's listener in ``FORWARD_TOKEN_HEADER``: derived from the owner's
    token, never the token itself, so that whatever a forwarded call reaches cannot act as the owner."""
    return hmac.new(owner_token.encode(), b"tiercube custom endpoint forward", hashlib.sha256).hexdigest()


def path(template: str, **names: str) -> str:
    """A route template filled with URL-quoted names (names may hold any character)."""
    for kind, name in names.items():
        if name in ("", ".", ".."):  # the server refuses such names, and no URL could reach them
            raise NotFoundError(f"no {kind} named {name!r}")
    return template.format(**{k: quote(v, safe="") for k, v in names.items()})
