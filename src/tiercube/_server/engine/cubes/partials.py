"""Maintained aggregates: the fact rows grouped once, kept up to date, rolled up by later queries.

Every cube query starts by grouping the fact rows (``grouping.group_facts``).
That grouped table is small, and it is all the rest of the query looks at.
So it is kept (``Partials``, within a memory budget, least
recently used first out), and a later query whose columns and aggregates are
a subset of a kept one rolls it up instead of reading the fact rows.

A kept grouping follows its table's data: every change hands the rows it
added and removed to ``changed``, under the table's write lock, before the
new data is visible. Added rows are grouped and merged (sums and counts add
up, minima, maxima and products combine); removed rows are subtracted where
that is exact (sums, counts and sums of squares, with a count of values to
tell an emptied sum from a zero), and the groups they touched are computed
again from the new data where it is not (minima, maxima and products).
Quantiles and distinct counts keep a grouping that includes the column they
read (a row per distinct value of it), which adds and subtracts like any other. A query uses a grouping only if it was
made from the very version of the rows the query reads (``rows.Rows``, a new
object on every change), so it never sees a stale cell: read-your-writes holds.

Dimension tables are joined after the grouping, so their changes need no
maintenance here, and one fact table's groupings serve every cube over it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import POSITION, Chunked, plain, positions
from tiercube._server.engine.grouping import ROWS, SUBTRACTABLE, FactGrouping, group_facts, merge_groups, roll_up, with_rows
from tiercube._wire.messages import AggregateStats

log = logging.getLogger("tiercube.server")


class Snapshot(Protocol):
    """One version of a table's rows (``rows.Rows``)."""

    @property
    def num_rows(self) -> int: ...

    @property
    def identity(self) -> object:
        """The same object for versions that hold the same values, a new one for every change."""
        ...

    def gathered(self) -> pa.Table:
        """Every row, on the server."""
        ...


def maintained(groups: pa.Table, grouping: FactGrouping, new: Snapshot, added: pa.Table | None, removed: pa.Table | None) -> pa.Table:
    """``groups`` of the old rows, brought to ``new``: the old rows plus ``added`` minus ``removed``.

    ``new`` is read only when rows were removed and minima or maxima must be computed again.
    """
    pieces = [groups]
    if added is not None and added.num_rows:
        pieces.append(group_facts(added.unify_dictionaries(), grouping))
    exact = all(function in SUBTRACTABLE for _, function in grouping.parts)
    gone = group_facts(removed.unify_dictionaries(), grouping) if removed is not None and removed.num_rows else None
    if gone is not None and exact:
        pieces.append(_negated(gone, grouping))
    merged = merge_groups(pieces, grouping)
    if gone is None:
        return merged
    if exact:
        return _emptied_sums_are_null(with_rows(merged), grouping)
    # Minima, maxima and products cannot be subtracted: the groups removed rows touched are computed again.
    affected = gone.select(grouping.key_names)
    fresh = group_facts(_rows_with_keys(grouping.with_calculated(new.gathered()), grouping, affected), grouping)
    untouched = _without_keys(merged, grouping, affected)
    return pa.concat_tables([untouched, fresh.select(untouched.column_names)])


def _negated(groups: pa.Table, grouping: FactGrouping) -> pa.Table:
    for name in [*grouping.part_names, ROWS]:
        index = groups.column_names.index(name)
        negated: Chunked = pc.negate_checked(groups[name])  # ty: ignore[invalid-assignment]
        groups = groups.set_column(index, name, negated)
    return groups


def _emptied_sums_are_null(groups: pa.Table, grouping: FactGrouping) -> pa.Table:
    """A sum whose every value was removed is null again, not 0."""
    for column, function in grouping.parts:
        if function == "sum":
            name = grouping.part_name(column, "sum")
            counted = groups[grouping.part_name(column, "count")]
            emptied = pc.equal(counted, pa.scalar(0, pa.int64()))
            values = groups[name]
            groups = groups.set_column(groups.column_names.index(name), name, pc.if_else(emptied, pa.scalar(None, values.type), values))
    return groups


