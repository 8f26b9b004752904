"""The authorization matrix: every route of the server x every kind of caller x every kind of server.

Generated from ``tiercube._wire.routes.ROUTES``: each route has a sample
request here (``samples()``; a route without one fails
``test_every_route_has_a_sample``, so a new route is covered the day it is
added). Each sample is sent as raw HTTP by every caller kind (``CALLERS``) to
each server kind (``SERVER_KINDS``): a secured server, one without security
(both in this process: ``tests/in_process.py``), and a secured one over TLS
(a server process: TLS lives in its sockets).

What each caller is granted is written down here, from the contract
(``shared/spec/capabilities.md``), not computed by the server's code:
``EXPECTED`` gives, per caller and per server kind, the conditions that hold
and the tier they give, and ``CONTRACT_GROUPS`` the contract's group table.
A request is then allowed (2xx on the fixture's state) iff the route's group,
and for loads the group its source needs, is among the tier's groups;
otherwise it is refused, 403 ``forbidden``. Bad credentials are 401
``unauthenticated`` everywhere on a secured server, the versions document
included; without credentials, only the versions document answers there.

Every refused request leaves the server's state (tables with their rows,
cubes with their measures and hierarchies, users, restrictions, the owner's
custom endpoints) as it was. Allowed mutations are undone after each one, so
every row of the matrix starts from the same state. The matrix size is
printed by ``test_matrix_size`` (run with ``-s``): 46 routes (49 samples) x
32 callers x 3 servers. Token callers hold a token of every tier (the admin's,
with and without proof of d, and a plain user's), and tokens that grant
nothing: expired, revoked, tampered, and of a user deleted since; each is
granted the contract's tier for its user narrowed to the token's tier, and
issues no tokens whatever that tier.
"""

from __future__ import annotations

import base64
import re
import ssl
from collections.abc import Callable, Generator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import quote

import httpx
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import trustme

import tiercube
from tests.conftest import ADMIN, HYPOTHESIS_PROFILE, USER
from tests.fake_s3 import BUCKET, STORE, shared_fake_s3
from tests.in_process import in_process
from tests.tiers import SALES_CSV, SALES_ROWS, SALES_TYPES
from tiercube._client.endpoints import EndpointRequest, HttpMethod
from tiercube._client.lifecycle import ServerProcess
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube._wire.messages import TableInfo
from tiercube._wire.routes import CREATE_TOKEN, DELETE_VIEW, LIST_VIEWS, ROUTES, SAVE_VIEW, Route
from tiercube._wire.tiers import GROUPS, Group, TierName, choose_tier
from tiercube._wire.tokens import TOKEN_TIERS

# --------------------------------------------------------------------------- the contract, written down

Q, R, E, C, S, SEC, O = (
    Group.QUERY, Group.READ_MODEL, Group.EDIT, Group.CLOUD_LOADING, Group.SHARED_FILES, Group.SECURITY, Group.OWNER,
)
CONTRACT_GROUPS: dict[TierName, frozenset[Group]] = {
    "Session": frozenset({Q, R, E, C, S, SEC, O}),
    "LocalSession": frozenset({Q, R, E, C, S, SEC}),
    "RemoteSession": frozenset({Q, R, E, C, SEC}),
    "NoSecurityLocalSession": frozenset({Q, R, E, C, S}),
    "NoSecuritySession": frozenset({Q, R, E, C}),
    "ReadOnlySession": frozenset({Q, R}),
    "MinimalSession": frozenset({Q}),
}
"""The contract's group table, read down each tier's column (owner lifecycle = the owner's endpoints)."""

ServerKind: TypeAlias = Literal["secured", "unsecured", "tls"]
SERVER_KINDS: tuple[ServerKind, ...] = ("secured", "unsecured", "tls")

UNAUTHENTICATED = None
"""Instead of a tier: the server does not accept the caller's credentials (or wants some), 401."""
Expectation: TypeAlias = tuple[str, TierName | None]
"""The conditions (letters) that hold for a caller, and the tier they give (None: 401)."""

OTHER_VERSION = "0.0.0-another-tiercube"
OTHER_PROTOCOL = PROTOCOL_VERSION + 1
RESTRICTED = tiercube.BasicAuthentication("eu", "eu-password")
VICTIM = "victim"  # the user that user management samples change and delete
VICTIM_TOKEN = "VICTIM-TOKEN-ID"  # in a sample's path: the id of the token the revocation sample revokes (``Target.victim_token``)
DELETED = "deleted"  # a user deleted after a token was issued to it
BASE_USERS = {ADMIN.username, USER.username, RESTRICTED.username}

Credentials: TypeAlias = Literal[
    "none", "admin", "user", "restricted", "wrong_password", "unknown_user", "owner", "forged_owner", "token", "bad_token"
]
Proof: TypeAlias = Literal["none", "real", "forged"]


@dataclass(frozen=True)
class CallerKind:
    """Who calls, and what it states: its tiercube version, wire protocol, and proof of a shared file system."""

    name: str
    credentials: Credentials
    proof: Proof = "none"
    other_version: bool = False
    other_protocol: bool = False
    # For a token: (its user, its tier); the caller sends the token ``issue_tokens`` made for it.
    token: tuple[str, TierName] | None = None


