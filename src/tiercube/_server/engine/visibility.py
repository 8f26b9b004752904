"""Row-level restrictions as data: which rows of a table a restricted caller may see.

A ``RowPlan`` is made once per request and table (by ``_server.restrictions``)
and masks any version of the table's rows on its own, on the server or on the
cluster worker that holds them. ``Visibility`` is what the engine asks for
plans: it never learns who the caller is.

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
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import POSITION, Array, Chunked, evaluate, plain, positions
from tiercube._server.engine.filters import to_expression
from tiercube._wire.filters import Filter
from tiercube._wire.column_types import ColumnType
from tiercube.errors import InvalidRequestError, NotFoundError

log = logging.getLogger("tiercube.server")

TableConditions = Mapping[str, Filter]
"""One role's restriction: table name -> the condition its rows must meet."""


@dataclass(frozen=True)
class RowRestriction:
    """What a restricted caller sees: a row visible under at least one of its roles."""

    roles: tuple[TableConditions, ...]


class Visibility(Protocol):
    """Which rows of each table the caller of a request may see."""

    @property
    def restricted(self) -> bool:
        """Whether some rows are hidden from the caller (its answers are then never kept for others)."""
        ...

    def rows(self, table: str) -> RowPlan | None:
        """The rows of ``table`` the caller may see; None: every row."""
        ...


class _Everything:
    """The visibility of callers that see every row: admins, the owner, unrestricted roles."""

    restricted = False

    def rows(self, table: str) -> RowPlan | None:
        return None

    def __repr__(self) -> str:
        return "EVERYTHING"


EVERYTHING: Visibility = _Everything()


@dataclass(frozen=True)
class RolePlan:
    """What one role lets a caller see of one table: its own condition, and the join keys it may reach."""

    table: str
    # The table's own condition, compiled; None: only its joins restrict it.
    condition: pc.Expression | None
    # (source columns of a join, the visible keys of its target): a row must join one of them.
    members: tuple[tuple[tuple[str, ...], pa.Table], ...]

    @classmethod
    def of(cls, table: str, columns: Mapping[str, ColumnType], condition: Filter | None, members: tuple[tuple[tuple[str, ...], pa.Table], ...]) -> RolePlan:
        """The plan, with ``condition`` compiled once; one that no longer compiles hides every row."""
        if condition is None:
            return cls(table, None, members)
        try:
            return cls(table, to_expression(condition, columns, table=table), members)
        except (InvalidRequestError, NotFoundError, pa.ArrowException) as error:
            log.warning("a restriction on table %r cannot be applied (%s): its rows are hidden", table, error)
            return cls(table, pc.scalar(False), members)

    def mask(self, data: pa.Table) -> Array:
        masks = [_members(data, sources, keys) for sources, keys in self.members]
        if self.condition is not None:
            masks.insert(0, self._condition(data, self.condition))
        return _combine(pc.and_, masks)

    def _condition(self, data: pa.Table, condition: pc.Expression) -> Array:
        try:
            return evaluate(data, condition).fill_null(False)
        except pa.ArrowException as error:
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
