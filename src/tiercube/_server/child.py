"""Entry point of the server process that ``Session.start()`` spawns.

The owner writes one JSON line on our stdin (config, owner token) and keeps
the pipe open. When the owner exits, however it exits (SIGKILL included), the
kernel closes the pipe, we read end-of-file, and the server stops: the child
never outlives its owner.
"""

from __future__ import annotations

import os
import sys
import threading

import msgspec

from tiercube._config import Bootstrap
from tiercube._server.main import configure_logging, serve


def main() -> None:
    bootstrap = msgspec.json.decode(sys.stdin.buffer.readline(), type=Bootstrap)
    configure_logging(None)  # the owner points our stderr at the log file
    owner_gone = threading.Event()

    def watch_owner() -> None:
        # os.read, not sys.stdin: a thread blocked in a buffered read aborts interpreter exit.
        while os.read(0, 4096):
            pass
        owner_gone.set()

    threading.Thread(target=watch_owner, name="tiercube-owner-watch", daemon=True).start()

    def on_ready(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    serve(
        bootstrap.config,
        host=bootstrap.host,
        port=bootstrap.port,
        owner_token=bootstrap.owner_token,
        on_ready=on_ready,
        stop_event=owner_gone,
        protected_files=bootstrap.protected_files,
    )


if __name__ == "__main__":
    main()