CALLERS: tuple[CallerKind, ...] = (
    CallerKind("anonymous", "none"),
    CallerKind("anonymous, other protocol", "none", other_protocol=True),
    CallerKind("wrong password", "wrong_password"),
    CallerKind("unknown user", "unknown_user"),
    CallerKind("forged owner token", "forged_owner"),
    CallerKind("user", "user"),
    CallerKind("user with proof", "user", proof="real"),
    CallerKind("restricted user", "restricted"),
    CallerKind("user, other protocol", "user", other_protocol=True),
    CallerKind("admin", "admin"),
    CallerKind("admin with proof", "admin", proof="real"),
    CallerKind("admin with forged proof", "admin", proof="forged"),
    CallerKind("admin, other version", "admin", other_version=True),
    CallerKind("admin with proof, other version", "admin", proof="real", other_version=True),
    CallerKind("admin with proof, other version and protocol", "admin", proof="real", other_version=True, other_protocol=True),
    # c holds, so the first row of the tier table (a b c d) is reached before e is looked at.
    CallerKind("admin with proof, other protocol", "admin", proof="real", other_protocol=True),
    # Tokens: one of every tier for the admin (two with proof of d), one for a plain user, and the ones that grant nothing.
    *(CallerKind(f"admin's {tier} token", "token", token=("admin", tier)) for tier in TOKEN_TIERS),
    CallerKind("admin's LocalSession token with proof", "token", proof="real", token=("admin", "LocalSession")),
    CallerKind("admin's NoSecurityLocalSession token with proof", "token", proof="real", token=("admin", "NoSecurityLocalSession")),
    CallerKind("user's RemoteSession token", "token", token=("user", "RemoteSession")),
    CallerKind("expired token", "bad_token", token=("admin", "RemoteSession")),
    CallerKind("revoked token", "bad_token", token=("admin", "RemoteSession")),
    CallerKind("tampered token", "bad_token", token=("admin", "RemoteSession")),
    CallerKind("token of a deleted user", "bad_token", token=(DELETED, "RemoteSession")),
    # Last: the owner's allowed registration of a custom endpoint cannot be undone.
    CallerKind("owner", "owner"),
)

# Per caller: (on a secured server, without security). A TLS server is a secured server.
# Without security every caller is anonymous (b never holds) and a never holds.
EXPECTED: dict[str, tuple[Expectation, Expectation]] = {
    "anonymous": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "anonymous, other protocol": (("", UNAUTHENTICATED), ("cf", "MinimalSession")),
    "wrong password": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "unknown user": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "forged owner token": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "user": (("acef", "ReadOnlySession"), ("cef", "ReadOnlySession")),
    "user with proof": (("acdef", "ReadOnlySession"), ("cdef", "ReadOnlySession")),
    "restricted user": (("acef", "ReadOnlySession"), ("cef", "ReadOnlySession")),
    "user, other protocol": (("acf", "MinimalSession"), ("cf", "MinimalSession")),
    "admin": (("abcef", "RemoteSession"), ("cef", "ReadOnlySession")),
    "admin with proof": (("abcdef", "LocalSession"), ("cdef", "ReadOnlySession")),
    "admin with forged proof": (("abcef", "RemoteSession"), ("cef", "ReadOnlySession")),
    "admin, other version": (("abef", "NoSecuritySession"), ("ef", "ReadOnlySession")),
    "admin with proof, other version": (("abdef", "NoSecurityLocalSession"), ("def", "ReadOnlySession")),
    "admin with proof, other version and protocol": (("abdf", "MinimalSession"), ("df", "MinimalSession")),
    "admin with proof, other protocol": (("abcdf", "LocalSession"), ("cdf", "MinimalSession")),
    "owner": (("abcdef", "Session"), ("cdef", "Session")),
    # A token: the conditions its user holds, and the tier is no wider than the token's (see TOKEN_TIERS_GRANTED).
    # Without security a token names no one: its bearer is anonymous like everyone.
    "admin's LocalSession token": (("abcef", "RemoteSession"), ("cef", "ReadOnlySession")),
    "admin's RemoteSession token": (("abcef", "RemoteSession"), ("cef", "ReadOnlySession")),
    "admin's NoSecurityLocalSession token": (("abcef", "NoSecuritySession"), ("cef", "ReadOnlySession")),
    "admin's NoSecuritySession token": (("abcef", "NoSecuritySession"), ("cef", "ReadOnlySession")),
    "admin's ReadOnlySession token": (("abcef", "ReadOnlySession"), ("cef", "ReadOnlySession")),
    "admin's MinimalSession token": (("abcef", "MinimalSession"), ("cef", "ReadOnlySession")),
    "admin's LocalSession token with proof": (("abcdef", "LocalSession"), ("cdef", "ReadOnlySession")),
    "admin's NoSecurityLocalSession token with proof": (("abcdef", "NoSecurityLocalSession"), ("cdef", "ReadOnlySession")),
    "user's RemoteSession token": (("acef", "ReadOnlySession"), ("cef", "ReadOnlySession")),
    "expired token": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "revoked token": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "tampered token": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
    "token of a deleted user": (("", UNAUTHENTICATED), ("cef", "ReadOnlySession")),
}


def token_grant(held: str, token_tier: TierName) -> TierName:
    """The contract for a token: the tier whose groups its user's tier and the token's tier both have."""
    user_tier = choose_tier({letter: letter in held for letter in "abcdef"})
    both = CONTRACT_GROUPS[user_tier] & CONTRACT_GROUPS[token_tier]
    return next(tier for tier, groups in CONTRACT_GROUPS.items() if groups == both)


