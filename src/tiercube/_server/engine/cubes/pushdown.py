"""A query's filter on levels, evaluated per fact row before grouping, on dictionaries.

Without it, a query for one region grouped all ten million rows and threw
nine tenths of the groups away. A leaf of the filter is computed once per
dictionary value (a level on the fact table) or once per dimension row (a
level of a joined table), then spread to the fact rows by their dictionary
indices or their join key: a million-row scan becomes a lookup of a few
thousand values and a ``take``. The result keeps SQL's three-valued logic: a
fact row whose join finds no dimension row sees null in that level, as the
query's join would give it.

When the filter names a level of a table reached over a join of several
columns, or of a table below another dimension that is not the fact's direct
one, ``fact_mask`` says it cannot help (None) and the filter applies after
grouping, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array, Chunked, evaluate, last_per_key, location, plain
from tiercube._server.engine.calculated import column_values
from tiercube._server.engine.cubes.joins import Edge
from tiercube._server.engine.cubes.model import ColumnRef
from tiercube._server.engine.filters import BoundFilter
from tiercube._server.engine.tables import TableStore
from tiercube._wire.filters import And, Filter, Leaf, Not, Or

class _Unsupported(Exception):
    pass


@dataclass(frozen=True)
class Levels:
    """Where a query's levels live: the fact table, its direct joins, each level's column and type."""

    fact: str
    refs: Mapping[str, ColumnRef]
    hops: Mapping[str, Edge]  # the fact's direct joins, by target table


@dataclass(frozen=True)
class FactFilter:
    """A query's filter on levels, with the dimension rows it reads: data that can travel to the
    cluster workers holding a distributed fact table, which then narrow their own rows."""

    condition: BoundFilter
    levels: Levels
    dimensions: Mapping[str, pa.Table]

    @classmethod
    def of(cls, tables: TableStore, condition: BoundFilter, levels: Levels) -> FactFilter:
        joined = {levels.refs[name].table for name in condition.names} - {levels.fact}
        return cls(condition, levels, {table: tables.get(table).rows.gathered() for table in joined if table in levels.hops})

    def mask(self, data: pa.Table) -> Array | None:
        """Whether each row of ``data`` (fact rows) meets the condition; None if not computable here."""
        return fact_mask(self.dimensions, data, self.condition, self.levels)


def fact_mask(dimensions: Mapping[str, pa.Table], data: pa.Table, condition: BoundFilter, levels: Levels) -> Array | None:
    """Whether each row of ``data`` (the fact rows) meets ``condition`` on levels; None if not computable here.

    ``dimensions``: the data of the joined tables whose levels the condition names.
    """
    try:
        values = _Judge(dimensions, data, condition.by_leaf(), levels).values(condition.condition)
    except _Unsupported:
        return None
    result: Array = values.fill_null(False)
    return result


class _Judge:
    """The verdict of each part of a filter on every fact row of ``data``."""

    def __init__(self, dimensions: Mapping[str, pa.Table], data: pa.Table, expressions: Mapping[int, pc.Expression], levels: Levels) -> None:
        self.dimensions = dimensions
        self.data = data
        self.expressions = expressions
        self.levels = levels

    def values(self, node: Filter) -> Array:
        match node:
            case And(operands) | Or(operands):
                combine: Any = pc.and_kleene if isinstance(node, And) else pc.or_kleene
                combined: Array = pa.repeat(pa.scalar(isinstance(node, And)), self.data.num_rows)
                for operand in operands:
                    combined = combine(combined, self.values(operand))
                return combined
            case Not(operand):
                negated: Array = pc.invert(self.values(operand))
                return negated
            case _:
                return self.leaf(node)

    def leaf(self, leaf: Leaf) -> Array:
        ref = self.levels.refs[leaf.column]
        test = _tester(leaf.column, self.expressions[id(leaf)])
        if ref.table == self.levels.fact:
            if ref.calculated is not None:
                # A calculated level: computed per dictionary value or distinct date where it can be.
                judged: Array = test(column_values(self.data, ref.calculated))
                return judged
            return _spread(self.data[ref.column], test)
        edge = self.levels.hops.get(ref.table)
        if edge is None or len(edge.pairs) != 1 or ref.table not in self.dimensions:
            raise _Unsupported
        ((source, target),) = edge.pairs
        rows = self.dimensions[ref.table]
        if ref.calculated is not None and ref.column not in rows.column_names:
            rows = rows.append_column(ref.column, column_values(rows, ref.calculated))
        dimension = last_per_key(rows.select(list(dict.fromkeys([target, ref.column]))), [target])
        keys = plain(dimension[target]).combine_chunks()
        valid = pc.is_valid(keys)
        keys, outcome = keys.filter(valid), test(plain(dimension[ref.column]).combine_chunks().filter(valid))
        unmatched = test(pa.nulls(1, keys.type))[0]  # what a row whose join finds nothing sees

        def through_join(values: Array) -> Array:
            found = pc.index_in(values, value_set=keys)
            result: Array = pc.if_else(pc.is_null(found), unmatched, outcome.take(found))
            return result

        return _spread(self.data[source], through_join)


def _tester(level: str, expression: pc.Expression) -> Any:
    """A function from an array of a level's values to the comparison's verdict on each (true, false or null)."""

    def test(values: Array) -> Array:
        return evaluate(pa.table({level: values}), expression)

    return test


def _spread(column: Chunked, verdict: Any) -> Array:
    """``verdict`` of every row: computed per dictionary value (and once for null), then spread by the indices.

    Chunks share their dictionary once a table is unified, so each distinct
    dictionary is judged once; where exactly one value passes (``== x``),
    rows are matched by comparing their index with it, several times faster
    than a ``take`` from a boolean array (3 ms against 18 on 10 M rows).
    """
    judged: dict[tuple[int, ...], tuple[Array, Any]] = {}
    pieces: list[Array] = []
    on_null: Any = None
    for chunk in column.chunks:
        if not isinstance(chunk, pa.DictionaryArray):
            pieces.append(verdict(chunk))
            continue
        identity = location(chunk.dictionary)
        if identity not in judged:
            per_value: Array = verdict(chunk.dictionary)
            passing = pc.indices_nonzero(per_value.fill_null(False))
            only = pa.scalar(passing[0].as_py(), chunk.indices.type) if len(passing) == 1 and not per_value.null_count else None
            judged[identity] = (per_value, only)
        per_value, only = judged[identity]
        spread: Array = pc.equal(chunk.indices, only) if only is not None else per_value.take(chunk.indices)
        if chunk.null_count:
            if on_null is None:
                on_null = verdict(pa.nulls(1, chunk.dictionary.type))[0]
            spread = pc.if_else(pc.is_null(chunk.indices), on_null, spread)
        pieces.append(spread)
    return pa.concat_arrays(pieces) if pieces else pa.array([], pa.bool_())

