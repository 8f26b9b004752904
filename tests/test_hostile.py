"""Attacks on running servers, sent as an attacker would: raw HTTP or raw sockets, no tiercube client.

One group of tests per class of attack in SECURITY.md. Each checks that the
attack is refused, that the server is still alive and answering, and that
its data did not change. (Row-level restrictions: test_restrictions.py;
connection and size limits: test_limits.py.)
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, USER
from tests.fake_s3 import BUCKET, shared_fake_s3
from tests.in_process import in_process
from tests.tiers import Server, raw, share_proof, start_server
from tiercube._server.connections import PARSERS
from tiercube._server.main import PARSER_VARIABLE
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths

STATED = {paths.CLIENT_VERSION_HEADER: tiercube.__version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
"""The versions a tiercube client states, as ``raw`` sends them."""

HOSTILE_TOML = f"""
max_failed_logins_per_minute = 10000

[[users]]
name = "admin"
password = "{ADMIN.password}"
roles = ["ROLE_ADMIN"]

[[users]]
name = "user"
password = "{USER.password}"
roles = ["ROLE_USER"]

[[cloud_stores]]
name = "test"
endpoint = "{shared_fake_s3().endpoint}"
access_key = "SERVER-KEY-ID"
secret_key = "server-secret"
"""


@dataclass
class Target:
    server: Server
    url: str
    config: Path
    nonce_path: Path
    admin: tiercube.LocalSession
    proof: dict[str, str]

    def state(self) -> object:
        """Everything an attack could have changed, read through the admin's own session."""
        tables = self.admin.tables.schema
        rows = {name: self.admin.tables[name].query().to_pylist() for name in tables}
        return {name: repr(schema) for name, schema in tables.items()}, rows, sorted(self.admin.cubes)

    def alive(self) -> bool:
        return self.server.process.poll() is None and httpx.get(self.url + paths.VERSIONS, timeout=10).status_code == 200


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Generator[Target]:
    directory = tmp_path_factory.mktemp("hostile")
    server = start_server(directory, config=HOSTILE_TOML)
    try:
        url = server.url
        config = next(directory.glob("serve-shared.toml"))
        document = httpx.get(url + paths.VERSIONS, headers=dict(ADMIN(url)), timeout=10).json()
        with tiercube.connect(url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
            sales = admin.create_table("sales", data_types={"id": "int32", "region": "string", "qty": "int64"}, keys=["id"])
            sales.append((1, "EU", 3), (2, "US", 4), (3, "EU", 5), (4, None, 1))
            admin.create_cube(sales)
            yield Target(server, url, config, Path(document["caller"]["share_proof"]["path"]), admin, share_proof(url, ADMIN))
    finally:
        server.stop()


def read_body(path: str, kind: str = "csv", table: str = "stolen") -> dict[str, Any]:
    return {"table": table, "source": {"type": kind, "path": path}}


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    assert "Traceback" not in response.text
    return str(body["message"])


# --------------------------------------------------------------------------- 1. the server's files


def test_without_proof_no_path_is_read_and_the_answer_reveals_nothing(target: Target, tmp_path: Path) -> None:
    before = target.state()
    (tmp_path / "real.csv").write_text("a\n1\n")
    paths_tried = [
        "/etc/passwd", str(target.config), str(target.nonce_path), "/proc/self/environ", "/dev/urandom",
        str(tmp_path / "real.csv"), str(tmp_path), "/no/such/file",
    ]
    answers: set[str] = set()
    for path in paths_tried:
        for kind in ("csv", "parquet", "arrow"):
            for version in (tiercube.__version__, "9.9.9"):  # another tiercube version proves nothing either
                response = raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=read_body(path, kind), version=version)
                message = error(response, 403, "forbidden")
                assert path not in message
                answers.add(message.replace("9.9.9", tiercube.__version__).replace("NoSecuritySession", "RemoteSession"))
        load = raw(target.url, "POST", "/api/v1/tables/sales/load", auth=ADMIN, body={"source": {"type": "arrow", "path": path}})
        error(load, 403, "forbidden")
    # The same answer for a file that exists, one that does not, a directory and a device: no map of the disk.
    assert len(answers) == 1, answers
    assert target.state() == before and target.alive()


def test_the_nonce_is_never_sent(target: Target) -> None:
    nonce = target.nonce_path.read_text()
    for headers in ({}, dict(USER(target.url)), dict(ADMIN(target.url))):
        response = httpx.get(target.url + paths.VERSIONS, headers=headers, timeout=10)
        assert response.status_code == 200 and nonce not in response.text


