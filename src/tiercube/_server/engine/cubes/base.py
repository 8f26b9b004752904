"""The first phase of a cube query: the fact rows, grouped once, joined to dimensions.

The fact table is grouped by every fact column the query needs as a level
and by the join keys of the dimensions it needs, computing partial
aggregates (sum, count, min, max, row count). Only that small result is
joined with the (deduplicated) dimension tables, never the fact rows: every
aggregate is decomposable, and a dimension column is constant within a group
because the group fixes its join key. The second phase (``cells``) regroups
this "base" by the query's levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Chunked, last_per_key, plain
from tiercube._server.engine.calculated import column_values
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.joins import Edge
from tiercube._server.engine.cubes.model import ColumnRef, CubeSchema
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.grouping import ROWS, FactGrouping, PartFunction, RowMask, alias, roll_up
from tiercube._server.engine.tables import TableStore
from tiercube._server.engine.visibility import RowPlan

LeafFunction: TypeAlias = Literal[
    "rows", "sum", "mean", "min", "max", "count", "distinct_count",
    "median", "quantile", "std", "var", "prod", "single_value",
]
Combine: TypeAlias = Literal["sum", "min", "max", "product", "count_distinct", "none"]
"""How a base column's values combine into a cell's; "none": not combined, read row by row (quantiles)."""
KEYED: frozenset[LeafFunction] = frozenset({"distinct_count", "median", "quantile"})
"""Aggregates that cannot be combined from parts: the base is grouped by the column they read too,
so each group holds one of its values, and the cell's values are its groups' (weighted by rows)."""


Aggregation: TypeAlias = "tuple[str | list[str], Any] | tuple[str | list[str], Any, Any]"


@dataclass(frozen=True)
class Leaf:
    """An aggregate over fact rows; ``column`` is None for the row count.

    ``q`` and ``interpolation`` say which quantile; ``population`` which deviation (see ``Aggregate``).
    """

    function: LeafFunction
    column: ColumnRef | None
    q: float = 0.5
    interpolation: str = "linear"
    population: bool = False


@dataclass(frozen=True)
class Input:
    """A column of the base table and how its values combine into a cell's."""

    column: str
    combine: Combine


@dataclass
class Base:
    table: pa.Table
    # Per leaf, its parts ("sum", "count", "min", "max", "distinct", "rows") as base columns.
    parts: dict[Leaf, dict[str, Input]]


