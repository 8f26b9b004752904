"""Scopes: a measure's values in other cells than the one being computed, combined per cell.

Every function here takes the cells of one set of levels (``Cells.at``), asks
the evaluator for the inner measure at the same or a wider set of levels, and
works on whole columns: sorting the cells once (numpy and Arrow), running sums
and binary searches, and a hash join on level codes to line the values up with
the cells asked for (``lookup``). None loops over cells in Python.

Members are ordered by value (codes are ranks of values, nulls last). "The n
members before" counts the members the level has among the query's fact rows,
whether or not the cell at hand has a value for each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import POSITION, Array, Chunked, positions
from tiercube._server.engine.calendar import moved
from tiercube._server.engine.cubes.cells import Cells, LevelSet, code_column, nulls, repeat, threaded
from tiercube._server.engine.cubes.holistic import VALUE, quantiles
from tiercube._server.engine.cubes.model import Cube
from tiercube._server.engine.filters import BoundFilter
from tiercube._wire.cubes import At, Cumulative, MeasureExpr, MemberOf, Origin, Period, Rank, Shift, Siblings
from tiercube._wire.filters import And, Compare, Filter, IsNull
from tiercube.errors import QueryError

Context = frozenset[bytes]
Ints = npt.NDArray[np.int64]


class Evaluating(Protocol):
    """What scopes need of the evaluator: the cube, its cells, and measures at any set of levels."""

    cube: Cube
    cells: Cells

    def measure(self, node: MeasureExpr, levels: LevelSet, context: Context) -> Array: ...

    def bound(self, condition: Filter) -> BoundFilter: ...


def widened(levels: LevelSet, *extra: str | None) -> LevelSet:
    """``levels`` and then those of ``extra`` it lacks."""
    return tuple(dict.fromkeys([*levels, *(e for e in extra if e is not None)]))


def lookup(cells: Cells, levels: LevelSet, keys: Sequence[str], source: pa.Table) -> Array:
    """``source``'s ``VALUE`` for each cell of ``levels``, found by the codes of ``keys`` (null where none)."""
    size = cells.rows(levels)
    values = source[VALUE].combine_chunks()
    if not keys:
        value: pa.Scalar[Any] = values[0] if len(values) else pa.scalar(None, values.type)
        return repeat(value, size)
    target = cells.at(levels)
    return found_at(cells, keys, [target[code_column(k)] for k in keys], source, values)


def found_at(cells: Cells, keys: Sequence[str], wanted: Sequence[Chunked | Array], source: pa.Table, values: Array) -> Array:
    """The ``values`` of the rows of ``source`` whose codes of ``keys`` are ``wanted`` (one array of codes
    per key, nulls matching nothing), in the order of ``wanted``; null where no row matches.

    Cells are few: each side's codes become one integer (mixed radix), and a binary search over the
    sorted source finds them, without the thread pool an Acero join hands its batches to.
    """
    radix = [len(cells.values[key]) + 1 for key in keys]
    if math.prod(radix) >= 2**62:  # too many members to number every combination: a hash join
        return _joined(keys, wanted, source, values)
    left, valid = _combined(wanted, radix)
    right, _ = _combined([source[code_column(key)] for key in keys], radix)
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    place = np.clip(np.searchsorted(ordered, left), 0, max(len(ordered) - 1, 0))
    hit = valid & (ordered[place] == left) if len(ordered) else np.zeros(len(left), dtype=bool)
    indices: Any = pa.array(order[place] if len(ordered) else place, mask=~hit)
    picked: Array = values.take(indices)
    return picked


