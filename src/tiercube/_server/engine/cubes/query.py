"""Cube queries: which aggregates a query needs, and how measures combine them."""

from __future__ import annotations

from collections.abc import Callable
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array, Chunked, positions
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.base import Base, Input, Leaf, build_base
from tiercube._server.engine.cubes.cells import Cells, LevelSet, code_column, encode, nulls, repeat
from tiercube._server.engine.cubes.joins import JoinGraph
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.cubes.pushdown import FactFilter, Levels
from tiercube._server.engine.cubes.model import ColumnRef, Cube, CubeSchema, bind_level_filter, children
from tiercube._server.engine.exact import as_column_type, as_number, operands
from tiercube._server.engine.filters import COMPARISONS, BoundFilter, bind
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.types import value_type
from tiercube._server.engine.visibility import RowPlan
from tiercube._wire.cubes import (
    Aggregate,
    AllOf,
    AnyOf,
    Arithmetic,
    Constant,
    CubeQuery,
    Filtered,
    LevelFilter,
    MeasureComparison,
    MeasureCondition,
    MeasureExpr,
    MeasureRef,
    NotCondition,
    ParentValue,
    RowCount,
    Where,
)
from tiercube._wire.filters import And, Filter, filter_names
from tiercube.errors import QueryError, ResultTooLargeError

# The filters a measure is computed under (``Filtered`` nests), as encoded filters.
Context = frozenset[bytes]
NO_CONTEXT: Context = frozenset()

_ARITHMETIC: dict[str, Callable[[Array, Array], Array]] = {  # ty: ignore[invalid-assignment]
    "+": pc.add_checked,
    "-": pc.subtract_checked,
    "*": pc.multiply_checked,
}


class Collector:
    """Walks the measures of a query, following references, to list the aggregates they need.

    Each measure is walked once per filter context, as the evaluator computes it once:
    a chain ``m_k = m_(k-1) + m_(k-1)`` is k walks, not 2^k (``cost`` bounds the rest).
    """

    def __init__(self, cube: Cube, schema: CubeSchema, deadline: Deadline) -> None:
        self.cube = cube
        self.schema = schema
        self.deadline = deadline
        self._collected: set[tuple[str, Context]] = set()
        self.pairs: dict[tuple[Leaf, Context], None] = {}
        self.filters: dict[bytes, Filter] = {}
        self.levels: dict[str, None] = {}

    def collect(self, node: MeasureExpr | MeasureCondition, context: Context, path: tuple[str, ...] = ()) -> None:
        match node:
            case Aggregate() | RowCount():
                self.pairs[(self.leaf(node), context)] = None
            case MeasureRef(name):
                if name in path:
                    raise QueryError(f"measure {name!r} depends on itself: {' -> '.join([*path, name])}")
                if (name, context) in self._collected:
                    return
                self.deadline.check("reading the measures' definitions")
                self.collect(self.cube.measure(name), context, (*path, name))
                self._collected.add((name, context))
            case Filtered(measure, condition):
                key = msgspec.json.encode(condition)
                self.filters[key] = condition
                self.levels.update(dict.fromkeys(filter_names(condition)))
                self.collect(measure, context | {key}, path)
            case _:
                for child in children(node):
                    self.collect(child, context, path)

    def leaf(self, node: Aggregate | RowCount) -> Leaf:
        if isinstance(node, RowCount):
            return Leaf("rows", None)
        return Leaf(node.function, self.schema.resolve(node.column, node.table))

    def context_filter(self, context: Context) -> BoundFilter:
        """The filters a measure is computed under, together, bound once (they were checked when set)."""
        return bind(And([self.filters[key] for key in sorted(context)]), self.cube.level_types())