def build_base(
    tables: TableStore,
    schema: CubeSchema,
    levels: list[ColumnRef],
    leaves: set[Leaf],
    deadline: Deadline,
    visible: RowPlan | None = None,
    partials: Partials | None = None,
    narrow: RowMask | None = None,
) -> Base:
    """Group the fact rows (those ``visible`` keeps) by ``levels`` and compute the partials of ``leaves``.

    The grouping of the fact rows comes from ``partials`` when they keep one that serves.
    Otherwise, ``narrow`` (the query's filter, per fact row) may drop rows before grouping.
    """
    fact = schema.fact
    wanted: dict[str, set[ColumnRef]] = {}
    # Calculated levels over a fact table's text, dates and booleans: computed once per group of
    # the columns they read (1,095 days, not ten million rows), after grouping by those columns.
    after = [ref for ref in levels if ref.calculated is not None and ref.table == fact and ref.calculated.few_valued]
    read_after = {schema.resolve(column, fact) for ref in after if ref.calculated is not None for column in ref.calculated.columns}
    for ref in [*levels, *read_after, *(leaf.column for leaf in leaves if leaf.column is not None)]:
        wanted.setdefault(ref.table, set())
    for ref in [*(ref for ref in levels if ref not in after), *read_after]:
        wanted[ref.table].add(ref)
    for leaf in leaves:
        if leaf.column is not None and (leaf.column.table != fact or leaf.function in KEYED):
            # Dimension columns and the columns of keyed aggregates are per-group constants in the base.
            wanted[leaf.column.table].add(leaf.column)
    via = {r.table: r.via for r in schema.reached if r.via is not None}
    needed = _with_ancestors(set(wanted), via, fact)
    first_hops = [via[t] for t in needed if t != fact and via[t].source == fact]

    keys = {ref.column for ref in wanted.get(fact, set())}
    for edge in first_hops:
        keys.update(s for s, _ in edge.pairs)
    parts: dict[Leaf, dict[str, Input]] = {leaf: _fact_parts(leaf, fact) for leaf in leaves}
    fact_parts: set[tuple[str, PartFunction]] = {
        (leaf.column.column, function)
        for leaf in leaves
        if leaf.column is not None and leaf.column.table == fact
        for function in _FUNCTIONS.get(leaf.function, ())
    }
    read = [*wanted.get(fact, set()), *(leaf.column for leaf in leaves if leaf.column is not None and leaf.column.table == fact)]
    calculated = tuple(dict.fromkeys(ref.calculated for ref in read if ref.calculated is not None))
    grouping = FactGrouping(fact, frozenset(keys), frozenset(fact_parts), calculated)
    grouped = _grouped(tables, grouping, visible, partials, narrow)
    deadline.check("grouping the fact table")
    for edge in first_hops:
        view = _view(tables, edge, wanted, needed, via)
        left = [alias(fact, s) for s, _ in edge.pairs]
        for name in left:
            grouped = grouped.set_column(grouped.column_names.index(name), name, plain(grouped[name]))
        right = [alias(edge.target, t) for _, t in edge.pairs]
        grouped = grouped.join(view, keys=left, right_keys=right, join_type="left outer")
    deadline.check("joining the dimensions")
    for ref in after:
        if ref.alias not in grouped.column_names and ref.calculated is not None:
            names = {column: alias(fact, column) for column in ref.calculated.columns}
            grouped = grouped.append_column(ref.alias, column_values(grouped, ref.calculated, names))
    for leaf in leaves:
        if leaf.column is not None and leaf.column.table != fact:
            grouped, parts[leaf] = _dimension_parts(leaf, grouped)
        if leaf.function == "distinct_count":
            grouped, parts[leaf] = _plain_part(grouped, parts[leaf]["distinct"], "distinct")
    return Base(grouped, parts)


def _plain_part(grouped: pa.Table, part: Input, name: str) -> tuple[pa.Table, dict[str, Input]]:
    """``part`` over decoded values: min, max and (keyless) count_distinct have no dictionary kernels."""
    column = f"{part.column}\x1fplain"
    if column not in grouped.column_names:
        grouped = grouped.append_column(column, plain(grouped[part.column]))
    return grouped, {name: Input(column, part.combine)}


def _with_ancestors(tables: set[str], via: dict[str, Edge], fact: str) -> set[str]:
    found = set(tables)
    for table in tables:
        while table != fact:
            table = via[table].source
            found.add(table)
    return found


# The partial aggregates each fact measure needs, and how a cell combines them.
_FUNCTIONS: dict[LeafFunction, tuple[PartFunction, ...]] = {
    "sum": ("sum",), "mean": ("sum", "count"), "min": ("min",), "max": ("max",), "count": ("count",),
    "prod": ("product",), "std": ("sum", "count", "sum_squares"), "var": ("sum", "count", "sum_squares"),
    "single_value": ("min", "max"),
}
_COMBINES: dict[PartFunction, Combine] = {
    "sum": "sum", "count": "sum", "min": "min", "max": "max", "product": "product", "sum_squares": "sum",
}


def _fact_parts(leaf: Leaf, fact: str) -> dict[str, Input]:
    column = leaf.column
    if column is None:
        return {"rows": Input(ROWS, "sum")}
    if column.table != fact:
        return {}
    if leaf.function == "distinct_count":
        return {"distinct": Input(column.alias, "count_distinct")}
    if leaf.function in KEYED:
        return {"value": Input(column.alias, "none"), "weight": Input(ROWS, "none")}
    return {
        function: Input(f"{column.alias}\x1f{function}_{function}", _COMBINES[function])
        for function in _FUNCTIONS[leaf.function]
    }