def test_a_wrong_proof_is_no_proof(target: Target, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n1\n")
    for proof in ("0" * 32, target.proof[paths.SHARE_PROOF_HEADER][:-1], "", "é" * 10):
        headers = {paths.SHARE_PROOF_HEADER: proof} if proof.isascii() else {}
        response = raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=read_body(str(tmp_path / "x.csv")), headers=headers)
        error(response, 403, "forbidden")


def test_with_proof_only_regular_files_outside_the_servers_own_are_read(target: Target, tmp_path: Path) -> None:
    before = target.state()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "to-nonce").symlink_to(target.nonce_path)
    os.link(target.config, tmp_path / "config-link")
    refused = {
        "/dev/urandom": "cannot be loaded",
        "/dev/zero": "cannot be loaded",
        "/proc/self/environ": "cannot be loaded",
        str(fifo): "not a regular file",
        str(tmp_path): "not a regular file",
        str(target.config): "configuration",
        str(target.nonce_path): "configuration",
        str(tmp_path / "to-nonce"): "configuration",  # symlinks are resolved first
        str(tmp_path / "config-link"): "configuration",  # a hard link is the same file
        "relative.csv": "absolute path",
    }
    for path, why in refused.items():
        response = raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=read_body(path), headers=target.proof)
        assert why in error(response, 400, "load"), path
    # FIFOs used to block a worker thread each until the pool was exhausted: now each answers at once.
    results: list[int] = []

    def load_fifo() -> None:
        response = raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=read_body(str(fifo)), headers=target.proof)
        results.append(response.status_code)

    threads = [threading.Thread(target=load_fifo) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [400] * 60
    assert target.state() == before and target.alive()


def test_with_proof_a_regular_file_loads(target: Target, tmp_path: Path) -> None:
    csv = tmp_path / "ok.csv"
    csv.write_text("id,region,qty\n10,EU,1\n")
    response = raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=read_body(str(csv), table="loaded"), headers=target.proof)
    assert response.status_code == 200, response.text
    assert target.admin.tables["loaded"].row_count == 1
    del target.admin.tables["loaded"]


def test_allowed_load_roots_confine_loads(tmp_path: Path) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "a.csv").write_text("x\n1\n")
    (outside / "b.csv").write_text("x\n2\n")
    (inside / "escape.csv").symlink_to(outside / "b.csv")
    config = tiercube.SessionConfig(allowed_load_roots=[str(inside)])
    with tiercube.Session.start(config) as owner:
        assert owner.read_csv(inside / "a.csv", table_name="a").row_count == 1
        for path in (outside / "b.csv", inside / "escape.csv"):
            with pytest.raises(tiercube.LoadError, match="allowed_load_roots"):
                owner.read_csv(path, table_name="b")
        assert list(owner.tables) == ["a"]


# --------------------------------------------------------------------------- 2. inputs that crashed the process


def wide(operator: str, count: int) -> dict[str, Any]:
    comparisons = [{"type": "compare", "column": "qty", "op": "!=", "value": i} for i in range(count)]
    return {"type": operator, "operands": comparisons}


@pytest.mark.parametrize("operator", ["and", "or"])
def test_a_filter_of_ten_thousand_comparisons_is_refused_not_fatal(target: Target, operator: str) -> None:
    before = target.state()
    table = raw(target.url, "POST", "/api/v1/tables/sales/query", auth=USER, body={"filter": wide(operator, 10_000)})
    assert "1000" in error(table, 400, "invalid")
    level = {**wide(operator, 10_000), "operands": [{**c, "column": "region", "value": "x"} for c in wide(operator, 10_000)["operands"]]}
    cube = raw(target.url, "POST", "/api/query/cubes/sales/query", auth=USER, body={"measures": ["qty.SUM"], "filter": level})
    assert "1000" in error(cube, 400, "query")
    assert target.state() == before and target.alive()


def test_an_or_of_equalities_under_the_limit_works_as_one_isin(target: Target) -> None:
    equalities = {"type": "or", "operands": [{"type": "compare", "column": "qty", "op": "==", "value": i} for i in range(900)]}
    response = raw(target.url, "POST", "/api/v1/tables/sales/query", auth=USER, body={"filter": equalities})
    assert response.status_code == 200, response.text
    assert sorted(int(v) for v in pa.ipc.open_stream(response.content).read_all()["id"].to_pylist() if v is not None) == [1, 2, 3, 4]