def _rows_with_keys(data: pa.Table, grouping: FactGrouping, keys: pa.Table) -> pa.Table:
    """The rows of ``data`` whose grouping keys are among ``keys``."""
    if not grouping.keys:
        return data
    return data.take(_matching(data, [c for c in sorted(grouping.keys)], keys, grouping.key_names, "left semi"))


def _without_keys(groups: pa.Table, grouping: FactGrouping, keys: pa.Table) -> pa.Table:
    """The rows of ``groups`` whose keys are not among ``keys``."""
    if not grouping.keys:
        return groups.slice(0, 0)
    return groups.take(_matching(groups, grouping.key_names, keys, grouping.key_names, "left anti"))


def _matching(left: pa.Table, left_names: list[str], right: pa.Table, right_names: list[str], how: Literal["left semi", "left anti"]) -> Chunked:
    """Positions of ``left`` rows whose keys are (semi) or are not (anti) among ``right``'s, null equal to null.

    A hash join never matches nulls, but a null member is a group like any
    other: both sides' keys become codes of one dictionary that encodes null.
    """
    codes_left: dict[str, Chunked] = {}
    codes_right: dict[str, Chunked] = {}
    for index, (a, b) in enumerate(zip(left_names, right_names, strict=True)):
        together = pa.chunked_array([*plain(left[a]).chunks, *plain(right[b]).chunks], type=plain(left[a]).type)
        encoded = pc.dictionary_encode(together, null_encoding="encode")
        indices = pa.chunked_array([cast("pa.DictionaryArray[Any, Any]", chunk).indices for chunk in encoded.chunks]).cast(pa.int32())
        codes_left[f"k{index}"] = indices.slice(0, left.num_rows)
        codes_right[f"k{index}"] = indices.slice(left.num_rows)
    names = list(codes_left)
    left_codes = pa.Table.from_arrays([*codes_left.values(), positions(left.num_rows)], names=[*names, POSITION])
    right_codes = pa.Table.from_arrays(list(codes_right.values()), names=names)
    found: Chunked = left_codes.join(right_codes, keys=names, join_type=how)[POSITION]
    return found


# Below this many fact rows any grouping is kept (it is small anyway), whatever its size.
_SMALL = 10_000
_REMEMBERED = 1_000


@dataclass
class Entry:
    grouping: FactGrouping
    data: object  # the identity of the rows it was made from
    groups: pa.Table
    used: float = field(default_factory=time.monotonic)
    hits: int = 0

    @property
    def nbytes(self) -> int:
        return int(self.groups.nbytes)


