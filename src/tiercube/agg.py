"""Aggregation functions for measures: ``cube.measures["q"] = tiercube.agg.sum(table["qty"])``.

Each takes a column, by name or as ``table["column"]``, or a calculated column
(``agg.sum(sales["qty"] * sales["price"])``); ``table=`` picks the table when
several of the cube's tables have a column of that name.

Maintained aggregates serve every one of them: sums, counts, means, minima,
maxima, products, deviations and single values from per-group parts; medians,
quantiles and distinct counts from a grouping that includes the column they
read (a row per distinct value in each group), which is kept up to date too.
"""

from __future__ import annotations

from tiercube._client.calculated import CalculatedColumn, ColumnLike, if_else, row_expression
from tiercube._client.conditions import Column
from tiercube._client.measures import MeasureExpression, column_name
from tiercube._client.wire_form import wire_form
from tiercube._wire import calculated as row
from tiercube._wire import cubes as wire

__all__ = [
    "count", "distinct_count", "long", "max", "max_member", "mean", "median", "min", "min_member", "prod",
    "quantile", "row_count", "short", "single_value", "square_sum", "std", "sum", "sum_product", "var",
    "weighted_mean",
]

Input = str | ColumnLike
"""A column by name, a table's column (``t["qty"]``), or a calculated column (``t["qty"] * t["price"]``)."""


def _read(column: Input) -> str | row.RowExpr:
    if isinstance(column, CalculatedColumn):
        return wire_form(column)
    if isinstance(column, Column | str):
        return column_name(column)
    raise TypeError(f"an aggregate reads a column, by name or as table['name'], or a calculated column; not {column!r}")


def _calculated(column: Input, table: str | None) -> CalculatedColumn:
    return CalculatedColumn(row.Field(column, table) if isinstance(column, str) else row_expression(column))


def _aggregate(function: wire.AggregateFunction, column: Input, table: str | None) -> MeasureExpression:
    return MeasureExpression(wire.Aggregate(function, _read(column), table))


def sum(column: Input, *, table: str | None = None) -> MeasureExpression:  # noqa: A001
    """The sum of the column's values: ``agg.sum(sales["qty"] * sales["price"])`` is the revenue."""
    return _aggregate("sum", column, table)


def mean(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The mean of the column's non-null values."""
    return _aggregate("mean", column, table)


def min(column: Input, *, table: str | None = None) -> MeasureExpression:  # noqa: A001
    """The smallest value."""
    return _aggregate("min", column, table)


def max(column: Input, *, table: str | None = None) -> MeasureExpression:  # noqa: A001
    """The largest value."""
    return _aggregate("max", column, table)


def count(column: Input, *, table: str | None = None) -> MeasureExpression:
    """How many values are not null."""
    return _aggregate("count", column, table)


def distinct_count(column: Input, *, table: str | None = None) -> MeasureExpression:
    """How many distinct non-null values."""
    return _aggregate("distinct_count", column, table)


def row_count() -> MeasureExpression:
    """How many fact rows make up the cell (what ``contributors.COUNT`` is)."""
    return MeasureExpression(wire.RowCount())


def median(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The median of the non-null values, interpolated between the two middle ones (duckdb's ``median``):
    ``agg.median(sales["price"])``."""
    return _aggregate("median", column, table)


def quantile(column: Input, q: float, interpolation: wire.Interpolation = "linear", *, table: str | None = None) -> MeasureExpression:
    """The exact ``q`` quantile (0 to 1) of the non-null values: ``agg.quantile(sales["price"], 0.9)``.

    ``interpolation`` says which value between two (``tiercube._wire.cubes.Interpolation``): ``"linear"``
    is SQL's ``percentile_cont``, ``"discrete"`` SQL's ``percentile_disc``; ``"lower"``, ``"higher"``,
    ``"nearest"`` and ``"midpoint"`` are numpy's.
    """
    return MeasureExpression(wire.Aggregate("quantile", _read(column), table, q=q, interpolation=interpolation))


def std(column: Input, *, population: bool = False, table: str | None = None) -> MeasureExpression:
    """The standard deviation of the sample (``population=True``: of the population): ``agg.std(sales["price"])``."""
    return MeasureExpression(wire.Aggregate("std", _read(column), table, population=population))


def var(column: Input, *, population: bool = False, table: str | None = None) -> MeasureExpression:
    """The variance of the sample (``population=True``: of the population): ``agg.var(sales["price"])``."""
    return MeasureExpression(wire.Aggregate("var", _read(column), table, population=population))


def prod(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The product of the non-null values, as a float: ``agg.prod(1 + rates["growth"])``."""
    return _aggregate("prod", column, table)


def single_value(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The value when every non-null value of the cell is the same, else null: ``agg.single_value(sales["currency"])``."""
    return _aggregate("single_value", column, table)


def square_sum(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The sum of the squares of the values: ``agg.square_sum(sales["qty"])`` is ``agg.sum(qty * qty)``."""
    values = _calculated(column, table)
    return sum(values * values)


def sum_product(left: Input, right: Input, *, table: str | None = None) -> MeasureExpression:
    """The sum of the products of two columns, row by row: ``agg.sum_product(sales["qty"], sales["price"])``."""
    return sum(_calculated(left, table) * _calculated(right, table))


def weighted_mean(values: Input, weights: Input, *, table: str | None = None) -> MeasureExpression:
    """The mean of ``values`` weighted by ``weights``, over the rows where both are known:
    ``agg.weighted_mean(sales["price"], sales["qty"])`` is the average price paid per unit."""
    value, weight = _calculated(values, table), _calculated(weights, table)
    return sum(value * weight) / sum(if_else(value.is_null(), None, weight))


def long(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The sum of the positive values (a long position): ``agg.long(trades["amount"])``."""
    value = _calculated(column, table)
    return sum(if_else(value > 0, value))


def short(column: Input, *, table: str | None = None) -> MeasureExpression:
    """The sum of the negative values (a short position): ``agg.short(trades["amount"])``."""
    value = _calculated(column, table)
    return sum(if_else(value < 0, value))


def min_member(measure: MeasureExpression, level: str | Column) -> MeasureExpression:
    """The member of ``level`` at which ``measure`` is smallest (ties: the first in the level's order):
    ``agg.min_member(m["qty.SUM"], "product")`` is each region's least sold product."""
    return MeasureExpression(wire.MemberOf(wire_form(measure), column_name(level), largest=False))


def max_member(measure: MeasureExpression, level: str | Column) -> MeasureExpression:
    """The member of ``level`` at which ``measure`` is largest (ties: the first in the level's order):
    ``agg.max_member(m["revenue"], "product")`` is each region's best seller."""
    return MeasureExpression(wire.MemberOf(wire_form(measure), column_name(level), largest=True))
