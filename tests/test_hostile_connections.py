"""Connections held open by callers that do not read: bounded by header_timeout (SECURITY.md, promise 7).

Raw sockets against real servers, under both HTTP parsers, as test_limits.py does.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Generator
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

import tiercube
from tiercube._server.connections import PARSERS
from tiercube._server.main import PARSER_VARIABLE
from tiercube._version import PROTOCOL_VERSION

TIMEOUT = 1.0  # header_timeout of the servers here
MARGIN = 4.0  # what "within the timeout" allows on a busy machine
ROWS = 3_000_000  # 24 MB of answer: more than the kernel's and the transport's buffers hold


@pytest.fixture(scope="module", params=PARSERS)
def server(request: pytest.FixtureRequest) -> Generator[tiercube.Session]:
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(PARSER_VARIABLE, request.param)
        with tiercube.Session.start(tiercube.SessionConfig(header_timeout=TIMEOUT)) as session:
            session.read_arrow(pa.table({"id": pa.array(range(ROWS), pa.int64())}), table_name="big", keys=["id"])
            yield session


def test_a_client_that_never_reads_its_answer_is_cut_off(server: tiercube.Session) -> None:
    """A request sent whole whose answer is never read held its connection and the server's buffers for good."""
    split = urlsplit(server.url)
    body = b"{}"
    with socket.create_connection((split.hostname, split.port), timeout=30) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.sendall(
            f"POST /api/v1/tables/big/query HTTP/1.1\r\nHost: x\r\ntiercube-client-protocol: {PROTOCOL_VERSION}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body
        )
        time.sleep(TIMEOUT + MARGIN)  # not reading: the server's writes stall
        received, ended = 0, False
        try:
            while chunk := connection.recv(1 << 20):
                received += len(chunk)
            ended = True
        except ConnectionResetError:
            ended = True
        except TimeoutError:
            ended = False
    assert ended, f"the connection was still open after {TIMEOUT + MARGIN} s of not reading ({received} bytes came)"
    assert received < ROWS * 8
    assert server.tables["big"].query(max_rows=1).num_rows == 1  # alive, answering others