def expected(kind: ServerKind, caller: CallerKind) -> Expectation:
    secured, unsecured = EXPECTED[caller.name]
    return unsecured if kind == "unsecured" else secured


# --------------------------------------------------------------------------- the samples


@dataclass(frozen=True)
class Sample:
    """One request for ``route``: path parameters naming existing objects, and a body.

    ``needs``: the group the body's source needs (loads only), written down
    here and held equal to the route's ``body_group``.
    """

    route: Route
    params: Mapping[str, str] = field(default_factory=dict[str, str])
    body: Any = None
    needs: Group | None = None
    label: str = ""
    query: str = ""

    @property
    def path(self) -> str:
        return expand(self.route.path, self.params) + (f"?{self.query}" if self.query else "")

    @property
    def mutates(self) -> bool:
        return self.route.method != "GET" and self.route.group not in (Q, R, None)

    def __str__(self) -> str:
        return f"{self.route}{f' ({self.label})' if self.label else ''}"


def expand(template: str, params: Mapping[str, str]) -> str:
    """``template`` with its ``{name}`` (or ``{name:path}``) parameters filled in, percent-encoded."""

    def value(match: re.Match[str]) -> str:
        return quote(params[match[1]], safe="/" if match[2] == ":path" else "")

    return re.sub(r"\{(\w+)(:\w+)?\}", value, template)


@dataclass(frozen=True)
class Files:
    """The sales data where loads read it: local files (on the server's disk too) and the fake S3."""

    csv: str
    parquet: str
    arrow: str


def cloud(key: str) -> dict[str, Any]:
    return {"uri": f"s3://{BUCKET}/matrix/{key}", "store": STORE}


SALES = {"table": "sales"}
CUBE = {"cube": "sales"}
PROBE = "probe"  # the owner's custom endpoint, declared for every method
REGISTERED = "matrix-registered"  # what the registration sample declares
SAMPLE_MEASURE = {"type": "arithmetic", "op": "*", "left": {"type": "measure_ref", "name": "qty.SUM"}, "right": {"type": "constant", "value": 2}}


def samples(files: Files) -> list[Sample]:
    """A request of every route, on the objects ``reset`` makes."""
    by_route = {str(route): route for route in ROUTES}

    def sample(
        route: str, params: Mapping[str, str] | None = None, body: Any = None, needs: Group | None = None, label: str = "", query: str = ""
    ) -> Sample:
        return Sample(by_route[route], params or {}, body, needs, label, query)

    return [
        sample("GET /versions/rest"),
        sample("GET /"),
        sample("GET /explorer/embed"),
        sample("GET /explorer/assets/{path:path}", {"path": "explorer.js"}),
        sample("GET /explorer/sign-in"),
        sample("POST /explorer/sign-in", body={"username": ADMIN.username, "password": ADMIN.password}),
        sample("POST /explorer/sign-out"),
        sample("GET /explorer/grant"),
        sample("GET /explorer/events", query="once=1"),  # one event, then the stream ends
        sample("POST /api/v1/explorer/sessions", body={"cube": "sales"}),
        sample("GET /api/v1/explorer/views"),
        sample("PUT /api/v1/explorer/views/{view}", {"view": "matrix view"}, {"fragment": "cube=sales&rows=region", "shared_with": ["ROLE_USER"]}),
        sample("DELETE /api/v1/explorer/views/{view}", {"view": "matrix view"}),
        sample("GET /dashboard"),
        sample("GET /api/query/cubes"),
        sample("POST /api/query/cubes/{cube}/query", CUBE, {"measures": ["qty.SUM"], "levels": ["region"]}),
        sample("POST /api/query/mdx", body={"mdx": "SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]"}),
        *(sample(f"{method} /api/custom/{{route:path}}", {"route": PROBE}) for method in ("GET", "POST", "PUT", "DELETE")),
        sample("GET /api/v1/tables"),
        sample("GET /api/v1/tables/{table}", SALES),
        sample("POST /api/v1/tables/{table}/query", SALES, {"columns": ["id", "region"]}),
        sample("GET /api/v1/cubes/{cube}", CUBE),
        sample("GET /api/v1/stats"),
        sample("POST /api/v1/tables", body={"name": "matrix_new", "columns": [{"name": "id", "data_type": "int64"}], "keys": ["id"]}),
        sample("POST /api/v1/read", body={"table": "matrix_read", "source": {"type": "csv", "path": cloud("sales.csv")}}, needs=C, label="cloud CSV"),
        sample("POST /api/v1/read", body={"table": "matrix_read", "source": {"type": "csv", "path": files.csv}}, needs=S, label="local CSV"),
        sample("POST /api/v1/read", body={"table": "matrix_read", "source": {"type": "arrow", "path": files.arrow}}, needs=S, label="Arrow file"),
        sample("POST /api/v1/tables/{table}/load", SALES, {"source": {"type": "parquet", "path": cloud("sales.parquet")}}, needs=C, label="cloud Parquet"),
        sample("POST /api/v1/tables/{table}/load", SALES, {"source": {"type": "parquet", "path": files.parquet}}, needs=S, label="local Parquet"),
        sample("GET /api/v1/loads/{load}", {"load": "matrix-load-0000001"}),  # nobody's: "nothing known", to all who may load
        sample("POST /api/v1/tables/{table}/append", SALES, {"rows": [[99, "EU", 1, 1.0]]}),
        sample("POST /api/v1/tables/{table}/drop", SALES, {"filter": {"type": "compare", "column": "region", "op": "==", "value": "US"}}),
        sample("DELETE /api/v1/tables/{table}", {"table": "regions"}),
        sample("POST /api/v1/tables/{table}/joins", SALES, {"target": "regions", "mapping": {"region": "region"}}),
        sample("POST /api/v1/cubes", body={"fact_table": "regions", "name": "matrix_cube"}),
        sample("DELETE /api/v1/cubes/{cube}", CUBE),
        sample("PUT /api/v1/cubes/{cube}/measures/{measure}", {**CUBE, "measure": "qty.DOUBLE"}, {"expression": SAMPLE_MEASURE}),
        sample("DELETE /api/v1/cubes/{cube}/measures/{measure}", {**CUBE, "measure": "qty.SUM"}),
        sample("PATCH /api/v1/cubes/{cube}/measures/{measure}", {**CUBE, "measure": "qty.SUM"}, {"format": {"style": "number", "decimals": 1}}),
        sample("PUT /api/v1/cubes/{cube}/hierarchies/{hierarchy}", {**CUBE, "hierarchy": "geo"}, {"levels": [{"name": "matrix_region", "column": "region"}]}),
        sample("DELETE /api/v1/cubes/{cube}/hierarchies/{hierarchy}", {**CUBE, "hierarchy": "region"}),
        sample("GET /api/v1/security/users"),
        sample("POST /api/v1/security/users", body={"name": "newcomer", "password": "pw", "roles": ["ROLE_USER"]}),
        sample("PATCH /api/v1/security/users/{user}", {"user": VICTIM}, {"password": "changed", "roles": ["ROLE_ADMIN"]}),
        sample("DELETE /api/v1/security/users/{user}", {"user": VICTIM}),
        sample("GET /api/v1/security/restrictions"),
        sample("PUT /api/v1/security/restrictions/{role}", {"role": "ASIA_ONLY"}, {"role": "ASIA_ONLY", "filter": region_is("US")}),
        sample("DELETE /api/v1/security/restrictions/{role}", {"role": "ASIA_ONLY"}),
        sample("GET /api/v1/security/tokens"),
        sample("POST /api/v1/security/tokens", body={"user": USER.username, "tier": "ReadOnlySession", "expires_in": 600}),
        sample("DELETE /api/v1/security/tokens/{token}", {"token": VICTIM_TOKEN}),
        sample("PUT /api/v1/owner/endpoints", body={"route": REGISTERED, "method": "GET", "forward_url": "http://127.0.0.1:9/"}),
    ]