def _combined(codes: Sequence[Chunked | Array], radix: Sequence[int]) -> tuple[Ints, npt.NDArray[np.bool_]]:
    """Codes of several levels as one integer per row, and whether every code was there (not null)."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    valid = np.ones(len(codes[0]), dtype=bool)
    for column, base in zip(codes, radix, strict=True):
        valid &= np.asarray(pc.is_valid(column))
        combined = combined * base + np.asarray(column.fill_null(pa.scalar(0, column.type))).astype(np.int64)
    return combined, valid


def _joined(keys: Sequence[str], wanted: Sequence[Chunked | Array], source: pa.Table, values: Array) -> Array:
    names = [code_column(key) for key in keys]
    left = pa.Table.from_arrays([*wanted, positions(len(wanted[0]))], names=[*names, POSITION])
    right = source.select(names).append_column(VALUE, values)
    joined = left.join(right, keys=names, join_type="left outer", use_threads=threaded(left)).sort_by(POSITION)
    found: Array = joined[VALUE].combine_chunks()
    return found


def _with_values(table: pa.Table, levels: Sequence[str], values: Array) -> pa.Table:
    return table.select([code_column(level) for level in levels]).append_column(VALUE, values)


def _codes(table: pa.Table, level: str) -> Ints:
    codes: Ints = table[code_column(level)].to_numpy().astype(np.int64)
    return codes


def _fold(cells: Cells, levels: LevelSet, wider: LevelSet, values: Array, combine: str) -> Array:
    """Values of the cells of ``wider`` combined into those of ``levels`` (each a union of them)."""
    if wider == levels:
        return values
    table = _with_values(cells.at(wider), levels, values)
    if cells.rows(wider) == cells.rows(levels):
        return lookup(cells, levels, levels, table)  # one cell of ``wider`` per cell (a hierarchy): nothing to combine
    names = [code_column(level) for level in levels]
    combined = table.group_by(names, use_threads=threaded(table)).aggregate(_aggregation(combine)).rename_columns({f"{VALUE}_{combine}": VALUE})
    return lookup(cells, levels, levels, combined)


def _aggregation(kernel: str) -> list[tuple[Any, ...]]:
    """``VALUE`` aggregated with ``kernel`` (the stubs spell aggregations out by name; ours are data)."""
    return [(VALUE, kernel)]


def partitions(table: pa.Table, keys: Sequence[str], order: Sequence[Ints]) -> tuple[Ints, Ints]:
    """The rows of ``table`` sorted by the codes of ``keys`` and then by ``order`` (most significant first),
    and the number of the partition (run of equal ``keys``) each sorted row is in."""
    columns = [_codes(table, key) for key in keys]
    sorted_rows = np.lexsort([*reversed(order), *reversed(columns)]).astype(np.int64) if table.num_rows else np.zeros(0, np.int64)
    change = np.zeros(len(sorted_rows), dtype=bool)
    if len(sorted_rows):
        change[0] = True
        for column in columns:
            ordered = column[sorted_rows]
            change[1:] |= ordered[1:] != ordered[:-1]
    return sorted_rows, np.cumsum(change).astype(np.int64) - 1


def _unsorted(sorted_rows: Ints, values: Any) -> Any:
    """``values`` given in the order of ``sorted_rows``, back in the rows' own order."""
    result = np.empty_like(values)
    result[sorted_rows] = values
    return result


def member_positions(cells: Cells, level: str) -> Ints:
    """For each code of ``level``, its position among the members the query's fact rows have (-1: none)."""
    size = len(cells.values[level])
    present = np.bincount(_codes(cells.base, level), minlength=size)[:size] > 0  # no sort: codes are small integers
    mapping: Ints = np.where(present, np.cumsum(present) - 1, -1).astype(np.int64)
    return mapping


# Cumulative ----------------------------------------------------------------


def cumulative(evaluator: Evaluating, node: Cumulative, levels: LevelSet, context: Context) -> Array:
    """Computed by the levels of the row that are not below ``node.level`` (a running total of months
    is one per month, whatever days the row shows), then handed to the row's cells."""
    if node.level not in levels:
        return evaluator.measure(node.measure, levels, context)
    cells, cube = evaluator.cells, evaluator.cube
    wider = widened(levels, node.partitioning)
    below = cube.level_and_below(node.level)[1:]
    coarse = tuple(level for level in wider if level not in below)
    values = evaluator.measure(node.measure, coarse, context)
    table = cells.at(coarse)
    keys = [level for level in coarse if level != node.level]
    mapping = member_positions(cells, node.level)
    position = mapping[_codes(table, node.level)]
    sorted_rows, partition = partitions(table, keys, [position])
    ordered_position = position[sorted_rows]
    valid = np.asarray(pc.is_valid(values))[sorted_rows]
    numbers = _numbers(values)[sorted_rows]
    sums = np.cumsum(np.where(valid, numbers, 0))
    counts = np.cumsum(valid.astype(np.int64))
    width = len(cells.values[node.level]) + 1
    key = partition * width + ordered_position
    first = np.searchsorted(key, partition * width, side="left")  # the partition's first row
    if node.window is not None and node.window.members is not None:
        # Never before the partition's first row: a window reaching back further is cut there.
        reach = np.maximum(ordered_position - node.window.members, -1)
        first = np.searchsorted(key, partition * width + reach, side="right")
    elif node.window is not None and node.window.period is not None:
        start = _period_start(cells, node.level, node.window.period, mapping)[_codes(table, node.level)[sorted_rows]]
        first = np.searchsorted(key, partition * width + start, side="left")
    last = np.arange(len(sorted_rows))
    total = sums[last] - np.where(first > 0, sums[np.maximum(first - 1, 0)], 0)
    count = counts[last] - np.where(first > 0, counts[np.maximum(first - 1, 0)], 0)
    result = pa.array(_unsorted(sorted_rows, total), mask=_unsorted(sorted_rows, count == 0)).cast(_sum_type(values))
    return _handed_down(cells, levels, wider, coarse, result)


