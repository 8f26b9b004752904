"""A server for the transport figures: ``python -m bench.transport_server tiercube|bare``.

``tiercube`` runs tiercube's own ``serve()``, unchanged. ``bare`` serves a
starlette app with one route, ``/bare`` (a few bytes, or as many as a POST asks
for in ``ECHO_SIZE_HEADER``, after reading its body), through the very
uvicorn configuration ``serve()`` uses (``uvicorn_config``: the same protocol,
connection limits and parser), on a socket made the same way: what is left
between the two is tiercube's per-request work. The parser is the one
``TIERCUBE_HTTP_PARSER`` names, as for ``serve()``.

Like the probe server, it reads one JSON line on stdin (a ``SessionConfig``),
prints its URL, and stops when stdin closes: it never outlives the bench.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiercube._config import SessionConfig
from tiercube._server import main as server_main

BARE_PATH = "/bare"
BARE_ANSWER = b'{"bare":true}'
ECHO_SIZE_HEADER = "bench-answer-size"
"""On a POST: answer this many bytes (as many as the request it stands for is answered with)."""


async def _bare(request: Request) -> Response:
    await request.body()
    size = request.headers.get(ECHO_SIZE_HEADER)
    if size is not None:
        return Response(b"x" * int(size), media_type="application/vnd.apache.arrow.stream")
    return Response(BARE_ANSWER, media_type="application/json")


def serve_bare(config: SessionConfig, on_ready: Callable[[str], None], stop: threading.Event) -> None:
    """Serve ``/bare`` as ``serve()`` would serve tiercube's application, until ``stop`` is set."""
    app = Starlette(routes=[Route(BARE_PATH, _bare, methods=["GET", "POST"])])
    # As serve() does: a socket that says it is TCP, so asyncio sets TCP_NODELAY on its connections.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(server_main.uvicorn_config(app, config, server_main.chosen_parser()))

    def announce() -> None:
        while not server.started:
            time.sleep(0.002)
        on_ready(f"http://127.0.0.1:{sock.getsockname()[1]}")
        stop.wait()
        server.should_exit = True

    threading.Thread(target=announce, name="bench-bare-ready", daemon=True).start()
    server.run(sockets=[sock])


def main() -> None:
    kind = sys.argv[1]
    config = msgspec.json.decode(sys.stdin.buffer.readline(), type=SessionConfig)
    server_main.configure_logging(None)
    stdin_closed = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.buffer.read()
        stdin_closed.set()

    threading.Thread(target=watch_stdin, name="bench-transport-watch", daemon=True).start()

    def on_ready(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    if kind == "bare":
        serve_bare(config, on_ready, stdin_closed)
    else:
        server_main.serve(config, on_ready=on_ready, stop_event=stdin_closed)


if __name__ == "__main__":
    main()
