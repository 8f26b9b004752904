"""Where a table's rows live, behind one protocol: held by the server, or partitioned on a cluster.

``Rows`` is one version of a table's rows. A version never changes: a change
builds the next version completely (``Change.rows``) and the table store swaps
it in, so a failing load leaves the table as it was, a query keeps the version
it started with, and what is kept of a version (maintained aggregates) is told
apart by identity.

``HeldRows`` is the server's own: one immutable ``pa.Table``. A cluster's
partitions implement the same protocol in ``_server.cluster``; the engine
never knows which one it has. ``Placement`` decides where a new table's rows
go, and reads a new table's source (a cluster reads it on its workers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine import sources
from tiercube._server.engine.arrays import appended, dictionaries_differ, filtered, last_positions, positions
from tiercube._server.engine.filters import BoundFilter, first_matches
from tiercube._server.engine.grouping import FactGrouping, RowMask, group_visible
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.visibility import RowPlan
from tiercube._wire.messages import ClusterStats, Partition, Read, Source
from tiercube.errors import InvalidRequestError


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

    def gathered(self) -> pa.Table:
        """Every row, on the server, with one dictionary per column (for small tables: a join's dimension)."""
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


class Placement(Protocol):
    """Where the rows of new tables go, and the cluster behind them if any."""

    def empty(self, layout: Layout, distributed: bool | None, rows: int) -> Rows:
        """No rows yet, where a table of ``rows`` rows goes (``distributed``: as the caller asked, None: by rule)."""
        ...

    def read(self, request: Read, access: sources.Access, origin: str) -> tuple[Layout, Change, int]:
        """A new table's layout (inferred from its source), its first version holding the source's
        rows, and how many rows the source had."""
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


class HeldRows:
    """Rows the session server holds: one ``pa.Table``, never mutated."""

    def __init__(self, data: pa.Table) -> None:
        self._data = data
        # Whether the data is known to have one dictionary per column (checked on first need).
        self._unified = False
        self._unifying = threading.Lock()

    @classmethod
    def empty(cls, layout: Layout) -> HeldRows:
        return cls(layout.schema.empty_table())

    @property
    def num_rows(self) -> int:
        return self._data.num_rows

    def gathered(self) -> pa.Table:
        """The rows, with one dictionary per column as ``group_by`` needs.

        Appends keep one dictionary per column, but a load (Parquet row groups,
        CSV blocks) may leave several. Unifying costs a pass over the data, so
        it is done once per version and replaces the data held, which has the
        same values: later queries get it free, and no second copy stays alive.
        """
        if not self._unified:
            with self._unifying:
                if not self._unified:
                    if dictionaries_differ(self._data):
                        self._data = self._data.unify_dictionaries()
                    self._unified = True
        return self._data

    def grouped(self, grouping: FactGrouping, visible: RowPlan | None, narrow: RowMask | None) -> pa.Table:
        return group_visible(self.gathered(), grouping, visible, narrow)

    def selected(self, condition: BoundFilter | None, visible: RowPlan | None, limit: int | None, columns: Sequence[str]) -> pa.Table:
        data = first_rows(self._data, condition, visible, limit)
        return data.select(list(columns)) if columns else data

    def counted(self, visible: RowPlan) -> int:
        return int(pc.sum(visible.mask(self._data)).as_py() or 0)

    def partitions(self, *, workers_shown: bool) -> list[Partition] | None:
        return None

    def added(self, data: pa.Table, keys: Sequence[str]) -> Change:
        merged, added, removed = merge_rows(self._data, data, keys)
        return Change(HeldRows(merged), added, removed)

    def dropped(self, condition: BoundFilter | None) -> Change:
        old = self._data
        if condition is None:
            return Change(HeldRows(old.schema.empty_table()), None, old)
        matches = condition.expression
        # A row whose condition is null does not match, so it stays.
        keep = ~matches | matches.is_null()
        return Change(HeldRows(old.filter(keep)), None, old.filter(~keep))

    def pending_load(self, source: Source, layout: Layout, access: sources.Access) -> Pending:
        return Added(layout.conform(sources.read(source, layout.columns, access), sources.describe(source)), layout.keys)


def first_rows(data: pa.Table, condition: BoundFilter | None, visible: RowPlan | None, limit: int | None) -> pa.Table:
    """The first ``limit`` rows of ``data`` that ``visible`` shows and ``condition`` keeps."""
    if visible is not None:
        data = filtered(data, visible.mask(data))
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
        return self.read_on_server(request, access, origin, self.empty)

    def restored(self, layout: Layout, data: pa.Table) -> Rows:
        # Held as they are: checking the keys again would cost seconds on a large table's restart.
        return HeldRows(data)

    @staticmethod
    def read_on_server(
        request: Read, access: sources.Access, origin: str, empty: Callable[[Layout, bool | None, int], Rows]
    ) -> tuple[Layout, Change, int]:
        """The source read by the server, its rows then put where ``empty`` puts a table of that size."""
        incoming = sources.read(request.source, request.data_types, access)
        layout = Layout.read(request, incoming.schema, origin)
        conformed = layout.conform(incoming, origin)
        first = empty(layout, request.distributed, incoming.num_rows).added(conformed, layout.keys)
        return layout, first, incoming.num_rows

    def stats(self) -> ClusterStats | None:
        return None

    def close(self) -> None:
        pass
