"""The crash test's model: one thread's objects, the changes it makes, and how a restart is judged.

Each ``Worker`` changes only objects of its own, one request at a time, so its
model is exact: after a restart the server must hold precisely what its
acknowledged changes made, or that plus the one change it had under way when
the server died, whole. ``crash_workers`` has the workers, ``crash_writer``
the process that runs them.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import tiercube

Send = Callable[[tiercube.LocalSession], object]


@dataclass(frozen=True)
class Server:
    """The restarted server as a verification reads it: a session, and its table and cube names (listed once)."""

    session: tiercube.LocalSession
    tables: frozenset[str]
    cubes: frozenset[str]

    @classmethod
    def listed(cls, session: tiercube.LocalSession) -> Server:
        return cls(session, frozenset(session.tables), frozenset(session.cubes))


@dataclass(frozen=True)
class Change:
    """One request, and the model (what a client sees of the worker's objects) once it was applied."""

    what: str
    send: Send
    after: object


class Worker(ABC):
    """One thread's objects: the model of their acknowledged state, and how to change and read them."""

    def __init__(self, name: str, seed: int, model: object) -> None:
        self.name = name
        self.random = random.Random(f"{name}:{seed}")
        self.model = model
        self.pending: Change | None = None
        self.acknowledged = 0
        self.problem: str | None = None

    @abstractmethod
    def next_change(self) -> Change: ...

    @abstractmethod
    def observe(self, server: Server) -> object:
        """What the server holds of this worker's objects, in the model's terms."""

    def applied(self, change: Change) -> None:
        """``change`` is known to be applied (acknowledged, or found after a restart)."""
        self.model = change.after

    def run(self, session: tiercube.LocalSession) -> None:
        """Send changes until one fails for want of a server; it is then under way (``pending``)."""
        while True:
            change = self.next_change()
            self.pending = change
            try:
                change.send(session)
            except tiercube.ServerUnavailableError:
                return
            except tiercube.TiercubeError as error:  # the server refused what the model thought valid
                self.problem = f"{change.what}: refused with {type(error).__name__}: {error}"
                self.pending = None
                return
            self.applied(change)
            self.pending = None
            self.acknowledged += 1

    def verify(self, server: Server) -> tuple[str, str | None]:
        """Compare the server with the model: which way the change under way went ("applied",
        "absent", or "" if none), and the problem if the server holds anything else."""
        if self.problem is not None:
            return "", self.problem
        found = self.observe(server)
        pending, self.pending = self.pending, None
        if found == self.model:
            return ("absent" if pending is not None else ""), None
        if pending is not None and found == pending.after:
            self.applied(pending)
            return "applied", None
        under_way = f"; under way: {pending.what}, which would make {pending.after!r}" if pending is not None else ""
        return "", f"{self.name}: the server holds {found!r}, the acknowledged changes make {self.model!r}{under_way}"
