"""Faults a client and an owner meet, injected for real: signals to the server process, memory limits,
files changed under it, full and read-only temporary directories.

Each test starts its own server: most of them freeze, starve or kill it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Generator
from contextlib import contextmanager

import pytest

import tiercube
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
        client = tiercube.connect(owner.url, timeout=1.0)
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
        client = tiercube.connect(owner.url, timeout=None)
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

