"""Wire filters and measure expressions as text close to the Python that builds them.

Reprs (``Condition(...)``, ``MeasureExpression(...)``) and notebook displays
show the same text, so it lives here, below both: ``(region == 'EU' & qty > 2)``,
``price.SUM - cost.SUM``, ``where(qty.SUM > 100, price.SUM)``.
"""

from __future__ import annotations

import re

from tiercube._wire import calculated, cubes, filters


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
            read = describe_row(column) if not isinstance(column, str) else column if table is None else f"{table}.{column}"
            if function == "quantile":
                return f"quantile({read}, {expression.q!r}, {expression.interpolation!r})", _ATOM
            if function in ("std", "var") and expression.population:
                return f"{function}({read}, population=True)", _ATOM
            return f"{function}({read})", _ATOM
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
        case _:
            return _scope(expression), _ATOM


def _scope(expression: cubes.MeasureExpr) -> str:
    match expression:
        case cubes.Cumulative(measure, level, partitioning, window):
            extra = f", partitioning={partitioning!r}" if partitioning is not None else ""
            if window is not None:
                extra += f", window={window.members!r}" if window.members is not None else f", window={_period(window.period)}"
            return f"cumulative({describe_expression(measure)}, {level!r}{extra})"
        case cubes.Shift(measure, level, offset, period):
            by = repr(offset) if period is None else _period(period)
            return f"shift({describe_expression(measure)}, {level!r}, {by})"
        case cubes.At(measure, members):
            return f"at({describe_expression(measure)}, {members!r})"
        case cubes.Siblings(measure, level, exclude_self):
            return f"siblings({describe_expression(measure)}, {level!r}{', exclude_self=True' if exclude_self else ''})"
        case cubes.Origin(measure, levels, function):
            return f"origin({describe_expression(measure)}, {levels!r}{'' if function == 'sum' else f', function={function!r}'})"
        case cubes.Rank(measure, level, within, ascending):
            extra = (f", within={within!r}" if within is not None else "") + (", ascending=True" if ascending else "")
            return f"rank({describe_expression(measure)}, {level!r}{extra})"
        case cubes.MemberOf(measure, level, largest):
            return f"{'max' if largest else 'min'}_member({describe_expression(measure)}, {level!r})"
        case _:
            return repr(expression)


def _period(period: cubes.Period | None) -> str:
    if period is None:
        return "None"
    parts = [f"{name}={getattr(period, name)}" for name in ("years", "months", "weeks", "days", "hours", "minutes") if getattr(period, name)]
    return f"Period({', '.join(parts)})"


_ROW_OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "equal": "==", "not_equal": "!=",
                  "less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">=", "and": "&", "or": "|"}
_ROW_PROPERTIES = {"year", "quarter", "month", "week", "day", "day_of_week", "day_of_year", "hour", "minute", "second"}


def describe_row(expression: calculated.RowExpr) -> str:
    """A calculated column as the Python that builds it reads: ``qty * price``, ``day.month``."""
    return _row(expression, outermost=True)


def _row(expression: calculated.RowExpr, *, outermost: bool = False) -> str:
    match expression:
        case calculated.Field(column, table):
            return _qualified(column, table)
        case calculated.RowLiteral(value, data_type):
            return repr(value) if data_type is None else f"{data_type}({value!r})"
        case calculated.Cast(operand, data_type):
            return f"{_row(operand)}.cast({data_type!r})"
        case calculated.FilterValue(condition):
            return describe_filter(condition)
        case calculated.Call(function, arguments):
            texts = [_row(argument) for argument in arguments]
            if function in _ROW_OPERATORS and len(texts) == 2:
                text = f"{texts[0]} {_ROW_OPERATORS[function]} {texts[1]}"
                return text if outermost else f"({text})"
            if function in _ROW_PROPERTIES:
                return f"{texts[0]}.{function}"
            if function in ("negate", "not"):
                return f"{'-' if function == 'negate' else '~'}{texts[0]}"
            if function == "is_null":
                return f"{texts[0]}.is_null()"
            if function == "if_else":
                return f"where({', '.join(texts)})"
            return f"{function}({', '.join(texts)})"


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