def _grouped(
    tables: TableStore, grouping: FactGrouping, visible: RowPlan | None, partials: Partials | None, narrow: RowMask | None
) -> pa.Table:
    """The fact rows grouped by ``grouping``: rolled up from a maintained aggregate when one serves.

    Otherwise the rows the query's filter drops are dropped first (``narrow``),
    unless the same grouping was asked for before: then the whole of it is
    grouped and kept, and this and later queries roll it up. Wherever the rows
    live, they group themselves (a cluster's workers each their own, with the
    restriction and the filter); kept groupings follow the version of the rows.
    """
    rows = tables.get(grouping.fact).rows
    if visible is None and partials is not None:
        served = partials.serve(rows, grouping)
        if served is not None:
            return served
    keeping = partials is not None and visible is None and partials.worth_keeping(grouping, filtered=narrow is not None)
    if partials is None or not keeping:
        return rows.grouped(grouping, visible, narrow)  # a restricted caller's or a narrowed grouping: never kept
    kept = grouping.kept()
    groups = rows.grouped(kept, None, None)
    partials.offer(rows, grouping, groups)
    return roll_up(groups, kept, grouping)


def _dimension_parts(leaf: Leaf, grouped: pa.Table) -> tuple[pa.Table, dict[str, Input]]:
    """A dimension value counts once per fact row of its group: weigh sums and counts by rows."""
    assert leaf.column is not None
    column = leaf.column.alias
    values = grouped[column]
    if leaf.function in ("min", "max"):
        return _plain_part(grouped, Input(column, "min" if leaf.function == "min" else "max"), leaf.function)
    if leaf.function == "single_value":
        grouped, low = _plain_part(grouped, Input(column, "min"), "min")
        grouped, high = _plain_part(grouped, Input(column, "max"), "max")
        return grouped, {**low, **high}
    if leaf.function == "distinct_count":
        return grouped, {"distinct": Input(column, "count_distinct")}
    if leaf.function in KEYED:
        return grouped, {"value": Input(column, "none"), "weight": Input(ROWS, "none")}
    rows = grouped[ROWS]
    result: dict[str, Input] = {}
    for part in _FUNCTIONS[leaf.function]:
        name = f"{column}\x1f{part}"
        if name not in grouped.column_names:
            grouped = grouped.append_column(name, _weighted(part, values, rows))
        result[part] = Input(name, _COMBINES[part])
    return grouped, result


def _weighted(part: PartFunction, values: Chunked, rows: Chunked) -> Chunked:
    """A part of a dimension value that a group's ``rows`` fact rows each count once."""
    kernels: Any = pc  # the stubs cannot follow these types through; they are checked by the tests
    derived: Chunked
    match part:
        case "sum":
            derived = kernels.multiply_checked(rows, values)
        case "count":
            derived = kernels.if_else(pc.is_valid(values), rows, pa.scalar(0, pa.int64()))
        case "sum_squares":
            floats = values.cast(pa.float64())
            derived = kernels.multiply(rows.cast(pa.float64()), kernels.multiply(floats, floats))
        case "product":
            derived = kernels.power(values.cast(pa.float64()), rows.cast(pa.float64()))
        case "min" | "max":
            derived = plain(values)
    return derived


def _view(
    tables: TableStore, edge: Edge, wanted: dict[str, set[ColumnRef]], needed: set[str], via: dict[str, Edge]
) -> pa.Table:
    """The target of ``edge`` with its wanted columns and those of the tables joined below it."""
    table = edge.target
    below = [e for t, e in via.items() if t in needed and e.source == table]
    columns = {ref.column for ref in wanted.get(table, set())}
    keys = [target for _, target in edge.pairs]
    join_columns = [source for e in below for source, _ in e.pairs]
    data = tables.get(table).rows.gathered()
    for ref in wanted.get(table, set()):
        if ref.calculated is not None and ref.column not in data.column_names:
            data = data.append_column(ref.column, column_values(data, ref.calculated))
    selected = data.select(list(dict.fromkeys([*keys, *join_columns, *columns])))
    for name in [*keys, *join_columns]:
        selected = selected.set_column(selected.column_names.index(name), name, plain(selected[name]))
    view = last_per_key(selected, keys).rename_columns(
        [alias(table, name) for name in selected.column_names]
    )
    for child in below:
        left = [alias(table, s) for s, _ in child.pairs]
        right = [alias(child.target, t) for _, t in child.pairs]
        view = view.join(_view(tables, child, wanted, needed, via), keys=left, right_keys=right, join_type="left outer")
    return view
