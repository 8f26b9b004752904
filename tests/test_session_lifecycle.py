"""The owner session's lifecycle, on real server processes.

The server is a child process of the owner and must never outlive it: ``close()``,
leaving a ``with`` block, normal interpreter exit and SIGKILL of the owner all end it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import tiercube

from tests.conftest import ADMIN, SECURED, python_subprocess

# How long a server may take to notice its owner is gone and shut down. Generous on
# purpose: this bounds a wait, it is not a timing assertion.
GONE_WITHIN = 30.0

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="watches processes through /proc")


def server_pid(session: tiercube.Session) -> int:
    """The server's process id, as uvicorn logs it when it starts."""
    found = re.search(r"Started server process \[(\d+)\]", session.logs_path.read_text())
    assert found is not None, session.logs_path.read_text()
    return int(found[1])


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped) does not."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def parent_of(pid: int) -> int:
    fields = _stat(pid)
    assert fields is not None, f"no process {pid}"
    return int(fields[1])


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid and alive(int(entry.name)):
                found.add(int(entry.name))
    return found


def gone(pid: int, timeout: float = GONE_WITHIN) -> bool:
    """Whether process ``pid`` ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def assert_unreachable(url: str) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/versions/rest", timeout=5)
    with pytest.raises(tiercube.ServerUnavailableError, match="cannot reach"):
        tiercube.connect(url)


def test_start_gives_a_running_server_with_url_port_and_log() -> None:
    session = tiercube.Session.start()
    try:
        assert session.url == f"http://127.0.0.1:{session.port}"
        assert 0 < session.port < 65536
        answer = httpx.get(f"{session.url}/versions/rest", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["tiercube_version"] == tiercube.__version__
        # The server is a child of this process, and writes its log where logs_path says.
        assert isinstance(session.logs_path, Path)
        assert parent_of(server_pid(session)) == os.getpid()
        assert f"ready at {session.url}" in session.logs_path.read_text()
        assert list(session.tables) == []
        assert repr(session) == f"<Session {session.url}>"
    finally:
        session.close()


def test_a_session_started_on_a_port_keeps_its_link_across_restarts() -> None:
    with tiercube.Session.start() as first:
        port = first.port  # a port that was free a moment ago
    with tiercube.Session.start(port=port) as again:
        link = again.link
        assert link == f"http://127.0.0.1:{port}/"
        with pytest.raises(tiercube.errors.ServerStartError, match="(?i)address already in use"):
            tiercube.Session.start(port=port)  # taken: said so, with the server's log
    with tiercube.Session.start(host="127.0.0.1", port=port) as restarted:
        assert restarted.link == link
        assert httpx.get(restarted.link, timeout=10, follow_redirects=False).status_code in (303, 200)


def test_close_stops_the_server_and_the_session() -> None:
    session = tiercube.Session.start()
    session.create_table("kept_nowhere", data_types={"x": "int64"}).append((1,))
    pid = server_pid(session)
    url = session.url
    session.close()
    assert gone(pid)
    assert_unreachable(url)
    # The closed owner itself says so with tiercube's error, not a transport library's.
    with pytest.raises(tiercube.ServerUnavailableError):
        list(session.tables)
    assert repr(session).endswith("(closed)>")
    session.close()  # a second close is harmless


def test_the_log_survives_the_server_and_records_its_stop() -> None:
    session = tiercube.Session.start()
    url, logs_path = session.url, session.logs_path
    with pytest.raises(tiercube.NotFoundError):
        session.tables["no_such_table"].row_count
    session.close()
    log = logs_path.read_text()
    assert "no_such_table" in log
    assert f"session server at {url} stopped" in log


def test_leaving_a_with_block_stops_the_server() -> None:
    with tiercube.Session.start() as session:
        pid = server_pid(session)
        url = session.url
        assert httpx.get(f"{url}/versions/rest", timeout=10).status_code == 200
    assert gone(pid)
    assert_unreachable(url)


def test_leaving_a_with_block_by_an_exception_stops_the_server() -> None:
    pid = 0
    url = ""
    with pytest.raises(RuntimeError, match="boom"), tiercube.Session.start() as session:
        pid = server_pid(session)
        url = session.url
        raise RuntimeError("boom")
    assert gone(pid)
    assert_unreachable(url)


def test_wait_blocks_until_the_server_stops() -> None:
    with tiercube.Session.start() as session:
        pid = server_pid(session)
        # While the server runs, wait() with a timeout returns and the server keeps serving.
        session.wait(timeout=0.2)
        assert alive(pid)
        assert httpx.get(f"{session.url}/versions/rest", timeout=10).status_code == 200
        # Once something stops the server, wait() returns on its own.
        os.kill(pid, signal.SIGTERM)
        session.wait(timeout=GONE_WITHIN)
        assert gone(pid, timeout=0)
        with pytest.raises(tiercube.ServerUnavailableError):
            list(session.tables)
    # Closing after the server already stopped is fine.


def test_two_sessions_are_independent() -> None:
    with tiercube.Session.start() as first, tiercube.Session.start() as second:
        assert first.port != second.port
        first.create_table("only_in_first", data_types={"x": "int64"})
        assert "only_in_first" in first.tables
        assert "only_in_first" not in second.tables
        first_pid = server_pid(first)
        first.close()
        assert gone(first_pid)
        assert list(second.tables) == []  # the other server is unaffected


def test_the_server_ends_when_its_owner_is_killed_with_sigkill() -> None:
    owner_code = """
