"""Every tier of connect() reached against a real server, and the server enforcing the same rules.

For each tier: the class, the capabilities report (which conditions held and
why), that what the tier allows works, and that mutations the tier does not
allow are refused by the server itself (403, nothing changed) when sent as
raw HTTP requests with the caller's credentials and the client's version
headers. ``require=`` returns exactly the class, or raises CapabilityError.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import assert_type

import httpx
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tests.tiers import (
    ADVERTISED_VERSION,
    SALES_ROWS,
    SALES_TYPES,
    Server,
    Sources,
    make_sales,
    other_protocol,
    raw,
    sources,
    start_not_tiercube,
    start_server,
)
from tiercube import CapabilityReport, capabilities
from tiercube._version import PROTOCOL_VERSION, __version__

__all__ = ["sources"]



@dataclass
class Servers:
    owner: tiercube.Session  # secured, same version, same host
    remote: str  # secured, same version, private mount namespace
    no_security_local: str  # secured, advertises another version
    no_security: str  # secured, advertises another version, private mount namespace
    open: str  # no security
    hidden: str  # secured, advertises another version, admin API not exposed
    not_tiercube: str  # answers /versions/rest, is not tiercube


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Generator[Servers]:
    directory = tmp_path_factory.mktemp("servers")
    started: list[Server] = []
    try:
        # Started together, waited for together: ready in the time of the slowest.
        started.append(start_server(directory, private=True))
        started.append(start_server(directory, "--advertise-version", ADVERTISED_VERSION))
        started.append(start_server(directory, "--advertise-version", ADVERTISED_VERSION, private=True))
        started.append(start_server(directory, config=None))
        started.append(start_server(directory, "--hide-admin-api", "--advertise-version", ADVERTISED_VERSION))
        started.append(start_not_tiercube(directory))
        with tiercube.Session.start(SECURED) as owner:
            make_sales(owner)
            yield Servers(owner, *(server.url for server in started))
    finally:
        for server in started:
            server.stop()


def held(report: CapabilityReport) -> str:
    """The letters of the conditions that held, e.g. ``"abcdef"`` or ``"abef"``."""
    return "".join(c.letter for c in report.conditions if c.held)


def reason(report: CapabilityReport, letter: str) -> str:
    return next(c.reason for c in report.conditions if c.letter == letter)


def assert_readable(report: CapabilityReport, tier: str) -> None:
    text = str(report)
    assert text.startswith(f"{tier} at {report.url}")
    for condition in report.conditions:
        line = f"  {condition.letter}: {'yes' if condition.held else 'no '} {condition.meaning}: {condition.reason}"
        assert line in text.splitlines()
    assert [c.letter for c in report.conditions] == list("abcdef")


def public(session: object) -> set[str]:
    return {name for name in dir(session) if not name.startswith("_")}


def refused(response: httpx.Response, *words: str) -> None:
    """The server's own refusal: 403 with an error body that says why."""
    assert response.status_code == 403, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == "forbidden"
    for word in words:
        assert word in body["message"], body["message"]


def table_body(name: str) -> dict[str, object]:
    return {"name": name, "columns": [{"name": "id", "data_type": "int64"}], "keys": ["id"]}


def mutations(table: str, cube: str) -> list[tuple[str, str, object]]:
    """A request of every kind that changes data or model (or security), on existing objects."""
    return [
        ("POST", "/api/v1/tables", table_body("intruder")),
        ("POST", f"/api/v1/tables/{table}/append", {"rows": [[99, "EU", 1, 1.0]]}),
        ("POST", f"/api/v1/tables/{table}/drop", {"filter": None}),
        ("POST", f"/api/v1/tables/{table}/load", {"source": {"type": "csv", "path": "/etc/hostname"}}),
        ("POST", "/api/v1/read", {"table": "intruder", "source": {"type": "csv", "path": "/etc/hostname"}}),
        ("DELETE", f"/api/v1/tables/{table}", None),
        ("POST", "/api/v1/cubes", {"fact_table": table, "name": "intruder"}),
        ("DELETE", f"/api/v1/cubes/{cube}/measures/qty.SUM", None),
        ("DELETE", f"/api/v1/cubes/{cube}", None),
    ]


