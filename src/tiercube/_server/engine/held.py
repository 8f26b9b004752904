"""Rows the session server holds: physical rows in arrival order, some marked as gone, and a key index.

A change costs the rows it touches, not the table: an append adds chunks
(``arrays.appended``), a keyed one finds the rows its keys replace in the key
index (``key_index``) and marks them (``deletions``), a drop marks the rows it
matches. Each version is immutable and shares its chunks and unchanged marks
with the version before; queries mask the marked rows out as they read.
Once a quarter of the physical rows are marked, ``compacted`` gives the space
back (the table store runs it off the writers' path).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine import sources
from tiercube._server.engine.arrays import Array, Chunked, appended, dictionaries_differ, evaluate, filtered, location, take_rows
from tiercube._server.engine.deletions import NONE, Deletions
from tiercube._server.engine.duplicates import repeats_within
from tiercube._server.engine.filters import BoundFilter
from tiercube._server.engine.grouping import FactGrouping, RowMask, group_facts
from tiercube._server.engine.key_index import KeyIndex, index_hashes, latest_of_each_key
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.rows import Added, Change, Pending, Rows, first_rows
from tiercube._server.engine.visibility import RowPlan
from tiercube._wire.messages import ClusterStats, Partition, Read, Source
from tiercube.errors import InvalidRequestError


class HeldRows:
    """One version of a table the server holds: ``data`` (physical rows), ``deletions`` (those gone),
    and the key index of the table's writer (shared by the versions it makes, built on first need)."""

    def __init__(self, data: pa.Table, deletions: Deletions = NONE, index: KeyIndex | None = None, identity: object | None = None) -> None:
        self.identity = identity if identity is not None else object()
        self._data = data
        self._deletions = deletions
        self._index = index
        # Whether the data is known to have one dictionary per column (checked on first need).
        self._unified = False
        # Computed on first need, once per version: which physical rows are alive, and those rows.
        self._alive_rows: Array | None = None
        self._live: pa.Table | None = None
        self._cardinalities: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def empty(cls, layout: Layout) -> HeldRows:
        return cls(layout.schema.empty_table())

    @property
    def num_rows(self) -> int:
        return self._data.num_rows - self._deletions.count

    def _physical(self) -> pa.Table:
        """The physical rows, with one dictionary per column as ``group_by`` needs.

        Appends keep one dictionary per column, but a load (Parquet row groups,
        CSV blocks) may leave several. Unifying costs a pass over the data, so
        it is done once per version and replaces the data held, which has the
        same values: later queries get it free, and no second copy stays alive.
        """
        if not self._unified:
            with self._lock:
                if not self._unified:
                    if dictionaries_differ(self._data):
                        self._data = self._data.unify_dictionaries()
                    self._unified = True
        return self._data

    def _alive(self) -> Array | None:
        if self._deletions.count == 0:
            return None
        with self._lock:
            if self._alive_rows is None:
                self._alive_rows = self._deletions.alive(self._data.num_rows)
            return self._alive_rows

    def _mask(self, data: pa.Table, *masks: RowMask | None) -> Array | None:
        """The rows that are alive and that every one of ``masks`` keeps; None: every row."""
        combined = self._alive()
        for mask in masks:
            found = mask.mask(data) if mask is not None else None
            if found is not None:
                combined = found if combined is None else pc.and_(combined, found)
        return combined

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def estimated_groups(self, columns: Sequence[str]) -> int:
        bound = 1
        for column in columns:
            if column not in self._cardinalities:
                self._cardinalities[column] = cardinality_bound(self._data[column])
            bound = min(bound * self._cardinalities[column], self._data.num_rows)
        return bound

    def counted_groups(self, columns: Sequence[str]) -> int:
        data = self._physical().select(list(columns))
        alive = self._alive()
        if alive is not None:
            data = filtered(data, alive)
        return data.group_by(list(columns), use_threads=False).aggregate([]).num_rows if columns else 1

    def gathered(self) -> pa.Table:
        data = self._physical()
        alive = self._alive()
        if alive is None:
            return data
        with self._lock:
            if self._live is None:
                self._live = filtered(data, alive)
            return self._live

    def grouped(self, grouping: FactGrouping, visible: RowPlan | None, narrow: RowMask | None) -> pa.Table:
        data = self._physical()
        return group_facts(data, grouping, self._mask(data, visible, narrow))

    def selected(self, condition: BoundFilter | None, visible: RowPlan | None, limit: int | None, columns: Sequence[str]) -> pa.Table:
        data = first_rows(self._data, condition, self._mask(self._data, visible), limit)
        return data.select(list(columns)) if columns else data

    def counted(self, visible: RowPlan) -> int:
        mask = self._mask(self._data, visible)
        return self.num_rows if mask is None else int(pc.sum(mask).as_py() or 0)

    def partitions(self, *, workers_shown: bool) -> list[Partition] | None:
        return None

    def added(self, data: pa.Table, keys: Sequence[str]) -> Change:
        if not keys:
            return Change(HeldRows(appended(self._data, data), self._deletions, self._index), data, None)
        incoming, hashes = latest_of_each_key(data, keys, index_hashes(data, keys))
        repeats = repeats_within(data, keys, incoming.num_rows)
        if self._index is None and self.num_rows == 0:
            # Nothing to replace: the index is built when a later change needs it (a restart or a
            # large load does not wait for it).
            return Change(HeldRows(appended(self._data, incoming), self._deletions), incoming, None, repeats=repeats)
        if self._index is None:
            self._index = KeyIndex.built(self._data, keys, self._deletions)
        index = self._index
        found = index.find(self._data, self._deletions, incoming.select(list(keys)), hashes)
        replaced = np.sort(found[found >= 0])
        start = self._data.num_rows
        positions = np.arange(start, start + incoming.num_rows, dtype=np.int64)
        removed = take_rows(self._data, replaced) if len(replaced) else None
        rows = HeldRows(appended(self._data, incoming), self._deletions.marked(replaced), index)
        return Change(rows, incoming, removed, commit=lambda: index.put(hashes, positions, found), repeats=repeats)

    def dropped(self, condition: BoundFilter | None) -> Change:
        if condition is None:
            return Change(HeldRows(self._data.schema.empty_table()), None, self.gathered() if self.num_rows else None)
        data = self._data
        # A row whose condition is null does not match, so it stays.
        hit: Array = evaluate(data, condition.expression).fill_null(False)
        alive = self._alive()
        if alive is not None:
            hit = pc.and_(hit, alive)
        positions = np.flatnonzero(hit.to_numpy(zero_copy_only=False)).astype(np.int64)
        removed = filtered(data, hit) if len(positions) else None
        return Change(HeldRows(data, self._deletions.marked(positions), self._index), None, removed)

    def pending_load(self, source: Source, layout: Layout, access: sources.Access) -> Pending:
        return Added(layout.conform(sources.read(source, layout.columns, access), sources.describe(source)), layout.keys)

    def load_memory(self, source: Source, access: sources.Access) -> int:
        return sources.memory_needed(source, access)

    def compacted(self) -> Rows | None:
        """Worth it once a quarter of the physical rows are marked."""
        rows = self._data.num_rows
        if self._deletions.count == 0 or self._deletions.count * 4 < rows:
            return None
        alive = self._alive()
        index = self._index.compacted(self._deletions, rows) if self._index is not None else None
        return HeldRows(filtered(self._data, alive) if alive is not None else self._data, NONE, index, self.identity)


