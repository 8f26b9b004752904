"""Cube queries: which aggregates a query needs, and how measures combine them."""

from __future__ import annotations

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.base import Base, Input, Leaf, build_base
from tiercube._server.engine.cubes.cells import Cells, code_column, encode
from tiercube._server.engine.cubes.evaluate import NO_CONTEXT, Context, Evaluator, PartsByLeaf
from tiercube._server.engine.cubes.joins import JoinGraph
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.cubes.pushdown import FactFilter, Levels
from tiercube._server.engine.cubes.model import ColumnRef, Cube, CubeSchema, added_levels, bind_level_filter, children
from tiercube._server.engine.cubes.answer import check_top, finish, kept_by_top, result_part
from tiercube._server.engine.filters import BoundFilter, bind
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.visibility import RowPlan
from tiercube._wire.cubes import Aggregate, CubeQuery, Filtered, MeasureCondition, MeasureExpr, MeasureRef, RowCount
from tiercube._wire.filters import And, Filter, filter_names
from tiercube.errors import QueryError, ResultTooLargeError


class Collector:
    """Walks the measures of a query, following references, to list the aggregates they need.

    Each measure is walked once per filter context, as the evaluator computes it once:
    a chain ``m_k = m_(k-1) + m_(k-1)`` is k walks, not 2^k (``cost`` bounds the rest).
    """

    def __init__(self, cube: Cube, schema: CubeSchema, deadline: Deadline) -> None:
        self.cube = cube
        self.schema = schema
        self.deadline = deadline
        self.pairs: dict[tuple[Leaf, Context], None] = {}
        self.filters: dict[bytes, Filter] = {}
        self.levels: dict[str, None] = {}
        self._seen: set[tuple[str, Context]] = set()
        self._leaves: dict[bytes, Leaf] = {}

    def collect(self, node: MeasureExpr | MeasureCondition, context: Context, path: tuple[str, ...] = ()) -> None:
        match node:
            case Aggregate() | RowCount():
                self.pairs[(self.leaf(node), context)] = None
            case MeasureRef(name):
                if name in path:
                    raise QueryError(f"measure {name!r} depends on itself: {' -> '.join([*path, name])}")
                if (name, context) in self._seen:
                    return  # each measure is walked once per context: a graph, not every path through it
                self._seen.add((name, context))
                self.deadline.check("reading the measures' definitions")
                self.collect(self.cube.measure(name), context, (*path, name))
            case Filtered(measure, condition):
                key = msgspec.json.encode(condition)
                self.filters[key] = condition
                self.levels.update(dict.fromkeys(filter_names(condition)))
                self.collect(measure, context | {key}, path)
            case _:
                self.levels.update(dict.fromkeys(added_levels(node)))
                for child in children(node):
                    self.collect(child, context, path)

    def leaf(self, node: Aggregate | RowCount) -> Leaf:
        if isinstance(node, RowCount):
            return Leaf("rows", None)
        key = msgspec.json.encode(node)
        found = self._leaves.get(key)
        if found is None:
            column = self.schema.input_of(node)
            if node.function in ("median", "quantile"):
                q, interpolation = (0.5, "linear") if node.function == "median" else (node.q, node.interpolation)
                found = Leaf("quantile", column, q, interpolation)
            else:
                found = Leaf(node.function, column, population=node.population)
            self._leaves[key] = found
        return found

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
    refs = {name: schema.level(cube.level(name)) for name in needed}
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
        evaluator = Evaluator(cube, collector.leaf, cells, parts_by_leaf, deadline)
        sets = [tuple(request.levels[:k]) for k in range(len(request.levels), -1, -1)]
        sets = list(dict.fromkeys(sets if request.include_totals else sets[:1]))
        if request.top is None:
            _check_size(sum(cells.rows(levels) for levels in sets), limit)
        parts = [result_part(evaluator, levels, request) for levels in sets]
        if request.top is not None:
            parts = kept_by_top(evaluator, request.top, sets, parts)
            _check_size(sum(part.num_rows for part in parts), limit)
        return finish(pa.concat_tables(parts, promote_options="default"), cells, request)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise QueryError(f"cube {cube.name!r} could not answer the query: {error}") from None


def _check_size(rows: int, limit: int) -> None:
    if rows > limit:
        raise ResultTooLargeError(
            f"the query would return {rows} rows, more than the limit of {limit}; "
            "add a filter, ask for fewer levels, or raise the limit",
            limit=limit,
        )


# What one group of the fact rows costs, per column (keys and partial aggregates), at the query's
# peak: the grouping, its join to dimensions, the cells, the sorted and decoded answer. Measured:
# about 270 bytes per group for one level and three measures.
_GROUP_BYTES = 48


def _memory_needed(tables: TableStore, schema: CubeSchema, refs: dict[str, ColumnRef], leaves: int) -> tuple[int, str]:
    """About how much memory the query needs at its peak, and how to name it in a refusal.

    The fact rows are grouped by their level columns and the join keys of the
    dimensions; the groups are bounded from the columns' dictionaries and
    ranges first, and counted (a pass over the keys) only when that bound
    would not fit in the memory left. A calculated level is bounded by the
    columns it reads.
    """
    rows = tables.get(schema.fact).rows
    via = {r.table: r.via for r in schema.reached if r.via is not None}
    keys: set[str] = set()
    for ref in refs.values():
        table = ref.table
        if table == schema.fact:
            keys.update(ref.calculated.columns if ref.calculated is not None else [ref.column])
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
    if request.top is not None:
        check_top(cube, request)
    return max_rows if request.max_rows is None else min(max_rows, request.max_rows)


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