def snapshot(session: tiercube.capabilities.SupportsReadModel) -> tuple[object, ...]:
    """Everything the refused requests could have changed."""
    tables = session.tables.schema
    cubes = {name: (sorted(cube.measures), sorted(cube.hierarchies)) for name, cube in session.cubes.items()}
    rows = {name: session.tables[name].query().to_pylist() for name in tables}
    return tables, cubes, rows


# LocalSession


def test_local_session(servers: Servers, sources: Sources) -> None:
    with tiercube.connect(servers.owner.url, authentication=ADMIN) as session:
        assert type(session) is tiercube.LocalSession
        report = session.capabilities
        assert report.tier == "LocalSession" and held(report) == "abcdef"
        assert re.fullmatch(r"the server's nonce file /\S+/nonce was read back here", reason(report, "d"))
        assert reason(report, "b") == "authenticated as 'admin' with roles ROLE_ADMIN"
        assert reason(report, "c") == f"both are {__version__}"
        assert_readable(report, "LocalSession")
        # Shared-file-system loading, security management: all but the lifecycle.
        table = session.read_csv(sources.csv, table_name="local_csv", keys=["id"])
        assert table.row_count == len(SALES_ROWS)
        assert session.read_pandas(sources.frame, table_name="local_pandas").row_count == len(SALES_ROWS)
        assert "admin" in session.security.users
        del session.tables["local_csv"], session.tables["local_pandas"]
        assert not {"port", "logs_path", "wait"} & public(session)


# RemoteSession


def test_remote_session(servers: Servers, sources: Sources) -> None:
    with tiercube.connect(servers.remote, authentication=ADMIN) as session:
        assert type(session) is tiercube.RemoteSession
        report = session.capabilities
        assert held(report) == "abcef"
        assert re.fullmatch(
            r"not the same host: the nonce file /\S+/nonce was not readable here \(No such file or directory\)",
            reason(report, "d"),
        )
        assert_readable(report, "RemoteSession")
        assert "d: no  same host (shared file system): not the same host: the nonce file" in str(report)
        # Editing, cloud loading and security work; shared-file-system loading is absent.
        table = make_sales(session, "remote_sales")
        assert session.read_csv(sources.cloud_csv, table_name="remote_cloud").row_count == len(SALES_ROWS)
        assert table.load(tiercube.ParquetLoad(sources.cloud_parquet)) == len(SALES_ROWS)
        session.security.create_user("remote_user", password="pw")
        assert "remote_user" in session.security.users
        assert not {"read_arrow", "read_pandas", "port"} & public(session)
        # Without proof of a shared file system, the server refuses any path before looking at it:
        # a file that exists there and one that does not get the same answer.
        for path in (str(sources.csv), "/etc/hostname", "/no/such/file"):
            body = {"table": "peek", "source": {"type": "csv", "path": path}}
            response = raw(servers.remote, "POST", "/api/v1/read", auth=ADMIN, body=body)
            refused(response, "load through the shared file system", "proof of a shared file system")
            assert path not in response.text
        # A local path cannot reach the server by mistake either (the type already forbids it).
        with pytest.raises(TypeError, match="local path"):
            table.load(tiercube.CsvLoad(str(sources.csv)))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        assert table.row_count == len(SALES_ROWS)


# NoSecurityLocalSession and NoSecuritySession


