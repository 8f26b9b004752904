"""The crash test's writer: acknowledged changes streamed to a server that a supervisor keeps killing.

It runs as its own process (``python -m tests.crash_writer``) and takes
commands on stdin, one per line, answering each with one JSON line:

    run <url> <seed>   start writing from several threads; answers at once, then once more when
                       every thread has stopped (its request failed: the server was killed)
    verify <url>       read everything back and compare it with the model of acknowledged changes

Each thread is a ``crash_model.Worker`` over objects of its own
(``crash_workers``); a verification reports any change missing, applied
twice, or half there.
"""

from __future__ import annotations

import json
import sys
import threading

import tiercube

from tests.crash_model import Server, Worker
from tests.crash_workers import workers

ADMIN = tiercube.BasicAuthentication("admin", "admin-password")


def main() -> None:
    team: list[Worker] = []
    running: list[threading.Thread] = []

    def answer(**fields: object) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    session: tiercube.LocalSession | None = None
    for line in sys.stdin:
        command, url, *rest = line.split()
        if session is None or session.url != url:  # a server restarted on another port
            session = tiercube.connect(url, authentication=ADMIN, require=tiercube.LocalSession)
        if command == "run":
            if not team:
                team = workers(int(rest[0]))
            running = [threading.Thread(target=worker.run, args=(session,)) for worker in team]
            for thread in running:
                thread.start()
            answer(running=True)
            for thread in running:
                thread.join()
            answer(acknowledged=sum(worker.acknowledged for worker in team))
        elif command == "verify":
            outcomes: dict[str, int] = {}
            problems: list[str] = []
            server = Server.listed(session)
            for worker in team:
                outcome, problem = worker.verify(server)
                if outcome:
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if problem is not None:
                    problems.append(problem)
            answer(outcomes=outcomes, problems=problems)


if __name__ == "__main__":
    main()
