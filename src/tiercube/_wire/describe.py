"""Wire filters and measure expressions as text close to the Python that builds them.

Reprs (``Condition(...)``, ``MeasureExpression(...)``) and notebook displays
show the same text, so it lives here, below both: ``(region == 'EU' & qty > 2)``,
``price.SUM - cost.SUM``, ``where(qty.SUM > 100, price.SUM)``.
"""

from __future__ import annotations

import re

from tiercube._wire import cubes, filters


def describe_filter(f: filters.Filter) -> str:
    """A filter as the Python that builds it reads, near enough: ``(region == 'EU' & qty > 2)``."""
    match f:
        case filters.Compare(column, op, value, table):
            return f"{_qualified(column, table)} {op} {value!r}"
        case filters.IsIn(column, values, table):
            return f"{_qualified(column, table)} in {values!r}"
        case filters.IsNull(column, table):
            return f"{_qualified(column, table)} is null"
        case filters.And(operands):
            return "(" + " & ".join(map(describe_filter, operands)) + ")"
        case filters.Or(operands):
            return "(" + " | ".join(map(describe_filter, operands)) + ")"
        case filters.Not(operand):
            return f"~{describe_filter(operand)}"


def _qualified(column: str, table: str | None) -> str:
    return column if table is None else f"{table}.{column}"


# How tightly each arithmetic operator binds, to parenthesize only where Python would need it.
_BINDING = {"+": 1, "-": 1, "*": 2, "/": 2}
_ATOM = 3
_PLAIN_NAME = re.compile(r"[A-Za-z_][\w.]*")


def describe_expression(expression: cubes.MeasureExpr) -> str:
    """An expression as text close to the Python that builds it: ``price.SUM - cost.SUM``, ``sum(qty)``.

    A measure is shown by its name, in brackets when the name is not a plain
    dotted identifier (``[share of region]``).
    """
    return _text(expression)[0]


def _text(expression: cubes.MeasureExpr) -> tuple[str, int]:
    """The text and how tightly it binds."""
    match expression:
        case cubes.Aggregate(function, column, table):
            return f"{function}({column if table is None else f'{table}.{column}'})", _ATOM
        case cubes.RowCount():
            return "row_count()", _ATOM
        case cubes.MeasureRef(name):
            return (name if _PLAIN_NAME.fullmatch(name) else "[" + name.replace("]", "]]") + "]"), _ATOM
        case cubes.Constant(value):
            return repr(value), _ATOM if value >= 0 else 0
        case cubes.Arithmetic(op, left, right):
            binding = _BINDING[op]
            left_text, left_binding = _text(left)
            right_text, right_binding = _text(right)
            if left_binding < binding:
                left_text = f"({left_text})"
            # a - (b - c) and a / (b * c) keep their parentheses; a + (b + c) would too, harmlessly.
            if right_binding <= binding:
                right_text = f"({right_text})"
            return f"{left_text} {op} {right_text}", binding
        case cubes.Where(condition, then, otherwise):
            rest = "" if otherwise is None else f", {describe_expression(otherwise)}"
            return f"where({describe_condition(condition)}, {describe_expression(then)}{rest})", _ATOM
        case cubes.Filtered(measure, condition):
            return f"filtered({describe_expression(measure)}, {describe_filter(condition)})", _ATOM
        case cubes.ParentValue(measure, level):
            return f"parent_value({describe_expression(measure)}, {level!r})", _ATOM


def describe_condition(condition: cubes.MeasureCondition) -> str:
    """A per-cell condition as text: ``qty.SUM > 100``, ``(qty.SUM > 1 & region == 'EU')``."""
    match condition:
        case cubes.MeasureComparison(left, op, right):
            return f"{describe_expression(left)} {op} {describe_expression(right)}"
        case cubes.LevelFilter(level_filter):
            return describe_filter(level_filter)
        case cubes.AllOf(conditions):
            return "(" + " & ".join(map(describe_condition, conditions)) + ")"
        case cubes.AnyOf(conditions):
            return "(" + " | ".join(map(describe_condition, conditions)) + ")"
        case cubes.NotCondition(inner):
            return f"~{describe_condition(inner)}"
