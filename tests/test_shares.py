"""Each caller's share of a server, taken by a hostile one over raw sockets (SECURITY.md, promise 16).

A restricted user holding 1,021 explorer event streams made the server answer
503 to the administrator for 15 s. Now event streams and requests under way
are capped per user, connections per address (each address here is its own
loopback address, 127.0.0.x), callers without credentials share one small
pool, and connections past the general limits are reserved for callers who
manage security. Each test checks who is refused (with ``Retry-After``), that
the administrator and the other users are still served, and that the
server's data is as it was.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Generator
from contextlib import ExitStack, contextmanager

import httpx
import msgspec
import pytest

import tiercube
from tests.conftest import ADMIN, serve, write_config
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube._wire.messages import ErrorBody

ALICE = tiercube.BasicAuthentication("alice", "alice-password")
EU = tiercube.BasicAuthentication("eu", "eu-password")
USERS = [
    tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
    tiercube.UserConfig(name=ALICE.username, password=ALICE.password, roles=["ROLE_USER"]),
    tiercube.UserConfig(name=EU.username, password=EU.password, roles=["EUROPE"]),
]
STREAMS = 3  # max_event_streams_per_user
REQUESTS = 4  # max_requests_per_user
PER_ADDRESS = 8  # max_connections_per_address
RESERVED = 2  # reserved_connections
CONNECTIONS = 16  # max_connections
PROXY = "127.0.0.9"  # trusted_proxies of the server without security
PER_CLIENT = STREAMS + 1  # its max_connections_per_address: a client's streams and one request more
ANONYMOUS = STREAMS + 3  # its anonymous_requests: more than one address may take
SHARES = f"""
max_connections = {CONNECTIONS}
reserved_connections = {RESERVED}
max_connections_per_address = {PER_ADDRESS}
max_requests_per_user = {REQUESTS}
max_event_streams_per_user = {STREAMS}
max_failed_logins_per_minute = 10000
"""
STATED = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}

Answer = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Generator[str]:
    """``tiercube serve`` with a sales table and a restricted role: no owner holds connections of its own, so every
    one the server counts is a test's."""
    directory = tmp_path_factory.mktemp("shares")
    (directory / "sales.csv").write_text("id,region,qty\n1,EU,3\n2,US,4\n")
    users = "".join(f'[[users]]\nname = "{user.name}"\npassword = "{user.password}"\nroles = ["{user.roles[0]}"]\n' for user in USERS)
    table = f'[[tables]]\nname = "sales"\npath = "{directory / "sales.csv"}"\nkeys = ["id"]\n'
    with serve(config=write_config(directory, SHARES + users + table)) as served:
        restriction = {"role": "EUROPE", "filter": {"type": "compare", "column": "region", "op": "==", "value": "EU", "table": "sales"}}
        put = httpx.put(served + "/api/v1/security/restrictions/EUROPE", json=restriction, headers={**STATED, **ADMIN(served)})
        assert put.is_success, put.text
        yield served


def state(url: str) -> object:
    """What the server holds, as the admin reads it (on a connection of its own, closed at once)."""
    with httpx.Client(base_url=url, headers={**STATED, **ADMIN(url)}, timeout=30) as client:
        rows = client.post("/api/v1/tables/sales/query", json={}).content
        return client.get("/api/v1/tables").json(), rows, client.get("/api/v1/security/restrictions").json()


