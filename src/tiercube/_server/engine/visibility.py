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
from tiercube._wire.messages import DataType
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


@dataclass(frozen=True)
class RolePlan:
    """What one role lets a caller see of one table: its own condition, and the join keys it may reach."""

    table: str
    columns: Mapping[str, DataType]
    condition: Filter | None
    # (source columns of a join, the visible keys of its target): a row must join one of them.
    members: tuple[tuple[tuple[str, ...], pa.Table], ...]

    def mask(self, data: pa.Table) -> Array:
        masks = [_members(data, sources, keys) for sources, keys in self.members]
        if self.condition is not None:
            masks.insert(0, self._condition(data, self.condition))
        return _combine(pc.and_, masks)

    def _condition(self, data: pa.Table, condition: Filter) -> Array:
        try:
            expression = to_expression(condition, self.columns, table=self.table)
            return evaluate(data, expression).fill_null(False)
        except (InvalidRequestError, NotFoundError, pa.ArrowException) as error:
            log.warning("a restriction on table %r cannot be applied (%s): its rows are hidden", self.table, error)
            return pa.repeat(pa.scalar(False), data.num_rows)


@dataclass(frozen=True)
class RowPlan:
    """Which rows of one table a restricted caller sees, as data that can travel.

    Dimension tables are looked at once, on the server, when the plan is made;
    the plan then masks any snapshot or partition of the table on its own,
    which is how a cluster's workers apply restrictions to the rows they hold.
    """

    roles: tuple[RolePlan, ...]

    def mask(self, data: pa.Table) -> Array:
        return _combine(pc.or_, [role.mask(data) for role in self.roles])


def plan_rows(tables: TableStore, joins: JoinGraph, table: str, restriction: RowRestriction | None) -> RowPlan | None:
    """What ``restriction`` lets its caller see of ``table``; None: every row."""
    if restriction is None:
        return None
    view = _View(tables, joins)
    roles: list[RolePlan] = []
    for role in restriction.roles:
        plan = view.plan(table, role)
        if plan is None:
            return None  # one role that does not restrict this table is enough
        roles.append(plan)
    return RowPlan(tuple(roles))


class _View:
    """Plans of one request, with the visible keys of each (join, role) computed once where joins meet again."""

    def __init__(self, tables: TableStore, joins: JoinGraph) -> None:
        self.tables = tables
        self.joins = joins
        self._keys: dict[tuple[Edge, int], pa.Table] = {}

    def plan(self, table: str, role: TableConditions) -> RolePlan | None:
        members = tuple(
            (tuple(source for source, _ in edge.pairs), self._visible_keys(edge, role))
            for edge in self.joins.edges_from(table)
            if any(reached.table in role for reached in self.joins.reachable(edge.target))
        )
        if table not in role and not members:
            return None
        return RolePlan(table, dict(self.tables.get(table).columns), role.get(table), members)

    def _visible_keys(self, edge: Edge, role: TableConditions) -> pa.Table:
        """The join keys of the target rows a join finds (the last per key) that are visible."""
        cache_key = (edge, id(role))
        if cache_key not in self._keys:
            data = self.tables.get(edge.target).data
            columns = [target for _, target in edge.pairs]
            keys = data.select(columns)
            plan = self.plan(edge.target, role)
            mask = plan.mask(data) if plan is not None else None
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


def _members(data: pa.Table, sources: tuple[str, ...], keys: pa.Table) -> Array:
    """Whether each row of ``data`` joins one of ``keys`` on ``sources``; a null never does."""
    if len(sources) == 1:
        value_set = plain(keys.column(0)).combine_chunks().drop_null().unique()
        return _is_in(data[sources[0]], value_set)
    left = pa.Table.from_arrays([*(plain(data[s]) for s in sources), positions(data.num_rows)], names=[*sources, POSITION])
    right = pa.Table.from_arrays([plain(keys.column(i)) for i in range(len(sources))], names=list(sources))
    matched = left.join(right, keys=list(sources), join_type="left semi")[POSITION]
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