def run_query(
    tables: TableStore,
    joins: JoinGraph,
    cube: Cube,
    request: CubeQuery,
    *,
    limits: QueryLimits,
    visible: RowPlan | None = None,
    partials: Partials | None = None,
) -> pa.Table:
    """Answer ``request`` on ``cube``; see ``CubeQuery`` for the shape of the result.

    The query's filter is bound once (checked against the cube's levels and
    compiled) and that one ``BoundFilter`` serves every step: narrowing the
    fact rows before grouping, on the server or on a cluster's workers, and
    selecting cells after it.
    """
    deadline = Deadline(limits.timeout)
    limit = _check(cube, request, limits.max_rows)
    condition = bind_level_filter(cube, request.filter, "the query", deadline) if request.filter is not None else None
    schema = CubeSchema(tables, joins, cube.fact_table)
    collector = Collector(cube, schema, deadline)
    for name in request.measures:
        collector.collect(cube.measure(name), NO_CONTEXT, (name,))
    filter_levels = condition.names if condition is not None else []
    needed = list(dict.fromkeys([*request.levels, *filter_levels, *collector.levels]))
    refs = {name: schema.resolve(cube.level(name).column, cube.level(name).table) for name in needed}
    leaves = {leaf for leaf, _ in collector.pairs}
    memory, what = _memory_needed(tables, schema, refs, len(leaves))
    with tables.memory.reserve(memory, what, "add a filter or ask for fewer levels"):
        return _answered(tables, cube, request, schema, collector, refs, leaves, condition, deadline, limit, visible, partials)


def _answered(
    tables: TableStore,
    cube: Cube,
    request: CubeQuery,
    schema: CubeSchema,
    collector: Collector,
    refs: dict[str, ColumnRef],
    leaves: set[Leaf],
    condition: BoundFilter | None,
    deadline: Deadline,
    limit: int,
    visible: RowPlan | None,
    partials: Partials | None,
) -> pa.Table:
    try:
        narrow = _narrowing(tables, schema, refs, condition)
        base = build_base(tables, schema, list(dict.fromkeys(refs.values())), leaves, deadline, visible, partials, narrow)
        cells, parts_by_leaf = _cells(cube, base, refs, collector, condition, deadline)
        evaluator = Evaluator(cube, collector, cells, parts_by_leaf, deadline)
        sets = [tuple(request.levels[:k]) for k in range(len(request.levels), -1, -1)]
        sets = list(dict.fromkeys(sets if request.include_totals else sets[:1]))
        rows = sum(cells.rows(levels) for levels in sets)
        if rows > limit:
            raise ResultTooLargeError(
                f"the query would return {rows} rows, more than the limit of {limit}; "
                "add a filter, ask for fewer levels, or raise the limit",
                limit=limit,
            )
        parts = [evaluator.result_part(levels, request) for levels in sets]
        return _finish(pa.concat_tables(parts, promote_options="default"), cells, request)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise QueryError(f"cube {cube.name!r} could not answer the query: {error}") from None


# What one group of the fact rows costs, per column (keys and partial aggregates), at the query's
# peak: the grouping, its join to dimensions, the cells, the sorted and decoded answer. Measured:
# about 270 bytes per group for one level and three measures.
_GROUP_BYTES = 48


def _memory_needed(tables: TableStore, schema: CubeSchema, refs: dict[str, ColumnRef], leaves: int) -> tuple[int, str]:
    """About how much memory the query needs at its peak, and how to name it in a refusal.

    The fact rows are grouped by their level columns and the join keys of the
    dimensions; the groups are bounded from the columns' dictionaries and
    ranges first, and counted (a pass over the keys) only when that bound
    would not fit in the memory left.
    """
    rows = tables.get(schema.fact).rows
    via = {r.table: r.via for r in schema.reached if r.via is not None}
    keys: set[str] = set()
    for ref in refs.values():
        table = ref.table
        if table == schema.fact:
            keys.add(ref.column)
            continue
        while via[table].source != schema.fact:
            table = via[table].source
        keys.update(source for source, _ in via[table].pairs)
    columns = sorted(keys)
    per_group = _GROUP_BYTES * (len(columns) + 2 * leaves + 2)
    groups = rows.estimated_groups(columns)
    if not tables.memory.fits(groups * per_group):
        groups = rows.counted_groups(columns)
    return groups * per_group, f"a query of cube levels {', '.join(refs) or '(none)'} (about {groups:,} groups of {rows.num_rows:,} rows)"


def _narrowing(tables: TableStore, schema: CubeSchema, refs: dict[str, ColumnRef], condition: BoundFilter | None) -> FactFilter | None:
    """The query's filter as a mask of fact rows, to apply before grouping (see ``pushdown``)."""
    if condition is None:
        return None
    hops = {r.table: r.via for r in schema.reached if r.via is not None and r.via.source == schema.fact}
    return FactFilter.of(tables, condition, Levels(schema.fact, refs, hops))