import json, sys, time, psutil, tiercube
session = tiercube.Session.start()
session.create_table("orphan", data_types={"x": "int64"}).append((1,))
(server,) = psutil.Process().children()
print(json.dumps({"pid": server.pid, "url": session.url}), flush=True)
time.sleep(600)
"""
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        pid, url = int(started["pid"]), str(started["url"])
        assert parent_of(pid) == owner.pid
        # The server answers while its owner lives...
        with tiercube.connect(url) as reader:
            assert isinstance(reader, tiercube.ReadOnlySession)
            assert reader.tables["orphan"].row_count == 1
        owner.send_signal(signal.SIGKILL)
        assert owner.wait(timeout=30) == -signal.SIGKILL
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    # ...and goes away without it, though nobody told it to stop.
    assert gone(pid), f"the server {pid} outlived its SIGKILLed owner"
    assert_unreachable(url)


@pytest.mark.parametrize("signalled", ["main_thread", "other_thread"])
def test_ctrl_c_at_the_owners_terminal_does_not_stop_the_server(signalled: str) -> None:
    """Ctrl+C signals the terminal's whole foreground process group; it must interrupt the
    owner's current call, not end its server and lose the session's data. The kernel may hand
    the signal to any thread: when another thread takes it, wait() must still be interrupted."""
    block = "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})" if signalled == "other_thread" else "pass"
    code = """
import json, signal, threading, time, tiercube
threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()  # unblocked: it takes the signal
BLOCK
session = tiercube.Session.start()
session.create_table("survives", data_types={"x": "int64"})
try:
    print("ready", flush=True)
    session.wait()  # blocks until interrupted
except KeyboardInterrupt:
    session.wait(timeout=3)  # a server that was told to stop would be gone by now
    print(json.dumps(list(session.tables)), flush=True)
session.close()
""".replace("BLOCK", block)
    # The owner leads its own process group, as a shell's foreground job does.
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline() == "ready\n"
        os.killpg(owner.pid, signal.SIGINT)  # what the terminal does on Ctrl+C
        out, _ = owner.communicate(timeout=60)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate()
    assert json.loads(out) == ["survives"]
    assert owner.returncode == 0


@pytest.mark.parametrize(
    "ending",
    ["pass", "raise SystemExit(3)", "raise RuntimeError('unhandled')"],
    ids=["end_of_script", "sys_exit", "uncaught_exception"],
)
def test_the_server_ends_when_its_owner_exits_without_closing(ending: str) -> None:
    code = f"""
import json, psutil, tiercube
session = tiercube.Session.start()
(server,) = psutil.Process().children()
print(json.dumps({{"pid": server.pid, "url": session.url}}), flush=True)
{ending}
"""
    result = python_subprocess(code)
    assert result.stdout, result.stderr
    started = json.loads(result.stdout.splitlines()[0])
    assert gone(int(started["pid"])), f"the server outlived its owner ({ending})"
    assert_unreachable(str(started["url"]))


def test_start_reads_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "secured.toml"
    config.write_text(
        f'[[users]]\nname = "{ADMIN.username}"\npassword = "{ADMIN.password}"\nroles = ["ROLE_ADMIN"]\n'
    )
    with tiercube.Session.start(config) as session:
        document = httpx.get(f"{session.url}/versions/rest", timeout=10).json()
        assert document["security"] is True
        with tiercube.connect(session.url, authentication=ADMIN) as admin:
            assert isinstance(admin, tiercube.LocalSession)


def test_start_with_a_config_object() -> None:
    with tiercube.Session.start(SECURED) as session:
        assert httpx.get(f"{session.url}/versions/rest", timeout=10).json()["security"] is True
        assert session.capabilities.held("a")


def test_start_with_an_unreadable_config_file_raises(tmp_path: Path) -> None:
    with pytest.raises(tiercube.InvalidRequestError, match="missing.toml"):
        tiercube.Session.start(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[users]]\nname = 3\n")
    with pytest.raises(tiercube.InvalidRequestError, match=r"bad\.toml.*users\[0\]\.name"):
        tiercube.Session.start(bad)


def test_a_server_that_cannot_start_raises_server_start_error_with_its_log(tmp_path: Path) -> None:
    children_before = children_of(os.getpid())
    config = tiercube.SessionConfig(
        tls=tiercube.TlsConfig(certificate=str(tmp_path / "no-cert.pem"), key=str(tmp_path / "no-key.pem"))
    )
    with pytest.raises(tiercube.ServerStartError) as raised:
        tiercube.Session.start(config)
    message = str(raised.value)
    assert "did not start" in message
    assert "server.log" in message  # it says where the whole log is...
    assert raised.value.logs_path is not None and raised.value.logs_path in message
    # ...and quotes its end, with the cause, naming the missing file.
    assert f"TLS certificate file {tmp_path / 'no-cert.pem'} does not exist" in message
    # No half-started server is left behind.
    lingering = children_of(os.getpid()) - children_before
    assert all(gone(pid) for pid in lingering)