def _handed_down(cells: Cells, levels: LevelSet, wider: LevelSet, coarse: LevelSet, values: Array) -> Array:
    """Values of the cells of ``coarse`` (``wider`` without some levels) for the cells of ``levels``
    (``wider`` without some others): each cell of ``wider`` takes its coarse cell's value, then
    the cells of ``wider`` that make up a cell of ``levels`` add up (one, in a hierarchy)."""
    if coarse != wider:
        values = lookup(cells, wider, coarse, _with_values(cells.at(coarse), coarse, values))
    return _fold(cells, levels, wider, values, "sum")


def _numbers(values: Array) -> npt.NDArray[Any]:
    if pa.types.is_integer(values.type):
        numbers: npt.NDArray[Any] = values.fill_null(0).to_numpy().astype(np.int64)
        if numbers.size and float(np.abs(numbers.astype(np.float64)).sum()) >= 2.0**62:
            raise QueryError("a running total would overflow 64-bit integers; cast the measure to a float")
        return numbers
    if not (pa.types.is_floating(values.type) or pa.types.is_null(values.type)):
        raise QueryError(f"a running total adds numbers, not {values.type}")
    floats: npt.NDArray[Any] = values.cast(pa.float64()).fill_null(0.0).to_numpy()
    return floats


def _sum_type(values: Array) -> pa.DataType:
    return pa.int64() if pa.types.is_integer(values.type) else pa.float64()


def _period_start(cells: Cells, level: str, period: Period, mapping: Ints) -> Ints:
    """For each code of ``level``: the position of the first member later than the member minus ``period``
    (the window is (member - period, member]); a null member's window is itself."""
    values = cells.values[level]
    present = np.flatnonzero(mapping >= 0)
    members = values.take(present)
    earliest = moved(values, period, -1)
    starts = np.searchsorted(_sortable(members), _sortable(earliest), side="right").astype(np.int64)
    null = np.asarray(pc.is_null(values))
    return np.where(null, mapping, starts)


def _sortable(values: Array) -> npt.NDArray[np.int64]:
    """Dates and timestamps as integers in the same order (nulls last)."""
    integers = values.cast(pa.int32() if pa.types.is_date32(values.type) else pa.int64())
    numbers: npt.NDArray[np.int64] = integers.cast(pa.int64()).fill_null(np.iinfo(np.int64).max).to_numpy()
    return numbers


# Shift and at --------------------------------------------------------------


def shift(evaluator: Evaluating, node: Shift, levels: LevelSet, context: Context) -> Array:
    cells = evaluator.cells
    values = evaluator.measure(node.measure, levels, context)
    if node.level not in levels:
        return nulls(len(values), values.type)
    table = cells.at(levels)
    codes = _codes(table, node.level)
    if node.period is None:
        mapping = member_positions(cells, node.level)
        present = np.flatnonzero(mapping >= 0)
        target_position = mapping[codes] + node.offset
        inside = (target_position >= 0) & (target_position < len(present))
        target: Array = pa.array(present[np.clip(target_position, 0, max(len(present) - 1, 0))].astype(np.int32), mask=~inside)
    else:
        members = cells.values[node.level]
        found = pc.index_in(moved(members, node.period), value_set=members, skip_nulls=True)
        target = found.take(codes).cast(pa.int32())
    wanted = [target if level == node.level else table[code_column(level)] for level in levels]
    return found_at(cells, levels, wanted, _with_values(table, levels, values), values)


def at(evaluator: Evaluating, node: At, levels: LevelSet, context: Context) -> Array:
    cells = evaluator.cells
    fixed = list(node.members)
    wider = widened(levels, *fixed)
    values = evaluator.measure(node.measure, wider, context)
    table = cells.at(wider)
    conditions: list[Filter] = [IsNull(level) if member is None else Compare(level, "==", member) for level, member in node.members.items()]
    matches = cells.matches(table, wider, evaluator.bound(And(conditions)))
    keys = [level for level in levels if level not in fixed]
    source = _with_values(table, keys, values).filter(matches)
    return lookup(cells, levels, keys, source)


# Siblings and origin --------------------------------------------------------


def siblings(evaluator: Evaluating, node: Siblings, levels: LevelSet, context: Context) -> Array:
    values = evaluator.measure(node.measure, levels, context)
    if node.level not in levels:
        return nulls(len(values), values.type) if node.exclude_self else values
    cells = evaluator.cells
    below = evaluator.cube.level_and_below(node.level)
    keys = [level for level in levels if level not in below]
    names = [code_column(level) for level in keys]
    own = _with_values(cells.at(levels), keys, values)
    totals = own.group_by(names, use_threads=threaded(own)).aggregate(_aggregation("sum"))
    total = lookup(cells, levels, keys, totals.rename_columns({f"{VALUE}_sum": VALUE}))
    if not node.exclude_self:
        return total
    others: Array = pc.if_else(pc.is_null(values), total, pc.subtract(total, values))
    return others


