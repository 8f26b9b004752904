"""Files only the server's user can read, made durable before anything relies on them.

The data directory holds password hashes and every table's rows: directories
are created 0700 and files 0600, whatever the umask. A file counts as written
once it and the directory naming it are fsync'd; a file replaced by a rename
is either the old or the new one after a crash, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path

from tiercube.errors import StorageError

log = logging.getLogger("tiercube.server")


def private_directory(path: Path) -> Path:
    """``path``, created 0700 if missing (with its parents); a warning if others may read an existing one."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise StorageError(f"data directory {path} is not a directory", path=str(path)) from None
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("%s can be read by other users; it holds password hashes and data: chmod 700 it", path)
    except OSError as error:
        raise StorageError(f"cannot create the data directory {path}: {error.strerror}", path=str(path)) from None
    return path


def create_private(path: Path) -> int:
    """A new file at ``path`` (0600), opened for writing; its descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)


def fsync_path(path: Path) -> None:
    """Make what was written to ``path`` (a file, or a directory's entries) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file at ``path`` (0600) and fsync it (not its directory)."""
    descriptor = create_private(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_durably(path: Path, data: bytes) -> None:
    """Make ``data`` the content of ``path`` at once: a new file, renamed over it, the directory fsync'd."""
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    write_durably(temporary, data)
    os.replace(temporary, path)
    fsync_path(path.parent)


def damaged(path: Path, offset: int, what: str) -> StorageError:
    """The error for a damaged file of the data directory: the server does not start from part of its data."""
    return StorageError(f"{path}, offset {offset}: {what}. The data directory is damaged: restore it from a backup", path=str(path))


def lock(directory: Path) -> int:
    """Hold ``directory`` for this process (the kernel lets go when it ends, however it ends)."""
    path = directory / "lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise StorageError(f"data directory {directory} is in use by another tiercube server (process {holder})", path=str(directory)) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor
