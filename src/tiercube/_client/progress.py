"""A progress line for long loads: shown on a terminal or notebook, silent otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import TextIO, TypeAlias

from tiercube._wire.messages import LoadProgress

_DELAY = 1.0  # short loads print nothing
_ASK_EVERY = 0.5  # seconds between two questions to the server about a load's progress

Follow: TypeAlias = Callable[[], LoadProgress | None]
"""Asks the server how far a load is: None when it cannot tell (the line then shows the elapsed time)."""


def line_stream() -> TextIO | None:
    """Where a progress line can show: standard error of a terminal or a notebook; None anywhere else
    (a pipe, a log file, CI), where a load shows nothing and asks the server nothing about its progress."""
    if "ipykernel" in sys.modules or sys.stderr.isatty():
        return sys.stderr
    return None


@contextmanager
def progress(
    description: str, shown_on: TextIO | None, size: int | None = None, follow: Follow | None = None
) -> Generator[None]:
    """Show ``description``, the data size and the elapsed time on ``shown_on`` (nothing if None: see
    ``line_stream``) while the body runs; with ``follow`` (asked at most every half second: the bytes the
    server has read, or None while it cannot tell), the bytes read of the total, the rate and the time left.

    The line always ends with a newline, whatever ends the body: ``done in 3.2 s``, or
    ``cancelled`` when Ctrl+C stopped it (the next output must not land on the spinner's line).
    """
    if shown_on is None:
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
        known: LoadProgress | None = None
        known_after = 0.0  # seconds from the start to the last answer: the rate is of what was known then
        asked = 0.0
        width = 0  # of the line shown last: a shorter one is padded to cover it
        while not done.wait(0.2):
            now = time.monotonic()
            if follow is not None and now - asked >= _ASK_EVERY:
                answer = follow()
                if answer is not None and answer.bytes_total:
                    known, known_after = answer, now - started
                asked = now
            elapsed = known_after if known is not None else now - started
            line = f"{frames[tick % 4]} {progress_line(description, label, elapsed, known)}"
            shown_on.write(f"\r{line.ljust(width)}")
            shown_on.flush()
            width = len(line)
            tick += 1
        final = f"  {label}: {outcome[0]} after {time.monotonic() - started:.1f} s"
        shown_on.write(f"\r{final.ljust(width)}\n")
        shown_on.flush()

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


def progress_line(description: str, label: str, elapsed: float, known: LoadProgress | None) -> str:
    """The progress line: ``description: 120.0 / 200.0 MB, 40.0 MB/s, 2 s left`` once the server has told
    how far it is (``known``, ``elapsed`` seconds after the start), ``label: 3.2 s`` until then."""
    if known is None or not known.bytes_total:
        return f"{label}: {elapsed:5.1f} s"
    done, total = known.bytes_done, known.bytes_total
    read = f"{description}: {done / 1e6:,.1f} / {total / 1e6:,.1f} MB"
    if done == 0 or elapsed <= 0:
        return f"{read}, starting"
    rate = done / elapsed
    if done >= total:
        # The file is read; parsing its last blocks and building the table take a moment more.
        return f"{read}, {rate / 1e6:,.1f} MB/s, finishing"
    return f"{read}, {rate / 1e6:,.1f} MB/s, {_duration((total - done) / rate)} left"


def _duration(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@contextmanager
def cancellable_load(
    description: str, unchanged: str, shown_on: TextIO | None, size: int | None = None, follow: Follow | None = None
) -> Generator[None]:
    """A load under ``progress`` (its line on ``shown_on``, if any), whose Ctrl+C says in one line what
    was cancelled and that nothing changed (``unchanged``: what is as it was).

    Ctrl+C lands wherever the client is, usually deep in httpx waiting for the answer: its
    20 frames say nothing the user can act on. Closing the connection is what tells the server:
    it drops a load whose client has gone at its next checkpoint, before it changes the table
    (``tests/test_interrupt.py`` checks it against a real server). So the interrupt is raised
    again here, as a ``KeyboardInterrupt`` (a program still stops), saying so, from None.
    """
    try:
        with progress(description, shown_on, size, follow):
            yield
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"{description} was cancelled: the server drops a load whose client has gone, so {unchanged}"
        ) from None