def test_an_unsecured_server_survives_the_same_from_anyone() -> None:
    """In this process (``tests/in_process.py``): what is at stake is the application's answer."""
    with in_process(tiercube.SessionConfig()) as server, server.client(headers=server.owner) as owner, server.client() as anyone:
        assert owner.post(paths.TABLES, json={"name": "t", "columns": [{"name": "qty", "data_type": "int64"}]}).is_success
        assert owner.post(paths.TABLE_APPEND.format(table="t"), json={"rows": [[1], [2]]}).is_success
        assert owner.post(paths.CUBES, json={"fact_table": "t", "name": "t"}).is_success
        for path in ("/api/v1/tables/t/query", "/api/query/cubes/t/query"):
            body: dict[str, Any] = {"filter": wide("or", 10_000)} if "tables" in path else {"filter": wide("and", 10_000)}
            response = anyone.post(path, json=body, headers=STATED)
            assert response.status_code == 400, response.text
        assert owner.get(paths.TABLE.format(table="t")).json()["row_count"] == 2


@pytest.mark.parametrize(
    ("mdx", "why"),
    [
        ("SELECT " + "{" * 200 + "[Measures].[qty.SUM]" + "}" * 200 + " ON COLUMNS FROM [sales]", "nested"),
        ("SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales] " + "/*" + "x" * 200_000 + "*/", "characters"),
        ("SELECT " + "(" * 5000 + "[Measures].[qty.SUM]" + ")" * 5000 + " ON COLUMNS FROM [sales]", "nested"),
    ],
    ids=["deep_braces", "long", "very_deep_parentheses"],
)
def test_hostile_mdx_is_refused(target: Target, mdx: str, why: str) -> None:
    response = raw(target.url, "POST", "/api/query/mdx", auth=USER, body={"mdx": mdx})
    assert why in error(response, 400, "query")
    assert target.alive()


# --------------------------------------------------------------------------- 3. cloud loads reach only the configured store


