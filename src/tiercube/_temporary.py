"""tiercube's temporary directories: private, named after the process they belong to, removed when done.

A server's share directory and an owner's session directory (the server's
log) carry the id of the process that made them (``tiercube-share-4242-x1y2``).
A share directory is removed when its server stops; a session directory when
its owner's interpreter exits (the log is still there to read after
``close()``). A process killed before it could remove its own leaves one
behind, which the next tiercube process to make one of that kind removes as
it makes its first (if no process has that id any more). A directory that
cannot be made or written, the temporary directory being full, read-only or
missing, is a ``StorageError`` naming the path, not a bare ``OSError``.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Generator
from contextlib import contextmanager

from tiercube.errors import StorageError

log = logging.getLogger("tiercube")


def owned_directory(kind: str, *, until_exit: bool = False) -> str:
    """A new private directory ``tiercube-{kind}-{pid}-...`` for this process, after removing those of dead ones.

    ``until_exit``: removed when the interpreter exits; otherwise the caller removes it.
    """
    _remove_stale(kind)
    directory = private_directory(f"tiercube-{kind}-{os.getpid()}-")
    if until_exit:
        if not _REMOVED_AT_EXIT:
            atexit.register(_remove_at_exit)
        _REMOVED_AT_EXIT.append(directory)
    return directory


_REMOVED_AT_EXIT: list[str] = []


def _remove_at_exit() -> None:
    for directory in _REMOVED_AT_EXIT:
        shutil.rmtree(directory, ignore_errors=True)


def private_directory(prefix: str) -> str:
    """A new directory only this user may read (``tempfile.mkdtemp``), or ``StorageError`` saying why not."""
    with storage_errors(lambda: os.path.join(_root(), prefix + "..."), "create a temporary directory"):
        return tempfile.mkdtemp(prefix=prefix)


@contextmanager
def storage_errors(path: str | Callable[[], str], doing: str) -> Generator[None]:
    """An ``OSError`` of the block (a full disk, a read-only or missing directory) as a ``StorageError`` naming ``path``."""
    try:
        yield
    except OSError as error:
        where = path if isinstance(path, str) else path()
        reason = error.strerror or str(error)
        raise StorageError(
            f"cannot {doing} {where}: {reason}; free space there, or point TMPDIR at a writable directory with room",
            path=where,
        ) from None


def _root() -> str:
    try:
        return tempfile.gettempdir()
    except OSError:  # no usable temporary directory at all: name where it was looked for
        return os.environ.get("TMPDIR", "/tmp")


_SWEPT: set[str] = set()
"""The kinds whose stale directories this process removed: once is enough (a look at a temporary
directory of 7,000 entries costs 25 ms, too much for every ``read_arrow``)."""


def _remove_stale(kind: str) -> None:
    """Remove this user's ``tiercube-{kind}-{pid}-*`` directories whose process is gone (once per process)."""
    if kind in _SWEPT:
        return
    _SWEPT.add(kind)
    prefix = f"tiercube-{kind}-"
    try:
        root = tempfile.gettempdir()
        entries = list(os.scandir(root))
    except OSError:
        return  # making the new one will say what is wrong with the temporary directory
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        log.info("removing %s, left by process %s, which is gone", entry.path, pid)
        shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
