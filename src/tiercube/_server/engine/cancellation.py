"""A request whose client has gone, or whose time is up, stops at its next checkpoint, before it changes anything.

Ctrl+C in a client closes its connection; the server notices (``routing``)
and sets the request's event. A pyarrow kernel cannot be interrupted, so the
engine checks between steps: a query between its phases, a load right before
it would replace the table's data. A retry then finds the table as it was,
not a ConflictError from a load nobody waits for.

A query's ``Deadline`` is checked at the same points, and in every loop the
engine runs in Python over what a caller sent (``isin`` values, measure graphs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

from tiercube.errors import CancelledError, QueryTimeoutError

_CURRENT: ContextVar[threading.Event | None] = ContextVar("tiercube_cancelled", default=None)


@contextmanager
def cancellable(event: threading.Event) -> Generator[None]:
    """Make ``checkpoint`` in this thread (and the work it calls) watch ``event``."""
    token = _CURRENT.set(event)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def checkpoint(step: str) -> None:
    """Raise ``CancelledError`` if the client of the request being served has gone."""
    event = _CURRENT.get()
    if event is not None and event.is_set():
        raise CancelledError(f"the client went away while the server was {step}; nothing was changed")


class Deadline:
    """The query timeout, checked between steps (a single pyarrow kernel cannot be interrupted)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def check(self, step: str) -> None:
        """``CancelledError`` if the client has gone, ``QueryTimeoutError`` once the timeout has passed."""
        checkpoint(step)
        if time.monotonic() > self.end:
            raise QueryTimeoutError(
                f"the query ran longer than the {self.timeout:g} s timeout (while {step}); "
                "ask for fewer levels, add a filter, or raise the server's query timeout",
                timeout=self.timeout,
            )