class Listener:
    """A TCP port that records whoever connects: where a server-side request forgery would land."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.settimeout(1)
            try:
                self.received += connection.recv(65536)
            except OSError:
                pass
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def test_cloud_loads_never_reach_a_host_the_caller_picks(target: Target) -> None:
    listener = Listener()
    before = target.state()
    try:
        for location in (
            {"uri": f"s3://{BUCKET}/sales.csv", "endpoint": listener.endpoint},
            {"uri": "s3://latest/meta-data/iam/security-credentials/role", "endpoint": "http://169.254.169.254"},
            {"uri": f"s3://{BUCKET}/sales.csv", "store": "elsewhere"},
            {"uri": "file:///etc/passwd"},
        ):
            body = {"table": "ssrf", "source": {"type": "csv", "path": location}}
            message = error(raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=body), 400, "load")
            assert "SERVER-KEY-ID" not in message and "server-secret" not in message
    finally:
        listener.close()
    assert listener.connections == 0 and b"SERVER-KEY-ID" not in listener.received
    assert target.state() == before and target.alive()


def test_a_configured_store_is_read_by_name_or_endpoint(target: Target) -> None:
    s3 = shared_fake_s3()
    s3.put("hostile.csv", b"id,region,qty\n7,EU,1\n")
    for name, location in (("by_name", {"store": "test"}), ("by_endpoint", {"endpoint": s3.endpoint}), ("only_store", {})):
        body = {"table": name, "source": {"type": "csv", "path": {"uri": f"s3://{BUCKET}/hostile.csv", **location}}}
        assert raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=body).status_code == 200
        assert target.admin.tables[name].row_count == 1
        del target.admin.tables[name]


# --------------------------------------------------------------------------- 5. password checks


def test_unknown_users_and_wrong_passwords_get_the_same_answer(target: Target) -> None:
    wrong = raw(target.url, "GET", "/api/v1/tables", auth=tiercube.BasicAuthentication("admin", "wrong"))
    unknown = raw(target.url, "GET", "/api/v1/tables", auth=tiercube.BasicAuthentication("nobody", "wrong"))
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json()) == (401, unknown.json())


def test_an_old_password_never_works_again() -> None:
    admin = tiercube.UserConfig(name="admin", password=ADMIN.password, roles=["ROLE_ADMIN"])
    with tiercube.Session.start(tiercube.SessionConfig(users=[admin], max_failed_logins_per_minute=10_000)) as owner:
        owner.security.create_user("carol", password="old", roles=["ROLE_USER"])
        old = tiercube.BasicAuthentication("carol", "old")
        assert raw(owner.url, "GET", "/api/v1/tables", auth=old).status_code == 200  # verified, so remembered
        stop = threading.Event()

        def keep_trying() -> None:  # checks in flight while the password changes
            while not stop.is_set():
                raw(owner.url, "GET", "/api/v1/tables", auth=old)

        threads = [threading.Thread(target=keep_trying) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        owner.security.set_password("carol", "new")
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join()
        assert {raw(owner.url, "GET", "/api/v1/tables", auth=old).status_code for _ in range(20)} == {401}
        assert raw(owner.url, "GET", "/api/v1/tables", auth=tiercube.BasicAuthentication("carol", "new")).status_code == 200


def test_failed_sign_ins_are_throttled_per_address() -> None:
    config = tiercube.SessionConfig(users=[tiercube.UserConfig(name="admin", password=ADMIN.password, roles=["ROLE_ADMIN"])])
    assert config.max_failed_logins_per_minute == 10  # the documented default
    with tiercube.Session.start(config) as owner:
        assert raw(owner.url, "GET", "/api/v1/tables", auth=ADMIN).status_code == 200  # verified before the attack
        wrong = tiercube.BasicAuthentication("admin", "guess")
        assert [raw(owner.url, "GET", "/api/v1/tables", auth=wrong).status_code for _ in range(10)] == [401] * 10
        throttled = raw(owner.url, "GET", "/api/v1/tables", auth=wrong)
        assert "too many failed sign-ins" in error(throttled, 429, "too_many_attempts")
        assert 0 < int(throttled.headers["retry-after"]) <= 60
        # A caller whose password was already verified is not locked out; the owner never is.
        assert raw(owner.url, "GET", "/api/v1/tables", auth=ADMIN).status_code == 200
        assert owner.tables.schema == {}
        with pytest.raises(tiercube.TooManyAttemptsError):
            tiercube.connect(owner.url, authentication=wrong)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_forwarded_for_header_does_not_move_a_caller_to_another_address(parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn believes X-Forwarded-For from loopback unless told not to: each guess would then count elsewhere.
    monkeypatch.setenv(PARSER_VARIABLE, parser)
    config = tiercube.SessionConfig(
        users=[tiercube.UserConfig(name="admin", password=ADMIN.password, roles=["ROLE_ADMIN"])], max_failed_logins_per_minute=3
    )
    wrong = tiercube.BasicAuthentication("admin", "guess")
    with tiercube.Session.start(config) as owner:
        statuses = [
            raw(owner.url, "GET", "/api/v1/tables", auth=wrong, headers={"x-forwarded-for": f"192.0.2.{i}"}).status_code
            for i in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


def test_wrong_passwords_do_not_stall_other_callers(target: Target) -> None:
    """scrypt runs off the event loop: valid requests go on while eight clients guess passwords."""
    stop = threading.Event()
    guesses = 0

    def guess() -> None:
        nonlocal guesses
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                client.get(target.url + "/api/v1/tables", auth=("admin", f"guess-{guesses}"))
                guesses += 1

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        with httpx.Client(timeout=5, auth=(ADMIN.username, ADMIN.password), headers={"tiercube-client-protocol": "1"}) as valid:
            # Liveness, not speed: each of these would time out if password checks blocked the loop.
            for _ in range(20):
                assert valid.get(target.url + "/api/v1/tables").status_code == 200
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert guesses > 0


# --------------------------------------------------------------------------- 7. inputs that answered 500


def raw_request(url: str, head: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head)
        return connection.recv(65536)


@pytest.mark.parametrize("parser", PARSERS)
def test_non_ascii_bytes_in_a_basic_header_are_a_401(parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARSER_VARIABLE, parser)  # the bytes pass through the parser first
    config = tiercube.SessionConfig(users=[tiercube.UserConfig(name="admin", password=ADMIN.password, roles=["ROLE_ADMIN"])])
    with tiercube.Session.start(config) as owner:
        for credentials in (b"\xff\xfe\xfd", base64.b64encode("admïn:pässword".encode("latin-1")), b"\xc3\xa9t\xc3\xa9"):
            answer = raw_request(owner.url, b"GET /api/v1/tables HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + credentials + b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert raw(owner.url, "GET", "/api/v1/tables", auth=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("condition", "status", "ids"),
    [
        ({"type": "isin", "column": "id", "values": [2**40, 1.5, 3]}, 200, [3]),  # no int32 is 2**40: matches nothing
        ({"type": "isin", "column": "qty", "values": [2**63]}, 400, None),
        ({"type": "compare", "column": "qty", "op": "<", "value": 2**63}, 400, None),
        ({"type": "compare", "column": "qty", "op": ">", "value": -(2**63) - 1}, 400, None),
        ({"type": "compare", "column": "id", "op": "<", "value": 2**40}, 200, [1, 2, 3, 4]),
    ],
    ids=["isin_beyond_int32", "isin_beyond_int64", "compare_beyond_int64", "compare_below_int64", "compare_beyond_int32"],
)
def test_values_beyond_a_columns_type_are_an_answer_not_a_500(target: Target, condition: object, status: int, ids: list[int] | None) -> None:
    response = raw(target.url, "POST", "/api/v1/tables/sales/query", auth=USER, body={"filter": condition})
    assert response.status_code == status, response.text
    if ids is not None:
        assert sorted(int(v) for v in pa.ipc.open_stream(response.content).read_all()["id"].to_pylist() if v is not None) == ids


@pytest.mark.parametrize("encoding", ["rot13", "zlib_codec", "base64_codec", "no-such-codec"])
def test_a_codec_that_is_not_a_text_encoding_is_a_load_error(target: Target, tmp_path: Path, encoding: str) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("id,region,qty\n9,EU,1\n")
    before = target.state()
    body = {"source": {"type": "csv", "path": str(csv), "options": {"encoding": encoding}}}
    response = raw(target.url, "POST", "/api/v1/tables/sales/load", auth=ADMIN, body=body, headers=target.proof)
    assert "encoding" in error(response, 400, "load")
    assert target.state() == before


def test_repeated_column_names_are_a_load_error(target: Target, tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("9,EU,1\n")
    before = target.state()
    options = {"header": False, "column_names": ["id", "id", "qty"]}
    body = {"source": {"type": "csv", "path": str(csv), "options": options}}
    response = raw(target.url, "POST", "/api/v1/tables/sales/load", auth=ADMIN, body=body, headers=target.proof)
    assert "more than once" in error(response, 400, "load")
    same_header = tmp_path / "y.csv"
    same_header.write_text("id,id,qty\n9,9,1\n")
    body = read_body(str(same_header), table="twice")
    assert "more than once" in error(raw(target.url, "POST", "/api/v1/read", auth=ADMIN, body=body, headers=target.proof), 400, "load")
    assert target.state() == before


def test_a_corrupt_arrow_file_is_refused_before_it_replaces_anything(target: Target, tmp_path: Path) -> None:
    good = pa.table({"id": pa.array([20, 21], pa.int32()), "region": ["EU", "US"], "qty": pa.array([1, 2], pa.int64())})
    path = tmp_path / "data.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, good.schema) as writer:
        writer.write_table(good)
    data = bytearray(path.read_bytes())
    # Overwrite the string column's offsets with garbage: the file still opens, its values are nonsense.
    start = data.find(b"EUUS")
    assert start > 0
    data[start - 12 : start] = b"\xff\xff\xff\x7f" * 3
    path.write_bytes(bytes(data))
    before = target.state()
    response = raw(target.url, "POST", "/api/v1/tables/sales/load", auth=ADMIN, body={"source": {"type": "arrow", "path": str(path)}}, headers=target.proof)
    assert response.status_code == 400, response.text
    assert target.state() == before
    assert raw(target.url, "POST", "/api/query/cubes/sales/query", auth=USER, body={"measures": ["qty.SUM"]}).status_code == 200


# --------------------------------------------------------------------------- 8. a malicious server, seen from the client


@pytest.fixture
def malicious(tmp_path: Path) -> Generator[tuple[str, list[str]]]:
    """A server that speaks tiercube's versions document and names any path as its share proof."""
    named: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            document = {
                "protocol_version": 1, "tiercube_version": tiercube.__version__, "security": True, "sdk_exposed": True,
                "caller": {"username": "admin", "roles": ["ROLE_ADMIN"], "share_proof": {"path": named[-1], "sha256": "0" * 64}},
            }
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", named
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_reads_no_device_fifo_or_large_file_a_server_names(malicious: tuple[str, list[str]], tmp_path: Path) -> None:
    url, named = malicious
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    large = tmp_path / "large"
    large.write_bytes(b"0" * 10_000_000)
    for path in ("/dev/zero", "/dev/urandom", str(fifo), str(large), "/proc/self/environ", "/no/such/file"):
        named.append(path)
        outcome: list[tiercube.AnySession] = []
        thread = threading.Thread(target=lambda: outcome.append(tiercube.connect(url, authentication=ADMIN)))
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), f"connect() hung on {path}"
        (session,) = outcome
        assert not session.capabilities.held("d") and type(session) is tiercube.RemoteSession, path
        session.close()
