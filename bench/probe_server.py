"""A tiercube session server with a request counter: ``python -m bench.probe_server``.

It runs tiercube's own ``serve()`` (what ``tiercube serve`` and the owner's
child run) and only wraps the application in a small ASGI middleware that
counts requests and times each one on the server, from the moment the
request arrives to the last byte of its answer. ``GET /__bench/stats``
returns the figures and starts a new count; it is not counted itself.
Nothing under ``src/`` changes.

It reads one JSON line on stdin (a ``SessionConfig``), prints its URL, and
stops when stdin closes, like the owner's child: it never outlives the bench.
"""

from __future__ import annotations

import sys
import threading
import time
import msgspec
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import tiercube._server.main as server_main
from tiercube._config import SessionConfig
from tiercube._server.app import create_app
from tiercube._server.state import ServerState

STATS_PATH = "/__bench/stats"


class Stats(msgspec.Struct):
    """Requests since the last read, and each one's server-side seconds by path."""

    requests: int = 0
    seconds: dict[str, list[float]] = msgspec.field(default_factory=lambda: dict[str, list[float]]())


_stats = Stats()
_lock = threading.Lock()


class Probe:
    """Count and time every HTTP request that reaches tiercube's application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        global _stats
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == STATS_PATH:
            with _lock:
                body, _stats = msgspec.json.encode(_stats), Stats()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                with _lock:
                    _stats.seconds.setdefault(str(scope["path"]), []).append(time.perf_counter() - started)

        with _lock:
            _stats.requests += 1
        await self.app(scope, receive, timed_send)


def _instrumented_app(state: ServerState) -> Starlette:
    app = create_app(state)
    app.add_middleware(Probe)  # outermost but for starlette's error middleware: sees every request
    return app


def main() -> None:
    config = msgspec.json.decode(sys.stdin.buffer.readline(), type=SessionConfig)
    server_main.configure_logging(None)
    stdin_closed = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.buffer.read()
        stdin_closed.set()

    threading.Thread(target=watch_stdin, name="bench-probe-watch", daemon=True).start()

    def on_ready(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    # serve() builds its application with the create_app it imported; give it ours.
    setattr(server_main, "create_app", _instrumented_app)  # noqa: B010
    server_main.serve(config, on_ready=on_ready, stop_event=stdin_closed)


if __name__ == "__main__":
    main()
