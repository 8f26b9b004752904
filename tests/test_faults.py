"""Faults a client and an owner meet, injected for real: signals to the server process, memory limits,
files changed under it, full and read-only temporary directories.

Each test starts its own server: most of them freeze, starve or kill it.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tiercube
from tests.test_session_lifecycle import alive
from tiercube._server.app import AnswerUnexpected
from tiercube._server.main import STOP_GRACE
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube._wire.messages import ArrowFileSource, LoadResult, Read
from tiercube._wire.paths import path
from tiercube.errors import ServerTimeoutError, ServerUnavailableError


def server_pid(session: tiercube.Session) -> int:
    return session._server.process.pid  # pyright: ignore[reportPrivateUsage]


@contextmanager
def stopped(pid: int) -> Generator[None]:
    """The process stopped with SIGSTOP for the block, then continued whatever happened."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_stopped_server_fails_calls_after_the_timeout_and_health_says_why() -> None:
    with tiercube.Session.start(timeout=2.0) as owner:
        owner.create_table("t", data_types={"x": "int64"}).append((1,))
        client = tiercube.connect(owner.url, timeout=1.0, require=tiercube.ReadOnlySession)
        assert client.tables["t"].row_count == 1
        assert 0 < client.health() < 1.0
        assert 0 < owner.health() < 1.0
        with stopped(server_pid(owner)):
            started = time.monotonic()
            with pytest.raises(ServerTimeoutError) as timed_out:
                client.tables["t"].row_count
            assert time.monotonic() - started < 5.0
            assert timed_out.value.url == owner.url and timed_out.value.timeout == 1.0
            assert "session.health()" in str(timed_out.value)
            with pytest.raises(ServerTimeoutError):
                client.health(timeout=0.5)
            # The owner sees the process itself: stopped, said at once, with how to resume it.
            started = time.monotonic()
            with pytest.raises(ServerUnavailableError, match=f"is stopped .*kill -CONT {server_pid(owner)}"):
                owner.health()
            assert time.monotonic() - started < 0.5
            with pytest.raises(ServerTimeoutError) as owner_timed_out:
                owner.tables["t"].row_count
            assert owner_timed_out.value.timeout == 2.0
        # Continued, the same sessions work again.
        assert client.health() > 0 and owner.health() > 0
        assert client.tables["t"].row_count == 1 and owner.tables["t"].row_count == 1
        client.close()


def test_the_owner_health_says_an_exited_server_has_exited() -> None:
    with tiercube.Session.start() as owner:
        os.kill(server_pid(owner), signal.SIGKILL)
        owner.wait(10)
        with pytest.raises(ServerUnavailableError, match="has exited with code -9"):
            owner.health()


def test_timeout_none_waits_for_a_server_that_comes_back() -> None:
    with tiercube.Session.start() as owner:
        client = tiercube.connect(owner.url, timeout=None, require=tiercube.ReadOnlySession)
        pid = server_pid(owner)
        os.kill(pid, signal.SIGSTOP)
        # Continued after longer than a short timeout would have allowed.
        continued = time.monotonic() + 1.5
        try:
            while time.monotonic() < continued:
                time.sleep(0.1)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert client.tables.keys() == set()
        client.close()


def _address_space(pid: int) -> int:
    """The process's virtual memory size in bytes (what RLIMIT_AS bounds)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@contextmanager
def address_space_limited(pid: int, room: int) -> Generator[None]:
    """The process may map only ``room`` more bytes for the block (RLIMIT_AS, as ``prlimit --as`` sets it)."""
    before = resource.prlimit(pid, resource.RLIMIT_AS)
    resource.prlimit(pid, resource.RLIMIT_AS, (_address_space(pid) + room, before[1]))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_AS, before)


def test_running_out_of_memory_is_a_503_and_the_connection_stays_usable() -> None:
    rows = 2_000_000
    with tiercube.Session.start() as owner:
        data = pa.table({"id": pa.array(range(rows), pa.int64()), "qty": pa.array([1.5] * rows)})
        cube = owner.create_cube(owner.read_arrow(data, table_name="t", keys=["id"]))
        # The same query on a small table first: the server's thread pools start before the limit, not under it.
        owner.create_cube(owner.read_arrow(data.slice(0, 1000), table_name="warm", keys=["id"])).query("qty.SUM", levels=["id"])
        client = tiercube.connect(owner.url, require=tiercube.ReadOnlySession)
        assert client.tables["t"].row_count == rows
        with address_space_limited(server_pid(owner), 4 << 20):
            # A group by a level with a member per row needs hundreds of megabytes it cannot map.
            with pytest.raises(tiercube.ResourceExhaustedError, match="ran out of memory") as exhausted:
                client.cubes["t"].query("qty.SUM", levels=["id"])
            assert exhausted.value.limit is not None and exhausted.value.limit > 0
            with pytest.raises(tiercube.ResourceExhaustedError):
                cube.query("qty.SUM", levels=["id"])
        # The same sessions, the same connections: the next requests are answered.
        assert client.tables["t"].row_count == rows
        assert cube.query("qty.SUM")["qty.SUM"].to_pylist() == [1.5 * rows]
        assert client.cubes["t"].query("qty.SUM", levels=["id"]).num_rows == rows
        client.close()


def test_the_server_ends_with_its_sigkilled_owner_while_a_client_leaves_a_large_answer_unread() -> None:
    owner_code = """