@pytest.mark.parametrize("private", [False, True], ids=["same host", "other host"])
def test_no_security_sessions(servers: Servers, sources: Sources, private: bool) -> None:
    url = servers.no_security if private else servers.no_security_local
    tier = tiercube.NoSecuritySession if private else tiercube.NoSecurityLocalSession
    with tiercube.connect(url, authentication=ADMIN) as session:
        assert type(session) is tier
        assert isinstance(session, tiercube.NoSecurityLocalSession | tiercube.NoSecuritySession)
        report = session.capabilities
        assert held(report) == ("abef" if private else "abdef")
        assert reason(report, "c") == f"the server's tiercube version is {ADVERTISED_VERSION}, this client's is {__version__}"
        assert reason(report, "e") == f"both are {PROTOCOL_VERSION}"
        assert reason(report, "f") == "the admin API is exposed"
        assert_readable(report, tier.__name__)
        name = f"nosec_{int(private)}"
        make_sales(session, name)
        assert session.cubes[name].query("qty.SUM").column("qty.SUM").to_pylist() == [13]
        assert session.read_parquet(sources.cloud_parquet, table_name=f"{name}_cloud").row_count == len(SALES_ROWS)
        if isinstance(session, tiercube.NoSecurityLocalSession):
            assert session.tables[name].load(sources.arrow) == len(SALES_ROWS)
        assert "security" not in public(session)
        # The server refuses security management to this client version, and nothing changes.
        refused(raw(url, "GET", "/api/v1/security/users", auth=ADMIN), "manage security", "it needs the same tiercube version")
        create = {"name": "intruder", "password": "pw", "roles": ["ROLE_ADMIN"]}
        refused(raw(url, "POST", "/api/v1/security/users", auth=ADMIN, body=create), "may not manage security")
        # A client of the server's own version may list the users: the refused one was not created.
        listed = raw(url, "GET", "/api/v1/security/users", auth=ADMIN, version=ADVERTISED_VERSION)
        assert listed.status_code == 200 and {u["name"] for u in listed.json()} == {"admin", "user"}


# ReadOnlySession


def test_read_only_without_security(servers: Servers) -> None:
    for authentication in (None, ADMIN):
        with tiercube.connect(servers.open, authentication=authentication) as session:
            assert isinstance(session, tiercube.ReadOnlySession)
            report = session.capabilities
            assert held(report) == "cef"
            assert reason(report, "a") == "no security is configured"
            expected = "no credentials were given" if authentication is None else "the server has no security, so credentials grant nothing"
            assert reason(report, "b") == expected
            assert_readable(report, "ReadOnlySession")
            assert dict(session.tables) == {} and dict(session.cubes) == {}
    # Nobody can change a server without security from outside, admin credentials or not.
    for authentication in (None, ADMIN):
        response = raw(servers.open, "POST", "/api/v1/tables", auth=authentication, body=table_body("t"))
        refused(response, "security is not configured")
    with tiercube.connect(servers.open, require=tiercube.ReadOnlySession) as session:
        assert list(session.tables) == []


def test_read_only_for_a_non_admin(servers: Servers) -> None:
    owner = servers.owner
    before = snapshot(owner)
    with tiercube.connect(owner.url, authentication=USER) as session:
        assert type(session) is tiercube.ReadOnlySession
        report = session.capabilities
        assert held(report) == "acef"
        assert reason(report, "b") == "authenticated as 'user' with roles ROLE_USER"
        assert reason(report, "d") == "not proved: the server shows its nonce file to ROLE_ADMIN callers only"
        # Reading the model and data, and querying, work.
        table = session.tables["sales"]
        assert table.row_count == len(SALES_ROWS) and table.data_types == SALES_TYPES
        assert sorted(session.cubes["sales"].measures) == sorted(owner.cubes["sales"].measures)
        assert session.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]").num_rows == 1
        assert not {"append", "drop", "load", "join"} & public(table)
        assert not {"create_table", "create_cube", "read_csv", "security"} & public(session)
    # Every mutation is refused by the server itself, with the user's own credentials.
    for method, path, body in mutations("sales", "sales"):
        refused(raw(owner.url, method, path, auth=USER, body=body), "it takes ROLE_ADMIN")
    refused(raw(owner.url, "GET", "/api/v1/security/users", auth=USER), "it takes ROLE_ADMIN")
    assert snapshot(owner) == before