def region_is(region: str) -> dict[str, Any]:
    return {"type": "compare", "column": "region", "op": "==", "value": region, "table": "sales"}


def allowed(tier: TierName, sample: Sample) -> bool:
    """What the contract lets ``tier`` do: the route's group, and the group its body's source needs."""
    assert sample.route.group is not None
    return sample.route.group in CONTRACT_GROUPS[tier] and (sample.needs is None or sample.needs in CONTRACT_GROUPS[tier])


Outcome: TypeAlias = Literal["allowed", "forbidden", "unauthenticated"]


def outcome(kind: ServerKind, caller: CallerKind, sample: Sample) -> Outcome:
    _, tier = expected(kind, caller)
    if sample.route.group is None:  # the versions document: open, but bad credentials are told so
        bad = caller.credentials in ("wrong_password", "unknown_user", "forged_owner", "bad_token")
        return "unauthenticated" if tier is None and bad else "allowed"
    if tier is None:  # UNAUTHENTICATED
        return "unauthenticated"
    if caller.credentials == "token" and kind != "unsecured" and sample.route == CREATE_TOKEN:
        return "forbidden"  # a token issues no tokens, whatever its tier: they would outlive its revocation
    if kind == "unsecured" and caller.credentials != "owner" and sample.route in (LIST_VIEWS, SAVE_VIEW, DELETE_VIEW):
        return "forbidden"  # saved views belong to a user: without security every caller but the owner is anonymous
    return "allowed" if allowed(tier, sample) else "forbidden"


# --------------------------------------------------------------------------- the servers


@dataclass
class Target:
    """A server of one kind, and what callers need to reach it: the owner's token, the share proof's nonce."""

    kind: ServerKind
    client: Callable[[], httpx.Client]
    """A new client of the server, to use in a ``with`` block."""
    token: str
    nonce: str
    tokens: dict[str, str] = field(default_factory=dict[str, str])
    """Caller name -> the token it sends (``issue_tokens``)."""
    victim_token: str = ""
    """The id of the token the revocation sample revokes; issued again by ``reset``."""


