"""A session's data directory: the ``Journal`` its stores record in, its snapshots, its restart.

``DataDirectory(path, config)`` takes the directory (one server at a time),
``recover(parts)`` rebuilds the session from it and starts logging,
``close()`` refuses new changes, waits for those under way, writes a last
snapshot and lets the directory go. A change is recorded in three steps
(see ``engine.journal``): encoded in the writer's thread, appended and
fsync'd with whichever changes arrive with it (``log``), then applied while
the barrier keeps snapshots from looking (``barrier``).

A thread takes a snapshot once the log has grown ``snapshot_every_bytes``,
or ``snapshot_every_seconds`` after the last one if anything changed since.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pyarrow as pa

from tiercube._config import SessionConfig
from tiercube._server.durability import snapshots
from tiercube._server.durability.barrier import Barrier
from tiercube._server.durability.files import lock, private_directory
from tiercube._server.durability.frames import encode
from tiercube._server.durability.log import LogWriter
from tiercube._server.durability.recovery import Parts, recover
from tiercube._server.durability.snapshots import SavedFile
from tiercube._server.engine.journal import Record
from tiercube.errors import StorageError

log = logging.getLogger("tiercube.server")


class DataDirectory:
    """Where a session keeps every change: a write-ahead log and snapshots (see the package docstring)."""

    def __init__(self, path: str, config: SessionConfig) -> None:
        self.root = private_directory(Path(path).resolve())
        private_directory(self.root / "log")
        private_directory(self.root / "snapshots")
        self._lock = lock(self.root)
        self._every_bytes = config.snapshot_every_bytes
        self._every_seconds = config.snapshot_every_seconds
        self._barrier = Barrier()
        self._log: LogWriter | None = None
        self._parts: Parts | None = None
        self._files: dict[str, SavedFile] = {}
        # The last record the current snapshot holds; log bytes it does not hold, as of the last
        # snapshot (or the restart), and the writer's count of bytes written then.
        self._saved_record = 0
        self._unsaved_bytes = 0
        self._written_then = 0
        self._last_try = time.monotonic()
        self._failed = False
        self._snapshotting = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._take_snapshots, name="tiercube-snapshots", daemon=True)

    def recover(self, parts: Parts) -> None:
        """Rebuild ``parts`` from the directory, then record their changes from now on."""
        recovered = recover(self.root, parts)
        self._parts = parts
        self._files = recovered.files
        self._saved_record = recovered.saved_record
        self._unsaved_bytes = recovered.logged_bytes
        self._log = LogWriter(self.root / "log", recovered.segment, recovered.next_record)
        self._thread.start()

    def committing(self, record: Record, rows: pa.Table | None = None) -> AbstractContextManager[None]:
        return self._committing(record, rows)

    @contextmanager
    def _committing(self, record: Record, rows: pa.Table | None) -> Generator[None]:
        body = encode(record, rows)  # in the writer's own thread, before it queues
        with self._barrier.change():
            if self._log is None:
                raise RuntimeError("a change was recorded before the data directory was recovered")
            self._log.append(body)
            if self._unsaved(self._log) >= self._every_bytes:
                self._wake.set()
            yield

    def _unsaved(self, log: LogWriter) -> int:
        """Bytes of log that no snapshot holds yet."""
        return self._unsaved_bytes + log.written - self._written_then

    def snapshot(self) -> bool:
        """Write a snapshot of the state now, if anything changed since the last; whether one was written."""
        with self._snapshotting:
            if self._log is None or self._parts is None:
                return False
            with self._barrier.looking():
                last = self._log.next_record - 1
                if last == self._saved_record:
                    return False
                number = self._log.rotate()
                image = self._parts.image(last)
                written = self._log.written
            started = time.perf_counter()
            self._files = snapshots.write(self.root, number, image, self._files)
            self._saved_record = last
            self._unsaved_bytes = 0
            self._written_then = written
            snapshots.remove_older(self.root, number)
            log.info("snapshot %d of %s: %d table(s) in %.2f s", number, self.root, len(image.tables), time.perf_counter() - started)
            return True

    def _take_snapshots(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=min(1.0, self._every_seconds))
            self._wake.clear()
            if self._stopping.is_set() or not self._due():
                continue
            self._last_try = time.monotonic()
            try:
                self.snapshot()
                self._failed = False
            except (OSError, StorageError, pa.ArrowException) as error:
                # The log still holds every change. The disk may be full: wait before trying again.
                self._failed = True
                log.warning("could not write a snapshot of %s (the log holds every change): %s", self.root, error)

    def _due(self) -> bool:
        writer = self._log
        if writer is None or writer.next_record - 1 == self._saved_record:
            return False
        waited = time.monotonic() - self._last_try
        if self._failed:
            return waited >= self._every_seconds
        return self._unsaved(writer) >= self._every_bytes or waited >= self._every_seconds

    def close(self) -> None:
        """Take no more changes, wait for those under way, write a last snapshot, let the directory go."""
        self._stopping.set()
        self._wake.set()
        self._barrier.close()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self.snapshot()
        except (OSError, StorageError, pa.ArrowException) as error:
            log.warning("could not write a last snapshot of %s (the log holds every change): %s", self.root, error)
        if self._log is not None:
            self._log.close()
        os.close(self._lock)
