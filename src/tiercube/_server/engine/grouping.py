"""Grouping fact rows: the first step of every cube query, and what maintained aggregates keep.

``group_facts`` groups a table's rows by the fact columns a query needs (its
levels on the fact table, the join keys of its dimensions) with the partial
aggregates its measures need (sum, count, min, max, product, sum of squares,
row count). The result is small, decomposable (groupings of parts merge into a
grouping of the whole), and all the rest of a query looks at. Rows held by the
server and rows on a cluster's workers are grouped by this same code.

A key or a part may be a calculated column (``calculated.Compiled``), computed
over the rows being grouped before they are grouped: named by its definition,
so groupings that need the same one are the same grouping.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow.acero import AggregateNodeOptions, Declaration, ProjectNodeOptions, TableSourceNodeOptions

from tiercube._server.engine.arrays import Array, Chunked, filtered, plain
from tiercube._server.engine.calculated import Compiled, column_values, expression_of

PartFunction: TypeAlias = Literal["sum", "count", "min", "max", "product", "sum_squares"]
ROWS = "\x1frows"
_COMBINE: dict[PartFunction, Any] = {
    "sum": "sum", "count": "sum", "min": "min", "max": "max", "product": "product", "sum_squares": "sum",
}
SUBTRACTABLE: frozenset[PartFunction] = frozenset({"sum", "count", "sum_squares"})
"""Parts whose value for rows removed can be subtracted; the others are computed again."""
# The stubs spell aggregation lists out by function name; ours are built from data.
Aggregations: TypeAlias = "list[tuple[Any, ...]]"


@dataclass(frozen=True)
class FactGrouping:
    """Fact columns to group by, and (column, function) partial aggregates to compute per group."""

    fact: str
    keys: frozenset[str]
    parts: frozenset[tuple[str, PartFunction]]
    # The calculated columns among keys and parts, by ``Compiled.key`` (which is their name there).
    calculated: tuple[Compiled, ...] = field(default=(), compare=False)

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
        return FactGrouping(self.fact, self.keys, self.parts | counts, self.calculated)

    def with_calculated(self, data: pa.Table, leaving: Collection[str] = ()) -> pa.Table:
        """``data`` (rows of the fact table) with the calculated columns this grouping reads appended
        (but those named in ``leaving``)."""
        for compiled in self.calculated:
            if compiled.key not in data.column_names and compiled.key not in leaving:
                data = data.append_column(compiled.key, column_values(data, compiled))
        return data


def group_facts(data: pa.Table, grouping: FactGrouping, rows: Array | None = None) -> pa.Table:
    """``data`` (with one dictionary per column) grouped by ``grouping``: keys, parts, then ``ROWS``.

    With ``rows``, only the rows it marks: the needed columns are selected first, then filtered,
    then the calculated ones computed (over the rows kept only).
    """
    if rows is not None and grouping.calculated:
        read = {c for compiled in grouping.calculated for c in compiled.columns}
        data = filtered(data.select(sorted(read | _stored(grouping))), rows)
        rows = None
    # Calculated aggregate inputs over numbers (``qty * price``) are computed inside the grouping's
    # plan, batch by batch on every core; text and dates are cheaper per distinct value, beforehand.
    fused = {c.key: c for c in grouping.calculated if c.key not in grouping.keys and not c.few_valued} if rows is None else {}
    data = grouping.with_calculated(data, leaving=fused)
    inputs = data.select([])  # keeps the row count when no column is needed
    for column in sorted(grouping.keys):
        inputs = inputs.append_column(alias(grouping.fact, column), data[column])
    aggregations: Aggregations = [([], "count_all")]
    names = {"count_all": ROWS}
    computed: dict[str, pc.Expression] = {}
    for column, function in sorted(grouping.parts):
        source = f"{alias(grouping.fact, column)}\x1f{function}"
        if column in fused:
            computed[source] = _part_expression(expression_of(fused[column]), function)
        elif source not in inputs.column_names:
            inputs = inputs.append_column(source, _part_input(data[column], function))
        kernel = "sum" if function == "sum_squares" else function
        aggregations.append((source, kernel))
        names[f"{source}_{kernel}"] = grouping.part_name(column, function)
    if rows is not None:
        inputs = filtered(inputs, rows)
    if computed:
        for column in sorted({column for compiled in fused.values() for column in compiled.columns}):
            inputs = inputs.append_column(column, data[column])  # stored names have no control characters
        grouped = _computed_and_grouped(inputs, computed, grouping.key_names, aggregations, names)
    else:
        grouped = inputs.group_by(grouping.key_names).aggregate(aggregations).rename_columns(names)
    # Keys as plain values: groupings are small, and pyarrow 26 crashes unifying the dictionaries
    # group_by gives dictionary keys that hold a null.
    for name in grouping.key_names:
        grouped = grouped.set_column(grouped.column_names.index(name), name, plain(grouped[name]))
    return _non_empty(grouped, grouping)


def _computed_and_grouped(
    inputs: pa.Table, computed: dict[str, pc.Expression], keys: list[str], aggregations: Aggregations, names: dict[str, str]
) -> pa.Table:
    """``inputs`` with the ``computed`` columns, grouped as ``Table.group_by(keys).aggregate(aggregations)``
    would, in one plan: against computing ``qty * price`` first, no ten-million-row column is
    written and read back, and the products are computed in parallel (``group_by`` computes nothing)."""
    given = [name for name in inputs.column_names if name not in computed]
    prefix = "hash_" if keys else ""  # Acero's grouped kernels; a keyless grouping uses the plain ones

    def output(source: str | list[str], kernel: str) -> str:
        return names[f"{source}_{kernel}" if source else kernel]

    # The stubs want options where Acero takes None (the function's defaults): the list is untyped.
    aggregates: Any = [(source, prefix + kernel, None, output(source, kernel)) for source, kernel in aggregations]
    plan = Declaration.from_sequence([
        Declaration("table_source", TableSourceNodeOptions(inputs)),
        Declaration("project", ProjectNodeOptions([*(pc.field(name) for name in given), *computed.values()], [*given, *computed])),
        Declaration("aggregate", AggregateNodeOptions(aggregates, keys=list[str | pc.Expression](keys))),
    ])  # fmt: skip
    return plan.to_table(use_threads=True)


def _part_expression(values: pc.Expression, function: PartFunction) -> pc.Expression:
    """What a part aggregates, as ``_part_input`` but for a computed column (never a dictionary nor a duration)."""
    if function == "product":
        return values.cast(pa.float64())
    if function == "sum_squares":
        floats = values.cast(pa.float64())
        kernels: Any = pc  # expressions in, an expression out; the stubs type the arrays' case
        squares: pc.Expression = kernels.multiply(floats, floats)
        return squares
    return values


def _stored(grouping: FactGrouping) -> set[str]:
    """The stored columns ``grouping`` reads as they are (not through a calculated column)."""
    calculated = {compiled.key for compiled in grouping.calculated}
    return {c for c in grouping.keys | {c for c, _ in grouping.parts} if c not in calculated}


def _part_input(values: Chunked, function: PartFunction) -> Chunked:
    """What a part aggregates: plain values for minima and maxima, floats for products, squares;
    durations as integers (``counted_as_integers``)."""
    if function in ("min", "max"):
        return counted_as_integers(plain(values))
    if function == "product":
        return values.cast(pa.float64())
    if function == "sum_squares":
        floats = values.cast(pa.float64())
        kernels: Any = pc  # float arrays; the stubs lose the type
        squares: Chunked = kernels.multiply(floats, floats)
        return squares
    return counted_as_integers(values)


def counted_as_integers(values: Chunked) -> Chunked:
    """Durations as integers in their unit: Arrow cannot sum them, nor take their minimum. Every
    later step (roll-ups, maintained aggregates, a cluster's merge) then works on integers, and a
    cube query makes the measure a duration again (``types.as_column_type``)."""
    return values.cast(pa.int64()) if pa.types.is_duration(values.type) else values


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
    return grouped if grouping.keys else with_rows(grouped)


def with_rows(grouped: pa.Table) -> pa.Table:
    """The groups that still have fact rows."""
    kept: pa.Table = grouped.filter(pc.greater(grouped[ROWS], pa.scalar(0, pa.int64())))  # ty: ignore[invalid-argument-type]
    return kept


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


def alias(table: str, column: str) -> str:
    """The name of ``table.column`` inside a query (control characters cannot clash with names)."""
    return f"{table}\x1f{column}"


class RowMask(Protocol):
    """Something that tells which rows of a table to keep: a caller's restriction, a query's filter."""

    def mask(self, data: pa.Table) -> Array | None:
        """True for each row to keep; None when it cannot tell here (then every row counts)."""
        ...


def group_visible(data: pa.Table, grouping: FactGrouping, visible: RowMask | None, narrow: RowMask | None) -> pa.Table:
    """``data``'s rows that ``visible`` shows and ``narrow`` keeps, grouped by ``grouping``."""
    mask = visible.mask(data) if visible is not None else None
    narrowed = narrow.mask(data) if narrow is not None else None
    if narrowed is not None:
        mask = narrowed if mask is None else pc.and_(mask, narrowed)
    return group_facts(data, grouping, mask)