def owner_token(session: tiercube.Session) -> str:
    """The owner's bearer token (what ``Session.start`` authenticates with)."""
    server: ServerProcess = getattr(session, "_server")
    return server.owner_token


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def headers(target: Target, caller: CallerKind) -> dict[str, str]:
    """What ``caller`` sends: versions it states, credentials, proof."""
    stated = {
        paths.CLIENT_VERSION_HEADER: OTHER_VERSION if caller.other_version else __version__,
        paths.CLIENT_PROTOCOL_HEADER: str(OTHER_PROTOCOL if caller.other_protocol else PROTOCOL_VERSION),
    }
    credentials: dict[Credentials, dict[str, str]] = {
        "none": {},
        "admin": basic(ADMIN.username, ADMIN.password),
        "user": basic(USER.username, USER.password),
        "restricted": basic(RESTRICTED.username, RESTRICTED.password),
        "wrong_password": basic(ADMIN.username, "not-the-password"),
        "unknown_user": basic("mallory", ADMIN.password),
        "owner": {"Authorization": f"Bearer {target.token}"},
        "forged_owner": {"Authorization": "Bearer " + "0" * len(target.token)},
        "token": {"Authorization": f"Bearer {target.tokens.get(caller.name)}"},
        "bad_token": {"Authorization": f"Bearer {target.tokens.get(caller.name)}"},
    }
    proofs: dict[Proof, dict[str, str]] = {
        "none": {},
        "real": {paths.SHARE_PROOF_HEADER: target.nonce},
        "forged": {paths.SHARE_PROOF_HEADER: "f" * len(target.nonce)},
    }
    return {**stated, **credentials[caller.credentials], **proofs[caller.proof]}


def owner_headers(target: Target) -> dict[str, str]:
    return headers(target, CALLERS[-1])


def check(response: httpx.Response) -> httpx.Response:
    assert response.is_success, (response.request.method, response.request.url, response.status_code, response.text)
    return response


def reset(target: Target, client: httpx.Client, sample: Sample | None = None) -> None:
    """Bring the server back to the matrix's starting state (the parts ``sample`` may have changed)."""
    owner = owner_headers(target)
    group = sample.route.group if sample else None
    if group in (None, E):
        for cube in check(client.get(paths.QUERY_CUBES, headers=owner)).json():
            check(client.delete(expand(paths.CUBE, {"cube": cube}), headers=owner))
        for table in check(client.get(paths.TABLES, headers=owner)).json():
            check(client.delete(expand(paths.TABLE, {"table": table["name"]}), headers=owner))
        columns = [{"name": name, "data_type": data_type} for name, data_type in SALES_TYPES.items()]
        check(client.post(paths.TABLES, headers=owner, json={"name": "sales", "columns": columns, "keys": ["id"]}))
        check(client.post(expand(paths.TABLE_APPEND, SALES), headers=owner, json={"rows": [list(row) for row in SALES_ROWS]}))
        regions = [{"name": "region", "data_type": "string"}, {"name": "zone", "data_type": "string"}]
        check(client.post(paths.TABLES, headers=owner, json={"name": "regions", "columns": regions, "keys": ["region"]}))
        rows = [["EU", "west"], ["US", "west"], ["ASIA", "east"]]
        check(client.post(expand(paths.TABLE_APPEND, {"table": "regions"}), headers=owner, json={"rows": rows}))
        check(client.post(paths.CUBES, headers=owner, json={"fact_table": "sales", "name": "sales"}))
    if group in (None, E, SEC):  # restrictions name tables: set them again after the tables are made again
        users = {user["name"]: user for user in check(client.get(paths.USERS, headers=owner)).json()}
        for name in users.keys() - BASE_USERS - {VICTIM}:
            check(client.delete(expand(paths.USER, {"user": name}), headers=owner))
        if users.get(VICTIM, {}).get("roles") != ["ROLE_USER"]:
            if VICTIM in users:
                check(client.delete(expand(paths.USER, {"user": VICTIM}), headers=owner))
            check(client.post(paths.USERS, headers=owner, json={"name": VICTIM, "password": "pw", "roles": ["ROLE_USER"]}))
        for restriction in check(client.get(paths.RESTRICTIONS, headers=owner)).json():
            check(client.delete(expand(paths.RESTRICTION, {"role": restriction["role"]}), headers=owner))
        for role, region in (("EUROPE", "EU"), ("ASIA_ONLY", "ASIA")):
            body = {"role": role, "filter": region_is(region)}
            check(client.put(expand(paths.RESTRICTION, {"role": role}), headers=owner, json=body))
        # The callers' tokens and the revocation sample's victim, and no other.
        kept = {text.split(".")[2] for text in target.tokens.values()}
        listed = {token["id"] for token in check(client.get(paths.TOKENS, headers=owner)).json()}
        for token_id in listed - kept - {target.victim_token}:
            check(client.delete(expand(paths.TOKEN, {"token": token_id}), headers=owner))
        if target.victim_token not in listed:
            victim: dict[str, object] = {"user": ADMIN.username, "tier": "ReadOnlySession", "expires_in": 3600}
            target.victim_token = check(client.post(paths.TOKENS, headers=owner, json=victim)).json()["info"]["id"]


