"""Hostile connections against real servers, over raw sockets: slow, many, large.

Nothing here needs credentials, which is the point: every limit holds before
a caller is known. Each test ends by checking that the server still answers;
the last one checks that the data loaded before all of it is still there.
Every test runs against both HTTP parsers the server can use (httptools, its
default, and h11), since the limits must not depend on one parser's own.
"""

from __future__ import annotations

import select
import socket
import sys
import time
from collections.abc import Generator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest

import tiercube
from tests.conftest import serve, write_config
from tiercube._server.connections import PARSERS
from tiercube._server.main import PARSER_VARIABLE
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire.messages import ErrorBody

TIMEOUT = 1.0  # header_timeout of the servers here
MARGIN = 4.0  # what "closed within the timeout" allows on a busy machine
MAX_BYTES = 1024 * 1024
MAX_HEAD = 4096
LIMITED = tiercube.SessionConfig(
    header_timeout=TIMEOUT, max_connections=20, max_request_bytes=MAX_BYTES, max_header_bytes=MAX_HEAD
)
ROWS = [(i, f"row {i}") for i in range(100)]
# Anonymous callers of an unsecured server that speak the protocol may query tables:
# that is a route which reads its body, reachable without credentials.
QUERY = f"/api/v1/tables/kept/query HTTP/1.1\r\nHost: x\r\ntiercube-client-protocol: {PROTOCOL_VERSION}\r\n"