def origin(evaluator: Evaluating, node: Origin, levels: LevelSet, context: Context) -> Array:
    cells = evaluator.cells
    wider = widened(levels, *node.levels)
    values = evaluator.measure(node.measure, wider, context)
    table = _with_values(cells.at(wider), levels, values)
    names = [code_column(level) for level in levels]
    if node.function == "median":
        combined = quantiles(table, names, VALUE, None, 0.5, "linear")
    else:
        kernel = "mean" if node.function == "mean" else node.function
        combined = table.group_by(names, use_threads=threaded(table)).aggregate(_aggregation(kernel)).rename_columns({f"{VALUE}_{kernel}": VALUE})
    return lookup(cells, levels, levels, combined)


# Rank and members -----------------------------------------------------------


def rank(evaluator: Evaluating, node: Rank, levels: LevelSet, context: Context) -> Array:
    """Ranks the members of ``node.level`` by the levels of the row that are not below it (a row by
    category and product shows its category's rank), within the row's other members."""
    cells = evaluator.cells
    if node.level not in levels:
        return nulls(cells.rows(levels), pa.int64())
    wider = widened(levels, node.within)
    below = evaluator.cube.level_and_below(node.level)[1:]
    coarse = tuple(level for level in wider if level not in below)
    values = evaluator.measure(node.measure, coarse, context)
    keys = [level for level in coarse if level != node.level]
    ranks = _ranks(cells.at(coarse), keys, values, node.ascending)
    if coarse != wider:
        ranks = lookup(cells, wider, coarse, _with_values(cells.at(coarse), coarse, ranks))
    return _fold(cells, levels, wider, ranks, "min")


def _ranks(table: pa.Table, keys: list[str], values: Array, ascending: bool) -> Array:
    """SQL's ``rank()`` of each row's value among the rows with the same ``keys``; null for a null value."""
    size = table.num_rows
    if size == 0:
        return pa.array([], pa.int64())
    by_value = order_key(values, ascending)
    sorted_rows, partition = partitions(table, keys, [by_value])
    ordered = by_value[sorted_rows]
    new_value = np.ones(size, dtype=bool)
    new_value[1:] = (ordered[1:] != ordered[:-1]) | (partition[1:] != partition[:-1])
    index = np.arange(size)
    partition_start = np.searchsorted(partition, partition, side="left")
    tie_start = np.maximum.accumulate(np.where(new_value, index, 0))
    ranks = tie_start - partition_start + 1
    valid = np.asarray(pc.is_valid(values))
    ranked: Array = pa.array(_unsorted(sorted_rows, ranks).astype(np.int64), mask=~valid)
    return ranked


def order_key(values: Array, ascending: bool) -> Ints:
    """Integers ordered as ``values`` (nulls last whatever the direction): their ranks among themselves."""
    order = pc.array_sort_indices(values, order="ascending" if ascending else "descending", null_placement="at_end")
    ordered = values.take(order)
    same = np.zeros(len(values), dtype=bool)
    if len(values) > 1:
        same[1:] = np.asarray(pc.equal(ordered.slice(1), ordered.slice(0, len(values) - 1)).fill_null(False))
        same[1:] |= np.asarray(pc.and_(pc.is_null(ordered.slice(1)), pc.is_null(ordered.slice(0, len(values) - 1))))
    dense = np.cumsum(~same).astype(np.int64)
    keyed: Ints = _unsorted(np.asarray(order).astype(np.int64), dense)
    return keyed


def member_of(evaluator: Evaluating, node: MemberOf, levels: LevelSet, context: Context) -> Array:
    cells = evaluator.cells
    wider = widened(levels, node.level)
    values = evaluator.measure(node.measure, wider, context)
    table = cells.at(wider)
    member_type = cells.values[node.level].type
    valid = np.asarray(pc.is_valid(values))
    if not valid.any():
        return nulls(cells.rows(levels), member_type)
    by_value = order_key(values, ascending=not node.largest)
    codes = _codes(table, node.level)
    sorted_rows, partition = partitions(table, list(levels), [by_value, codes])
    first = np.ones(len(sorted_rows), dtype=bool)
    first[1:] = partition[1:] != partition[:-1]
    chosen = sorted_rows[first & valid[sorted_rows]]
    best = table.take(chosen).select([code_column(level) for level in levels])
    members = cells.values[node.level].take(codes[chosen])
    return lookup(cells, levels, levels, best.append_column(VALUE, members))
