"""A progress line for long loads: shown on a terminal or notebook, silent otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Generator
from contextlib import contextmanager

_DELAY = 1.0  # short loads print nothing


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, size: int | None = None) -> Generator[None]:
    """Show ``description``, the data size and the elapsed time while the body runs.

    The line always ends with a newline, whatever ends the body: ``done in 3.2 s``, or
    ``cancelled`` when Ctrl+C stopped it (the next output must not land on the spinner's line).
    """
    if not _interactive():
        yield
        return
    done = threading.Event()
    started = time.monotonic()
    label = f"{description} ({size / 1e6:,.1f} MB)" if size else description
    outcome = ["done"]

    def show() -> None:
        if done.wait(_DELAY):
            return
        frames = "|/-\\"
        tick = 0
        while not done.wait(0.2):
            elapsed = time.monotonic() - started
            sys.stderr.write(f"\r{frames[tick % 4]} {label}: {elapsed:5.1f} s")
            sys.stderr.flush()
            tick += 1
        sys.stderr.write(f"\r  {label}: {outcome[0]} after {time.monotonic() - started:.1f} s\n")
        sys.stderr.flush()

    thread = threading.Thread(target=show, name="tiercube-progress", daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        outcome[0] = "cancelled" if sys.exc_info()[0] is KeyboardInterrupt else "failed"
        raise
    finally:
        done.set()
        thread.join()


@contextmanager
def cancellable_load(description: str, unchanged: str, size: int | None = None) -> Generator[None]:
    """A load under ``progress``, whose Ctrl+C says in one line what was cancelled and that nothing changed
    (``unchanged``: what is as it was).

    Ctrl+C lands wherever the client is, usually deep in httpx waiting for the answer: its
    20 frames say nothing the user can act on. Closing the connection is what tells the server:
    it drops a load whose client has gone at its next checkpoint, before it changes the table
    (``tests/test_interrupt.py`` checks it against a real server). So the interrupt is raised
    again here, as a ``KeyboardInterrupt`` (a program still stops), saying so, from None.
    """
    try:
        with progress(description, size):
            yield
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"{description} was cancelled: the server drops a load whose client has gone, so {unchanged}"
        ) from None
