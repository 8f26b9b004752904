"""The second phase of a cube query: the base regrouped into cells, per set of levels.

Level values are replaced by integer codes whose order is the values' order
(null last). Every later step works on codes: grouping is fast, a null
member is a code like any other (so joins that align cells never lose it),
and sorting by codes sorts by values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array, Chunked, evaluate, plain
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.base import Aggregation, Input
from tiercube._server.engine.filters import BoundFilter
from tiercube._server.engine.types import value_type
from tiercube._wire.column_types import ColumnType

LevelSet = tuple[str, ...]


def code_column(level: str) -> str:
    return f"\x1flevel\x1f{level}"


def encode(column: Chunked) -> tuple[Array, Array]:
    """(codes, values): ``values.take(codes)`` is ``column``; codes follow the values' order."""
    encoded = cast("pa.DictionaryArray[Any, Any]", pc.dictionary_encode(plain(column).combine_chunks(), null_encoding="encode"))
    order = pc.array_sort_indices(encoded.dictionary)  # nulls last
    rank = pc.array_sort_indices(order)  # the inverse permutation of order
    return rank.take(encoded.indices).cast(pa.int32()), encoded.dictionary.take(order)


_THREADED_ROWS = 1 << 16


def threaded(table: pa.Table) -> bool:
    """Whether Acero should spread work on ``table`` over threads: below some 65,000 rows handing
    batches to the thread pool costs more than it saves (3 ms instead of 0.3 for 1,095 cells on a
    busy machine), which would decide how fast a query served from a kept grouping is."""
    return table.num_rows >= _THREADED_ROWS


def _kept_as_is(base: pa.Table, part: Input) -> bool:
    """Whether ``part`` combined over one row is that row's value, of the same type: sums of 64-bit
    numbers (the grouping's sums and counts), minima and maxima, products; a distinct count is not."""
    if part.combine in ("none", "min", "max", "product"):
        return True
    data_type = base.schema.field(part.column).type
    return part.combine == "sum" and data_type in (pa.int64(), pa.float64())


def nulls(size: int, data_type: pa.DataType) -> Array:
    # The stubs type nulls() per concrete Arrow type; here it is only known at run time.
    result: Array = pa.nulls(size, cast(Any, data_type))
    return result


def repeat(value: pa.Scalar[Any], size: int) -> Array:
    result: Array = pa.repeat(cast(Any, value), size)
    return result


class Cells:
    """The base table's rows combined per set of levels, computed once per set."""

    def __init__(
        self,
        base: pa.Table,
        inputs: Sequence[Input],
        values: Mapping[str, Array],
        types: Mapping[str, ColumnType],
        deadline: Deadline,
    ) -> None:
        self.base = base
        self.inputs = list(dict.fromkeys(inputs))
        self.values = values
        self.types = types
        self._deadline = deadline
        self._cache: dict[LevelSet, pa.Table] = {}

    def at(self, levels: LevelSet) -> pa.Table:
        cached = self._cache.get(levels)
        if cached is not None:
            return cached
        aggregations: list[Aggregation] = [
            (i.column, i.combine, pc.CountOptions(mode="only_valid")) if i.combine == "count_distinct" else (i.column, i.combine)
            for i in self.inputs
            if i.combine != "none"  # read from the base row by row (quantiles)
        ]
        cells = self._one_per_cell(levels)
        if cells is None:
            cells = self.base.group_by([code_column(level) for level in levels], use_threads=threaded(self.base)).aggregate(aggregations)
        if not levels and self.base.num_rows == 0:
            cells = cells.slice(0, 0)  # no fact row, no cell (a keyless group_by answers one)
        self._deadline.check(f"aggregating by {', '.join(levels) or 'nothing'}")
        self._cache[levels] = cells
        return cells

    def _one_per_cell(self, levels: LevelSet) -> pa.Table | None:
        """The cells of ``levels`` when each holds one row of a small base (a query served from a
        grouping kept by those levels, a hierarchy's levels below them): the base rows as they are, in
        the order ``group_by`` gives (first seen), without its plan, which costs more than the
        rest of such a query's cells. None when that does not hold or a part would change type."""
        if not levels or not self.base.num_rows or threaded(self.base) or any(not _kept_as_is(self.base, i) for i in self.inputs):
            return None
        combined = np.zeros(self.base.num_rows, dtype=np.int64)
        for level in levels:
            radix = len(self.values[level]) + 1
            if radix * (int(combined.max(initial=0)) + 1) >= 2**62:
                return None
            combined = combined * radix + self.base[code_column(level)].to_numpy().astype(np.int64)
        if np.bincount(combined).max() > 1 if int(combined.max()) < 8 * len(combined) else len(np.unique(combined)) != len(combined):
            return None  # some cell holds several rows
        columns = {code_column(level): code_column(level) for level in levels}
        columns.update({f"{i.column}_{i.combine}": i.column for i in self.inputs if i.combine != "none"})
        return self.base.select(list(columns.values())).rename_columns(list(columns))

    def column(self, levels: LevelSet, part: Input) -> Array:
        return self.at(levels)[f"{part.column}_{part.combine}"].combine_chunks()

    def rows(self, levels: LevelSet) -> int:
        return self.at(levels).num_rows

    def level_values(self, table: pa.Table, levels: LevelSet, level: str) -> Array:
        """The members of ``level`` in each row of ``table``; null where it is not among ``levels``."""
        if level not in levels:
            known = self.values.get(level)  # its own type: a zoned timestamp keeps its zone
            return nulls(table.num_rows, known.type if known is not None else value_type(self.types[level]))
        return self.values[level].take(table[code_column(level)].combine_chunks())

    def matches(self, table: pa.Table, levels: LevelSet, condition: BoundFilter) -> Array:
        """Whether each row of ``table`` matches ``condition`` on levels (null counts as no)."""
        names = condition.names
        decoded = pa.table(
            {name: self.level_values(table, levels, name) for name in names}
            if names
            else {"\x1frow": pa.nulls(table.num_rows, pa.bool_())}
        )
        return evaluate(decoded, condition.expression).fill_null(False)
