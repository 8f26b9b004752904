"""The owner's hold on its server process: start it, wait for it, stop it.

The server is a child process. It reads end-of-file on its stdin when the
owner goes away, however the owner goes (SIGKILL included), and stops: it
never outlives the process that started it (if serving has not ended 10
seconds later, a client not reading its answer, it exits anyway: see
``tiercube._server.main.STOP_GRACE``).
"""

from __future__ import annotations

import atexit
import os
import secrets
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from tiercube._client.core import SessionCore
from tiercube._client.endpoints import EndpointListener, HandlerT, HttpMethod
from tiercube._config import Bootstrap, SessionConfig
from tiercube._temporary import owned_directory, storage_errors
from tiercube._wire import paths
from tiercube._wire.messages import EndpointRegistration
from tiercube.errors import ServerStartError, ServerUnavailableError

_START_TIMEOUT = 60.0
_WAIT_SLICE = 0.1
# Killed after this, a server would only replay its log at the next start: nothing is lost either way.
_STOP_TIMEOUT_WITH_DATA = 300.0


def server_environment() -> dict[str, str]:
    """This process's environment for the server child, without what Dask's nanny left in it.

    A ``LocalCluster`` started in this process sets ``OMP_NUM_THREADS=1`` (and
    its MKL and OpenBLAS twins) in ``os.environ`` for its workers and never
    puts it back. Arrow sizes its thread pool from it, so a session server
    started afterwards ran every query on one core (measured: 683 ms instead
    of 340 for 100 M rows on 2 cores). Variables holding exactly Dask's values
    are left out.
    """
    environment = dict(os.environ)
    if "distributed" in sys.modules:
        import dask.config

        spawned: dict[str, object] = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}))  # pyright: ignore[reportUnknownMemberType]
        for name, value in spawned.items():
            if environment.get(name) == str(value):
                del environment[name]
    return environment