def _check(cube: Cube, request: CubeQuery, max_rows: int) -> int:
    for kind, names in (("level", request.levels), ("measure", request.measures)):
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise QueryError(f"the query names {kind}(s) {', '.join(map(repr, repeated))} more than once")
    for name in request.levels:
        cube.level(name)
    for name in request.measures:
        cube.measure(name)
    if request.max_rows is not None and request.max_rows < 0:
        raise QueryError(f"max_rows must not be negative, not {request.max_rows}")
    return max_rows if request.max_rows is None else min(max_rows, request.max_rows)


PartsByLeaf = dict[tuple[Leaf, Context], dict[str, Input]]


def _cells(
    cube: Cube,
    base: Base,
    refs: dict[str, ColumnRef],
    collector: Collector,
    condition: BoundFilter | None,
    deadline: Deadline,
) -> tuple[Cells, PartsByLeaf]:
    """Encode the levels, apply the query filter, and mask the inputs of filtered measures."""
    table = base.table
    values: dict[str, Array] = {}
    for name, ref in refs.items():
        codes, values[name] = encode(table[ref.alias])
        table = table.append_column(code_column(name), codes)
    types = cube.level_types()
    decoder = Cells(table, [], values, types, deadline)
    every_level = tuple(refs)
    if condition is not None:
        table = table.filter(decoder.matches(table, every_level, condition))
    contexts = list(dict.fromkeys(context for _, context in collector.pairs if context))
    masks = {}
    for context in contexts:
        masks[context] = decoder.matches(table, every_level, collector.context_filter(context))
    parts: PartsByLeaf = {}
    for leaf, context in collector.pairs:
        if not context:
            parts[(leaf, context)] = base.parts[leaf]
            continue
        masked: dict[str, Input] = {}
        for name, part in base.parts[leaf].items():
            column = f"{part.column}\x1fif{contexts.index(context)}"
            if column not in table.column_names:
                source = table[part.column]
                table = table.append_column(
                    column, pc.if_else(masks[context], source, pa.scalar(None, source.type))
                )
            masked[name] = Input(column, part.combine)
        parts[(leaf, context)] = masked
    deadline.check("filtering")
    inputs = [part for leaf_parts in parts.values() for part in leaf_parts.values()]
    return Cells(table, inputs, values, types, deadline), parts