class Partials:
    """The kept groupings of every fact table, within ``budget`` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: dict[str, list[Entry]] = {}
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "maintained": 0, "evicted": 0}
        # Groupings that missed, and how often: the queries seen, which choose what to keep.
        self._missed: collections.OrderedDict[FactGrouping, int] = collections.OrderedDict()
        # Groupings too large to keep: grouping them whole again would only cost time.
        self._refused: collections.OrderedDict[FactGrouping, None] = collections.OrderedDict()
        # Each changed table's latest version (its identity): a grouping of an older one is not kept.
        self._latest: dict[str, object] = {}

    def serve(self, data: Snapshot, wanted: FactGrouping) -> pa.Table | None:
        """``wanted`` rolled up from a kept grouping of exactly ``data``, or None."""
        with self._lock:
            usable = [e for e in self._entries.get(wanted.fact, []) if e.data is data.identity and e.grouping.covers(wanted)]
            if not usable:
                self._counts["misses"] += 1
                self._missed[wanted] = self._missed.pop(wanted, 0) + 1
                while len(self._missed) > _REMEMBERED:
                    self._missed.popitem(last=False)
                return None
            entry = min(usable, key=lambda e: e.groups.num_rows)
            entry.used, entry.hits = time.monotonic(), entry.hits + 1
            self._counts["hits"] += 1
            groups, kept = entry.groups, entry.grouping
        return roll_up(groups, kept, wanted)

    def worth_keeping(self, grouping: FactGrouping, *, filtered: bool) -> bool:
        """Whether to group all the fact rows for ``grouping`` and offer the result.

        Not when nothing can be kept, nor for a grouping refused before; for a
        filtered query (which could group only the rows it keeps) only once
        the same grouping missed more than once.
        """
        with self._lock:
            if self.budget <= 0 or grouping in self._refused:
                return False
            return not filtered or self._missed.get(grouping, 0) > 1

    def offer(self, data: Snapshot, wanted: FactGrouping, groups: pa.Table) -> None:
        """Keep ``groups`` (``wanted.kept()`` of ``data``) if it is worth it and fits the budget."""
        grouping = wanted.kept()
        if groups.nbytes > self.budget // 2 or (data.num_rows > _SMALL and groups.num_rows > data.num_rows // 2):
            # About as large as the rows themselves (rolling it up would gain nothing), or beyond the budget.
            with self._lock:
                self._refused[wanted] = None
                while len(self._refused) > _REMEMBERED:
                    self._refused.popitem(last=False)
            return
        entry = Entry(grouping, data.identity, groups)
        with self._lock:
            latest = self._latest.get(grouping.fact, entry.data)
            if latest is not entry.data:
                # Made from rows a change replaced while it was grouped (readers do not wait for
                # writers): it could never serve, and keeping it would push out the maintained ones.
                return
            entries = self._entries.setdefault(grouping.fact, [])
            if any(e.data is entry.data and e.grouping.covers(grouping) for e in entries):
                return
            entries[:] = [e for e in entries if e.data is entry.data and not grouping.covers(e.grouping)]
            entries.append(entry)
            self._evict()

    def changed(self, table: str, old: Snapshot, new: Snapshot, added: pa.Table | None, removed: pa.Table | None) -> None:
        """``table``'s rows went from ``old`` to ``new`` by adding ``added`` and removing ``removed``
        (called under its write lock, before readers see ``new``)."""
        with self._lock:
            entries = self._entries.get(table, [])
            self._latest[table] = new.identity
        kept: list[Entry] = []
        for entry in entries:
            if entry.data is not old.identity:
                continue
            try:
                groups = entry.groups if added is None and removed is None else maintained(entry.groups, entry.grouping, new, added, removed)
            except pa.ArrowException as error:  # never a wrong answer: drop it, a query will rebuild it
                log.warning("a maintained aggregate of %r was dropped: %s", table, error)
                continue
            kept.append(Entry(entry.grouping, new.identity, groups, entry.used, entry.hits))
        with self._lock:
            self._entries[table] = kept
            self._counts["maintained"] += len(kept)
            self._evict()

    def release(self) -> int:
        """Forget every kept grouping, when memory is short: the bytes given back (queries rebuild them)."""
        with self._lock:
            entries = [e for found in self._entries.values() for e in found]
            self._entries.clear()
            self._counts["evicted"] += len(entries)
            return sum(e.nbytes for e in entries)

    def forget(self, table: str) -> None:
        with self._lock:
            self._entries.pop(table, None)
            self._latest.pop(table, None)

    def stats(self) -> AggregateStats:
        with self._lock:
            entries = [e for found in self._entries.values() for e in found]
            return AggregateStats(len(entries), sum(e.nbytes for e in entries), self.budget, **self._counts)

    def _evict(self) -> None:
        entries = sorted((e for found in self._entries.values() for e in found), key=lambda e: e.used)
        total = sum(e.nbytes for e in entries)
        for entry in entries:
            if total <= self.budget:
                break
            self._entries[entry.grouping.fact].remove(entry)
            total -= entry.nbytes
            self._counts["evicted"] += 1
