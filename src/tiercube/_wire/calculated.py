"""Calculated columns on the wire: row-level expressions over a table's columns.

``t["qty"] * t["price"]``, ``t["day"].month`` or ``t["price"] > 100`` build
these trees on the client; the server checks them against the columns' types
when a measure or a level that uses them is set, compiles them once into an
Arrow compute expression, and evaluates that over whole columns (never row
by row in Python). They appear as an ``Aggregate``'s input
(``agg.sum(t["qty"] * t["price"])``) and as a level's definition.

A calculated column reads the columns of one table: the fact table or one
table joined to it. Its value is then fixed by that table's row, which is
what lets the engine group by it (or by the columns it reads) and join it
like any stored column.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from tiercube._wire.filters import Filter, Scalar, leaves
from tiercube._wire.messages import DataType

RowFunction: TypeAlias = Literal[
    # Arithmetic: ``/`` always gives a float, and dividing by zero gives null.
    "add", "subtract", "multiply", "divide", "negate", "abs", "round",
    # Comparisons and logic (SQL's three-valued logic for nulls).
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "and", "or", "not",
    "is_null", "if_else", "fill_null",
    # Calendar parts of a date or timestamp, in the column's own time zone.
    "year", "quarter", "month", "week", "day", "day_of_week", "day_of_year", "hour", "minute", "second",
    # A date or timestamp truncated to the start of its year, quarter, month, week, day, hour or minute.
    "date_trunc",
    # Text.
    "upper", "lower", "length", "substring", "starts_with", "ends_with", "contains", "concat",
]
"""The functions a calculated column may call; see ``tiercube.CalculatedColumn`` for each one's arguments."""

TruncationUnit: TypeAlias = Literal["year", "quarter", "month", "week", "day", "hour", "minute"]
"""What ``date_trunc`` truncates to; a week starts on Monday (ISO 8601), as duckdb's ``date_trunc``."""


class Field(msgspec.Struct, frozen=True, tag="field"):
    """The value of ``column`` (of ``table``, when several of a cube's tables have one of that name)."""

    column: str
    table: str | None = None


class RowLiteral(msgspec.Struct, frozen=True, tag="row_literal"):
    """A constant. Dates and timestamps travel as ISO text with ``data_type`` saying which."""

    value: Scalar
    data_type: DataType | None = None


class Call(msgspec.Struct, frozen=True, tag="call"):
    """``function`` applied to ``arguments`` (see ``RowFunction``)."""

    function: RowFunction
    arguments: list[RowExpr]


class Cast(msgspec.Struct, frozen=True, tag="cast"):
    """``operand`` converted to ``data_type``; a value that does not convert makes the query fail, naming it."""

    operand: RowExpr
    data_type: DataType


class FilterValue(msgspec.Struct, frozen=True, tag="filter_value"):
    """A filter on a table's columns (``t["price"] > 100``) as a boolean column: true, false or null."""

    filter: Filter


RowExpr: TypeAlias = Field | RowLiteral | Call | Cast | FilterValue


def fields(expression: RowExpr) -> list[Field]:
    """Every column ``expression`` reads, in order (a filter's columns as fields of its table)."""
    match expression:
        case Field():
            return [expression]
        case RowLiteral():
            return []
        case Call(_, arguments):
            return [found for argument in arguments for found in fields(argument)]
        case Cast(operand, _):
            return fields(operand)
        case FilterValue(condition):
            return [Field(leaf.column, leaf.table) for leaf in leaves(condition)]
