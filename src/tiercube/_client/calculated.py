"""Calculated columns: ``t["qty"] * t["price"]``, ``t["day"].month``, ``(t["price"] > 100)``.

Arithmetic and functions on a table's columns build a ``CalculatedColumn``, a
row-level expression the server checks when it is used (in a measure or a
level) and computes over whole columns. Comparisons of a plain column with a
value stay ``Condition``s (filters); a ``Condition`` is accepted wherever a
calculated column is, as a boolean column.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal, TypeAlias

from tiercube._client.filtering import Condition, to_wire_value
from tiercube._client.public_names import PublicNames
from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire import calculated as wire
from tiercube._wire.describe import describe_row
from tiercube._wire.messages import DataType

Calculable: TypeAlias = "CalculatedColumn | ColumnLike | Condition | int | float | str | bool | dt.date | None"
"""What a calculated column combines with: another, a column, a condition, or a value."""
TruncationUnit: TypeAlias = Literal["year", "quarter", "month", "week", "day", "hour", "minute"]


class ColumnLike(PublicNames):
    """What columns and calculated columns share: arithmetic and functions, building calculated columns.

    ``Column`` (a table's column) adds comparisons that build ``Condition``s;
    ``CalculatedColumn`` has comparisons that build boolean calculated columns.
    """

    __slots__ = ()

    def _row(self) -> wire.RowExpr:
        raise NotImplementedError

    def _call(self, function: wire.RowFunction, *others: Calculable) -> CalculatedColumn:
        return CalculatedColumn(wire.Call(function, [self._row(), *(row_expression(o) for o in others)]))

    def _swapped(self, function: wire.RowFunction, other: Calculable) -> CalculatedColumn:
        return CalculatedColumn(wire.Call(function, [row_expression(other), self._row()]))

    def __add__(self, other: Calculable) -> CalculatedColumn:
        return self._call("add", other)

    def __radd__(self, other: Calculable) -> CalculatedColumn:
        return self._swapped("add", other)

    def __sub__(self, other: Calculable) -> CalculatedColumn:
        return self._call("subtract", other)

    def __rsub__(self, other: Calculable) -> CalculatedColumn:
        return self._swapped("subtract", other)

    def __mul__(self, other: Calculable) -> CalculatedColumn:
        return self._call("multiply", other)

    def __rmul__(self, other: Calculable) -> CalculatedColumn:
        return self._swapped("multiply", other)

    def __truediv__(self, other: Calculable) -> CalculatedColumn:
        """Division gives a float; dividing by zero gives null, not an error."""
        return self._call("divide", other)

    def __rtruediv__(self, other: Calculable) -> CalculatedColumn:
        return self._swapped("divide", other)

    def __neg__(self) -> CalculatedColumn:
        return self._call("negate")

    def __abs__(self) -> CalculatedColumn:
        return self._call("abs")

    def cast(self, data_type: DataType) -> CalculatedColumn:
        """The values converted to ``data_type``: ``t["qty"].cast("float64")``, ``t["day"].cast("string")``."""
        return CalculatedColumn(wire.Cast(self._row(), data_type))

    def round(self, digits: int = 0) -> CalculatedColumn:
        """The values rounded to ``digits`` decimals (halves away from zero, as SQL), as floats: ``t["price"].round(1)``."""
        return self._call("round", digits)

    def is_null(self) -> CalculatedColumn:
        """Whether each value is null, as a boolean column."""
        return self._call("is_null")

    def fill_null(self, value: Calculable) -> CalculatedColumn:
        """Each value, or ``value`` where it is null: ``t["discount"].fill_null(0)``."""
        return self._call("fill_null", value)

    # Calendar parts, in the column's own time zone: whole numbers.

    @property
    def year(self) -> CalculatedColumn:
        """The year of a date or timestamp: ``t["day"].year`` (2026)."""
        return self._call("year")

    @property
    def quarter(self) -> CalculatedColumn:
        """The quarter, 1 to 4."""
        return self._call("quarter")

    @property
    def month(self) -> CalculatedColumn:
        """The month, 1 to 12: ``t["day"].month`` as a level groups every January together."""
        return self._call("month")

    @property
    def week(self) -> CalculatedColumn:
        """The ISO 8601 week number, 1 to 53."""
        return self._call("week")

    @property
    def day(self) -> CalculatedColumn:
        """The day of the month, 1 to 31."""
        return self._call("day")

    @property
    def day_of_week(self) -> CalculatedColumn:
        """The ISO day of the week: Monday is 1, Sunday 7."""
        return self._call("day_of_week")

    @property
    def day_of_year(self) -> CalculatedColumn:
        """The day of the year, 1 to 366."""
        return self._call("day_of_year")

    @property
    def hour(self) -> CalculatedColumn:
        """The hour of a timestamp, 0 to 23, in its own time zone."""
        return self._call("hour")

    @property
    def minute(self) -> CalculatedColumn:
        """The minute of a timestamp, 0 to 59."""
        return self._call("minute")

    @property
    def second(self) -> CalculatedColumn:
        """The second of a timestamp, 0 to 59."""
        return self._call("second")

    def date_trunc(self, unit: TruncationUnit) -> CalculatedColumn:
        """The date or timestamp at the start of its ``unit``: ``t["day"].date_trunc("month")`` is 2026-03-01
        for any day of March 2026 (duckdb's ``date_trunc``; a week starts on Monday)."""
        return self._call("date_trunc", unit)

    # Text.

    def upper(self) -> CalculatedColumn:
        """The text in upper case."""
        return self._call("upper")

    def lower(self) -> CalculatedColumn:
        """The text in lower case."""
        return self._call("lower")

    def length(self) -> CalculatedColumn:
        """The number of characters."""
        return self._call("length")

    def substring(self, start: int, stop: int) -> CalculatedColumn:
        """Characters ``start`` to ``stop`` (excluded), as Python's ``s[start:stop]``: ``t["sku"].substring(0, 3)``."""
        return self._call("substring", start, stop)

    def startswith(self, prefix: str) -> CalculatedColumn:
        """Whether the text starts with ``prefix``."""
        return self._call("starts_with", prefix)

    def endswith(self, suffix: str) -> CalculatedColumn:
        """Whether the text ends with ``suffix``."""
        return self._call("ends_with", suffix)

    def contains(self, text: str) -> CalculatedColumn:
        """Whether the text contains ``text``."""
        return self._call("contains", text)

    def concat(self, *others: Calculable) -> CalculatedColumn:
        """The texts one after the other: ``t["city"].concat(", ", t["country"])``."""
        return self._call("concat", *others)


@public
class CalculatedColumn(ColumnLike):
    """A row-level calculation over a table's columns, computed by the server over whole columns.

    Built from columns with arithmetic, comparisons and functions::

        revenue = sales["qty"] * sales["price"]
        cube.measures["revenue"] = tiercube.agg.sum(revenue)
        cube.hierarchies["size"] = {"big order": revenue > 1000}
        cube.hierarchies["month of year"] = {"month": sales["day"].month}

    Comparisons build boolean calculated columns (true, false or null), combined
    with ``&``, ``|`` and ``~``; nulls follow SQL. A calculated column reads the
    columns of one table (the fact table or one joined to it); the server refuses
    one that does not type-check when it is used, naming the fix.
    """

    __slots__ = ("_expression",)

    def __init__(self, expression: wire.RowExpr) -> None:
        self._expression = expression

    def _row(self) -> wire.RowExpr:
        return self._expression

    def _to_wire(self) -> wire.RowExpr:
        return self._expression

    def __eq__(self, other: Calculable) -> CalculatedColumn:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]  # pyrefly: ignore[bad-override]  # ty: ignore[incompatible-method-override]
        return self._call("equal", other)

    def __ne__(self, other: Calculable) -> CalculatedColumn:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]  # pyrefly: ignore[bad-override]  # ty: ignore[incompatible-method-override]
        return self._call("not_equal", other)

    def __lt__(self, other: Calculable) -> CalculatedColumn:
        return self._call("less", other)

    def __le__(self, other: Calculable) -> CalculatedColumn:
        return self._call("less_equal", other)

    def __gt__(self, other: Calculable) -> CalculatedColumn:
        return self._call("greater", other)

    def __ge__(self, other: Calculable) -> CalculatedColumn:
        return self._call("greater_equal", other)

    def __and__(self, other: CalculatedColumn | Condition) -> CalculatedColumn:
        return self._call("and", other)

    def __or__(self, other: CalculatedColumn | Condition) -> CalculatedColumn:
        return self._call("or", other)

    def __invert__(self) -> CalculatedColumn:
        return self._call("not")

    def __bool__(self) -> bool:
        raise TypeError("a CalculatedColumn has no truth value: combine with &, | and ~, not and/or/not")

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # pyright: ignore[reportIncompatibleMethodOverride]

    def __repr__(self) -> str:
        return f"CalculatedColumn({describe_row(self._expression)})"


def row_expression(value: object) -> wire.RowExpr:
    """``value`` (a column, calculated column, condition or constant) as a row-level expression."""
    if isinstance(value, ColumnLike):
        return value._row()  # pyright: ignore[reportPrivateUsage]  # the same family of classes
    if isinstance(value, Condition):
        return wire.FilterValue(wire_form(value))
    if isinstance(value, dt.datetime):
        return wire.RowLiteral(value.isoformat(), "timestamp")
    if isinstance(value, dt.date):
        return wire.RowLiteral(value.isoformat(), "date")
    if isinstance(value, bool | int | float | str) or value is None:
        return wire.RowLiteral(to_wire_value(value))
    raise TypeError(f"a calculated column cannot combine with {value!r}; use a column, a condition or a value")


def if_else(condition: CalculatedColumn | Condition, then: Calculable, otherwise: Calculable = None) -> CalculatedColumn:
    """Row by row: ``then`` where ``condition`` holds, else ``otherwise`` (null when not given); a null
    condition does not hold (SQL's ``CASE WHEN``)."""
    return CalculatedColumn(wire.Call("if_else", [row_expression(condition), row_expression(then), row_expression(otherwise)]))

