"""A request whose client has gone stops at its next checkpoint, before it changes anything.

Ctrl+C in a client closes its connection; the server notices (``routing``)
and sets the request's event. A pyarrow kernel cannot be interrupted, so the
engine checks between steps: a query between its phases, a load right before
it would replace the table's data. A retry then finds the table as it was,
not a ConflictError from a load nobody waits for.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

from tiercube.errors import CancelledError

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
