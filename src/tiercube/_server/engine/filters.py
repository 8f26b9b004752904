"""Turn wire filters into pyarrow compute expressions, checked against a schema."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.types import value_type
from tiercube._wire.filters import And, Compare, Filter, IsIn, IsNull, Not, Operator, Or, Scalar
from tiercube._wire.messages import DataType
from tiercube.errors import InvalidRequestError

# The compute functions behind each operator: they take arrays and expressions alike.
COMPARISONS: dict[Operator, Callable[..., Any]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def to_expression(condition: Filter, columns: Mapping[str, DataType]) -> pc.Expression:
    """Compile ``condition``; an unknown column or an unconvertible value raises."""
    match condition:
        case Compare(column, op, value):
            scalar = _value(value, column, columns)
            expression: pc.Expression = COMPARISONS[op](pc.field(column), scalar)
            return expression
        case IsIn(column, values):
            _check_column(column, columns)
            scalars = [_value(v, column, columns) for v in values]
            value_set = pa.array([s.as_py() for s in scalars], type=value_type(columns[column]))
            return pc.is_in(pc.field(column), value_set=value_set)
        case IsNull(column):
            _check_column(column, columns)
            return pc.is_null(pc.field(column))
        case And(operands):
            return functools.reduce(operator.and_, _all(operands, columns), pc.scalar(True))
        case Or(operands):
            return functools.reduce(operator.or_, _all(operands, columns), pc.scalar(False))
        case Not(operand):
            return pc.invert(to_expression(operand, columns))
    raise InvalidRequestError(f"unknown filter {condition!r}")


def _all(operands: list[Filter], columns: Mapping[str, DataType]) -> list[pc.Expression]:
    return [to_expression(o, columns) for o in operands]


def _check_column(column: str, columns: Mapping[str, DataType]) -> DataType:
    try:
        return columns[column]
    except KeyError:
        raise InvalidRequestError(
            f"the filter names column {column!r}, which does not exist; the columns are {', '.join(columns)}"
        ) from None


def _value(value: Scalar, column: str, columns: Mapping[str, DataType]) -> pa.Scalar[Any]:
    data_type = _check_column(column, columns)
    target = value_type(data_type)
    if value is None:
        return pa.scalar(None, type=target)
    if not _fits(value, data_type):
        raise InvalidRequestError(
            f"the filter compares column {column!r} ({data_type}) with {value!r} ({type(value).__name__}); "
            f"give {_EXPECTED[data_type]}"
        )
    if isinstance(value, int | float) and data_type in _NUMERIC:
        return pa.scalar(value)  # compare by value: Arrow promotes qty < 2.5 to floating point
    try:
        return pa.scalar(value).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise InvalidRequestError(
            f"the filter compares column {column!r} ({data_type}) with {value!r}, which is not a {data_type}"
        ) from None


_NUMERIC = ("int32", "int64", "float32", "float64")
_EXPECTED: dict[DataType, str] = {
    "bool": "a bool",
    "int32": "a number",
    "int64": "a number",
    "float32": "a number",
    "float64": "a number",
    "string": "a str",
    "date": "a date",
    "timestamp": "a datetime",
}


def _fits(value: Scalar, data_type: DataType) -> bool:
    """Whether ``value`` is of the column's kind: a string column is not compared with 3."""
    if isinstance(value, bool):
        return data_type == "bool"
    if isinstance(value, int | float):
        return data_type in _NUMERIC
    # Dates and timestamps travel as ISO text.
    return data_type in ("string", "date", "timestamp")
