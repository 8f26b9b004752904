"""Where a table's rows live, behind one protocol: held by the server, or partitioned on a cluster.

``Rows`` is one version of a table's rows. A version never changes: a change
builds the next version completely (``Change.rows``) and the table store swaps
it in, so a failing load leaves the table as it was, a query keeps the version
it started with, and what is kept of a version (maintained aggregates) is told
apart by identity.

``held.HeldRows`` is the server's own; a cluster's partitions implement the
same protocol in ``_server.cluster``; the engine never knows which one it
has. ``Placement`` decides where a new table's rows go, and reads a new
table's source (a cluster reads it on its workers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine import sources
from tiercube._server.engine.arrays import Array, appended, filtered, last_positions, positions
from tiercube._server.engine.duplicates import Repeats
from tiercube._server.engine.filters import BoundFilter, first_matches
from tiercube._server.engine.grouping import FactGrouping, RowMask
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.visibility import RowPlan
from tiercube._wire.messages import ClusterStats, Partition, Read, Source


@dataclass(frozen=True)
class Change:
    """A table's next version, and the rows that went in and out.

    ``exact``: ``added`` and ``removed`` are all that changed, so what is kept
    of the old version can be brought up to date from them; otherwise (rows
    replaced or dropped on a cluster's workers) it is dropped.
    """

    rows: Rows
    added: pa.Table | None
    removed: pa.Table | None
    exact: bool = True
    # What the writer keeps beside the rows (a key index) brought up to date once the change is made.
    commit: Callable[[], None] | None = None
    # Rows of the change that a later row of it with the same key replaced (None: none did).
    repeats: Repeats | None = None


class Pending(Protocol):
    """Rows read for a load, not yet part of the table: made outside its write lock, applied under it."""

    @property
    def num_rows(self) -> int: ...

    def apply(self, current: Rows) -> Change:
        """The version after adding these rows to ``current`` (rows whose key exists replace old ones)."""
        ...


class Rows(Protocol):
    """One version of a table's rows, wherever they live."""

    @property
    def num_rows(self) -> int: ...

    @property
    def identity(self) -> object:
        """The same object for versions that hold the same values (a compacted one), a new one for
        every change: what is kept of the rows (maintained aggregates) is told apart by it."""
        ...

    @property
    def nbytes(self) -> int:
        """The memory the rows hold (for estimates of what reading them costs)."""
        ...

    def gathered(self) -> pa.Table:
        """Every row, on the server, with one dictionary per column (for small tables: a join's dimension)."""
        ...

    def estimated_groups(self, columns: Sequence[str]) -> int:
        """At most how many distinct combinations of ``columns``' values the rows hold, cheaply: for
        estimating what grouping them costs (dictionary sizes, ranges of integers and dates)."""
        ...

    def counted_groups(self, columns: Sequence[str]) -> int:
        """How many distinct combinations of ``columns``' values there are, or an upper bound: a pass
        over the rows, for when ``estimated_groups`` says a grouping may not fit in memory."""
        ...

    def grouped(self, grouping: FactGrouping, visible: RowPlan | None, narrow: RowMask | None) -> pa.Table:
        """The rows ``visible`` shows and ``narrow`` keeps, grouped as ``grouping.group_facts`` groups them."""
        ...

    def selected(self, condition: BoundFilter | None, visible: RowPlan | None, limit: int | None, columns: Sequence[str]) -> pa.Table:
        """The first ``limit`` rows (in arrival order) that ``visible`` shows and ``condition`` keeps;
        only ``columns`` (all when empty)."""
        ...

    def counted(self, visible: RowPlan) -> int:
        """How many rows ``visible`` shows."""
        ...

    def partitions(self, *, workers_shown: bool) -> list[Partition] | None:
        """How the rows are split over a cluster's workers (their addresses only if shown); None: held by the server."""
        ...

    def added(self, data: pa.Table, keys: Sequence[str]) -> Change:
        """``data`` (conformed to the table, on the server) added; a row whose key exists replaces the old one."""
        ...

    def dropped(self, condition: BoundFilter | None) -> Change:
        """Without the rows ``condition`` matches (a row whose condition is null stays); None: without any row."""
        ...

    def pending_load(self, source: Source, layout: Layout, access: sources.Access) -> Pending:
        """``source`` read and conformed to ``layout``, ready to be added."""
        ...

    def load_memory(self, source: Source, access: sources.Access) -> int:
        """About how much of the server's memory ``pending_load`` of ``source`` takes at its peak."""
        ...

    def compacted(self) -> Rows | None:
        """The same rows, with the same ``identity``, holding no more memory than they need (after
        replaced or dropped rows); None when that would gain little. Costs a pass over the rows:
        called off the writers' path."""
        ...


class Placement(Protocol):
    """Where the rows of new tables go, and the cluster behind them if any."""

    def empty(self, layout: Layout, distributed: bool | None, rows: int) -> Rows:
        """No rows yet, where a table of ``rows`` rows goes (``distributed``: as the caller asked, None: by rule)."""
        ...

    def read(self, request: Read, access: sources.Access, origin: str) -> tuple[Layout, Change, int]:
        """A new table's layout (inferred from its source), its first version holding the source's
        rows, and how many rows the source had."""
        ...

    def read_memory(self, request: Read, access: sources.Access) -> int:
        """About how much of the server's memory ``read`` takes at its peak."""
        ...

    def restored(self, layout: Layout, data: pa.Table) -> Rows:
        """Rows a table held before a restart (conformed to ``layout``, unique by key), as they are."""
        ...

    def stats(self) -> ClusterStats | None:
        """The cluster's workers and their memory; None without a cluster."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Added:
    """Rows on the server, conformed to the table, waiting to be added."""

    data: pa.Table
    keys: tuple[str, ...]

    @property
    def num_rows(self) -> int:
        return self.data.num_rows

    def apply(self, current: Rows) -> Change:
        return current.added(self.data, self.keys)


def first_rows(data: pa.Table, condition: BoundFilter | None, mask: Array | None, limit: int | None) -> pa.Table:
    """The first ``limit`` rows of ``data`` that ``mask`` (if any) keeps and ``condition`` matches."""
    if mask is not None:
        data = filtered(data, mask)
    if condition is not None:
        return first_matches(data, condition.expression, limit)
    return data.slice(0, limit) if limit is not None else data


def merge_rows(old: pa.Table, incoming: pa.Table, keys: Sequence[str]) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
    """``old`` with ``incoming`` added, a row whose key exists replacing the old one, in arrival order:
    the new rows, and those that went in and out."""
    combined = appended(old, incoming)
    if not keys or combined.num_rows == 0:
        return combined, incoming, None
    latest = last_positions(combined.select(list(keys)).unify_dictionaries(), list(keys))
    if latest is None:
        return combined, incoming, None
    # Keep the surviving rows in arrival order.
    kept = latest.take(pc.sort_indices(latest))
    survives = pc.is_in(positions(combined.num_rows), value_set=kept)
    old_survives = survives.slice(0, old.num_rows)
    removed = old.filter(pc.invert(old_survives)) if not pc.all(old_survives).as_py() else None
    return combined.take(kept), incoming.filter(survives.slice(old.num_rows)), removed
