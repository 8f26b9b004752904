"""Maintained aggregates: the fact rows grouped once, kept up to date, rolled up by later queries.

Every cube query starts by grouping the fact table by the fact columns it
needs (its levels on the fact, the join keys of its dimensions) with the
partial aggregates its measures need (sum, count, min, max, row count):
``group_facts``. That grouped table is small, and it is all the rest of the
query looks at. So it is kept (``Partials``, within a memory budget, least
recently used first out), and a later query whose columns and aggregates are
a subset of a kept one rolls it up instead of reading the fact rows.

A kept grouping follows its table's data: every change hands the rows it
added and removed to ``changed``, under the table's write lock, before the
new data is visible. Added rows are grouped and merged (sums and counts add
up, minima and maxima combine); removed rows are subtracted where that is
exact (sums and counts, with a count of values to tell an emptied sum from a
zero), and the groups they touched are computed again from the new data
where it is not (minima and maxima). A query uses a grouping only if it was
made from the very data object the query reads, so it never sees a stale
cell: read-your-writes holds.

Dimension tables are joined after the grouping, so their changes need no
maintenance here, and one fact table's groupings serve every cube over it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import POSITION, Array, Chunked, filtered, plain, positions
from tiercube._server.engine.cubes.model import alias
from tiercube._server.engine.tables import Snapshot
from tiercube._wire.messages import AggregateStats

log = logging.getLogger("tiercube.server")

PartFunction: TypeAlias = Literal["sum", "count", "min", "max"]
ROWS = "\x1frows"
_COMBINE: dict[PartFunction, Any] = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}
# The stubs spell aggregation lists out by function name; ours are built from data.
Aggregations: TypeAlias = "list[tuple[Any, ...]]"


@dataclass(frozen=True)
class FactGrouping:
    """Fact columns to group by, and (column, function) partial aggregates to compute per group."""

    fact: str
    keys: frozenset[str]
    parts: frozenset[tuple[str, PartFunction]]

    def covers(self, other: FactGrouping) -> bool:
        return self.fact == other.fact and other.keys <= self.keys and other.parts <= self.parts

    @property
    def key_names(self) -> list[str]:
        return [alias(self.fact, column) for column in sorted(self.keys)]

    def part_name(self, column: str, function: PartFunction) -> str:
        return f"{alias(self.fact, column)}\x1f{function}_{function}"

    @property
    def part_names(self) -> list[str]:
        return [self.part_name(column, function) for column, function in sorted(self.parts)]

    def kept(self) -> FactGrouping:
        """This grouping as it is kept: every sum with the count of its values, to subtract exactly."""
        counts: set[tuple[str, PartFunction]] = {(column, "count") for column, function in self.parts if function == "sum"}
        return FactGrouping(self.fact, self.keys, self.parts | counts)


def group_facts(data: pa.Table, grouping: FactGrouping, rows: Array | None = None) -> pa.Table:
    """``data`` (with one dictionary per column) grouped by ``grouping``: keys, parts, then ``ROWS``.

    With ``rows``, only the rows it marks: the needed columns are selected first, then filtered.
    """
    inputs = data.select([])  # keeps the row count when no column is needed
    for column in sorted(grouping.keys):
        inputs = inputs.append_column(alias(grouping.fact, column), data[column])
    aggregations: Aggregations = [([], "count_all")]
    for column, function in sorted(grouping.parts):
        source = f"{alias(grouping.fact, column)}\x1f{function}"
        if source not in inputs.column_names:
            values: Chunked = plain(data[column]) if function in ("min", "max") else data[column]
            inputs = inputs.append_column(source, values)
        aggregations.append((source, function))
    if rows is not None:
        inputs = filtered(inputs, rows)
    grouped = inputs.group_by(grouping.key_names).aggregate(aggregations).rename_columns({"count_all": ROWS})
    # Keys as plain values: groupings are small, and pyarrow 26 crashes unifying the dictionaries
    # group_by gives dictionary keys that hold a null.
    for name in grouping.key_names:
        grouped = grouped.set_column(grouped.column_names.index(name), name, plain(grouped[name]))
    return _non_empty(grouped, grouping)


def roll_up(groups: pa.Table, kept: FactGrouping, wanted: FactGrouping) -> pa.Table:
    """``groups`` (made for ``kept``) as ``group_facts`` would give them for ``wanted``."""
    names = [*wanted.key_names, *wanted.part_names, ROWS]
    if kept.keys == wanted.keys:
        return groups.select(names)
    aggregations: Aggregations = [(wanted.part_name(c, f), _COMBINE[f]) for c, f in sorted(wanted.parts)] + [(ROWS, "sum")]
    rolled = groups.select(names).group_by(wanted.key_names).aggregate(aggregations)
    rolled = rolled.rename_columns({f"{name}_{combine}": name for name, combine in aggregations})
    return _non_empty(rolled.select(names), wanted)


def _non_empty(grouped: pa.Table, grouping: FactGrouping) -> pa.Table:
    # A keyless group_by answers one row even without any fact row: no row, no cell.
    return grouped if grouping.keys else _with_rows(grouped)


def _with_rows(grouped: pa.Table) -> pa.Table:
    """The groups that still have fact rows."""
    kept: pa.Table = grouped.filter(pc.greater(grouped[ROWS], pa.scalar(0, pa.int64())))  # ty: ignore[invalid-argument-type]
    return kept


def maintained(groups: pa.Table, grouping: FactGrouping, data: pa.Table | None, added: pa.Table | None, removed: pa.Table | None) -> pa.Table:
    """``groups`` of the old data, brought to ``data``: the old data plus ``added`` minus ``removed``.

    ``data`` (the new rows) is read only when rows were removed; None where they are not at hand.
    """
    pieces = [groups]
    if added is not None and added.num_rows:
        pieces.append(group_facts(added.unify_dictionaries(), grouping))
    exact = all(function in ("sum", "count") for _, function in grouping.parts)
    gone = group_facts(removed.unify_dictionaries(), grouping) if removed is not None and removed.num_rows else None
    if gone is not None and exact:
        pieces.append(_negated(gone, grouping))
    merged = merge_groups(pieces, grouping)
    if gone is None:
        return merged
    if exact:
        return _emptied_sums_are_null(_with_rows(merged), grouping)
    # Minima and maxima cannot be subtracted: the groups removed rows touched are computed again.
    if data is None:
        raise ValueError("rows were removed but the new data is not at hand")
    affected = gone.select(grouping.key_names)
    fresh = group_facts(_rows_with_keys(data, grouping, affected), grouping)
    untouched = _without_keys(merged, grouping, affected)
    return pa.concat_tables([untouched, fresh.select(untouched.column_names)])


def merge_groups(pieces: list[pa.Table], grouping: FactGrouping) -> pa.Table:
    """Groupings of parts of the fact rows (each by ``group_facts``) as one grouping of them all."""
    if len(pieces) == 1:
        return pieces[0]
    together = pa.concat_tables(pieces, promote_options="permissive")
    return roll_up_same(together, grouping)


def roll_up_same(groups: pa.Table, grouping: FactGrouping) -> pa.Table:
    """Combine rows of ``groups`` that have the same keys."""
    names = [*grouping.key_names, *grouping.part_names, ROWS]
    aggregations: Aggregations = [(grouping.part_name(c, f), _COMBINE[f]) for c, f in sorted(grouping.parts)] + [(ROWS, "sum")]
    combined = groups.group_by(grouping.key_names).aggregate(aggregations)
    combined = combined.rename_columns({f"{name}_{combine}": name for name, combine in aggregations})
    return _non_empty(combined.select(names), grouping)


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
    data: Snapshot  # what it was made from: identity is its version
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

    def serve(self, data: Snapshot, wanted: FactGrouping) -> pa.Table | None:
        """``wanted`` rolled up from a kept grouping of exactly ``data``, or None."""
        with self._lock:
            usable = [e for e in self._entries.get(wanted.fact, []) if e.data is data and e.grouping.covers(wanted)]
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
        entry = Entry(grouping, data, groups)
        with self._lock:
            entries = self._entries.setdefault(grouping.fact, [])
            if any(e.data is data and e.grouping.covers(grouping) for e in entries):
                return
            entries[:] = [e for e in entries if e.data is data and not grouping.covers(e.grouping)]
            entries.append(entry)
            self._evict()

    def changed(self, table: str, old: Snapshot, new: Snapshot, added: pa.Table | None, removed: pa.Table | None) -> None:
        """``table``'s data went from ``old`` to ``new`` (called under its write lock, before readers see it).

        A distributed table's change hands only rows it added: removed rows are on the workers.
        """
        with self._lock:
            entries = self._entries.get(table, [])
        kept: list[Entry] = []
        for entry in entries:
            if entry.data is not old:
                continue
            rows = new if isinstance(new, pa.Table) else None
            if removed is not None and rows is None:
                continue  # never handed so; a query would rebuild it
            try:
                groups = entry.groups if added is None and removed is None else maintained(entry.groups, entry.grouping, rows, added, removed)
            except (pa.ArrowException, ValueError) as error:  # never a wrong answer: drop it, a query will rebuild it
                log.warning("a maintained aggregate of %r was dropped: %s", table, error)
                continue
            kept.append(Entry(entry.grouping, new, groups, entry.used, entry.hits))
        with self._lock:
            self._entries[table] = kept
            self._counts["maintained"] += len(kept)
            self._evict()

    def forget(self, table: str) -> None:
        with self._lock:
            self._entries.pop(table, None)

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