def test_read_only_for_an_admin_when_the_admin_api_is_hidden(servers: Servers) -> None:
    url = servers.hidden
    # A client of the server's own version may still edit: it prepares a table.
    created = raw(url, "POST", "/api/v1/tables", auth=ADMIN, body=table_body("kept"), version=ADVERTISED_VERSION)
    assert created.status_code == 200, created.text
    appended = raw(url, "POST", "/api/v1/tables/kept/append", auth=ADMIN, body={"rows": [[1], [2]]}, version=ADVERTISED_VERSION)
    assert appended.status_code == 200, appended.text
    with tiercube.connect(url, authentication=ADMIN) as session:
        assert type(session) is tiercube.ReadOnlySession
        report = session.capabilities
        assert held(report) == "abde"
        assert reason(report, "f") == "the admin API is not exposed"
        assert_readable(report, "ReadOnlySession")
        assert session.tables["kept"].query().column("id").to_pylist() == [1, 2]
        before = snapshot(session)
        for method, path, body in mutations("kept", "none"):
            refused(raw(url, method, path, auth=ADMIN, body=body), "the SDK admin API is not exposed")
        assert snapshot(session) == before


# MinimalSession


def test_minimal_when_the_server_is_not_tiercube(servers: Servers) -> None:
    for authentication in (None, ADMIN):
        with tiercube.connect(servers.not_tiercube, authentication=authentication) as session:
            assert type(session) is tiercube.MinimalSession
            report = session.capabilities
            assert held(report) == ""
            assert {c.reason for c in report.conditions} == {"the server's /versions/rest is not a tiercube versions document"}
            assert_readable(report, "MinimalSession")
            assert public(session) == {"capabilities", "close", "cubes", "health", "link", "query_mdx", "url"}


def test_minimal_when_the_wire_protocol_differs(servers: Servers) -> None:
    owner = servers.owner
    before = snapshot(owner)
    other = PROTOCOL_VERSION + 1
    with other_protocol(other):
        session = tiercube.connect(owner.url, authentication=USER)
    with session:
        assert type(session) is tiercube.MinimalSession
        report = session.capabilities
        assert held(report) == "acf"
        assert reason(report, "e") == f"the server's wire protocol version is {PROTOCOL_VERSION}, this client's is {other}"
        assert_readable(report, "MinimalSession")
        # Querying works; the cube is query-only.
        cube = session.cubes["sales"]
        assert type(cube) is tiercube.QueryCube and not {"measures", "hierarchies", "levels"} & public(cube)
        assert cube.query("qty.SUM", levels=["region"]).num_rows == 3
        assert session.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]").column("qty.SUM").to_pylist() == [13]
    # The server itself refuses to show the model to a client of another protocol.
    refused(raw(owner.url, "GET", "/api/v1/tables", auth=USER, protocol=other), f"wire protocol '{other}'")
    refused(raw(owner.url, "GET", "/api/v1/cubes/sales", auth=USER, protocol=other), "wire protocol")
    assert snapshot(owner) == before
    # An admin of another protocol and another tiercube version gets nothing but queries either.
    url = servers.no_security_local
    with tiercube.connect(url, authentication=ADMIN, require=tiercube.NoSecurityLocalSession) as editor:
        make_sales(editor, "protocol_sales")
        before = snapshot(editor)
        with other_protocol(other):
            admin = tiercube.connect(url, authentication=ADMIN)
        with admin:
            assert type(admin) is tiercube.MinimalSession
            assert held(admin.capabilities) == "abdf"
        for method, path, body in mutations("protocol_sales", "protocol_sales"):
            refused(raw(url, method, path, auth=ADMIN, body=body, protocol=other), f"wire protocol '{other}'")
        assert snapshot(editor) == before