class Evaluator:
    """Computes measure expressions for the cells of one set of levels at a time."""

    def __init__(self, cube: Cube, collector: Collector, cells: Cells, parts: PartsByLeaf, deadline: Deadline) -> None:
        self.cube = cube
        self.deadline = deadline
        self.collector = collector
        self.cells = cells
        self.parts = parts
        self._memo: dict[tuple[str, LevelSet, Context], Array] = {}
        self._conditions: dict[bytes, BoundFilter] = {}

    def _bound(self, condition: Filter) -> BoundFilter:
        """A measure's level condition, bound once per query however many cells ask."""
        key = msgspec.json.encode(condition)
        if key not in self._conditions:
            self._conditions[key] = bind(condition, self.cube.level_types())
        return self._conditions[key]

    def result_part(self, levels: LevelSet, request: CubeQuery) -> pa.Table:
        """The rows for ``levels``: codes for every query level (null when rolled up), then measures."""
        rows = self.cells.at(levels)
        columns: dict[str, Array | Chunked] = {}
        for level in request.levels:
            columns[code_column(level)] = rows[code_column(level)] if level in levels else nulls(rows.num_rows, pa.int32())
        for name in request.measures:
            columns[name] = self.measure(MeasureRef(name), levels, NO_CONTEXT)
        return pa.Table.from_pydict(columns) if columns else pa.table({"\x1frow": positions(rows.num_rows)})

    def measure(self, node: MeasureExpr, levels: LevelSet, context: Context) -> Array:
        size = self.cells.rows(levels)
        match node:
            case Aggregate() | RowCount():
                leaf = self.collector.leaf(node)
                parts = self.parts[(leaf, context)]
                return _finish_leaf(leaf, {name: self.cells.column(levels, part) for name, part in parts.items()})
            case MeasureRef(name):
                key = (name, levels, context)
                if key not in self._memo:
                    self.deadline.check(f"computing measure {name!r}")
                    self._memo[key] = self.measure(self.cube.measure(name), levels, context)
                return self._memo[key]
            case Constant(value):
                return repeat(pa.scalar(value, pa.float64() if isinstance(value, float) else pa.int64()), size)
            case Arithmetic(op, left, right):
                return _arithmetic(op, self.measure(left, levels, context), self.measure(right, levels, context))
            case Where(condition, then, otherwise):
                chosen = self.measure(then, levels, context)
                other = (
                    self.measure(otherwise, levels, context)
                    if otherwise is not None
                    else nulls(size, chosen.type)
                )
                chosen_or_other: Array = pc.if_else(self.condition(condition, levels, context), chosen, other)
                return chosen_or_other
            case Filtered(inner, condition):
                return self.measure(inner, levels, context | {msgspec.json.encode(condition)})
            case ParentValue(inner, level):
                removed = self.cube.level_and_below(level)
                parent = tuple(name for name in levels if name not in removed)
                if parent == levels:
                    return self.measure(inner, levels, context)
                return self._align(levels, parent, self.measure(inner, parent, context))
        raise QueryError(f"unknown measure expression {node!r}")

    def condition(self, node: MeasureCondition, levels: LevelSet, context: Context) -> Array:
        match node:
            case MeasureComparison(left, op, right):
                compared: Array = COMPARISONS[op](self.measure(left, levels, context), self.measure(right, levels, context))
            case LevelFilter(condition):
                return self.cells.matches(self.cells.at(levels), levels, self._bound(condition))
            case AllOf(conditions) | AnyOf(conditions):
                combine = pc.and_kleene if isinstance(node, AllOf) else pc.or_kleene
                compared = repeat(pa.scalar(isinstance(node, AllOf)), self.cells.rows(levels))
                for condition in conditions:
                    compared = combine(compared, self.condition(condition, levels, context))  # ty: ignore[no-matching-overload]
            case NotCondition(condition):
                compared = pc.invert(self.condition(condition, levels, context))
        return compared.fill_null(False)  # ty: ignore[missing-union-attribute]

    def _align(self, levels: LevelSet, parent: LevelSet, values: Array) -> Array:
        """``values`` (one per cell of ``parent``) repeated for each cell of ``levels`` it contains."""
        size = self.cells.rows(levels)
        if not parent:
            scalar = values[0] if len(values) else pa.scalar(None, values.type)
            return repeat(scalar, size)
        keys = [code_column(level) for level in parent]
        left = self.cells.at(levels).select(keys).append_column("\x1fposition", positions(size))
        right = self.cells.at(parent).select(keys).append_column("\x1fvalue", values)
        joined = left.join(right, keys=keys, join_type="left outer").sort_by("\x1fposition")
        return joined["\x1fvalue"].combine_chunks()


def _finish_leaf(leaf: Leaf, parts: dict[str, Array]) -> Array:
    match leaf.function:
        case "rows" | "count" | "distinct_count":
            (counted,) = parts.values()
            return counted.fill_null(0)
        case "mean":
            return _in_column_terms(leaf, _divide(parts["sum"], parts["count"]))
        case "sum" | "min" | "max":
            (value,) = parts.values()
            return _in_column_terms(leaf, value)


def _in_column_terms(leaf: Leaf, values: Array) -> Array:
    return as_column_type(values, leaf.column.data_type) if leaf.column is not None else values


def _divide(left: Array, right: Array) -> Array:
    numerator, denominator = as_number(left), as_number(right)
    quotient = pc.divide(numerator, denominator)
    # Dividing by zero gives null (not inf or an error), like an empty cell.
    result: Array = pc.if_else(pc.equal(denominator, pa.scalar(0.0)), pa.scalar(None, pa.float64()), quotient)
    return result


def _arithmetic(op: str, left: Array, right: Array) -> Array:
    if op == "/":
        return _divide(left, right)
    return _ARITHMETIC[op](*operands(op, left, right))


def _finish(table: pa.Table, cells: Cells, request: CubeQuery) -> pa.Table:
    """Sort by the level codes (values order, nulls last), then decode them to values."""
    codes = [code_column(level) for level in request.levels]
    if codes:
        table = table.take(pc.sort_indices(table, sort_keys=[(code, "ascending") for code in codes]))  # pyrefly: ignore[no-matching-overload]
    columns = [
        cells.values[level].take(table[code].combine_chunks()).cast(value_type(cells.types[level]))
        for level, code in zip(request.levels, codes, strict=True)
    ]
    columns += [table[name].combine_chunks() for name in request.measures]
    return pa.table(columns, names=[*request.levels, *request.measures])