def snapshot(target: Target, client: httpx.Client) -> dict[str, Any]:
    """Everything a refused request could have changed, as the owner sees it."""
    owner = owner_headers(target)
    tables = check(client.get(paths.TABLES, headers=owner)).json()
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        answer = check(client.post(expand(paths.TABLE_QUERY, {"table": table["name"]}), headers=owner, json={}))
        rows[table["name"]] = sorted(pa.ipc.open_stream(answer.content).read_all().to_pylist(), key=repr)
    tokens: list[dict[str, Any]] = check(client.get(paths.TOKENS, headers=owner)).json()
    cubes = {name: check(client.get(expand(paths.CUBE, {"cube": name}), headers=owner)).json()
             for name in check(client.get(paths.QUERY_CUBES, headers=owner)).json()}
    return {
        "tables": sorted(tables, key=repr),
        "rows": rows,
        "cubes": cubes,
        "users": sorted(check(client.get(paths.USERS, headers=owner)).json(), key=repr),
        "restrictions": sorted(check(client.get(paths.RESTRICTIONS, headers=owner)).json(), key=repr),
        # The victim is issued again after the revocation sample (another id): whether it is there is what counts.
        "tokens": sorted((t for t in tokens if t["id"] != target.victim_token), key=repr),
        "victim token": any(t["id"] == target.victim_token for t in tokens),
        # 404 until someone registers it.
        "endpoint": client.get(expand(paths.CUSTOM, {"route": REGISTERED}), headers=owner).status_code,
    }


def issue_tokens(target: Target) -> Target:
    """Issue every token caller's token as the owner; those that grant nothing are made so after issuing."""
    owner = owner_headers(target)
    with target.client() as client:
        if target.kind == "unsecured":  # its config has no users; tokens are issued to users all the same
            for made in (ADMIN, USER):
                check(client.post(paths.USERS, headers=owner, json={"name": made.username, "password": made.password, "roles": []}))
        check(client.post(paths.USERS, headers=owner, json={"name": DELETED, "password": "pw", "roles": ["ROLE_ADMIN"]}))
        for caller in CALLERS:
            if caller.token is None:
                continue
            user, tier = caller.token
            body = {"user": user, "tier": tier, "expires_in": 0.001 if caller.name == "expired token" else 3600}
            text: str = check(client.post(paths.TOKENS, headers=owner, json=body)).json()["token"]
            if caller.name == "revoked token":
                check(client.delete(expand(paths.TOKEN, {"token": text.split(".")[2]}), headers=owner))
            if caller.name == "tampered token":
                text = text[:-1] + ("A" if text[-1] != "A" else "B")
            target.tokens[caller.name] = text
        check(client.delete(expand(paths.USER, {"user": DELETED}), headers=owner))
    return target


def probe(request: EndpointRequest) -> dict[str, object]:
    """The owner's custom endpoint ``PROBE``, for every method."""
    return {"probe": request.method, "user": request.user}


PROBE_METHODS: tuple[HttpMethod, ...] = ("GET", "POST", "PUT", "DELETE")


def configure(kind: ServerKind, tls: tiercube.TlsConfig | None = None) -> tiercube.SessionConfig:
    users = [
        tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
        tiercube.UserConfig(name=USER.username, password=USER.password, roles=["ROLE_USER"]),
        tiercube.UserConfig(name=RESTRICTED.username, password=RESTRICTED.password, roles=["EUROPE"]),
    ]
    return tiercube.SessionConfig(
        users=users if kind != "unsecured" else [],
        tls=tls,
        cloud_stores=[tiercube.CloudStore(name=STORE, endpoint=shared_fake_s3().endpoint, anonymous=True)],
        # The matrix sends wrong passwords on purpose, all from 127.0.0.1.
        max_failed_logins_per_minute=100_000,
    )


@contextmanager
def serving(kind: ServerKind, directory: Path) -> Generator[Target]:
    """A server of ``kind`` with the owner's ``PROBE`` endpoints, until the block ends.

    A secured server and one without security run in this process
    (``tests/in_process.py``): the matrix is about what each request is
    granted, which the application decides. The TLS server is a real one:
    TLS lives in its sockets.
    """
    if kind != "tls":
        with in_process(configure(kind)) as server:
            for method in PROBE_METHODS:
                server.endpoint(PROBE, method, probe)
            yield issue_tokens(Target(kind, server.client, server.token, server.nonce))
        return
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    chain, key, ca = directory / "server.pem", directory / "server-key.pem", directory / "ca.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(chain))
    certificate.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    verify = ssl.create_default_context(cafile=str(ca))
    with tiercube.Session.start(configure(kind, tiercube.TlsConfig(certificate=str(chain), key=str(key)))) as owner:
        token = owner_token(owner)
        with httpx.Client(base_url=owner.url, verify=verify, timeout=60) as client:
            document = check(client.get(paths.VERSIONS, headers={"Authorization": f"Bearer {token}"})).json()
        nonce = Path(document["caller"]["share_proof"]["path"]).read_text()
        for method in PROBE_METHODS:
            owner.endpoint(PROBE, method=method)(probe)
        yield issue_tokens(Target(kind, lambda: httpx.Client(base_url=owner.url, verify=verify, timeout=60), token, nonce))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    directory = tmp_path_factory.mktemp("matrix-files")
    made = Files(str(directory / "sales.csv"), str(directory / "sales.parquet"), str(directory / "sales.arrow"))
    write_files(made)
    return made


