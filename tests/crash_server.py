"""Servers for the crash test, started in milliseconds: forks of a process that imported tiercube once.

``python -m tests.crash_server ARG...`` imports tiercube's server and then
takes commands on stdin, one per line, answering each with one line:

    start <port>   fork a child that runs ``tiercube serve --port <port> ARG...`` (the command's own
                   entry point, ``tiercube._cli.main``); "started <pid> <url>" once it answers,
                   "failed <exit code>" if it ends first
    kill           SIGKILL the child and reap it; "killed"
    stop           SIGTERM the child and wait for it; "stopped <exit code>"

A fresh interpreter costs half a second of imports per start, a fork a few
milliseconds. Nothing happens here before a fork but imports: no thread of
ours, no socket, no open file the child would share. The children's stderr
is this process's.
"""

from __future__ import annotations

import os
import signal
import sys

import tiercube._cli
from tiercube._server.main import warm_up


def _child(port: str, arguments: list[str], ready: int) -> None:
    """In the forked child: become ``tiercube serve``, its ready line on the ``ready`` pipe."""
    os.dup2(ready, 1)
    os.close(ready)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the commands are the parent's, not the server's
    code = 1
    try:
        code = tiercube._cli.main(["serve", "--port", port, *arguments])
    finally:
        sys.stdout.flush()
        os._exit(code)


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    arguments = sys.argv[1:]
    warm_up()  # what the child would import after it answers: imported once, here
    child = 0
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "start":
            read_end, write_end = os.pipe()
            child = os.fork()
            if child == 0:
                os.close(read_end)
                _child(rest[0], arguments, write_end)
            os.close(write_end)
            with os.fdopen(read_end) as ready:
                announced = ready.readline()
                if announced.startswith("tiercube session server at "):
                    print(f"started {child} {announced.split()[4]}", flush=True)
                    continue
            print(f"failed {_exit_code(os.waitpid(child, 0)[1])}", flush=True)
        elif command == "kill":
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            print("killed", flush=True)
        elif command == "stop":
            os.kill(child, signal.SIGTERM)
            print(f"stopped {_exit_code(os.waitpid(child, 0)[1])}", flush=True)


if __name__ == "__main__":
    main()
