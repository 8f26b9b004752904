"""Work a reader can make the server do: bounded, whatever the request holds (SECURITY.md, promise 4).

Sent as an attacker would, over raw HTTP, by a ReadOnly user or an anonymous
caller. Each test measures what the server spent (its CPU time and resident
memory, read from /proc: wall times on a shared 2-core runner measure the
runner) and ends with the server alive and its data unchanged.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED_TOML, USER
from tests.tiers import Server, raw, start_server
from tiercube._server.engine.cubes.cost import MAX_MEASURE_CONTEXTS, MAX_MEASURE_DEPTH
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths
from tiercube._wire.cubes import MAX_MDX_CHARACTERS

TIMEOUT = 5.0  # the server's query_timeout


@dataclass
class Target:
    server: Server
    url: str
    admin: tiercube.LocalSession

    def state(self) -> object:
        tables = self.admin.tables.schema
        rows = {name: self.admin.tables[name].query().to_pylist() for name in tables}
        return {name: repr(schema) for name, schema in tables.items()}, rows, sorted(self.admin.cubes)

    def alive(self) -> bool:
        return self.server.process.poll() is None and httpx.get(self.url + paths.VERSIONS, timeout=10).status_code == 200

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far, all its threads."""
        fields = open(f"/proc/{self.server.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def resident(self) -> int:
        """The server process's resident memory, bytes."""
        for line in open(f"/proc/{self.server.process.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Generator[Target]:
    server = start_server(tmp_path_factory.mktemp("readers"), config=f"query_timeout = {TIMEOUT}\n" + SECURED_TOML)
    try:
        with tiercube.connect(server.url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
            types: dict[str, tiercube.DataType] = {"id": "int64", "region": "string", "qty": "int64", "price": "float64", "day": "date"}
            sales = admin.create_table("sales", data_types=types, keys=["id"])
            sales.append((1, "EU", 3, 1.5, "2024-01-01"), (2, "US", 4, 2.0, "2024-01-02"), (3, "EU", 5, None, "2024-01-03"))
            admin.create_cube(sales)
            yield Target(server, server.url, admin)
    finally:
        server.stop()


def query_table(target: Target, body: dict[str, Any]) -> httpx.Response:
    return raw(target.url, "POST", "/api/v1/tables/sales/query", auth=USER, body=body)


def query_cube(target: Target, body: dict[str, Any]) -> httpx.Response:
    return raw(target.url, "POST", "/api/query/cubes/sales/query", auth=USER, body=body)


def isin(column: str, values: list[Any]) -> dict[str, Any]:
    return {"type": "isin", "column": column, "values": values}


# --------------------------------------------------------------------------- isin values


@pytest.mark.parametrize("column", ["region", "qty", "price"])
def test_a_million_isin_values_are_converted_at_once(target: Target, column: str) -> None:
    """Text and numbers are converted by Arrow in one call: once 40 s of CPU per request, value by value."""
    values: list[Any] = [f"v{i}" for i in range(1_000_000)] if column == "region" else list(range(1_000_000))
    before, cpu = target.state(), target.cpu_seconds()
    for response in (
        query_table(target, {"filter": isin(column, values)}),
        # A cube is filtered by its levels: region is one, the numbers are measures.
        query_cube(target, {"levels": ["region"], "measures": ["contributors.COUNT"], "filter": isin("region", [f"v{i}" for i in range(1_000_000)])}),
    ):
        assert response.status_code == 200 or response.json()["code"] == "query_timeout", response.text
    assert target.cpu_seconds() - cpu < 8, "two queries of a million isin values took more than 8 s of the server's CPU"
    assert target.state() == before and target.alive()


def test_isin_values_read_one_by_one_stop_at_the_timeout(target: Target) -> None:
    """Dates are read value by value, with the query's deadline checked between slices."""
    values = [f"{2000 + i % 900:04d}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(1_000_000)]
    cpu = target.cpu_seconds()
    response = query_table(target, {"filter": isin("day", values)})
    spent = target.cpu_seconds() - cpu
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["code"] == "query_timeout" and "isin" in response.json()["message"]
    assert spent < 3 * TIMEOUT + 2, f"{spent:.1f} s of CPU for a query whose timeout is {TIMEOUT} s"
    assert target.alive()


@pytest.mark.parametrize("column", ["qty", "price", "region"])
def test_isin_values_of_the_wrong_kind_are_named(target: Target, column: str) -> None:
    wrong: Any = "text" if column != "region" else 7
    values: list[Any] = [*([1] * 500_000 if column != "region" else ["a"] * 500_000), True, wrong]
    response = query_table(target, {"filter": isin(column, values)})
    assert response.status_code == 400 and response.json()["code"] == "invalid", response.text
    assert "True" in response.json()["message"] or repr(wrong) in response.json()["message"]


def test_isin_keeps_its_meaning_when_converted_at_once(target: Target) -> None:
    """Whole numbers match an int column as floats too; values no int64 holds, and NaN, match nothing."""
    cases: list[tuple[str, list[Any], list[int]]] = [
        ("qty", [3.0, 4.5, 2.0**63, -(2.0**64)], [1]),
        ("qty", [5, None], [3]),
        ("price", [1.5, 2, 3], [1, 2]),
        ("region", ["EU"], [1, 3]),
        ("qty", [], []),
    ]
    for column, values, ids in cases:
        response = query_table(target, {"filter": isin(column, values), "columns": ["id"]})
        assert response.status_code == 200, (column, values, response.text)
        found = pa.ipc.open_stream(response.content).read_all()
        assert sorted(int(i) for i in found["id"].to_pylist() if i is not None) == ids, (column, values)


def test_numbers_beyond_any_float_are_a_400(target: Target) -> None:
    """Once an OverflowError and a 500: ``price < 10**400``."""
    big = "1" + "0" * 400
    leaves = [
        f'{{"type": "compare", "column": "price", "op": "<", "value": {big}}}',
        f'{{"type": "isin", "column": "price", "values": [1.5, {big}]}}',
        f'{{"type": "compare", "column": "qty", "op": "<", "value": -{big}}}',
    ]
    for leaf in leaves:
        body = f'{{"filter": {leaf}, "max_rows": 9223372036854775807}}'
        response = httpx.post(target.url + "/api/v1/tables/sales/query", content=body, headers=_headers(target), timeout=30)
        assert response.status_code == 400 and response.json()["code"] == "invalid", response.text
    assert target.alive()


def _headers(target: Target) -> dict[str, str]:
    return {
        paths.CLIENT_VERSION_HEADER: tiercube.__version__,
        paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION),
        "content-type": "application/json",
        **dict(USER(target.url)),
    }


# --------------------------------------------------------------------------- kept answers


def test_kept_answers_keep_a_digest_of_the_query_and_count_it(target: Target) -> None:
    """16 queries with a 20 MB isin once grew the server by 325 MB for good, while stats said 304 bytes."""
    def stats() -> dict[str, Any]:
        response = raw(target.url, "GET", paths.STATS, auth=ADMIN)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ask(round: int) -> None:
        values = [f"{round:02d}-{i:017d}" for i in range(999_999)]  # 20 MB of JSON, a new query each round
        response = query_cube(target, {"levels": ["region"], "measures": ["contributors.COUNT"], "filter": isin("region", [*values, "EU"])})
        assert response.status_code == 200 or response.json()["code"] == "query_timeout", response.text

    ask(0)  # the server's steady state: a request this large decoded once
    before, kept = target.resident(), stats()["kept_answers"]
    for round in range(1, 17):
        ask(round)
    after = stats()
    assert after["kept_answers"] <= kept + 16
    assert after["kept_answer_bytes"] >= 1024 * (after["kept_answers"] - kept), "a kept answer is counted with its key"
    grown = target.resident() - before
    assert grown < 100 * 1024 * 1024, f"the server grew by {grown / 2**20:.0f} MiB and kept it"
    assert target.alive()


# --------------------------------------------------------------------------- measure graphs


def test_a_chain_of_doubled_measures_answers_at_once(target: Target) -> None:
    """``m_k = m_(k-1) + m_(k-1)`` to depth 40: 2^40 references once walked without memo or deadline."""
    cube = target.admin.cubes["sales"]
    before = target.state()
    cube.measures["chain_0"] = cube.measures["qty.SUM"]
    for k in range(1, 41):
        cube.measures[f"chain_{k}"] = cube.measures[f"chain_{k - 1}"] + cube.measures[f"chain_{k - 1}"]
    try:
        cpu = target.cpu_seconds()
        response = query_cube(target, {"levels": ["region"], "measures": ["chain_40"]})
        assert response.status_code == 200, response.text
        assert target.cpu_seconds() - cpu < 2
        with tiercube.connect(target.url, authentication=USER, require=tiercube.ReadOnlySession) as user:
            answer = user.cubes["sales"].query("chain_40", levels=["region"])
        assert dict(zip(answer["region"].to_pylist(), answer["chain_40"].to_pylist())) == {"EU": 8 * 2**40, "US": 4 * 2**40}
    finally:
        for k in range(40, -1, -1):
            del cube.measures[f"chain_{k}"]
    assert target.state() == before and target.alive()


def test_a_measure_costing_more_than_memo_can_save_is_refused_when_set(target: Target) -> None:
    """``m_k = m_(k-1)[region == c_k] + m_(k-1)``: 2^k filter contexts, memo or not; refused, naming the measure."""
    cube = target.admin.cubes["sales"]
    region = cube.levels["region"]
    cube.measures["filtered_0"] = cube.measures["qty.SUM"]
    names = ["filtered_0"]
    try:
        with pytest.raises(tiercube.InvalidRequestError, match=f"more than {MAX_MEASURE_CONTEXTS} different combinations of filters") as refused:
            for k in range(1, 30):
                previous = cube.measures[f"filtered_{k - 1}"]
                cube.measures[f"filtered_{k}"] = tiercube.filtered(previous, region != f"c{k}") + previous
                names.append(f"filtered_{k}")
        assert f"filtered_{len(names)}" in str(refused.value)
        response = query_cube(target, {"levels": ["region"], "measures": [names[-1]]})
        assert response.status_code == 200, response.text
    finally:
        for name in reversed(names):
            del cube.measures[name]
    assert target.alive()


def test_measures_nested_past_the_depth_bound_are_refused_when_set(target: Target) -> None:
    cube = target.admin.cubes["sales"]
    names: list[str] = []
    try:
        with pytest.raises(tiercube.InvalidRequestError, match=f"deep through the measures it uses, over the limit of {MAX_MEASURE_DEPTH}"):
            for k in range(MAX_MEASURE_DEPTH + 1):
                cube.measures[f"deep_{k}"] = (cube.measures[f"deep_{k - 1}"] if k else cube.measures["qty.SUM"]) + 1
                names.append(f"deep_{k}")
        assert len(names) > MAX_MEASURE_DEPTH // 4
    finally:
        for name in reversed(names):
            del cube.measures[name]
    assert target.alive()


# --------------------------------------------------------------------------- MDX bodies


def _post_head(target: Target, path: str, headers: str) -> socket.socket:
    split = urlsplit(target.url)
    connection = socket.create_connection((split.hostname, split.port), timeout=30)
    credentials = "".join(f"{name}: {value}\r\n" for name, value in dict(USER(target.url)).items())
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\n{paths.CLIENT_PROTOCOL_HEADER}: {PROTOCOL_VERSION}\r\n"
        f"{paths.CLIENT_VERSION_HEADER}: {tiercube.__version__}\r\n{credentials}content-type: application/json\r\n{headers}\r\n".encode()
    )
    return connection


def _answer(connection: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_an_mdx_body_past_its_own_cap_is_refused_before_it_is_read(target: Target) -> None:
    """A 160 MB MDX body was buffered to the 100 MiB limit before the 413 (MDX is at most 100,000 characters)."""
    declared = 160 * 1024 * 1024
    with _post_head(target, paths.QUERY_MDX, f"content-length: {declared}\r\n") as connection:
        connection.sendall(b'{"mdx": "' + b" " * 65536)
        answer = _answer(connection)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()
    # Without a Content-Length, the body is counted as it comes and refused past the cap.
    with _post_head(target, paths.QUERY_MDX, "transfer-encoding: chunked\r\n") as connection:
        chunk = b" " * 65536
        sent = 0
        try:
            while sent < 20 * 1024 * 1024:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = _answer(connection)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20 * 1024 * 1024
    # A query of the most characters an MDX query may have is still read, and answered.
    mdx = "SELECT {[Measures].[contributors.COUNT]} ON COLUMNS FROM [sales]" + " " * (MAX_MDX_CHARACTERS - 80)
    response = raw(target.url, "POST", paths.QUERY_MDX, auth=USER, body={"mdx": mdx})
    assert response.status_code == 200, response.text
    assert target.alive()