Answer = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module", params=PARSERS)
def parser(request: pytest.FixtureRequest) -> Generator[str]:
    """The HTTP parser of the servers started while it is in use (they inherit our environment)."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(PARSER_VARIABLE, request.param)
        yield request.param


@pytest.fixture(scope="module")
def limited(parser: str) -> Generator[tiercube.Session]:
    with tiercube.Session.start(LIMITED) as session:
        session.create_table("kept", keys=["id"], data_types={"id": "int64", "text": "string"}).append(*ROWS)
        assert f"(security off, {parser})" in session.logs_path.read_text()  # the parser under test
        yield session


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@contextmanager
def connection(url: str) -> Generator[socket.socket]:
    with socket.create_connection(address(url), timeout=10) as sock:
        yield sock


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers


def read_answer(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, headers = parse_head(head)
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, f"closed inside the body of a {status}"
        body += chunk
    return status, headers, body


def answers_until_closed(sock: socket.socket) -> list[Answer]:
    """Every answer the server sends before it hangs up (within ``MARGIN``), in order."""
    sock.settimeout(MARGIN)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    answers: list[Answer] = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        length = int(headers.get("content-length", "0"))
        answers.append((status, headers, data[:length]))
        data = data[length:]
    return answers


def error_of(answer: Answer) -> ErrorBody:
    _, headers, body = answer
    assert headers["content-type"] == "application/json", answer
    return msgspec.json.decode(body, type=ErrorBody)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server hangs up within ``seconds`` (anything it still sends is dropped)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    return False


def trickle(sock: socket.socket, data: bytes, every: float = 0.25) -> tuple[float, bytes]:
    """Send ``data`` a byte at a time until the server hangs up: how long that took, and its answer."""
    started = time.monotonic()
    answer = b""
    for byte in data:
        assert time.monotonic() - started < TIMEOUT + MARGIN, "the server let a trickling connection live on"
        try:
            sock.send(bytes([byte]))
            readable, _, _ = select.select([sock], [], [], every)
            chunk = sock.recv(65536) if readable else None
        except (BrokenPipeError, ConnectionResetError):
            break
        if chunk == b"":
            break
        answer += chunk or b""
    else:
        raise AssertionError("ran out of bytes to trickle")
    return time.monotonic() - started, answer


def get_versions(url: str) -> Answer:
    with connection(url) as sock:
        sock.sendall(b"GET /versions/rest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_answer(sock)


def assert_serves(url: str) -> None:
    status, _, body = get_versions(url)
    assert status == 200, body


def test_slowloris_on_a_new_connection_is_closed(limited: tiercube.Session) -> None:
    with connection(limited.url) as sock:
        elapsed, answer = trickle(sock, b"GET /versions/rest HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000)
    assert answer == b""
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + MARGIN
    assert_serves(limited.url)


def test_slowloris_on_a_kept_alive_connection_is_closed(limited: tiercube.Session) -> None:
    with connection(limited.url) as sock:
        for _ in range(2):  # kept alive: a second request on the same connection is served
            sock.sendall(b"GET /versions/rest HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock)[0] == 200
        elapsed, answer = trickle(sock, b"GET /versions/rest HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000)
    assert answer == b""
    assert elapsed < TIMEOUT + MARGIN
    assert_serves(limited.url)


def test_idle_connection_is_closed(limited: tiercube.Session) -> None:
    with connection(limited.url) as sock:
        assert closed_within(sock, TIMEOUT + MARGIN)
    assert_serves(limited.url)


def test_body_that_stalls_is_answered_408(limited: tiercube.Session) -> None:
    with connection(limited.url) as sock:
        sock.sendall(f"POST {QUERY}Content-Length: 1000\r\n\r\n{{}}".encode())
        started = time.monotonic()
        answer = read_answer(sock)
        assert time.monotonic() - started < TIMEOUT + MARGIN
        assert answer[0] == 408
        error = error_of(answer)
        assert error.code == tiercube.errors.BodyTooSlowError.code and "header_timeout" in error.message
        assert closed_within(sock, MARGIN)
    assert_serves(limited.url)


def test_body_that_trickles_is_answered_408(limited: tiercube.Session) -> None:
    # A byte every half timeout never pauses long enough for the timeout: its pace is what is refused.
    with connection(limited.url) as sock:
        sock.sendall(f"POST {QUERY}Transfer-Encoding: chunked\r\n\r\n".encode())
        elapsed, answer = trickle(sock, b"1\r\n \r\n" * 1000, every=TIMEOUT / 2 / 6)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert elapsed < TIMEOUT + MARGIN
    assert_serves(limited.url)


def test_content_length_over_the_limit_is_refused_before_the_body(limited: tiercube.Session) -> None:
    with connection(limited.url) as sock:
        sock.sendall(f"POST {QUERY}Content-Type: application/json\r\nContent-Length: {MAX_BYTES + 1}\r\n\r\n".encode())
        answer = read_answer(sock)  # the body is never sent
        assert answer[0] == 413
        error = error_of(answer)
        assert error.code == tiercube.RequestTooLargeError.code and error.details == {"limit": MAX_BYTES}
        assert str(MAX_BYTES) in error.message and "max_request_bytes" in error.message
        assert closed_within(sock, MARGIN)
    assert_serves(limited.url)


def test_chunked_body_over_the_limit_is_refused(limited: tiercube.Session) -> None:
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    with connection(limited.url) as sock:
        sock.sendall(f"POST {QUERY}Transfer-Encoding: chunked\r\n\r\n".encode())
        for _ in range(4 * MAX_BYTES // (64 * 1024)):
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], 0)[0]:
                break  # answered: stop sending, as a client would
        answer = read_answer(sock)
        assert answer[0] == 413
        error = error_of(answer)
        assert error.code == tiercube.RequestTooLargeError.code and "max_request_bytes" in error.message
        assert error.details == {"limit": MAX_BYTES}
        assert answer[1]["connection"] == "close"
        assert closed_within(sock, MARGIN)
    assert_serves(limited.url)


@pytest.mark.parametrize("chunked", [False, True])
def test_body_exactly_at_the_limit_is_accepted(limited: tiercube.Session, chunked: bool) -> None:
    body = b"{}".ljust(MAX_BYTES)  # msgspec allows trailing whitespace
    with connection(limited.url) as sock:
        if chunked:
            sock.sendall(f"POST {QUERY}Transfer-Encoding: chunked\r\n\r\n".encode())
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        else:
            sock.sendall(f"POST {QUERY}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status, headers, answer = read_answer(sock)
    assert status == 200, answer
    assert headers["content-type"] == "application/vnd.apache.arrow.stream"


def test_head_over_the_limit_is_answered_431(limited: tiercube.Session) -> None:
    big = b"GET /versions/rest HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n"
    for pieces in ([big], [big[:1000], big[1000:3000], big[3000:]]):  # whole, or growing past it
        with connection(limited.url) as sock:
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(0.05)
            answer = read_answer(sock)
            assert answer[0] == 431
            error = error_of(answer)
            assert error.code == tiercube.RequestTooLargeError.code and error.details == {"limit": MAX_HEAD}
            assert str(MAX_HEAD) in error.message and "max_header_bytes" in error.message
            assert closed_within(sock, MARGIN)
    assert_serves(limited.url)


def test_the_client_learns_the_limit_it_went_over(limited: tiercube.Session) -> None:
    with pytest.raises(tiercube.RequestTooLargeError) as raised:
        limited.tables["kept"].append(*((i, "x" * 1000) for i in range(MAX_BYTES // 1000)))
    assert raised.value.limit == MAX_BYTES
    assert limited.tables["kept"].row_count == len(ROWS)


def test_head_pipelined_behind_a_request_is_measured_once_parsed(limited: tiercube.Session) -> None:
    # Both heads arrive in one read: the first is answered, the second (over the limit) refused in turn.
    first = b"GET /versions/rest HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /versions/rest HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n"
    with connection(limited.url) as sock:
        sock.sendall(first + second)
        answers = answers_until_closed(sock)  # the server hangs up after the second
    assert [status for status, _, _ in answers] == [200, 431], answers
    error = error_of(answers[1])
    assert error.code == tiercube.RequestTooLargeError.code and "max_header_bytes" in error.message and error.details["limit"] == MAX_HEAD
    assert answers[1][1]["connection"] == "close"
    assert_serves(limited.url)


def test_head_just_under_the_limit_is_served(limited: tiercube.Session) -> None:
    head = b"GET /versions/rest HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
    with connection(limited.url) as sock:
        sock.sendall(head + b"a" * (MAX_HEAD - len(head) - 4) + b"\r\n\r\n")  # exactly MAX_HEAD bytes
        assert read_answer(sock)[0] == 200


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_open_file_limit_is_raised_to_the_hard_limit(limited: tiercube.Session) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # the server inherits ours
    assert f"open files: soft limit {hard} " in limited.logs_path.read_text()


def test_connections_past_the_limit_are_answered_503(parser: str, tmp_path: Path) -> None:
    # `tiercube serve`: no owner holds a connection of its own, so every one is ours.
    config = write_config(tmp_path, "max_connections = 20\nreserved_connections = 2\nheader_timeout = 30.0\n")
    with serve(config=config) as url, ExitStack() as held:
        idle = [held.enter_context(connection(url)) for _ in range(20)]
        time.sleep(0.5)  # let the server accept them all
        assert not select.select(idle, [], [], 0)[0], "an idle connection under the limit was answered"
        # Two more are accepted, kept for callers who manage security: anyone else is answered 503 on them.
        reserved = [held.enter_context(connection(url)) for _ in range(2)]
        time.sleep(0.5)
        assert not select.select(reserved, [], [], 0)[0], "a reserved connection was answered before it asked"
        with connection(url) as extra:
            answer = read_answer(extra)
            assert answer[0] == 503 and answer[1]["retry-after"] == "1"
            error = error_of(answer)
            assert error.code == tiercube.ServerUnavailableError.code
            assert "22 connections" in error.message and "max_connections" in error.message
            assert closed_within(extra, MARGIN)
        reserved[0].sendall(b"GET /versions/rest HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_answer(reserved[0])
        assert answer[0] == 503 and answer[1]["retry-after"] == "1" and answer[1]["connection"] == "close"
        assert "reserved_connections" in error_of(answer).message
        held.close()
        time.sleep(0.5)  # let the server see them go
        assert_serves(url)


def test_a_limit_of_zero_is_refused_at_once() -> None:
    with pytest.raises(tiercube.InvalidRequestError, match="header_timeout must be positive"):
        tiercube.SessionConfig(header_timeout=0)


def test_the_server_and_its_data_survive(limited: tiercube.Session) -> None:
    assert_serves(limited.url)
    assert limited.tables["kept"].row_count == len(ROWS)
    assert limited.tables["kept"].query()["text"].to_pylist() == [text for _, text in ROWS]