import json, time, pyarrow as pa, tiercube
session = tiercube.Session.start()
session.read_arrow(pa.table({"id": pa.array(range(3_000_000), pa.int64()), "qty": pa.array([1.5] * 3_000_000)}), table_name="t")
print(json.dumps({"pid": session._server.process.pid, "url": session.url}), flush=True)
time.sleep(600)
"""
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        pid, url = int(started["pid"]), str(started["url"])
        stated = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
        query = path(paths.TABLE_QUERY, table="t")
        with httpx.Client(base_url=url, headers=stated, timeout=30) as client, client.stream("POST", query, json={}) as answer:
            # 48 MB of rows on their way, and this client reads none of them: the server's writes wait on it.
            assert answer.status_code == 200 and int(answer.headers["content-length"]) > 40_000_000
            owner.send_signal(signal.SIGKILL)
            assert owner.wait(timeout=30) == -signal.SIGKILL
            deadline = time.monotonic() + STOP_GRACE + 20
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not alive(pid), f"the server {pid} outlived its SIGKILLed owner while an answer was unread"
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()


@pytest.mark.parametrize("change", ["truncated", "rewritten"])
def test_a_loaded_arrow_file_changed_afterwards_changes_nothing(tmp_path: Path, change: str) -> None:
    rows = 200_000
    arrow_file = tmp_path / "facts.arrow"
    data = pa.table({"id": pa.array(range(rows), pa.int64()), "qty": pa.array([2.0] * rows)})
    with pa.OSFile(str(arrow_file), "wb") as sink, pa.ipc.new_file(sink, data.schema) as writer:
        writer.write_table(data, max_chunksize=10_000)
    with tiercube.Session.start() as owner:
        # The request read_arrow() sends for its transfer file, naming this file instead (as any local caller may).
        owner._connection.json("POST", paths.READ, LoadResult, Read(table="t", source=ArrowFileSource(str(arrow_file))))  # pyright: ignore[reportPrivateUsage]
        table = owner.tables["t"]
        if change == "truncated":
            os.truncate(arrow_file, 0)
        else:
            # Same size, other values, written in place: what a mapping would show.
            with open(arrow_file, "r+b") as file:
                file.write(b"\xff" * arrow_file.stat().st_size)
        assert table.query().equals(data)
        assert owner.create_cube(table).query("qty.SUM")["qty.SUM"].to_pylist() == [2.0 * rows]
        assert owner.health() > 0


def test_a_worker_killed_mid_query_fails_it_with_cluster_error() -> None:
    from distributed import Client, LocalCluster

    rows = 1_000_000
    data = pa.table({"id": pa.array(range(rows), pa.int64()), "qty": pa.array([1.0] * rows)})
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        tiercube.Session.start(cluster=cluster) as session,
    ):
        table = session.read_arrow(data, table_name="fragile", keys=["id"], distributed=True)
        cube = session.create_cube(table)
        victim = (table.partitions or [])[0].worker
        worker_pid = client.run(os.getpid, workers=[victim])[victim]
        failures: list[BaseException] = []
        answered = 0

        def query_until_it_fails() -> None:
            nonlocal answered
            while not failures:
                try:
                    # A different filter each time: no kept grouping answers it, the workers must.
                    cube.query("qty.SUM", levels=["id"], filter=cube.levels["id"] != answered)
                    answered += 1
                except BaseException as error:  # whatever it is, the assertion below shows it
                    failures.append(error)

        querying = threading.Thread(target=query_until_it_fails)
        querying.start()
        while answered < 1 and querying.is_alive():
            time.sleep(0.01)
        time.sleep(0.1)  # well into the next query
        os.kill(worker_pid, signal.SIGKILL)
        querying.join(60)
        assert not querying.is_alive()
        (failure,) = failures
        assert isinstance(failure, tiercube.ClusterError), repr(failure)
        assert failure.table == "fragile" and failure.partition == 0, failure
        assert "table.drop()" in str(failure)


def _ours(kind: str, pid: int) -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob(f"tiercube-{kind}-{pid}-*"))


def test_closing_a_session_removes_its_share_directory_and_lets_go_of_it() -> None:
    session = tiercube.Session.start()
    pid = server_pid(session)
    (share,) = _ours("share", pid)
    assert session.logs_path.parent in _ours("session", os.getpid())
    held = weakref.ref(session._server)  # pyright: ignore[reportPrivateUsage]
    session.close()
    assert not share.exists()
    assert session.logs_path.exists()  # to read after close(): removed when this interpreter exits
    del session
    gc.collect()
    assert held() is None, "something (atexit) still holds the closed session's server"


def test_an_owner_that_exits_leaves_no_directory() -> None:
    owner_code = "import tiercube\ns = tiercube.Session.start()\nprint(s.logs_path.parent, flush=True)\ns.close()\n"
    result = subprocess.run([sys.executable, "-c", owner_code], capture_output=True, text=True, timeout=60, check=True)
    assert not Path(result.stdout.strip()).exists()


def test_directories_left_by_killed_processes_are_removed_at_the_next_start() -> None:
    owner_code = "import time, tiercube\ns = tiercube.Session.start()\nprint(s.logs_path.parent, flush=True)\ntime.sleep(600)\n"
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        left_by_owner = Path(owner.stdout.readline().strip())
        assert left_by_owner.is_dir()
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    assert left_by_owner.exists()
    # A process looks for what dead ones left at its first start: this one may have had it already.
    subprocess.run([sys.executable, "-c", "import tiercube\ntiercube.Session.start().close()\n"], timeout=60, check=True)
    assert not left_by_owner.exists()
    with tiercube.Session.start() as killed:
        pid = server_pid(killed)
        (left_by_server,) = _ours("share", pid)
        os.kill(pid, signal.SIGKILL)
        killed.wait(10)
    assert left_by_server.exists()
    with tiercube.Session.start():
        assert not left_by_server.exists()


def test_an_unusable_temporary_directory_is_a_storage_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "gone"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    with pytest.raises(tiercube.StorageError, match="cannot create a temporary directory .*TMPDIR") as refused:
        tiercube.Session.start()
    assert refused.value.path is not None and refused.value.path.startswith(str(missing))


@contextmanager
def files_limited_to(size: int) -> Generator[None]:
    """This process may write files of ``size`` bytes at most for the block (RLIMIT_FSIZE, ``ulimit -f``).

    Python ignores SIGXFSZ, so a longer write fails with EFBIG, as a full disk fails one with ENOSPC.
    """
    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, before)


def test_a_frame_that_cannot_be_written_for_the_server_is_a_storage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = pa.table({"id": pa.array(range(1_000_000), pa.int64())})
    with tiercube.Session.start() as owner:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        with files_limited_to(1 << 20), pytest.raises(tiercube.StorageError, match="cannot write the pyarrow.Table loaded into table 't' to") as refused:
            owner.read_arrow(data, table_name="t")
        assert refused.value.path is not None and refused.value.path.endswith("data.arrow")
        assert list(tmp_path.iterdir()) == []  # nothing half-written left
        assert "t" not in owner.tables
        assert owner.read_arrow(data, table_name="t").row_count == 1_000_000


def test_tiercube_serve_says_its_temporary_directory_is_unusable_not_that_it_cannot_listen(tmp_path: Path) -> None:
    def no_file_may_grow() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))

    result = subprocess.run(
        [sys.executable, "-m", "tiercube", "serve", "--log-file", str(tmp_path / "server.log")],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=no_file_may_grow,
    )
    assert result.returncode == 2, result.stderr
    assert "tiercube serve: cannot create a temporary directory" in result.stderr
    assert "TMPDIR" in result.stderr and "cannot listen" not in result.stderr


def test_a_500_answers_and_leaves_the_connection_open() -> None:
    async def bug(request: Request) -> Response:
        raise RuntimeError("a bug in a route")

    async def fine(request: Request) -> Response:
        return Response(b"fine")

    # The server's own error handling (app.py) around routes of its own: one with a bug in it.
    app = Starlette(routes=[Route("/bug", bug), Route("/fine", fine)], middleware=[Middleware(AnswerUnexpected)])
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    serving = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    serving.start()
    try:
        while not server.started:
            time.sleep(0.01)
        with socket.create_connection(sock.getsockname(), timeout=10) as connection:
            reader = connection.makefile("rb")
            answers: list[tuple[bytes, bytes]] = []
            for target in ("/bug", "/fine"):  # one connection, two requests
                connection.sendall(f"GET {target} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
                head = [reader.readline()]
                while head[-1] not in (b"\r\n", b""):
                    head.append(reader.readline())
                length = next(int(line.split(b":")[1]) for line in head if line.lower().startswith(b"content-length"))
                answers.append((head[0].split()[1], reader.read(length)))
        assert answers[0][0] == b"500" and b"internal error (RuntimeError)" in answers[0][1]
        assert answers[1] == (b"200", b"fine")
    finally:
        server.should_exit = True
        serving.join(10)