@dataclass
class ServerProcess:
    """A started server child: its process, address and the owner's token."""

    process: subprocess.Popen[bytes]
    url: str
    owner_token: str
    logs_path: Path
    # How long stop() waits before it kills: a server with a data directory writes a last snapshot first.
    stop_timeout: float = 10.0

    @classmethod
    def spawn(
        cls,
        config: SessionConfig,
        config_path: str | None = None,
        while_starting: Callable[[], object] = lambda: None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> ServerProcess:
        """Start the server child, listening on ``host`` and ``port``; ``while_starting`` runs here while it boots."""
        token = secrets.token_urlsafe(32)
        logs_path = Path(owned_directory("session", until_exit=True), "server.log")
        with storage_errors(str(logs_path), "create the server's log"), open(logs_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tiercube._server.child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                # Its own session: Ctrl+C at the owner's terminal interrupts the owner, not the server
                # (the server still ends with its owner: it reads end-of-file on stdin).
                start_new_session=True,
                env=server_environment(),
            )
        assert process.stdin is not None and process.stdout is not None
        protected = [path for path in (config_path, str(logs_path)) if path]
        process.stdin.write(msgspec.json.encode(Bootstrap(config, token, protected, host, port)) + b"\n")
        process.stdin.flush()
        try:
            while_starting()
        except BaseException:
            process.kill()
            raise
        url = _read_ready_line(process, logs_path)
        server = cls(process, url, token, logs_path, _STOP_TIMEOUT_WITH_DATA if config.data_dir is not None else 10.0)
        # Normal interpreter exit stops the server even if close() was never called (stop() unregisters it).
        atexit.register(server.stop)
        return server

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def wait(self, timeout: float | None = None) -> int | None:
        """The server's exit code once it ends, or None after ``timeout`` seconds.

        Waits in short slices: a signal handled by another thread (Ctrl+C may
        land on any) only reaches the main thread between them, whereas a
        blocking waitpid() would keep it from raising KeyboardInterrupt.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE, max(0.0, deadline - time.monotonic()))
            try:
                return self.process.wait(left)
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    return None

    def check_running(self) -> None:
        """Raise ``ServerUnavailableError`` if the server's process has exited or is stopped (SIGSTOP, a debugger).

        A stopped process still holds its port, and its kernel still accepts
        connections for it, so only its process state tells it from a slow one.
        """
        code = self.process.poll()
        if code is not None:
            raise ServerUnavailableError(
                f"the tiercube server (pid {self.process.pid}) has exited with code {code}; the end of its log {self.logs_path}:\n"
                + _tail(self.logs_path)
            )
        if _process_state(self.process.pid) in _STOPPED_STATES:
            raise ServerUnavailableError(
                f"the tiercube server (pid {self.process.pid}) is stopped (SIGSTOP or a debugger) and answers nothing; "
                f"kill -CONT {self.process.pid} resumes it"
            )

    def stop(self, timeout: float | None = None) -> None:
        """Ask the server to stop (end-of-file on its stdin), then make sure it did (after ``stop_timeout``).

        ``atexit`` lets go of this object then: a closed session is not kept
        until the interpreter exits (its log is: it is removed at exit).
        """
        atexit.unregister(self.stop)
        timeout = self.stop_timeout if timeout is None else timeout
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.close()
            except OSError:
                pass
            if self.wait(timeout) is None:
                self.process.kill()
                self.process.wait()
        _close_pipes(self.process)  # also when the server had stopped by itself


# /proc/<pid>/stat's states of a process that runs no code until it is continued.
_STOPPED_STATES = frozenset("Tt")


def _process_state(pid: int) -> str | None:
    """The process's state letter from /proc (``R``, ``S``, ``T``...), or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name, in parentheses, may hold spaces and parentheses: the state follows the last ')'.
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _read_ready_line(process: subprocess.Popen[bytes], logs_path: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + _START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline().decode().strip()
                if line:
                    return line
                break  # end of file: the process is gone
            if process.poll() is not None:
                break
    process.kill()
    process.wait()
    _close_pipes(process)
    raise ServerStartError(
        f"the tiercube server did not start (exit code {process.returncode}); the end of its log {logs_path}:\n{_tail(logs_path)}",
        logs_path=str(logs_path),
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(log unreadable: {error.strerror})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


class OwnerLifecycle(SessionCore):
    """What only the process that started the server has: its port, its log, its end, custom endpoints."""

    _server: ServerProcess
    _listener: EndpointListener | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on (it binds 127.0.0.1)."""
        return self._server.port

    @property
    def logs_path(self) -> Path:
        """The server's log file."""
        return self._server.logs_path

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server stops (or ``timeout`` seconds pass)."""
        self._server.wait(timeout)

    def endpoint(
        self, route: str, *, method: HttpMethod = "GET", unrestricted: bool = False
    ) -> Callable[[HandlerT], HandlerT]:
        """Declare a custom endpoint at ``{url}/api/custom/{route}``, answered by the decorated function.

        ::

            @session.endpoint("top-products")
            def top_products(request: tiercube.EndpointRequest) -> list[str]:
                return [...]

        The server authenticates callers as for a query; the function gets an
        ``EndpointRequest`` and returns anything msgspec can encode as JSON.
        It runs in this process, on a listener thread; an ``async def``
        function runs to its end in an event loop of that thread.

        While it runs, this session's queries from that thread see only the
        rows the caller may see (its roles' restrictions), so an endpoint
        never shows a restricted user more than it could read itself.
        ``unrestricted=True`` lifts that: the function then sees everything
        and must decide itself what the caller may have.
        """

        def register(handler: HandlerT) -> HandlerT:
            listener = self._endpoint_listener()
            key = (method, route.strip("/"))
            listener.handlers[key] = handler
            body = EndpointRegistration(route=key[1], method=method, forward_url=listener.url, unrestricted=unrestricted)
            self._connection.json("PUT", paths.OWNER_ENDPOINTS, EndpointRegistration, body)
            return handler

        return register

    def _endpoint_listener(self) -> EndpointListener:
        if self._listener is None:
            self._listener = EndpointListener(self._server.owner_token)
        return self._listener