def write_files(made: Files) -> None:
    """The sales data in the local files ``made`` names, and in the fake S3 where the cloud samples read it."""
    arrow = pa.table({name: [row[i] for row in SALES_ROWS] for i, name in enumerate(SALES_TYPES)})
    Path(made.csv).write_text(SALES_CSV)
    pq.write_table(arrow, made.parquet)  # pyright: ignore[reportUnknownMemberType]
    with pa.OSFile(made.arrow, "wb") as sink, pa.ipc.new_file(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    s3 = shared_fake_s3()
    s3.put("matrix/sales.csv", SALES_CSV.encode())
    s3.put("matrix/sales.parquet", Path(made.parquet).read_bytes())


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Generator[dict[ServerKind, Target]]:
    with ExitStack() as stack:
        yield {kind: stack.enter_context(serving(kind, tmp_path_factory.mktemp(kind))) for kind in SERVER_KINDS}


# --------------------------------------------------------------------------- the tests

SENT: dict[str, int] = {"requests": 0, "cells": 0}
"""What the matrix tests sent, for ``test_matrix_size``."""


def test_the_contract_table_is_the_wire_table() -> None:
    """The server and the client grant from ``GROUPS`` and ``choose_tier``: both say what the contract says."""
    assert GROUPS == CONTRACT_GROUPS
    assert set(EXPECTED) == {caller.name for caller in CALLERS}
    callers = {caller.name: caller for caller in CALLERS}
    for name, (secured, unsecured) in EXPECTED.items():
        token = callers[name].token if callers[name].credentials == "token" else None
        for (held, tier), with_security in ((secured, True), (unsecured, False)):
            if tier is None or tier == "Session":
                continue
            if token is not None and with_security:  # without security a token names no one
                assert token_grant(held, token[1]) == tier, (name, held)
            else:
                assert choose_tier({letter: letter in held for letter in "abcdef"}) == tier, (name, held)


def test_every_route_has_a_sample(files: Files) -> None:
    """A route added to ROUTES without a sample here fails: the matrix and the fuzzer cover every route."""
    made = samples(files)
    missing = [str(route) for route in ROUTES if not any(sample.route == route for sample in made)]
    assert not missing, f"routes without a sample in tests/test_authorization.py: {missing}"
    assert len({str(route) for route in ROUTES}) == len(ROUTES)
    for sample in made:
        assert sample.route in ROUTES
        assert set(re.findall(r"\{(\w+)", sample.route.path)) == set(sample.params), sample
        if sample.route.body is None:
            assert sample.body is None, sample
            continue
        decoded = msgspec.json.decode(msgspec.json.encode(sample.body), type=sample.route.body)
        needs = sample.route.body_group(decoded) if sample.route.body_group is not None else None
        assert needs == sample.needs, sample
    # Loads are sampled with each kind of source, since they need different groups.
    for route in ROUTES:
        if route.body_group is not None:
            assert {s.needs for s in made if s.route == route} == {C, S}, route


@dataclass
class Cell:
    caller: CallerKind
    sample: Sample
    want: Outcome
    status: int = 0
    body: str = ""

    def wrong(self) -> str | None:
        """Why the answer does not match the contract, or None."""
        got = self.status
        if got >= 500 or got == 0:
            return f"server error {got}" if got else "no answer"
        if self.want == "unauthenticated" and got == 401 and '"code":"unauthenticated"' in self.body:
            return None
        if self.want == "forbidden" and got == 403 and '"code":"forbidden"' in self.body:
            return None
        if self.want == "allowed" and 200 <= got < 300:
            return None
        return f"expected {self.want}, got {got}"


def send(client: httpx.Client, target: Target, caller: CallerKind, sample: Sample) -> tuple[int, str]:
    """The status and body of the answer to ``sample`` sent by ``caller`` (0 when there is none)."""
    SENT["requests"] += 1
    try:
        path = sample.path.replace(VICTIM_TOKEN, target.victim_token)
        response = client.request(sample.route.method, path, headers=headers(target, caller), json=sample.body)
    except httpx.HTTPError as error:
        return 0, f"no answer: {error!r}"
    finally:
        # Each caller states only its own credentials: not the cookie a sign-in sample was given.
        client.cookies.clear()
    if response.status_code >= 500:
        # After a 500 the server closes the connection without saying so (no "connection: close"):
        # let the pool find out now rather than on the next request.
        try:
            client.get(paths.VERSIONS)
        except httpx.HTTPError:
            pass
    return response.status_code, response.text


@pytest.mark.slow
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_authorization_matrix(targets: dict[ServerKind, Target], files: Files, kind: ServerKind) -> None:
    """Every sample x every caller on one server kind: allowed iff the contract says so, refusals change nothing."""
    target = targets[kind]
    made = samples(files)
    wrong: list[str] = []
    changed: list[str] = []
    with target.client() as client:
        reset(target, client)
        baseline = snapshot(target, client)
        for caller in CALLERS:
            cells = [Cell(caller, sample, outcome(kind, caller, sample)) for sample in made]
            refused = [cell for cell in cells if cell.want != "allowed"]
            # Refused requests first, all from the same state: none may change it.
            for cell in refused:
                cell.status, cell.body = send(client, target, caller, cell.sample)
            after = snapshot(target, client)
            if after != baseline:
                differing = sorted(key for key in after if after[key] != baseline[key])
                changed.append(f"{caller.name}: {differing} changed by one of {[str(c.sample) for c in refused]}")
                reset(target, client)
            # Allowed requests, each from the starting state.
            for cell in cells:
                if cell.want != "allowed":
                    continue
                cell.status, cell.body = send(client, target, caller, cell.sample)
                if cell.sample.mutates:
                    reset(target, client, cell.sample)
            SENT["cells"] += len(cells)
            for cell in cells:
                why = cell.wrong()
                # A refusal says nothing about the server's disk (the contract, condition d).
                if why is None and cell.want != "allowed" and any(local in cell.body for local in (files.csv, files.parquet, files.arrow)):
                    why = "the refusal names the local path"
                if why is not None:
                    wrong.append(f"{kind} / {caller.name} / {cell.sample}: {why}: {cell.body[:300]}")
            if caller.credentials != "owner":
                assert snapshot(target, client) == baseline, f"reset() did not restore the state after {caller.name}"
    print(f"\n{kind}: {len(made)} samples x {len(CALLERS)} callers = {len(made) * len(CALLERS)} requests checked")
    assert not wrong and not changed, "\n".join([
        f"{len(wrong)} answers differ from the contract:", *wrong, "refused requests that changed the server's state:", *changed,
    ])


def test_matrix_size(files: Files) -> None:
    """The size of the matrix (printed with -s): routes x callers x servers."""
    routes, callers, servers = len(ROUTES), len(CALLERS), len(SERVER_KINDS)
    line = (
        f"authorization matrix: {routes} routes ({len(samples(files))} samples) x {callers} callers x {servers} servers"
        f" = {routes * callers * servers} cells; {SENT['requests']} requests sent in this run"
    )
    print(f"\n{line}")
    assert routes * callers * servers >= 42 * 17 * 3, line


# --------------------------------------------------------------------------- worker addresses, on a cluster

CLUSTER_CALLERS = (
    "anonymous", "admin", "admin with proof, other version", "admin, other version", "restricted user",
    "user, other protocol", "admin's ReadOnlySession token",
)
"""The callers of the cluster matrix in CI (resetting a cluster's tables after every allowed change takes a
third of a second): one of each tier that does not manage security (a restricted user and a token for
ReadOnlySession), anonymous, and the admin, who does. ``TIERCUBE_HYPOTHESIS=nightly`` sends every caller
of ``CALLERS`` every sample."""
SHOWN_TO_MANAGERS = {"GET /api/v1/tables", "GET /api/v1/tables/{table}", "GET /api/v1/stats", "POST /api/v1/tables/{table}/append"}
"""Routes whose answers name the workers to a caller who manages security: in CI, the only samples such a
caller sends (it may see anything; they keep the test able to fail)."""


@pytest.fixture(scope="module")
def on_cluster(dask_scheduler: str) -> Generator[Target]:
    """A secured server process (the Dask client is the server's, not this process's) whose every table is
    distributed over the session's LocalCluster."""
    config = msgspec.structs.replace(configure("secured"), cluster=dask_scheduler, distribute_over_rows=0)
    with tiercube.Session.start(config) as owner:
        token = owner_token(owner)
        with httpx.Client(base_url=owner.url, timeout=60) as client:
            document = check(client.get(paths.VERSIONS, headers={"Authorization": f"Bearer {token}"})).json()
        for method in PROBE_METHODS:
            owner.endpoint(PROBE, method=method)(probe)
        nonce = Path(document["caller"]["share_proof"]["path"]).read_text()
        yield issue_tokens(Target("secured", lambda: httpx.Client(base_url=owner.url, timeout=60), token, nonce))


def cluster_addresses(target: Target, client: httpx.Client, scheduler: str) -> set[str]:
    """``host:port`` of the scheduler and of every worker holding a partition of ``sales``, as the owner is told."""
    info = msgspec.json.decode(check(client.get(expand(paths.TABLE, SALES), headers=owner_headers(target))).content, type=TableInfo)
    workers = {partition.worker for partition in info.partitions or []}
    assert len(workers) == 2, info  # conftest's cluster has two workers, and the sales rows reach both
    return {address.removeprefix("tcp://") for address in {*workers, scheduler}}


@pytest.mark.slow
def test_worker_addresses_reach_only_callers_who_manage_security(on_cluster: Target, files: Files, dask_scheduler: str) -> None:
    """Worker addresses reached NoSecuritySession callers in table and append answers: whoever reaches a
    Dask scheduler runs code on its workers. Every sample, as each caller sends it, on a server whose tables
    are all distributed: the contract's answer, and a worker's or the scheduler's address only to a caller
    whose tier manages security."""
    target, made = on_cluster, samples(files)
    nightly = HYPOTHESIS_PROFILE == "nightly"
    callers = [caller for caller in CALLERS if nightly or caller.name in CLUSTER_CALLERS]
    wrong: list[str] = []
    shown: set[str] = set()
    with target.client() as client:
        reset(target, client)
        secret = cluster_addresses(target, client, dask_scheduler)
        for caller in callers:
            _, tier = expected("secured", caller)
            manages = tier is not None and SEC in CONTRACT_GROUPS[tier]
            for sample in made:
                if manages and not nightly and str(sample.route) not in SHOWN_TO_MANAGERS:
                    continue
                cell = Cell(caller, sample, outcome("secured", caller, sample))
                cell.status, cell.body = send(client, target, caller, sample)
                if cell.want == "allowed" and sample.mutates:
                    reset(target, client, sample)
                named = sorted(address for address in secret if address in cell.body)
                if (why := cell.wrong()) is not None:
                    wrong.append(f"{caller.name} / {sample}: {why}: {cell.body[:300]}")
                elif named and not manages:
                    wrong.append(f"{caller.name} ({tier}) / {sample}: the answer names {named}")
                elif named:
                    shown.add(str(sample.route))
    assert not wrong, "\n".join(wrong)
    assert SHOWN_TO_MANAGERS <= shown, f"the workers were named to callers who manage security only in {sorted(shown)}"
