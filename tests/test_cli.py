"""The ``tiercube`` command: help, ``serve`` (signals, log file, config), ``hash-password`` and ``demo``."""

from __future__ import annotations

import csv
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import tiercube
from tiercube._demo import write_sample_csv

from tests.conftest import ADMIN, SECURED_TOML, serve, write_config

TIERCUBE = [sys.executable, "-m", "tiercube._cli"]
READY = re.compile(r"^tiercube session server at (\S+) \(log: (.+)\); stop with Ctrl\+C$")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TIERCUBE, *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def serving(*args: str) -> Generator[tuple[subprocess.Popen[str], str, Path]]:
    """``tiercube serve`` in the foreground: the process, its URL and its log file."""
    process = subprocess.Popen([*TIERCUBE, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().rstrip("\n")
        ready = READY.match(line)
        if ready is None:
            process.kill()
            _, errors = process.communicate(timeout=30)
            raise AssertionError(f"tiercube serve did not start: {line!r} {errors[-2000:]}")
        yield process, ready[1], Path(ready[2])
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_help_lists_the_commands() -> None:
    script = Path(sys.executable).with_name("tiercube")
    command = [str(script)] if script.exists() else TIERCUBE
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in ("serve", "demo", "hash-password"):
        assert name in result.stdout
    serve_help = run("serve", "--help")
    assert serve_help.returncode == 0
    for option in ("--host", "--port", "--config", "--log-file", "--hide-admin-api"):
        assert option in serve_help.stdout
    assert "--advertise-version" not in serve_help.stdout  # a testing aid, documented in the README, not in --help


def test_version_and_python_dash_m() -> None:
    by_module = subprocess.run([sys.executable, "-m", "tiercube", "--version"], capture_output=True, text=True, timeout=60)
    assert by_module.returncode == 0 and by_module.stdout.strip() == f"tiercube {tiercube.__version__} (wire protocol 1)"
    assert run("--version").stdout == by_module.stdout


def test_no_or_unknown_command_is_a_usage_error() -> None:
    for args in ((), ("frobnicate",)):
        result = run(*args)
        assert result.returncode == 2
        assert "usage: tiercube" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_prints_its_url_logs_and_stops_cleanly_on_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    log_file = tmp_path / "serve.log"
    config = write_config(tmp_path, SECURED_TOML)
    with serving("--log-file", str(log_file), "--config", config) as (process, url, logged_to):
        assert logged_to == log_file
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        document = httpx.get(f"{url}/versions/rest", auth=(ADMIN.username, ADMIN.password), timeout=10).json()
        assert document["security"] is True
        nonce_file = Path(document["caller"]["share_proof"]["path"])
        assert nonce_file.exists()
        with tiercube.connect(url, authentication=ADMIN) as session:
            assert isinstance(session, tiercube.LocalSession)
            session.create_table("served", data_types={"x": "int64"}).append((1,))
        process.send_signal(stop)
        out, errors = process.communicate(timeout=30)
        assert process.returncode == 0, errors
        assert "Traceback" not in errors
        assert out == ""
    log = log_file.read_text()
    assert f"session server ready at {url}" in log
    assert f"session server at {url} stopped" in log
    assert f"ready at {url}" in errors  # the log goes to stderr too
    assert not nonce_file.exists()  # it cleaned up after itself
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/versions/rest", timeout=5)


def test_serve_chooses_a_free_port_or_takes_the_one_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serving("--port", str(port)) as (_, url, _log):
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/versions/rest", timeout=10).json()["security"] is False


def test_serve_keeps_its_default_log_until_the_next_serve_starts() -> None:
    with serving() as (_, _url, first_log):
        assert first_log.parent.name.startswith("tiercube-serve-")
    assert "ready at" in first_log.read_text()  # still there to read after the server stopped
    with serving() as (_, _url, second_log):
        assert second_log.exists() and second_log.parent != first_log.parent
        assert not first_log.parent.exists()  # its process is gone: the next serve removed it
    second_log.unlink()
    second_log.parent.rmdir()


def test_serve_on_a_busy_port_fails_clearly() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        (None, "cannot read config"),
        ("this is = not = toml\n", "line 1"),
        ('[[users]]\nname = 3\npassword = "x"\n', "$.users[0].name"),
        ('[[users]]\nname = "x"\npasword = "typo"\n', "pasword"),
        ("sdk_exposed = 'yes'\n", "sdk_exposed"),
    ],
    ids=["missing_file", "not_toml", "wrong_type", "unknown_field", "wrong_type_top_level"],
)
def test_serve_with_a_bad_config_fails_clearly(tmp_path: Path, content: str | None, mentions: str) -> None:
    path = tmp_path / "bad.toml"
    if content is not None:
        path.write_text(content)
    result = run("serve", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("tiercube serve: ")
    assert str(path) in result.stderr
    assert mentions in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_serve_with_a_config_file_is_secured(tmp_path: Path) -> None:
    with serve(config=write_config(tmp_path, SECURED_TOML)) as url:
        assert httpx.get(f"{url}/versions/rest", timeout=10).json()["security"] is True
        assert httpx.get(f"{url}/api/v1/tables", timeout=10).status_code == 401
        with pytest.raises(tiercube.AuthenticationError):
            tiercube.connect(url, authentication=tiercube.BasicAuthentication(ADMIN.username, "wrong"))


def test_serve_hide_admin_api_and_advertise_version(tmp_path: Path) -> None:
    config = write_config(tmp_path, SECURED_TOML)
    with serve("--hide-admin-api", config=config) as url:
        assert httpx.get(f"{url}/versions/rest", timeout=10).json()["sdk_exposed"] is False
    with serve("--advertise-version", "0.0.1-other", config=config) as url:
        document = httpx.get(f"{url}/versions/rest", timeout=10).json()
        assert document["tiercube_version"] == "0.0.1-other"
        with tiercube.connect(url, authentication=ADMIN) as session:
            # Admin, another tiercube version with the same protocol, same host.
            assert type(session) is tiercube.NoSecurityLocalSession
            assert not session.capabilities.held("c")


def test_hash_password_reads_stdin() -> None:
    result = subprocess.run([*TIERCUBE, "hash-password"], input="pw\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert re.fullmatch(r"scrypt\$\d+\$\d+\$\d+\$\S+\$\S+\n", result.stdout)


def test_demo_runs_and_prints_the_tier_and_the_query_results(tmp_path: Path) -> None:
    result = run("demo", "--rows", "500", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "connect() returned LocalSession" in out
    assert "loaded 500 rows" in out
    assert "session closed, server stopped" in out
    # The printed totals by region are those of the sample data the demo wrote.
    sample = tmp_path / "sample.csv"
    write_sample_csv(sample, 500)
    expected: dict[str, tuple[int, int]] = {}
    with sample.open() as file:
        for row in csv.DictReader(file):
            qty, count = expected.get(row["region"], (0, 0))
            expected[row["region"]] = (qty + int(row["qty"]), count + 1)
    assert len(expected) == 5
    printed: dict[str, tuple[int, int]] = {}
    for line in out.splitlines():
        # tiercube.show's grid: thousands separators, price per unit in its currency format.
        match = re.fullmatch(r"\s*(\w+)\s+([\d,]+)\s+€[\d.,]+\s+([\d,]+)", line)
        if match and match[1] in expected:
            printed[match[1]] = (int(match[2].replace(",", "")), int(match[3].replace(",", "")))
    assert printed == expected
