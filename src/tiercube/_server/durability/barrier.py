"""Changes pass together; a snapshot looks at the state only between them.

A change holds the barrier from the moment its record goes into the log
until it is applied, so when ``looking()`` returns, every record in the log
has been applied and no other is on its way: the state seen then is exactly
the log up to its end. Changes wait while a snapshot looks (which is brief:
it takes references to immutable versions, it copies no rows), and once the
barrier is closed they are refused.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import contextmanager

from tiercube.errors import ServerUnavailableError


class Barrier:
    """Any number of changes at once, or one snapshot looking; nothing once closed."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._looking = False
        self._closed = False
        # A thread already inside (a change that makes another) must not wait for a snapshot
        # that waits for it.
        self._depth = threading.local()

    @contextmanager
    def change(self) -> Generator[None]:
        """Hold the barrier while a change is recorded and applied; ``ServerUnavailableError`` once closed."""
        depth: int = getattr(self._depth, "value", 0)
        with self._condition:
            while self._looking and depth == 0 and not self._closed:
                self._condition.wait()
            if self._closed and depth == 0:
                raise ServerUnavailableError("the server is stopping and takes no more changes; try again once it is back")
            self._inside += 1
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            with self._condition:
                self._inside -= 1
                if self._inside == 0:
                    self._condition.notify_all()

    @contextmanager
    def looking(self) -> Generator[None]:
        """Wait until no change is inside, and keep new ones out until the block ends."""
        with self._condition:
            while self._looking:
                self._condition.wait()
            self._looking = True
            while self._inside:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._looking = False
                self._condition.notify_all()

    def close(self) -> None:
        """Refuse every new change, and wait for those inside to be applied."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            while self._inside:
                self._condition.wait()
