"""Files and cloud objects read by the workers that will hold their rows.

The session server checks every path and store first, as for any load (see
``file_access``), and hands the workers what it checked: a local file by its
real path, inode and size, a cloud object with the file system of its store.
A worker opens the local file again without following links and reads it
only if it is the very file the server checked; so a load on the cluster
reads nothing the caller could not load on the server. Workers on other
machines read local paths from a file system they share with the server.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from tiercube._server.cluster import tasks
from tiercube._server.cluster.connection import Cluster, use_worker_threads
from tiercube._server.engine import sources
from tiercube._server.engine.sources import SharedFile
from tiercube._wire.column_types import ColumnType
from tiercube._wire.messages import CloudLocation, ParquetSource, Source
from tiercube.errors import ClusterError, LoadError

if TYPE_CHECKING:
    import pyarrow.fs as pa_fs
    from distributed import Future


@dataclass(frozen=True)
class WorkerAccess:
    """What the server checked, for a worker to read: files by the path the source names, stores by URI."""

    files: Mapping[str, SharedFile]
    clouds: Mapping[str, tuple[pa_fs.FileSystem, str]]

    @classmethod
    def checked(cls, source: Source, access: sources.Access) -> WorkerAccess:
        """Check ``source`` on the server (``LoadError`` if it may not be read)."""
        if isinstance(source.path, CloudLocation):
            return cls({}, {source.path.uri: access.cloud(source.path)})
        return cls({source.path: access.shared(source.path)}, {})

    @contextmanager
    def local(self, path: str) -> Generator[str]:
        shared = self.files[path]
        where = socket.gethostname()
        try:
            descriptor = os.open(shared.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise LoadError(
                f"{path}: not found by the cluster worker on {where}; workers read local files "
                "at the same path as the server (a shared file system)"
            ) from None
        except OSError as error:
            raise LoadError(f"{path}: the cluster worker on {where} cannot open it ({error.strerror})") from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode) or (status.st_ino, status.st_size) != (shared.inode, shared.size):
                raise LoadError(f"{path}: the cluster worker on {where} finds another file there than the server checked")
            yield f"/proc/self/fd/{descriptor}"
        finally:
            os.close(descriptor)

    def cloud(self, location: CloudLocation) -> tuple[pa_fs.FileSystem, str]:
        return self.clouds[location.uri]

    def shared(self, path: str) -> SharedFile:
        return self.files[path]


def read_on_workers(
    cluster: Cluster, workers: Sequence[str], source: Source, data_types: Mapping[str, ColumnType], access: sources.Access
) -> tuple[list[tuple[str, Future[pa.Table], int]], pa.Schema]:
    """Read ``source`` on ``workers``: a Parquet file's row groups split between them, a CSV file
    or cloud object by one. Each part stays on the worker that read it; returns where, the future
    of what and how many rows, and the schema. ``LoadError`` names the file if any part fails."""
    if not workers:
        raise ClusterError(f"the session's Dask cluster has no workers to read {sources.describe(source)}")
    checked = WorkerAccess.checked(source, access)
    runs: list[list[int] | None] = [None]
    if isinstance(source, ParquetSource):
        runs = [*split_row_groups(sources.row_group_sizes(source, access), len(workers))] or [None]
    parts = [(worker, cluster.submit(worker, read_part, source, data_types, checked, run)) for worker, run in zip(workers, runs, strict=False)]
    described = cluster.results([cluster.submit(worker, tasks.described, part) for worker, part in parts], workers)
    return [(worker, part, rows) for (worker, part), (rows, _) in zip(parts, described, strict=True)], described[0][1]


def read_part(
    source: Source, data_types: Mapping[str, ColumnType], access: WorkerAccess, row_groups: Sequence[int] | None
) -> pa.Table:
    """On a worker: the source (of a Parquet file, ``row_groups`` only) as Arrow."""
    from distributed import get_worker

    use_worker_threads(get_worker().state.nthreads)
    return sources.read(source, data_types, access, row_groups)


def split_row_groups(sizes: Sequence[int], workers: int) -> list[list[int]]:
    """Row groups in contiguous runs of nearly equal rows, at most one run per worker."""
    total = sum(sizes)
    runs: list[list[int]] = [[]]
    done = 0
    for number, rows in enumerate(sizes):
        if runs[-1] and done >= total * len(runs) / workers:
            runs.append([])
        runs[-1].append(number)
        done += rows
    return [run for run in runs if run]
