"""What a load may read: which files on the server's disk, and which cloud stores.

Only a caller that proved it shares the server's file system gets here with a
local path (``routing`` checks that first, so a caller without the proof
learns nothing about the disk). Even then, a load reads regular files only,
with symlinks resolved before any check: no devices, FIFOs or sockets (which
would block a worker or never end), nothing under /proc, /sys or /dev, never
the server's own config, TLS files or share nonce, nothing in its data
directory (password hashes, every table's rows), and only under
``allowed_load_roots`` when the config names some. The checks run on the
opened file, so the path cannot be swapped between check and read.

Cloud loads reach only the stores the config declares (``cloud_stores``):
a caller names one, or its exact endpoint; it never chooses a host, and the
server's credentials never go anywhere but the store they belong to.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Generator, Iterable
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tiercube._config import CloudStore, SessionConfig
from tiercube._server.engine.sources import SharedFile
from tiercube._wire.messages import CloudLocation
from tiercube.errors import LoadError

if TYPE_CHECKING:
    import pyarrow.fs as pa_fs

_SYSTEM = ("/proc", "/sys", "/dev")


class FileAccess:
    """The server's rules for local files and cloud stores."""

    def __init__(self, config: SessionConfig, protected: Iterable[str]) -> None:
        self._roots = [os.path.realpath(root) for root in config.allowed_load_roots or ()]
        self._data_dir = os.path.realpath(config.data_dir) if config.data_dir is not None else None
        self._stores = {store.name: store for store in config.cloud_stores}
        tls = config.tls
        files = [*protected, *((tls.certificate, tls.key, tls.client_ca) if tls else ())]
        identities = (_identity(path) for path in files if path is not None)
        self._protected = {identity for identity in identities if identity is not None}

    @contextmanager
    def local(self, path: str) -> Generator[str]:
        """A path pyarrow may open that reads exactly the checked file; ``LoadError`` otherwise."""
        if not os.path.isabs(path):
            raise LoadError(f"{path}: the server needs an absolute path", path=path)
        real = os.path.realpath(path)
        if any(real == top or real.startswith(top + "/") for top in _SYSTEM):
            raise LoadError(f"{path}: files under {', '.join(_SYSTEM)} cannot be loaded", path=path)
        if self._data_dir is not None and _within(real, self._data_dir):
            raise LoadError(f"{path}: files in the server's data directory cannot be loaded", path=path)
        if self._roots and not any(real == root or real.startswith(root.rstrip("/") + "/") for root in self._roots):
            raise LoadError(f"{path}: the server loads only files under {', '.join(self._roots)} (allowed_load_roots)", path=path)
        try:
            # Non-blocking: opening a FIFO for reading must not wait for a writer.
            descriptor = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise LoadError(f"{path}: no such file on the server's file system", path=path) from None
        except OSError as error:
            raise LoadError(f"{path}: the server cannot open it ({error.strerror})", path=path) from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise LoadError(f"{path}: not a regular file (directories, devices, FIFOs and sockets cannot be loaded)", path=path)
            if (status.st_dev, status.st_ino) in self._protected:
                raise LoadError(f"{path}: this file belongs to the server's configuration and cannot be loaded", path=path)
            # The same open file, by a path pyarrow can open: nothing can swap it after the checks.
            yield f"/proc/self/fd/{descriptor}" if sys.platform == "linux" else real
        finally:
            os.close(descriptor)

    def shared(self, path: str) -> SharedFile:
        """``path``, checked as ``local`` checks it, as a cluster worker may open it again."""
        with self.local(path) as opened:
            status = os.stat(opened)
            return SharedFile(os.path.realpath(path), status.st_ino, status.st_size)

    def cloud(self, location: CloudLocation) -> tuple[pa_fs.FileSystem, str]:
        """The file system of the store ``location`` names, and the object's path in it."""
        import pyarrow.fs as pa_fs

        if not location.uri.startswith("s3://"):
            raise LoadError(f"{location.uri}: only s3:// cloud locations can be loaded", path=location.uri)
        store = self._store(location)
        bucket = location.uri.removeprefix("s3://").split("/", 1)[0]
        if store.buckets is not None and bucket not in store.buckets:
            raise LoadError(f"{location.uri}: store {store.name!r} allows only the buckets {', '.join(store.buckets)}", path=location.uri)
        # The caller's own credentials, if it gave some; else the store's.
        access_key, secret_key = (location.access_key, location.secret_key) if location.access_key else (store.access_key, store.secret_key)
        file_system = pa_fs.S3FileSystem(
            endpoint_override=_host(store.endpoint) if store.endpoint else None,
            scheme="http" if store.endpoint and store.endpoint.startswith("http://") else "https",
            region=store.region,
            access_key=access_key,
            secret_key=secret_key,
            anonymous=store.anonymous and not location.access_key,
        )
        return file_system, location.uri.removeprefix("s3://")

    def _store(self, location: CloudLocation) -> CloudStore:
        names = ", ".join(self._stores) or "none"
        if location.store is not None:
            store = self._stores.get(location.store)
            if store is None:
                raise LoadError(f"{location.uri}: this server has no cloud store {location.store!r} (stores: {names})", path=location.uri)
            return store
        if location.endpoint is not None:
            for store in self._stores.values():
                if store.endpoint is not None and _same_endpoint(store.endpoint, location.endpoint):
                    return store
            raise LoadError(
                f"{location.uri}: the endpoint {location.endpoint} is not a cloud store of this server (stores: {names}); "
                "its operator declares stores under [[cloud_stores]] in the config",
                path=location.uri,
            )
        if len(self._stores) == 1:
            return next(iter(self._stores.values()))
        if not self._stores:
            raise LoadError(f"{location.uri}: this server declares no cloud stores; its operator adds them under [[cloud_stores]]", path=location.uri)
        raise LoadError(f"{location.uri}: name the cloud store to read from (stores: {names})", path=location.uri)


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _host(endpoint: str) -> str:
    return urlsplit(endpoint).netloc


def _same_endpoint(declared: str, given: str) -> bool:
    a, b = urlsplit(declared), urlsplit(given)
    return (a.scheme.lower(), a.hostname, a.port) == (b.scheme.lower(), b.hostname, b.port)
