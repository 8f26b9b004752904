"""Row-level restrictions: which rows of each table a restricted caller may see.

A role's restriction is a condition per table, on that table's own columns
(``regions.region == "Europe"``). It is carried along joins: a row of a table
that references a restricted table (directly or through other joins) is
visible only if the row its join finds is visible, so a fact table without a
``region`` column is restricted by the region of its joined dimension. A row
whose join finds nothing, or whose condition is null, is not visible, and a
condition that can no longer be evaluated (its table was replaced by one
without that column) hides every row: where a restriction cannot be applied,
the caller sees nothing rather than everything.

A caller with several roles sees a row when one of its roles lets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import POSITION, Array, Chunked, evaluate, last_positions, plain, positions
from tiercube._server.engine.cubes.joins import Edge, JoinGraph
from tiercube._server.engine.filters import to_expression
from tiercube._server.engine.tables import TableStore
from tiercube._wire.filters import And, Filter, flattened, leaves
from tiercube.errors import InvalidRequestError, NotFoundError

log = logging.getLogger("tiercube.server")

TableConditions = Mapping[str, Filter]
"""One role's restriction: table name -> the condition its rows must meet."""


@dataclass(frozen=True)
class RowRestriction:
    """What a restricted caller sees: a row visible under at least one of its roles."""

    roles: tuple[TableConditions, ...]


def split_by_table(condition: Filter, tables: TableStore) -> dict[str, Filter]:
    """A restriction's condition as one condition per table, each checked against its table.

    Every column must name its table, and parts joined by ``|`` or ``~`` must
    stay within one table (``&`` may combine tables).
    """
    flat = flattened(condition)
    conjuncts = flat.operands if isinstance(flat, And) else [flat]
    by_table: dict[str, list[Filter]] = {}
    for conjunct in conjuncts:
        names = {leaf.table for leaf in leaves(conjunct)}
        if not names:
            raise InvalidRequestError("every part of a restriction must compare a column of a table; an empty & or | does not")
        if None in names:
            column = next(leaf.column for leaf in leaves(conjunct) if leaf.table is None)
            raise InvalidRequestError(
                f"a restriction is bound to table columns, but {column!r} names no table: "
                f"write session.tables['<table>'][{column!r}] == ..."
            )
        if len(names) > 1:
            raise InvalidRequestError(
                f"a restriction may combine tables only with &; this part mixes {', '.join(sorted(map(str, names)))}"
            )
        (table,) = names
        assert table is not None
        by_table.setdefault(table, []).append(conjunct)
    if not by_table:
        raise InvalidRequestError("a restriction must compare at least one column of a table; to lift one, delete it")
    result = {table: parts[0] if len(parts) == 1 else And(parts) for table, parts in by_table.items()}
    for table, part in result.items():
        to_expression(part, tables.get(table).columns, table=table)  # NotFoundError / InvalidRequestError
    return result


def visible(
    tables: TableStore, joins: JoinGraph, table: str, restriction: RowRestriction | None, data: pa.Table | None = None
) -> Array | None:
    """Which rows of ``table`` (of ``data``, a snapshot of it, if given) the caller may see; None: all."""
    if restriction is None:
        return None
    view = _View(tables, joins)
    masks: list[Array] = []
    for role in restriction.roles:
        mask = view.mask(table, role, data)
        if mask is None:
            return None  # one role that does not restrict this table is enough
        masks.append(mask)
    return _combine(pc.or_, masks)


class _View:
    """Masks of one request, computed once per (table, role) even where joins meet again."""

    def __init__(self, tables: TableStore, joins: JoinGraph) -> None:
        self.tables = tables
        self.joins = joins
        self._keys: dict[tuple[Edge, int], pa.Table] = {}

    def mask(self, table: str, role: TableConditions, data: pa.Table | None = None) -> Array | None:
        if data is None:
            data = self.tables.get(table).data
        masks: list[Array] = []
        if table in role:
            masks.append(self._condition(table, role[table], data))
        for edge in self.joins.edges_from(table):
            if any(reached.table in role for reached in self.joins.reachable(edge.target)):
                masks.append(_members(data, edge, self._visible_keys(edge, role)))
        return _combine(pc.and_, masks) if masks else None

    def _condition(self, table: str, condition: Filter, data: pa.Table) -> Array:
        try:
            expression = to_expression(condition, self.tables.get(table).columns, table=table)
            return evaluate(data, expression).fill_null(False)
        except (InvalidRequestError, NotFoundError, pa.ArrowException) as error:
            log.warning("a restriction on table %r cannot be applied (%s): its rows are hidden", table, error)
            return pa.repeat(pa.scalar(False), data.num_rows)

    def _visible_keys(self, edge: Edge, role: TableConditions) -> pa.Table:
        """The join keys of the target rows a join finds (the last per key) that are visible."""
        cache_key = (edge, id(role))
        if cache_key not in self._keys:
            data = self.tables.get(edge.target).data
            columns = [target for _, target in edge.pairs]
            keys = data.select(columns)
            mask = self.mask(edge.target, role, data)
            latest = last_positions(keys, columns)
            if latest is not None:
                keys = keys.take(latest)
                mask = mask.take(latest) if mask is not None else None
            if mask is not None:
                keys = keys.filter(mask)
            self._keys[cache_key] = keys
        return self._keys[cache_key]


def _combine(operation: Callable[..., Any], masks: list[Array]) -> Array:
    combined = masks[0]
    for mask in masks[1:]:
        combined = operation(combined, mask)
    return combined


def _members(data: pa.Table, edge: Edge, keys: pa.Table) -> Array:
    """Whether each row of ``data`` (the source of ``edge``) joins one of ``keys``; a null never does."""
    sources = [source for source, _ in edge.pairs]
    if len(sources) == 1:
        value_set = plain(keys.column(0)).combine_chunks().drop_null().unique()
        return _is_in(data[sources[0]], value_set)
    left = pa.Table.from_arrays([*(plain(data[s]) for s in sources), positions(data.num_rows)], names=[*sources, POSITION])
    right = pa.Table.from_arrays([plain(keys.column(i)) for i in range(len(sources))], names=sources)
    matched = left.join(right, keys=sources, join_type="left semi")[POSITION]
    return pc.is_in(positions(data.num_rows), value_set=matched.combine_chunks())


def _is_in(values: Chunked, value_set: Array) -> Array:
    """``is_in`` that looks up a dictionary column's dictionary, not every row's decoded value."""
    found: list[Array] = []
    for chunk in values.chunks:
        if isinstance(chunk, pa.DictionaryArray):
            found.append(pc.is_in(chunk.dictionary, value_set=value_set).take(chunk.indices).fill_null(False))
        else:
            found.append(pc.is_in(chunk, value_set=value_set))
    return pa.concat_arrays(found) if found else pa.array([], pa.bool_())
