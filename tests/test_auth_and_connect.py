"""Authentication, the versions document, connect() tiers and raw HTTP behaviour, on real servers.

Raw status codes and error bodies are checked with httpx straight against the
server's URL; the client's view of the same with ``tiercube.connect``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tiercube
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths

from tests.conftest import ADMIN, USER, python_subprocess
from tests.tiers import share_proof

TABLE = "auth_sales"
VERSIONS_FIELDS = {"protocol_version", "tiercube_version", "security", "sdk_exposed", "product", "caller"}


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="module")
def sales(owner: tiercube.Session, tmp_path_factory: pytest.TempPathFactory) -> tiercube.LocalTable:
    path = tmp_path_factory.mktemp("auth") / "auth_sales.csv"
    path.write_text("id,region,qty\n1,EU,3\n2,US,4\n3,EU,5\n")
    return owner.read_csv(path, keys=["id"])


@pytest.fixture(scope="module")
def http(owner: tiercube.Session, sales: tiercube.LocalTable) -> Iterator[httpx.Client]:
    """A raw client that states this tiercube's versions and proves condition d, as the real client does."""
    protocol = httpx.get(f"{owner.url}/versions/rest", timeout=10).json()["protocol_version"]
    headers = {"tiercube-client-version": tiercube.__version__, "tiercube-client-protocol": str(protocol)}
    headers.update(share_proof(owner.url, ADMIN))
    with httpx.Client(base_url=owner.url, headers=headers, timeout=30) as client:
        yield client


def assert_error_body(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]
    assert "Traceback" not in response.text
    return str(body["message"])


# --------------------------------------------------------------------------- the versions document


