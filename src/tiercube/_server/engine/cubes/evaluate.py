"""Measures computed per set of levels: aggregates from the cells, then the algebra and the scopes.

A query's measures form a graph (measures refer to measures, scopes evaluate
their measure at other sets of levels). Each (measure, levels, filter context)
is computed once per query (``_memo``), so a measure used by many others, or a
chain that refers to each measure twice, costs one evaluation per node of the
graph, never one per path through it. Every scope step checks the query's
deadline and the request's cancellation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array
from tiercube._server.engine.cubes import scopes
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.base import Input, Leaf
from tiercube._server.engine.cubes.cells import Cells, LevelSet, code_column, nulls, repeat
from tiercube._server.engine.cubes.holistic import VALUE, quantiles
from tiercube._server.engine.cubes.model import Cube
from tiercube._server.engine.exact import as_column_type, as_number, operands
from tiercube._server.engine.filters import COMPARISONS, BoundFilter, bind
from tiercube._wire.cubes import (
    Aggregate,
    AllOf,
    AnyOf,
    Arithmetic,
    At,
    Constant,
    Cumulative,
    Filtered,
    LevelFilter,
    MeasureComparison,
    MeasureCondition,
    MeasureExpr,
    MeasureRef,
    MemberOf,
    NotCondition,
    Origin,
    ParentValue,
    Rank,
    RowCount,
    Shift,
    Siblings,
    Where,
)
from tiercube._wire.filters import Filter
from tiercube.errors import QueryError

# The filters a measure is computed under (``Filtered`` nests), as encoded filters.
Context = frozenset[bytes]
NO_CONTEXT: Context = frozenset()
PartsByLeaf = dict[tuple[Leaf, Context], dict[str, Input]]

_ARITHMETIC: dict[str, Callable[[Array, Array], Array]] = {  # ty: ignore[invalid-assignment]
    "+": pc.add_checked,
    "-": pc.subtract_checked,
    "*": pc.multiply_checked,
}


class Evaluator:
    """Computes measure expressions for the cells of one set of levels at a time."""

    def __init__(self, cube: Cube, leaf: Callable[[Aggregate | RowCount], Leaf], cells: Cells, parts: PartsByLeaf, deadline: Deadline) -> None:
        self.cube = cube
        self.leaf = leaf
        self.cells = cells
        self.parts = parts
        self.deadline = deadline
        self._memo: dict[tuple[object, LevelSet, Context], Array] = {}
        self._conditions: dict[bytes, BoundFilter] = {}

    def bound(self, condition: Filter) -> BoundFilter:
        """A level condition, bound once per query however many cells ask."""
        key = msgspec.json.encode(condition)
        if key not in self._conditions:
            self._conditions[key] = bind(condition, self.cube.level_types())
        return self._conditions[key]

    def measure(self, node: MeasureExpr, levels: LevelSet, context: Context) -> Array:
        size = self.cells.rows(levels)
        match node:
            case Aggregate() | RowCount():
                return self._aggregate(node, levels, context)
            case MeasureRef(name):
                return self._remembered(name, levels, context, lambda: self.measure(self.cube.measure(name), levels, context))
            case Constant(value):
                return repeat(pa.scalar(value, pa.float64() if isinstance(value, float) else pa.int64()), size)
            case Arithmetic(op, left, right):
                return _arithmetic(op, self.measure(left, levels, context), self.measure(right, levels, context))
            case Where(condition, then, otherwise):
                chosen = self.measure(then, levels, context)
                other = self.measure(otherwise, levels, context) if otherwise is not None else nulls(size, chosen.type)
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
            case Cumulative() | Shift() | At() | Siblings() | Origin() | Rank() | MemberOf():
                return self._remembered(id(node), levels, context, lambda: self._scope(node, levels, context))
        raise QueryError(f"unknown measure expression {node!r}")

    def _remembered(self, key: object, levels: LevelSet, context: Context, compute: Callable[[], Array]) -> Array:
        memo = (key, levels, context)
        if memo not in self._memo:
            self._memo[memo] = compute()
        return self._memo[memo]

    def _scope(self, node: Cumulative | Shift | At | Siblings | Origin | Rank | MemberOf, levels: LevelSet, context: Context) -> Array:
        self.deadline.check(f"computing {type(node).__name__.lower()} by {', '.join(levels) or 'nothing'}")
        match node:
            case Cumulative():
                return scopes.cumulative(self, node, levels, context)
            case Shift():
                return scopes.shift(self, node, levels, context)
            case At():
                return scopes.at(self, node, levels, context)
            case Siblings():
                return scopes.siblings(self, node, levels, context)
            case Origin():
                return scopes.origin(self, node, levels, context)
            case Rank():
                return scopes.rank(self, node, levels, context)
            case MemberOf():
                return scopes.member_of(self, node, levels, context)

    def _aggregate(self, node: Aggregate | RowCount, levels: LevelSet, context: Context) -> Array:
        leaf = self.leaf(node)
        parts = self.parts[(leaf, context)]
        if leaf.function in ("median", "quantile"):
            names = [code_column(level) for level in levels]
            found = quantiles(self.cells.base, names, parts["value"].column, parts["weight"].column, leaf.q, leaf.interpolation)
            return scopes.lookup(self.cells, levels, levels, found)
        return _finish_leaf(leaf, {name: self.cells.column(levels, part) for name, part in parts.items()})

    def condition(self, node: MeasureCondition, levels: LevelSet, context: Context) -> Array:
        match node:
            case MeasureComparison(left, op, right):
                compared: Array = COMPARISONS[op](self.measure(left, levels, context), self.measure(right, levels, context))
            case LevelFilter(condition):
                return self.cells.matches(self.cells.at(levels), levels, self.bound(condition))
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
        source = self.cells.at(parent).select([code_column(level) for level in parent]).append_column(VALUE, values)
        return scopes.lookup(self.cells, levels, parent, source)


def _finish_leaf(leaf: Leaf, parts: dict[str, Array]) -> Array:
    match leaf.function:
        case "rows" | "count" | "distinct_count":
            (counted,) = parts.values()
            return counted.fill_null(0)
        case "mean":
            return _in_column_terms(leaf, _divide(parts["sum"], parts["count"]))
        case "std" | "var":
            return _deviation(parts["sum"], parts["count"], parts["sum_squares"], leaf.population, leaf.function == "std")
        case "single_value":
            same = pc.equal(parts["min"], parts["max"])
            single: Array = pc.if_else(same, parts["min"], nulls(len(same), parts["min"].type))
            return single
        case "prod":
            return parts["product"]
        case "sum" | "min" | "max" | "median" | "quantile":
            (value,) = parts.values()
            return _in_column_terms(leaf, value)


def _in_column_terms(leaf: Leaf, values: Array) -> Array:
    return as_column_type(values, leaf.column.data_type) if leaf.column is not None else values


def _deviation(total: Array, count: Array, squares: Array, population: bool, root: bool) -> Array:
    """Variance (or its square root) from sums: (sum of squares - sum^2 / n) / (n or n - 1); null below
    two values for a sample's (one for a population's); never below 0 (rounding)."""
    kernels: Any = pc  # float arrays throughout; the stubs lose their types on the way
    n = count.cast(pa.float64())
    s = total.cast(pa.float64())
    spread = kernels.subtract(squares, kernels.divide(kernels.multiply(s, s), n))
    divisor = n if population else kernels.subtract(n, pa.scalar(1.0))
    variance = kernels.max_element_wise(kernels.divide(spread, divisor), pa.scalar(0.0))
    enough = kernels.greater(divisor, pa.scalar(0.0))
    result: Array = kernels.if_else(enough, kernels.sqrt(variance) if root else variance, pa.scalar(None, pa.float64()))
    return result


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