def cardinality_bound(column: Chunked) -> int:
    """At most how many distinct values ``column`` holds (null counts as one): the sizes of its
    dictionaries, the range of its integers, dates and times, else its length."""
    rows = len(column)
    kind = column.type
    if pa.types.is_dictionary(kind):
        seen = {location(chunk.dictionary): len(chunk.dictionary) for chunk in column.chunks if isinstance(chunk, pa.DictionaryArray)}
        return min(sum(seen.values()) + 1, rows)
    if pa.types.is_boolean(kind):
        return min(3, rows)
    if (pa.types.is_integer(kind) or pa.types.is_temporal(kind)) and rows and column.null_count < rows:
        extremes: Any = pc.min_max(column)
        # As integers (days, microseconds...): how many values fit between the extremes.
        # Arrow casts 32-bit dates and times to 32-bit integers only.
        narrow = pa.types.is_date32(kind) or pa.types.is_time32(kind)
        low, high = (int(extremes[end].cast(pa.int32() if narrow else pa.int64()).as_py()) for end in ("min", "max"))
        return min(high - low + 2, rows)
    return rows


class ServerPlacement:
    """Every table held by the session server: a session without a cluster."""

    def empty(self, layout: Layout, distributed: bool | None, rows: int) -> Rows:
        if distributed:
            raise InvalidRequestError(
                f"table {layout.name!r} cannot be distributed: this session has no cluster "
                "(start it with Session.start(cluster=...) or tiercube serve --cluster)"
            )
        return HeldRows.empty(layout)

    def read(self, request: Read, access: sources.Access, origin: str) -> tuple[Layout, Change, int]:
        return read_on_server(request, access, origin, self.empty)

    def read_memory(self, request: Read, access: sources.Access) -> int:
        return sources.memory_needed(request.source, access)

    def restored(self, layout: Layout, data: pa.Table) -> Rows:
        # Held as they are: checking the keys again would cost seconds on a large table's restart
        # (the key index is built by the first change that needs it).
        return HeldRows(data)

    def stats(self) -> ClusterStats | None:
        return None

    def close(self) -> None:
        pass


def read_on_server(
    request: Read, access: sources.Access, origin: str, empty: Callable[[Layout, bool | None, int], Rows]
) -> tuple[Layout, Change, int]:
    """The source read by the server, its rows then put where ``empty`` puts a table of that size."""
    incoming = sources.read(request.source, request.data_types, access)
    layout = Layout.read(request, incoming.schema, origin)
    conformed = layout.conform(incoming, origin)
    first = empty(layout, request.distributed, incoming.num_rows).added(conformed, layout.keys)
    return layout, first, incoming.num_rows