# require=


def test_require_returns_exactly_the_class(servers: Servers) -> None:
    granted: list[tuple[type[tiercube.AnySession], str, tiercube.BasicAuthentication]] = [
        (tiercube.LocalSession, servers.owner.url, ADMIN),
        (tiercube.RemoteSession, servers.remote, ADMIN),
        (tiercube.NoSecurityLocalSession, servers.no_security_local, ADMIN),
        (tiercube.NoSecuritySession, servers.no_security, ADMIN),
        (tiercube.ReadOnlySession, servers.owner.url, USER),
    ]
    for tier, url, authentication in granted:
        # A variable of the tier classes' union: typed as the union of the tiers in every checker.
        with tiercube.connect(url, authentication=authentication, require=tier) as session:
            assert_type(session, tiercube.AnySession)
            assert type(session) is tier
    # Without credentials (None is no credentials: the checkers refuse it a credentialed tier).
    with tiercube.connect(servers.not_tiercube, require=tiercube.MinimalSession) as minimal:
        assert type(minimal) is tiercube.MinimalSession
    # A lower tier is granted wherever a higher one is: require= gives exactly the lower class.
    with tiercube.connect(servers.owner.url, authentication=ADMIN, require=tiercube.ReadOnlySession) as read_only:
        assert type(read_only) is tiercube.ReadOnlySession
        assert read_only.capabilities.tier == "ReadOnlySession"  # what the object is; the conditions still say what the server grants
    with tiercube.connect(servers.remote, authentication=ADMIN, require=tiercube.NoSecuritySession) as cloud:
        assert type(cloud) is tiercube.NoSecuritySession
    loader = tiercube.connect(servers.owner.url, authentication=ADMIN, require=capabilities.SHARED_FILE_LOADING)
    assert type(loader) is tiercube.LocalSession
    loader.close()


@pytest.mark.parametrize(
    ("target", "authentication", "required", "failed"),
    [
        ("remote", ADMIN, tiercube.LocalSession, "d"),
        ("remote", ADMIN, capabilities.SHARED_FILE_LOADING, "d"),
        ("owner", USER, tiercube.RemoteSession, "b"),
        ("owner", USER, capabilities.EDITING, "b"),
        ("no_security_local", ADMIN, capabilities.SECURITY, "c"),
        ("hidden", ADMIN, tiercube.NoSecurityLocalSession, "f"),
        ("open", ADMIN, capabilities.CLOUD_LOADING, "a"),
        ("not_tiercube", ADMIN, capabilities.READ_MODEL, "e"),
        ("owner", ADMIN, capabilities.LIFECYCLE, ""),
    ],
)
def test_require_more_than_granted_raises(
    servers: Servers,
    target: str,
    authentication: tiercube.BasicAuthentication,
    required: type[tiercube.AnySession] | capabilities.Capability[object],
    failed: str,
) -> None:
    url = servers.owner.url if target == "owner" else getattr(servers, target)
    with tiercube.connect(url, authentication=authentication) as granted:
        report = granted.capabilities
    with pytest.raises(tiercube.CapabilityError) as raised:
        # Each kind through its own overload: ty does not split a union argument across them.
        if isinstance(required, type):
            tiercube.connect(url, authentication=authentication, require=required)
        else:
            tiercube.connect(url, authentication=authentication, require=required)
    message = str(raised.value)
    assert raised.value.report == report  # the same as data
    name = required.__name__ if isinstance(required, type) else repr(required)
    assert message.startswith(f"{name} was required, but the server at {url} grants {report.tier}:")
    lines = message.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == list("abcdef")
    for line, condition in zip(lines, report.conditions, strict=True):
        assert line.strip() == str(condition) and condition.reason in line
    if failed:
        assert f"{failed}: no " in message
