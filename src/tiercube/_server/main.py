"""Run a server: bind, serve with uvicorn, stop cleanly on a signal or when told.

Requests are parsed by httptools (llhttp, in C); ``TIERCUBE_HTTP_PARSER=h11``
in the server's environment switches to uvicorn's pure-Python h11 parser, with
the same limits (``connections.py``), should httptools ever misbehave.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence

import uvicorn
from starlette.types import ASGIApp

from tiercube._config import SessionConfig
from tiercube._server.admission import Admission
from tiercube._server.app import create_app
from tiercube._server.connections import H11_HEAD_SLACK, PARSERS, Parser, allow_open_files, protocol_for
from tiercube._server.limits import RequestLimits
from tiercube._server.state import ServerState
from tiercube.errors import InvalidRequestError

log = logging.getLogger("tiercube.server")

PARSER_VARIABLE = "TIERCUBE_HTTP_PARSER"

STOP_GRACE = 10.0
"""Seconds the server may take to stop serving once ``stop_event`` is set (its owner is gone), before it exits anyway."""


def configure_logging(log_file: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
    for name in ("tiercube", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(logging.INFO)
        logger.propagate = False


def warm_up() -> None:
    """Import what the first load or cube query needs, after the server already answers.

    These pyarrow modules take a few hundred milliseconds (more when pandas is
    installed); importing them here keeps them off ``Session.start()``'s path.
    """
    for module in ("pyarrow.acero", "pyarrow.csv", "pyarrow.fs", "pyarrow.parquet"):
        importlib.import_module(module)


def chosen_parser() -> Parser:
    """The HTTP parser ``PARSER_VARIABLE`` names in the environment; httptools when it names none."""
    wanted = os.environ.get(PARSER_VARIABLE, "httptools")
    for parser in PARSERS:
        if wanted == parser:
            return parser
    raise InvalidRequestError(f"{PARSER_VARIABLE}={wanted!r} names no HTTP parser: use one of {', '.join(PARSERS)}, or unset it")


def uvicorn_config(app: ASGIApp, config: SessionConfig, parser: Parser) -> uvicorn.Config:
    """How uvicorn serves ``app`` under ``config``: the connection limits, TLS, and nothing more."""
    tls = config.tls
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        ssl_certfile=tls.certificate if tls else None,
        ssl_keyfile=tls.key if tls else None,
        ssl_ca_certs=tls.client_ca if tls else None,
        ssl_cert_reqs=ssl.CERT_OPTIONAL if tls and tls.client_ca else ssl.CERT_NONE,
        http=protocol_for(config, parser),
        h11_max_incomplete_event_size=config.max_header_bytes + H11_HEAD_SLACK,
        ws="none",  # nothing here speaks WebSocket; an upgrade request is an ordinary (404) request
        # uvicorn believes X-Forwarded-For from loopback by default: any local process could then
        # pick the address that failed sign-ins are counted against, and never be throttled.
        proxy_headers=False,
    )


def _check_tls_files(config: SessionConfig) -> None:
    tls = config.tls
    if tls is None:
        return
    for what, path in (("certificate", tls.certificate), ("key", tls.key), ("client_ca", tls.client_ca)):
        if path is not None and not os.access(path, os.R_OK):
            raise InvalidRequestError(f"TLS {what} file {path} does not exist or cannot be read")


def _exit_unless_stopped(served: threading.Event, state: ServerState, url: str) -> None:
    """Give serving ``STOP_GRACE`` seconds to end, then end the process, on this thread, whatever the event loop does.

    uvicorn stops by waiting for every answer under way, and an answer a
    client does not read stays under way forever: a server whose owner was
    SIGKILLed outlived it while any client left a large answer unread. What
    follows serving (the data directory's last snapshot) is bounded work and
    may take its time; a change it would have kept is in the log anyway.
    """
    if served.wait(STOP_GRACE):
        return
    log.warning("session server at %s: still serving %g s after it was told to stop (a client is not reading its answer): exiting", url, STOP_GRACE)
    state.share.remove()
    logging.shutdown()
    os._exit(1)


def serve(
    config: SessionConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    owner_token: str | None = None,
    on_ready: Callable[[str], None] = lambda url: None,
    stop_event: threading.Event | None = None,
    protected_files: Sequence[str] = (),
) -> None:
    """Serve until SIGINT/SIGTERM, an owner's stop request, or ``stop_event`` is set.

    ``protected_files`` (the config file, the log) are never loadable, like the TLS files.
    """
    _check_tls_files(config)
    parser = chosen_parser()
    state = ServerState(config, owner_token, protected_files=list(protected_files))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response waits ~40 ms for a delayed ACK (headers and body are two writes).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    allow_open_files(config.max_connections)
    server = uvicorn.Server(uvicorn_config(RequestLimits(Admission(create_app(state), state), config), config, parser))

    def request_stop() -> None:
        server.should_exit = True

    # uvicorn waits for responses in progress before it stops: the explorer's event streams end on this.
    state.stopping = lambda: server.should_exit

    scheme = "https" if config.tls else "http"
    url = f"{scheme}://{host if family == socket.AF_INET else f'[{host}]'}:{bound_port}"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.002)
        if server.started:
            log.info("session server ready at %s (security %s, %s)", url, "on" if config.security else "off", parser)
            on_ready(url)
            warm_up()
        if stop_event is not None:
            stop_event.wait()
            request_stop()
            _exit_unless_stopped(served, state, url)

    served = threading.Event()
    threading.Thread(target=announce, name="tiercube-ready", daemon=True).start()
    # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal into the handler it
    # found: with the default ones that is a KeyboardInterrupt traceback or death by SIGTERM
    # before the cleanup below. Handlers that do nothing make a signal a clean, normal stop.
    on_main_thread = threading.current_thread() is threading.main_thread()
    stop_signals = (signal.SIGINT, signal.SIGTERM) if on_main_thread else ()
    previous = [(sig, signal.signal(sig, lambda signum, frame: None)) for sig in stop_signals]
    try:
        server.run(sockets=[sock])
    finally:
        served.set()
        for sig, handler in previous:
            signal.signal(sig, handler)
        state.cleanup()
        log.info("session server at %s stopped", url)
