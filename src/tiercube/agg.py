"""Aggregation functions for measures: ``cube.measures["q"] = tiercube.agg.sum(table["qty"])``.

Each takes a column, by name or as ``table["column"]``; ``table=`` picks the
table when several of the cube's tables have a column of that name.
"""

from __future__ import annotations

from tiercube._client.conditions import Column
from tiercube._client.measures import MeasureExpression, column_name
from tiercube._wire import cubes as wire

__all__ = ["count", "distinct_count", "max", "mean", "min", "row_count", "sum"]


def _aggregate(function: wire.AggregateFunction, column: str | Column, table: str | None) -> MeasureExpression:
    return MeasureExpression(wire.Aggregate(function, column_name(column), table))


def sum(column: str | Column, *, table: str | None = None) -> MeasureExpression:  # noqa: A001
    """The sum of the column's values."""
    return _aggregate("sum", column, table)


def mean(column: str | Column, *, table: str | None = None) -> MeasureExpression:
    """The mean of the column's non-null values."""
    return _aggregate("mean", column, table)


def min(column: str | Column, *, table: str | None = None) -> MeasureExpression:  # noqa: A001
    """The smallest value."""
    return _aggregate("min", column, table)


def max(column: str | Column, *, table: str | None = None) -> MeasureExpression:  # noqa: A001
    """The largest value."""
    return _aggregate("max", column, table)


def count(column: str | Column, *, table: str | None = None) -> MeasureExpression:
    """How many values are not null."""
    return _aggregate("count", column, table)


def distinct_count(column: str | Column, *, table: str | None = None) -> MeasureExpression:
    """How many distinct non-null values."""
    return _aggregate("distinct_count", column, table)


def row_count() -> MeasureExpression:
    """How many fact rows make up the cell (what ``contributors.COUNT`` is)."""
    return MeasureExpression(wire.RowCount())
