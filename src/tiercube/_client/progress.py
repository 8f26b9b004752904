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
    """Show ``description``, the data size and the elapsed time while the body runs."""
    if not _interactive():
        yield
        return
    done = threading.Event()
    started = time.monotonic()
    label = f"{description} ({size / 1e6:,.1f} MB)" if size else description

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
        sys.stderr.write(f"\r  {label}: done in {time.monotonic() - started:.1f} s\n")
        sys.stderr.flush()

    thread = threading.Thread(target=show, name="tiercube-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