@contextmanager
def connection(url: str, source: str) -> Generator[socket.socket]:
    """A connection from the loopback address ``source`` (Linux answers on all of 127.0.0.0/8)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as sock:
        yield sock


def send(sock: socket.socket, url: str, path: str, auth: tiercube.BasicAuthentication | None, *, method: str = "GET", extra: str = "") -> None:
    """A request as the typed client states it (its versions: an administrator then manages security)."""
    headers = {**STATED, **(auth(url) if auth is not None else {})}
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{lines}{extra}\r\n".encode())


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, rest


def read_answer(sock: socket.socket) -> Answer:
    status, headers, body = read_head(sock)
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, f"closed inside the body of a {status}"
        body += chunk
    return status, headers, body


def ask(url: str, source: str, path: str, auth: tiercube.BasicAuthentication | None, *, extra: str = "") -> Answer:
    with connection(url, source) as sock:
        send(sock, url, path, auth, extra=f"Connection: close\r\n{extra}")
        return read_answer(sock)


def refused(answer: Answer, status: int, code: str, names: str) -> None:
    """``answer`` refuses with ``status`` and ``code``, names the setting ``names``, and says when to try again."""
    got, headers, body = answer
    error = msgspec.json.decode(body, type=ErrorBody)
    assert (got, error.code) == (status, code), answer
    assert names in error.message, error.message
    assert int(headers["retry-after"]) >= 1


def open_stream(held: ExitStack, url: str, source: str, auth: tiercube.BasicAuthentication | None, *, extra: str = "") -> Answer | None:
    """An explorer event stream held open until ``held`` closes: None once its first event arrived, else the refusal."""
    with ExitStack() as opened:
        sock = opened.enter_context(connection(url, source))
        send(sock, url, paths.EXPLORER_EVENTS, auth, extra=extra)
        status, headers, rest = read_head(sock)
        if status != 200:  # the refused connection is closed at once: it holds nothing
            while len(rest) < int(headers.get("content-length", "0")):
                rest += sock.recv(65536)
            return status, headers, rest
        while b"data: " not in rest:
            rest += sock.recv(65536)
        held.enter_context(opened.pop_all())
    return None


def stream_refusal(url: str, source: str, auth: tiercube.BasicAuthentication | None) -> Answer:
    """The answer refusing an explorer event stream (the test fails if the stream opens)."""
    with ExitStack() as held:
        answer = open_stream(held, url, source, auth)
        assert answer is not None, f"an event stream was opened from {source}"
        return answer


def test_a_user_holding_event_streams_leaves_the_admin_and_others_served(url: str) -> None:
    """A restricted user held 1,021 event streams and the administrator was answered 503 for 15 s."""
    before = state(url)
    with ExitStack() as held:
        assert [open_stream(held, url, "127.0.0.2", EU) for _ in range(STREAMS)] == [None] * STREAMS
        refused(stream_refusal(url, "127.0.0.2", EU), 429, "too_many_requests", "max_event_streams_per_user")
        assert state(url) == before
        # From another address too: the cap is the user's.
        refused(stream_refusal(url, "127.0.0.3", EU), 429, "too_many_requests", "max_event_streams_per_user")
        assert open_stream(held, url, "127.0.0.2", ADMIN) is None
        assert open_stream(held, url, "127.0.0.2", ALICE) is None
        assert ask(url, "127.0.0.2", "/api/v1/tables", ADMIN)[0] == 200
        assert ask(url, "127.0.0.2", "/api/v1/tables", ALICE)[0] == 200
        # Her other requests still go through, up to her share of requests under way.
        assert ask(url, "127.0.0.2", "/api/v1/tables", EU)[0] == 200
        # A request whose body never comes is under way: with it she holds all she may.
        pending = held.enter_context(connection(url, "127.0.0.2"))
        send(pending, url, "/api/v1/tables/sales/query", EU, method="POST", extra="Content-Length: 100\r\n")
        time.sleep(0.3)  # let the server take it up and wait for its body
        refused(ask(url, "127.0.0.2", "/api/v1/tables", EU), 429, "too_many_requests", "max_requests_per_user")
        # The typed client raises the refusal's class, with when to try again.
        with tiercube.connect(url, authentication=EU, require=tiercube.ReadOnlySession) as session:
            with pytest.raises(tiercube.TooManyRequestsError, match="max_requests_per_user") as caught:
                session.tables.schema
            assert caught.value.retry_after == 1
        assert ask(url, "127.0.0.2", "/api/v1/tables", ALICE)[0] == 200
        assert state(url) == before
    time.sleep(0.5)  # let the server see the streams go: what they held is given back
    with ExitStack() as held:
        assert [open_stream(held, url, "127.0.0.2", EU) for _ in range(STREAMS)] == [None] * STREAMS
    assert state(url) == before


def test_one_address_holding_connections_leaves_the_admin_a_reserve(url: str) -> None:
    before = state(url)
    with ExitStack() as held:
        for _ in range(PER_ADDRESS):
            held.enter_context(connection(url, "127.0.0.4"))
        time.sleep(0.3)  # let the server accept them all
        # Past the address's limit, a connection serves only a caller who manages security.
        with connection(url, "127.0.0.4") as sock:
            send(sock, url, "/api/v1/tables", ADMIN)
            assert read_answer(sock)[0] == 200
        refused(ask(url, "127.0.0.4", "/api/v1/tables", ALICE), 503, "unavailable", "reserved_connections")
        refused(ask(url, "127.0.0.4", "/versions/rest", None), 503, "unavailable", "reserved_connections")
        for _ in range(RESERVED):
            held.enter_context(connection(url, "127.0.0.4"))
        time.sleep(0.3)
        # Past the reserve too: refused as it is accepted, before it says anything.
        with connection(url, "127.0.0.4") as sock:
            refused(read_answer(sock), 429, "too_many_requests", "max_connections_per_address")
        assert ask(url, "127.0.0.5", "/api/v1/tables", ALICE)[0] == 200
        assert state(url) == before
    time.sleep(0.5)
    assert ask(url, "127.0.0.4", "/api/v1/tables", ALICE)[0] == 200


@pytest.fixture(scope="module")
def open_owner() -> Generator[tiercube.Session]:
    """A server without security (every caller but its owner is anonymous) behind a proxy at 127.0.0.9."""
    config = tiercube.SessionConfig(
        max_event_streams_per_user=STREAMS, anonymous_requests=ANONYMOUS, max_connections_per_address=PER_CLIENT, trusted_proxies=[PROXY]
    )
    with tiercube.Session.start(config) as owner:
        owner.create_table("kept", data_types={"id": "int64"}, keys=["id"]).append((1,), (2,))
        yield owner


def test_callers_without_credentials_share_one_small_pool(open_owner: tiercube.Session) -> None:
    """Every caller without credentials shares ``anonymous_requests``; each address of theirs holds its streams."""
    url, before = open_owner.url, open_owner.tables["kept"].query().to_pylist()
    with ExitStack() as held:
        assert [open_stream(held, url, "127.0.0.6", None) for _ in range(STREAMS)] == [None] * STREAMS
        refused(stream_refusal(url, "127.0.0.6", None), 429, "too_many_requests", "max_event_streams_per_user")
        others = ANONYMOUS - STREAMS
        assert [open_stream(held, url, "127.0.0.7", None) for _ in range(others)] == [None] * others
        refused(stream_refusal(url, "127.0.0.8", None), 503, "unavailable", "anonymous_requests")
        refused(ask(url, "127.0.0.8", "/api/v1/tables", None), 503, "unavailable", "anonymous_requests")
        assert ask(url, "127.0.0.8", paths.VERSIONS, None)[0] == 200  # says nothing, costs nothing: not counted
        assert open_owner.tables["kept"].query().to_pylist() == before  # the owner is counted against nothing
    time.sleep(0.5)
    assert ask(url, "127.0.0.8", "/api/v1/tables", None)[0] == 200


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_share(open_owner: tiercube.Session) -> None:
    """The proxy's own connections are not counted per address (it carries everyone); its clients' requests are,
    by the address it forwards."""
    url, before = open_owner.url, open_owner.tables["kept"].query().to_pylist()
    client, other = "X-Forwarded-For: 192.0.2.1\r\n", "X-Forwarded-For: 192.0.2.2\r\n"
    with ExitStack() as held:
        assert [open_stream(held, url, PROXY, None, extra=client) for _ in range(STREAMS)] == [None] * STREAMS
        pending = held.enter_context(connection(url, PROXY))
        send(pending, url, "/api/v1/tables/kept/query", None, method="POST", extra=f"{client}Content-Length: 100\r\n")
        time.sleep(0.3)  # let the server take it up: 192.0.2.1 has PER_CLIENT requests under way
        refused(ask(url, PROXY, "/api/v1/tables", None, extra=client), 429, "too_many_requests", "max_connections_per_address")
        # The proxy holds more connections than an address may, and another client behind it is served.
        assert ask(url, PROXY, "/api/v1/tables", None, extra=other)[0] == 200
        assert open_owner.tables["kept"].query().to_pylist() == before
    time.sleep(0.5)
    assert ask(url, PROXY, "/api/v1/tables", None, extra=client)[0] == 200


def test_when_every_ordinary_connection_is_taken_the_admin_still_gets_in(url: str) -> None:
    before = state(url)
    time.sleep(0.3)  # let the server see the admin's connection go: from here every connection is counted
    with ExitStack() as held:
        for index in range(CONNECTIONS):  # from three addresses, none past its own limit
            held.enter_context(connection(url, f"127.0.1.{index % 3 + 1}"))
        time.sleep(0.5)
        refused(ask(url, "127.0.1.9", "/api/v1/tables", ALICE), 503, "unavailable", "reserved_connections")
        with connection(url, "127.0.1.9") as sock:
            send(sock, url, "/api/v1/tables", ADMIN)
            assert read_answer(sock)[0] == 200
            send(sock, url, "/api/v1/tables", ADMIN)  # and it stays the admin's
            assert read_answer(sock)[0] == 200
            held.enter_context(connection(url, "127.0.1.8"))
            time.sleep(0.3)
            with connection(url, "127.0.1.9") as extra:  # past the reserve: refused at once
                refused(read_answer(extra), 503, "unavailable", "reserved_connections")
    time.sleep(0.5)
    assert ask(url, "127.0.1.9", "/api/v1/tables", ALICE)[0] == 200
    assert state(url) == before
