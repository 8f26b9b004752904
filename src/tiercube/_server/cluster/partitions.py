"""A distributed table's rows: one partition per worker, rows placed by a hash of their key.

``Partitions`` is the engine's ``Rows`` protocol for rows on a Dask cluster.
A key lives on exactly one worker, so an upsert is the engine's ordinary
merge, run where the key lives. Every row carries its arrival number
(``SEQUENCE``), so answers come back in the order a table held by the server
would give them. A ``Partitions`` never changes: a change builds every new
partition on its worker, waits for all of them, and only then returns the
new ``Partitions`` for the table store to swap in. A load that fails on one
worker therefore leaves every worker's partition as it was.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tiercube._server.cluster import tasks
from tiercube._server.cluster.connection import Cluster
from tiercube._server.cluster.reading import read_on_workers
from tiercube._server.cluster.tasks import SEQUENCE
from tiercube._server.engine import sources
from tiercube._server.engine.arrays import aligned
from tiercube._server.engine.duplicates import FirstRepeat, Repeats, repeats_within
from tiercube._server.engine.filters import BoundFilter
from tiercube._server.engine.grouping import FactGrouping, RowMask, merge_groups
from tiercube._server.engine.key_index import index_hashes, latest_of_each_key
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.rows import Added, Change, Pending, Rows
from tiercube._server.engine.visibility import RowPlan
from tiercube._wire.messages import ArrowFileSource, Partition, Source
from tiercube.errors import ClusterError

if TYPE_CHECKING:
    from distributed import Future


log = logging.getLogger("tiercube.server")


@dataclass(frozen=True)
class Part:
    worker: str
    future: Future[Any]
    rows: int
    bytes: int


class Partitions:
    """The partitions of table ``table`` on ``cluster``'s workers."""

    def __init__(self, cluster: Cluster, table: str, schema: pa.Schema, parts: tuple[Part, ...], next_sequence: int) -> None:
        self.cluster = cluster
        self.table = table
        self.schema = schema
        self.parts = parts
        self.next_sequence = next_sequence
        self._gathered: pa.Table | None = None
        self._gathering = threading.Lock()

    @classmethod
    def create(cls, cluster: Cluster, table: str, schema: pa.Schema, workers: Sequence[str] | None = None) -> Partitions:
        """Empty partitions of ``schema``, one on each of ``workers`` (default: those the cluster has now)."""
        workers = sorted(cluster.workers()) if workers is None else workers
        if not workers:
            raise ClusterError(f"the session's Dask cluster has no workers to hold table {table!r}")
        empty = schema.append(pa.field(SEQUENCE, pa.int64())).empty_table()
        return cls(cluster, table, schema, tuple(Part(w, cluster.put(w, empty), 0, 0) for w in workers), 0)

    @property
    def num_rows(self) -> int:
        return sum(part.rows for part in self.parts)

    @property
    def identity(self) -> object:
        return self

    @property
    def nbytes(self) -> int:
        return sum(part.bytes for part in self.parts)

    def estimated_groups(self, columns: Sequence[str]) -> int:
        """Without a look at the workers' rows: only a boolean column is known to hold few values."""
        bound = 1
        for column in columns:
            bound = min(bound * (3 if pa.types.is_boolean(self.schema.field(column).type) else self.num_rows), self.num_rows)
        return bound

    def counted_groups(self, columns: Sequence[str]) -> int:
        return self.estimated_groups(columns)  # the workers group their own rows, each within its memory

    def partitions(self, *, workers_shown: bool) -> list[Partition]:
        """Each partition as the table's info reports it; a lost one has no rows or bytes.

        Worker addresses are shown to admins only: whoever reaches a Dask scheduler runs code on it.
        """
        live = self.cluster.workers()
        return [
            Partition(p.worker if workers_shown else f"worker {number}", p.rows if p.worker in live else None, p.bytes if p.worker in live else None)
            for number, p in enumerate(self.parts)
        ]

    def check(self) -> None:
        """``ClusterError`` if a partition's worker left the cluster."""
        live = self.cluster.workers()
        for number, part in enumerate(self.parts):
            if part.worker not in live:
                log.warning("table %r lost partition %d: worker %s left the cluster", self.table, number, part.worker)
                raise ClusterError(
                    f"table {self.table!r} lost partition {number} of {len(self.parts)} ({part.rows} rows): "
                    "its worker left the cluster; empty the table (table.drop()) and load it again",
                    table=self.table,
                    partition=number,
                )

    # Changes: a new Partitions, or an exception with nothing changed -------------

    def added(self, data: pa.Table, keys: Sequence[str]) -> Change:
        """``data`` (conformed to the table, on the server) added; rows whose key exists replace the old ones.

        When as many more rows result as came in, no row was replaced: the change only added
        ``data``, which kept groupings fold in. Otherwise the replaced rows are on the workers.
        A key repeated within ``data`` keeps its last row, here, before the rows travel.
        """
        repeats = None
        if keys:
            unique, _ = latest_of_each_key(data, keys, index_hashes(data, keys))
            data, repeats = unique, repeats_within(data, keys, unique.num_rows)
        merged = self.merged(data, keys)
        only_added = merged.num_rows == self.num_rows + data.num_rows
        return Change(merged, data if only_added else None, None, exact=only_added, repeats=repeats)

    def merged(self, incoming: pa.Table, keys: Sequence[str]) -> Partitions:
        self.check()
        pieces = tasks.placed(tasks.numbered(incoming, self.next_sequence), keys, len(self.parts), None)
        # The scattered pieces are held here until every merge is done: Dask drops data nobody holds.
        sent = {i: self.cluster.put(part.worker, pieces[i]) for i, part in enumerate(self.parts) if pieces[i].num_rows}
        changed = {i: self.cluster.submit(self.parts[i].worker, tasks.merged, self.parts[i].future, list(keys), piece) for i, piece in sent.items()}
        return self._replaced(changed, self.next_sequence + incoming.num_rows)

    def pending_load(self, source: Source, layout: Layout, access: sources.Access) -> Pending:
        """Arrow files (the client's data, written on the server's disk) are read by the server;
        every other source by the workers, which keep what they read."""
        if isinstance(source, ArrowFileSource):
            return Added(layout.conform(sources.read(source, layout.columns, access), sources.describe(source)), layout.keys)
        self.check()  # a read pinned to a worker that left would wait for it forever
        read, _ = read_on_workers(self.cluster, [p.worker for p in self.parts], source, layout.columns, access)
        return WorkerReads(read, layout, sources.describe(source))

    def loaded(self, read: Sequence[tuple[str, Future[pa.Table], int]], layout: Layout, origin: str) -> Change:
        """Rows the workers read (where, the future of what, how many rows) added, as ``merged`` adds them.

        Each reader conforms and cuts its rows; each partition's worker then takes its piece of
        every reader's rows, so rows move once, straight to the worker of their key.
        """
        self.check()
        count = len(self.parts)
        workers = [part.worker for part in self.parts]
        starts = list(itertools.accumulate([self.next_sequence, *(rows for _, _, rows in read)]))
        # Without keys, rows stay where they were read, unless one worker read them all.
        homes = [workers.index(worker) if len(read) > 1 and worker in workers else None for worker, _, _ in read]
        cut = [
            self.cluster.submit(worker, tasks.conformed, future, layout, origin, start, count, home)
            for (worker, future, _), start, home in zip(read, starts, homes, strict=False)
        ]
        pieces = [[self.cluster.submit(worker, tasks.piece, c, j) for j in range(count)] for (worker, _, _), c in zip(read, cut, strict=True)]
        changed = {
            j: self.cluster.submit(part.worker, tasks.merged, part.future, list(layout.keys), *(p[j] for p in pieces))
            for j, part in enumerate(self.parts)
        }
        repeats = self._repeats(layout, [[p[j] for p in pieces] for j in range(count)], self.next_sequence)
        return Change(self._replaced(changed, starts[-1]), None, None, exact=False, repeats=repeats)

    def _repeats(self, layout: Layout, incoming: list[list[Future[pa.Table]]], start: int) -> Repeats | None:
        """The rows of a load (``incoming``: each partition's pieces, numbered from ``start``) that a
        later row with the same key replaces, counted where the key lives."""
        if not layout.keys:
            return None
        found = self.cluster.results(
            [self.cluster.submit(part.worker, tasks.repeated, list(layout.keys), *pieces) for part, pieces in zip(self.parts, incoming, strict=True)],
            [part.worker for part in self.parts],
        )
        count = sum(counted for counted, _ in found)
        firsts = [FirstRepeat(first.key, [row - start for row in first.rows]) for _, first in found if first is not None]
        return Repeats(count, lambda: min(firsts, key=lambda first: first.rows[1])) if count else None

    def dropped(self, condition: BoundFilter | None) -> Change:
        """Without the rows that match ``condition``; None: new, empty partitions on the workers the
        cluster has now (how a table that lost a partition is recovered)."""
        if condition is None:
            return Change(Partitions.create(self.cluster, self.table, self.schema), None, None, exact=False)
        self.check()
        changed = {i: self.cluster.submit(part.worker, tasks.dropped, part.future, condition) for i, part in enumerate(self.parts)}
        return Change(self._replaced(changed, self.next_sequence), None, None, exact=False)

    def load_memory(self, source: Source, access: sources.Access) -> int:
        """Only an Arrow file passes through the server; the workers read every other source."""
        return sources.memory_needed(source, access) if isinstance(source, ArrowFileSource) else 0

    def compacted(self) -> Rows | None:
        return None  # each change builds whole partitions on the workers

    def _replaced(self, changed: dict[int, Future[Any]], next_sequence: int) -> Partitions:
        sizes = self.cluster.results(
            [self.cluster.submit(self.parts[i].worker, tasks.size, f) for i, f in changed.items()], [p.worker for p in self.parts]
        )
        parts = list(self.parts)
        for (i, future), (rows, size) in zip(changed.items(), sizes, strict=True):
            parts[i] = Part(parts[i].worker, future, rows, size)
        return Partitions(self.cluster, self.table, self.schema, tuple(parts), next_sequence)

    # Reads ---------------------------------------------------------------

    def grouped(self, grouping: FactGrouping, visible: RowPlan | None, narrow: RowMask | None) -> pa.Table:
        """The fact rows (those ``visible`` shows and ``narrow`` keeps) grouped as ``group_facts``
        would group them, each worker grouping its own."""
        parts = self._run(tasks.grouped, grouping, visible, narrow).values()
        return merge_groups([aligned(part) for part in parts], grouping)

    def selected(self, condition: BoundFilter | None, visible: RowPlan | None, limit: int | None, columns: Sequence[str]) -> pa.Table:
        """Each worker stops at ``limit`` rows; only the ``columns`` travel back (all when none are named)."""
        found = self._run(tasks.selected, condition, visible, limit, list(columns))
        return _in_order(list(found.values()), limit)

    def counted(self, visible: RowPlan) -> int:
        return sum(self._run(tasks.counted, visible).values())

    def gathered(self) -> pa.Table:
        """Every row, on the session server: for what is only done on small tables (a join's dimension)."""
        with self._gathering:
            if self._gathered is None:
                self.check()
                held = self.cluster.results([p.future for p in self.parts], [p.worker for p in self.parts])
                self._gathered = _in_order(held, None).unify_dictionaries()
            return self._gathered

    def _run(self, function: Any, *args: Any) -> dict[str, Any]:
        self.check()
        try:
            return self.cluster.run({part.worker: (part.future.key, function, args) for part in self.parts})
        except ClusterError:
            self._name_the_lost_partition()
            raise

    def _name_the_lost_partition(self) -> None:
        """A worker failed during the work: ``check``'s error, which names the table and the partition, once
        the scheduler has seen the worker go (it hears of a killed worker within moments)."""
        deadline = time.monotonic() + _LOSS_NOTICED_WITHIN
        while True:
            self.check()
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)


# Seconds the scheduler may take to drop a worker that died during a query from its list.
_LOSS_NOTICED_WITHIN = 5.0


def _in_order(parts: list[pa.Table], limit: int | None) -> pa.Table:
    combined = aligned(pa.concat_tables(parts, promote_options="default"))
    if len(parts) > 1:
        combined = combined.sort_by(SEQUENCE)
    if limit is not None:
        combined = combined.slice(0, limit)
    return combined.drop_columns([SEQUENCE])


@dataclass(frozen=True)
class WorkerReads:
    """A load's rows, read by workers and held where they were read until the load is applied."""

    read: Sequence[tuple[str, Future[pa.Table], int]]
    layout: Layout
    origin: str

    @property
    def num_rows(self) -> int:
        return sum(rows for _, _, rows in self.read)

    def apply(self, current: Rows) -> Change:
        if not isinstance(current, Partitions):  # a table does not leave the cluster
            raise ClusterError(f"table {self.layout.name!r} is no longer on the cluster")
        return current.loaded(self.read, self.layout, self.origin)