def test_versions_answers_without_credentials_and_reveals_nothing_else(owner: tiercube.Session, sales: tiercube.LocalTable) -> None:
    response = httpx.get(f"{owner.url}/versions/rest", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert set(document) <= VERSIONS_FIELDS
    assert document.get("caller") is None  # no credentials, no caller
    assert document["tiercube_version"] == tiercube.__version__
    assert isinstance(document["protocol_version"], int)
    assert document["security"] is True
    assert document["sdk_exposed"] is True
    assert document["product"] == "tiercube"
    for secret in (TABLE, "admin", "ROLE_", "/tmp", "nonce"):
        assert secret not in response.text


def test_versions_with_user_credentials_names_the_caller_only(owner: tiercube.Session) -> None:
    document = httpx.get(f"{owner.url}/versions/rest", headers=basic(USER.username, USER.password), timeout=10).json()
    assert set(document) <= VERSIONS_FIELDS
    caller = document["caller"]
    assert caller["username"] == USER.username
    assert caller["roles"] == ["ROLE_USER"]
    assert caller.get("share_proof") is None  # a path on the server is no business of a non-admin
    assert not caller.get("owner")


def test_versions_with_admin_credentials_proves_the_shared_file_system(owner: tiercube.Session) -> None:
    document = httpx.get(f"{owner.url}/versions/rest", headers=basic(ADMIN.username, ADMIN.password), timeout=10).json()
    caller = document["caller"]
    assert (caller["username"], caller["roles"]) == (ADMIN.username, ["ROLE_ADMIN"])
    proof = caller["share_proof"]
    # The path and the nonce's digest, never the nonce: the caller proves d by reading it back.
    assert set(proof) == {"path", "sha256"}
    assert hashlib.sha256(Path(proof["path"]).read_bytes()).hexdigest() == proof["sha256"]


@pytest.mark.parametrize(
    "headers",
    [basic(ADMIN.username, "wrong"), basic("nobody", "x"), {"Authorization": "Basic !!not-base64!!"}],
    ids=["wrong_password", "unknown_user", "malformed"],
)
def test_versions_with_wrong_credentials_is_401(owner: tiercube.Session, headers: dict[str, str]) -> None:
    response = httpx.get(f"{owner.url}/versions/rest", headers=headers, timeout=10)
    assert_error_body(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_versions_of_a_server_without_security() -> None:
    with tiercube.Session.start() as open_session:
        for headers in ({}, basic("anyone", "anything")):
            document = httpx.get(f"{open_session.url}/versions/rest", headers=headers, timeout=10).json()
            assert set(document) <= VERSIONS_FIELDS
            assert document["security"] is False
            assert document.get("caller") is None  # without security nobody is authenticated


# --------------------------------------------------------------------------- 401 and 403 on data endpoints

DATA_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/tables", None),
    ("GET", f"/api/v1/tables/{TABLE}", None),
    ("POST", f"/api/v1/tables/{TABLE}/query", {}),
    ("POST", "/api/v1/tables", {"name": "intruder", "columns": [{"name": "x", "data_type": "int64"}]}),
    ("POST", f"/api/v1/tables/{TABLE}/append", {"rows": [[99, "XX", 0]]}),
    ("POST", f"/api/v1/tables/{TABLE}/drop", {}),
    ("DELETE", f"/api/v1/tables/{TABLE}", None),
    ("GET", "/api/query/cubes", None),
    ("GET", "/api/v1/security/users", None),
]
BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "wrong_password": basic(ADMIN.username, "not-the-password"),
    "empty_password": basic(ADMIN.username, ""),
    "unknown_user": basic("mallory", ADMIN.password),
    "not_base64": {"Authorization": "Basic %%%"},
    "no_colon": {"Authorization": "Basic " + base64.b64encode(b"admin").decode()},
    "guessed_bearer": {"Authorization": "Bearer guessed-owner-token"},
    "unknown_scheme": {"Authorization": "Digest username=admin"},
}


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS.values(), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize(("method", "path", "body"), DATA_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in DATA_ENDPOINTS])
def test_data_endpoints_answer_401_without_valid_credentials(
    http: httpx.Client,
    sales: tiercube.LocalTable,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    credentials: dict[str, str],
) -> None:
    response = http.request(method, path, json=body, headers=credentials)
    assert_error_body(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Basic")
    # Nothing happened.
    assert sales.row_count == 3
    assert sales.name in http.get("/api/v1/tables", headers=basic(ADMIN.username, ADMIN.password)).text


def test_wrong_password_and_unknown_user_are_indistinguishable(http: httpx.Client) -> None:
    wrong = http.get("/api/v1/tables", headers=basic(ADMIN.username, "nope")).json()
    unknown = http.get("/api/v1/tables", headers=basic("nobody-at-all", "nope")).json()
    assert wrong == unknown


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [e for e in DATA_ENDPOINTS if e[0] != "GET" and "query" not in e[1]],
    ids=[f"{m} {p}" for m, p, _ in DATA_ENDPOINTS if m != "GET" and "query" not in p],
)
def test_a_non_admin_gets_403_on_edit_endpoints(
    http: httpx.Client, sales: tiercube.LocalTable, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = http.request(method, path, json=body, headers=basic(USER.username, USER.password))
    message = assert_error_body(response, 403, "forbidden")
    assert "ROLE_ADMIN" in message
    assert sales.row_count == 3


def test_a_non_admin_reads_with_200(http: httpx.Client, sales: tiercube.LocalTable) -> None:
    user = basic(USER.username, USER.password)
    assert http.get("/api/v1/tables", headers=user).status_code == 200
    answer = http.post(f"/api/v1/tables/{TABLE}/query", json={"columns": ["id"]}, headers=user)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(answer.content).read_all().column("id").to_pylist() == [1, 2, 3]
    assert_error_body(http.get("/api/v1/security/users", headers=user), 403, "forbidden")


# --------------------------------------------------------------------------- malformed requests: 4xx, never 500

ADMIN_HEADERS = basic(ADMIN.username, ADMIN.password)
MALFORMED: dict[str, tuple[str, str, bytes | None, int]] = {
    "unknown_route": ("GET", "/nope", None, 404),
    "unknown_api_route": ("GET", "/api/v1/nope/deeper", None, 404),
    "unknown_table": ("GET", "/api/v1/tables/no_such_table", None, 404),
    "unknown_table_query": ("POST", "/api/v1/tables/no_such_table/query", b"{}", 404),
    "nul_in_name": ("GET", "/api/v1/tables/%00", None, 404),
    "very_long_name": ("GET", "/api/v1/tables/" + "x" * 5000, None, 404),
    "wrong_method": ("PUT", f"/api/v1/tables/{TABLE}", None, 405),
    "post_to_versions": ("POST", "/versions/rest", b"{}", 405),
    "not_json": ("POST", "/api/v1/tables", b"{not json", 400),
    "truncated_json": ("POST", f"/api/v1/tables/{TABLE}/query", b'{"columns": ["id"', 400),
    "empty_body": ("POST", "/api/v1/tables", b"", 400),
    "array_for_object": ("POST", "/api/v1/tables", b"[]", 400),
    "number_for_name": ("POST", "/api/v1/tables", b'{"name": 3, "columns": []}', 400),
    "unknown_type": ("POST", "/api/v1/tables", b'{"name": "u", "columns": [{"name": "a", "data_type": "int128"}]}', 400),
    "invalid_utf8": ("POST", "/api/v1/tables", b'{"name": "\xff\xfe", "columns": []}', 400),
    "unknown_filter": ("POST", f"/api/v1/tables/{TABLE}/query", b'{"filter": {"type": "bogus"}}', 400),
    "unknown_operator": (
        "POST",
        f"/api/v1/tables/{TABLE}/query",
        b'{"filter": {"type": "compare", "column": "qty", "op": "~", "value": 1}}',
        400,
    ),
    "string_max_rows": ("POST", f"/api/v1/tables/{TABLE}/query", b'{"max_rows": "ten"}', 400),
    "negative_max_rows": ("POST", f"/api/v1/tables/{TABLE}/query", b'{"max_rows": -1}', 400),
    "deeply_nested_filter": (
        "POST",
        f"/api/v1/tables/{TABLE}/query",
        b'{"filter": ' + b'{"type": "not", "operand": ' * 5000 + b'{"type": "isnull", "column": "id"}' + b"}" * 5001,
        400,
    ),
    "object_in_row": ("POST", f"/api/v1/tables/{TABLE}/append", b'{"rows": [[1, {}, 2]]}', 400),
    "rows_not_a_list": ("POST", f"/api/v1/tables/{TABLE}/append", b'{"rows": "abc"}', 400),
    "huge_int_in_row": ("POST", f"/api/v1/tables/{TABLE}/append", b'{"rows": [[123456789012345678901234567890, "EU", 1]]}', 400),
    "relative_path": ("POST", f"/api/v1/tables/{TABLE}/load", b'{"source": {"type": "csv", "path": "relative.csv"}}', 400),
    "not_an_arrow_file": ("POST", f"/api/v1/tables/{TABLE}/load", b'{"source": {"type": "arrow", "path": "/dev/null"}}', 400),
    "unknown_source": ("POST", f"/api/v1/tables/{TABLE}/load", b'{"source": {"type": "xlsx", "path": "/x"}}', 400),
    "unknown_encoding": (
        "POST",
        "/api/v1/read",
        b'{"table": "r", "source": {"type": "csv", "path": "/dev/null", "options": {"encoding": "no-such-codec"}}}',
        400,
    ),
    "two_char_separator": (
        "POST",
        "/api/v1/read",
        b'{"table": "r", "source": {"type": "csv", "path": "/dev/null", "options": {"separator": ";;"}}}',
        400,
    ),
}


@pytest.mark.parametrize(("method", "path", "content", "status"), MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_requests_get_a_4xx_json_error(
    http: httpx.Client, sales: tiercube.LocalTable, method: str, path: str, content: bytes | None, status: int
) -> None:
    before = sales.query()
    response = http.request(method, path, content=content, headers={**ADMIN_HEADERS, "content-type": "application/json"})
    assert 400 <= response.status_code < 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status)
    assert_error_body(response, status, code or response.json()["code"])
    assert sales.query().equals(before)


def test_a_huge_max_rows_is_fine(http: httpx.Client) -> None:
    answer = http.post(f"/api/v1/tables/{TABLE}/query", content=b'{"max_rows": 1000000000000000000000000}', headers=ADMIN_HEADERS)
    assert answer.status_code == 200
    assert pa.ipc.open_stream(answer.content).read_all().num_rows == 3


def test_the_server_log_has_no_internal_error(owner: tiercube.Session, http: httpx.Client) -> None:
    """Runs after the malformed requests above (same module, same server)."""
    assert "internal error" not in owner.logs_path.read_text()


# --------------------------------------------------------------------------- connect()


def test_connect_with_a_wrong_password_raises_authentication_error(owner: tiercube.Session) -> None:
    with pytest.raises(tiercube.AuthenticationError, match="not accepted"):
        tiercube.connect(owner.url, authentication=tiercube.BasicAuthentication(ADMIN.username, "wrong"))
    with pytest.raises(tiercube.AuthenticationError):
        tiercube.connect(owner.url, authentication=tiercube.BasicAuthentication("mallory", ADMIN.password))


def test_too_many_wrong_passwords_are_told_when_to_try_again() -> None:
    """``retry_after`` is the server's count: 2 s after the first failure, less than a whole minute is left."""
    admin = tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"])
    wrong = tiercube.BasicAuthentication(ADMIN.username, "guess")
    with tiercube.Session.start(tiercube.SessionConfig(users=[admin], max_failed_logins_per_minute=2)) as owner:
        with pytest.raises(tiercube.AuthenticationError):
            tiercube.connect(owner.url, authentication=wrong)
        time.sleep(2)
        with pytest.raises(tiercube.AuthenticationError) as second:
            tiercube.connect(owner.url, authentication=wrong)
        assert type(second.value) is tiercube.AuthenticationError  # the second failure is still within the limit
        with pytest.raises(tiercube.TooManyAttemptsError) as raised:
            tiercube.connect(owner.url, authentication=wrong)
    assert 0 < raised.value.retry_after <= 58
    assert f"try again in {raised.value.retry_after} s" in str(raised.value)


def test_connect_as_admin_gives_a_local_session_with_every_table_capability(
    owner: tiercube.Session, sales: tiercube.LocalTable, sales_csv: Path, tmp_path: Path
) -> None:
    with tiercube.connect(owner.url, authentication=ADMIN) as session:
        assert type(session) is tiercube.LocalSession
        assert isinstance(session, tiercube.LocalSession)
        assert [c.held for c in session.capabilities.conditions] == [True] * 6
        assert session.url == owner.url
        # Read the model and data.
        assert TABLE in session.tables
        assert session.tables.schema[TABLE].keys == ("id",)
        table = session.tables[TABLE]
        assert table.query("id", filter=table["region"] == "EU").column("id").to_pylist() == [1, 3]
        # Edit the model and data.
        created = session.create_table("from_local", data_types={"id": "int64", "v": "string"}, keys=["id"])
        assert created.append((1, "a"), (2, "b")) == 2
        assert created.drop(created["id"] == 2) == 1
        # Load through the shared file system: files, Arrow tables, frames.
        parquet = tmp_path / "more.parquet"
        pq.write_table(pa.table({"id": [3], "v": ["c"]}), parquet)  # pyright: ignore[reportUnknownMemberType]
        assert created.load(tiercube.ParquetLoad(parquet)) == 1
        assert created.load(pa.table({"id": [4], "v": ["d"]})) == 1
        assert created.load(pd.DataFrame({"id": [5], "v": ["e"]})) == 1
        (tmp_path / "more.csv").write_text("id,v\n6,f\n")
        assert created.load(tiercube.CsvLoad(tmp_path / "more.csv")) == 1
        assert session.read_csv(sales_csv, table_name="local_csv").row_count == 4
        assert session.read_parquet(parquet, table_name="local_parquet").row_count == 1
        assert session.read_arrow(pa.table({"x": [1]}), table_name="local_arrow").row_count == 1
        assert session.read_pandas(pd.DataFrame({"x": [1, 2]}), table_name="local_pandas").row_count == 2
        # Security management.
        assert {ADMIN.username, USER.username} <= set(session.security.users)
        # The owner sees all of it.
        assert owner.tables["from_local"].query().column("id").to_pylist() == [1, 3, 4, 5, 6]
        for name in ("from_local", "local_csv", "local_parquet", "local_arrow", "local_pandas"):
            del session.tables[name]
            assert name not in owner.tables


def test_connect_as_a_non_admin_gives_a_read_only_session(owner: tiercube.Session, sales: tiercube.LocalTable) -> None:
    with tiercube.connect(owner.url, authentication=USER) as session:
        assert type(session) is tiercube.ReadOnlySession
        assert isinstance(session, tiercube.ReadOnlySession)
        assert session.capabilities.held("a")
        assert not session.capabilities.held("b")
        table = session.tables[TABLE]
        assert type(table) is tiercube.ReadOnlyTable
        assert table.row_count == 3
        assert table.query("qty", filter=table["id"] > 1).column("qty").to_pylist() == [4, 5]
        for member in ("create_table", "read_csv", "read_arrow", "security", "create_cube"):
            assert not hasattr(session, member), member
        for member in ("append", "drop", "load"):
            assert not hasattr(table, member), member


def test_connect_without_credentials_to_a_secured_server(owner: tiercube.Session, sales: tiercube.LocalTable) -> None:
    """Every data endpoint of a secured server answers 401 to anonymous callers, so connect()
    says so at once instead of returning a session whose every read would fail."""
    with pytest.raises(tiercube.AuthenticationError, match="requires authentication"):
        tiercube.connect(owner.url)
    response = httpx.get(f"{owner.url}/api/v1/tables/{TABLE}", timeout=10)
    assert_error_body(response, 401, "unauthenticated")


def test_connect_with_a_custom_authenticate_callable(owner: tiercube.Session) -> None:
    seen: list[str] = []

    def authenticate(url: str) -> dict[str, str]:
        seen.append(url)
        return basic(ADMIN.username, ADMIN.password)

    with tiercube.connect(owner.url, authentication=authenticate) as session:
        assert isinstance(session, tiercube.LocalSession)
        assert TABLE in session.tables
    assert seen[0] == f"{owner.url}/versions/rest"
    assert len(seen) >= 2  # asked again for every request


def test_users_created_through_security_can_connect(owner: tiercube.Session) -> None:
    with tiercube.connect(owner.url, authentication=ADMIN) as admin:
        assert isinstance(admin, tiercube.LocalSession)
        admin.security.create_user("carol", password="carol-password", roles=["ROLE_ADMIN"])
        carol = tiercube.BasicAuthentication("carol", "carol-password")
        with tiercube.connect(owner.url, authentication=carol) as session:
            assert isinstance(session, tiercube.LocalSession)
        admin.security.set_roles("carol", ["ROLE_USER"])
        with tiercube.connect(owner.url, authentication=carol) as session:
            assert isinstance(session, tiercube.ReadOnlySession)
        admin.security.delete_user("carol")
        with pytest.raises(tiercube.AuthenticationError):
            tiercube.connect(owner.url, authentication=carol)


def test_connect_where_nothing_listens_raises_server_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(tiercube.ServerUnavailableError):
        tiercube.connect(f"http://127.0.0.1:{port}")


@contextmanager
def foreign_server(status: int, body: bytes) -> Generator[str]:
    """An HTTP server on loopback that is not tiercube."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_connect_to_a_server_that_is_not_tiercube() -> None:
    with foreign_server(404, b"<html>not found</html>") as url, pytest.raises(tiercube.ProtocolError):
        tiercube.connect(url)
    with foreign_server(200, b'{"hello": "world"}') as url, tiercube.connect(url) as session:
        assert type(session) is tiercube.MinimalSession
        assert not any(c.held for c in session.capabilities.conditions)


# --------------------------------------------------------------------------- another process


def test_connect_from_another_process_loads_and_queries(owner: tiercube.Session, tmp_path: Path) -> None:
    csv = tmp_path / "other_process.csv"
    csv.write_text("id,region,qty\n1,EU,10\n2,US,20\n3,EU,30\n")
    code = """
import json, os, tiercube
auth = tiercube.BasicAuthentication(os.environ["TC_USER"], os.environ["TC_PASSWORD"])
with tiercube.connect(os.environ["TC_URL"], authentication=auth) as session:
    table = session.read_csv(os.environ["TC_CSV"], table_name="from_another_process", keys=["id"])
    table.append((4, "EU", 40))
    eu = table.query("id", "qty", filter=table["region"] == "EU")
    print(json.dumps({"tier": type(session).__name__, "eu": eu.to_pylist(), "rows": table.row_count}))
"""
    result = python_subprocess(
        code, TC_URL=owner.url, TC_USER=ADMIN.username, TC_PASSWORD=ADMIN.password, TC_CSV=str(csv)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "tier": "LocalSession",
        "eu": [{"id": 1, "qty": 10}, {"id": 3, "qty": 30}, {"id": 4, "qty": 40}],
        "rows": 4,
    }
    # The owner sees what the other process did.
    assert owner.tables["from_another_process"].query("qty").column("qty").to_pylist() == [10, 20, 30, 40]

    reader = """
import json, os, tiercube
auth = tiercube.BasicAuthentication(os.environ["TC_USER"], os.environ["TC_PASSWORD"])
with tiercube.connect(os.environ["TC_URL"], authentication=auth) as session:
    table = session.tables["from_another_process"]
    print(json.dumps({"tier": type(session).__name__, "total": sum(table.query("qty").column("qty").to_pylist())}))
"""
    result = python_subprocess(reader, TC_URL=owner.url, TC_USER=USER.username, TC_PASSWORD=USER.password)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"tier": "ReadOnlySession", "total": 100}


# --------------------------------------------------------------------------- configured users


def hash_password(password: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tiercube._cli", "hash-password"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_hash_password_makes_salted_scrypt_hashes() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt$")
    assert first != second  # salted
    assert "s3cret" not in first
    empty = subprocess.run(
        [sys.executable, "-m", "tiercube._cli", "hash-password"], input="\n", capture_output=True, text=True, timeout=60
    )
    assert empty.returncode == 2
    assert "empty password" in empty.stderr


def test_config_file_users_with_password_hashes(tmp_path: Path) -> None:
    config = tmp_path / "users.toml"
    config.write_text(
        f"""
[[users]]
name = "ops"
password_hash = "{hash_password("ops-password")}"
roles = ["ROLE_ADMIN"]

[[users]]
name = "analyst"
password_hash = "{hash_password("analyst-password")}"
roles = ["ROLE_ANALYST"]
"""
    )
    with tiercube.Session.start(config) as owner:
        with tiercube.connect(owner.url, authentication=tiercube.BasicAuthentication("ops", "ops-password")) as ops:
            assert isinstance(ops, tiercube.LocalSession)
            ops.create_table("configured", data_types={"x": "int64"}).append((1,))
        analyst = tiercube.BasicAuthentication("analyst", "analyst-password")
        with tiercube.connect(owner.url, authentication=analyst) as session:
            assert isinstance(session, tiercube.ReadOnlySession)
            assert session.tables["configured"].row_count == 1
        document = httpx.get(f"{owner.url}/versions/rest", headers=basic("analyst", "analyst-password"), timeout=10).json()
        assert document["caller"]["roles"] == ["ROLE_ANALYST"]
        # The hash is not the password.
        with pytest.raises(tiercube.AuthenticationError):
            bad = tiercube.BasicAuthentication("ops", config.read_text().split('"')[3])
            tiercube.connect(owner.url, authentication=bad)
        with pytest.raises(tiercube.AuthenticationError):
            tiercube.connect(owner.url, authentication=tiercube.BasicAuthentication("ops", "analyst-password"))


def test_a_cloud_location_must_be_s3(owner: tiercube.Session, tmp_path: Path) -> None:
    """file:// would let a caller without a shared file system read the server's files."""
    secret = tmp_path / "server-only.csv"
    secret.write_text("a\n1\n")
    body = {"table": "stolen", "source": {"type": "csv", "path": {"uri": f"file://{secret}"}}}
    response = httpx.post(
        f"{owner.url}/api/v1/read",
        json=body,
        auth=(ADMIN.username, ADMIN.password),
        headers={paths.CLIENT_VERSION_HEADER: tiercube.__version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
        timeout=10,
    )
    assert "only s3://" in assert_error_body(response, 400, "load")
    assert "stolen" not in owner.tables
