"""Typed filter conditions built from columns or levels and evaluated by the server.

``table["region"] == "EU"`` does not compare anything here: it builds a
``Condition`` (``filtering``) that travels as a wire filter. Arithmetic and
functions on a column build calculated columns instead (``calculated``).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from tiercube._client.calculated import ColumnLike
from tiercube._client.filtering import Condition, Value, to_wire_row, to_wire_value
from tiercube._public import public
from tiercube._wire import calculated as calculated_wire
from tiercube._wire import filters as wire
from tiercube._wire.cubes import Period

__all__ = ["Column", "Condition", "Value", "to_wire_row", "to_wire_value"]


@public
class Column(ColumnLike):
    """A column of a table (``table["region"]``) or a level, as the left-hand side of conditions.

    A table's column knows its table, which is what restrictions bind to;
    ``tiercube.level(name)`` names a level and no table. Comparing it with a
    value builds a ``Condition`` (a filter); arithmetic and functions build a
    ``CalculatedColumn`` (``t["qty"] * t["price"]``, ``t["day"].month``).
    """

    __slots__ = ("name", "table")

    def __init__(self, name: str, table: str | None = None) -> None:
        self.name: str = name
        self.table: str | None = table

    def _target(self) -> tuple[str, str | None]:
        """The (column, table) that conditions on this compare."""
        return self.name, self.table

    def _compare(self, op: wire.Operator, value: Value) -> Condition:
        column, table = self._target()
        return Condition(wire.Compare(column, op, to_wire_value(value), table))

    def __eq__(self, value: Value) -> Condition:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]  # pyrefly: ignore[bad-override]  # ty: ignore[incompatible-method-override]
        return self._compare("==", value)

    def __ne__(self, value: Value) -> Condition:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]  # pyrefly: ignore[bad-override]  # ty: ignore[incompatible-method-override]
        return self._compare("!=", value)

    def __lt__(self, value: Value) -> Condition:
        return self._compare("<", value)

    def __le__(self, value: Value) -> Condition:
        return self._compare("<=", value)

    def __gt__(self, value: Value) -> Condition:
        return self._compare(">", value)

    def __ge__(self, value: Value) -> Condition:
        return self._compare(">=", value)

    def isin(self, *values: Value) -> Condition:
        """Whether the value is one of ``values``; for a null value this is null, as in SQL."""
        column, table = self._target()
        return Condition(wire.IsIn(column, [to_wire_value(v) for v in values], table))

    def isnull(self) -> Condition:
        """Whether the value is null."""
        return Condition(wire.IsNull(*self._target()))

    def between(self, low: Value, high: Value) -> Condition:
        """``low <= value <= high``: ``levels["day"].between(date(2026, 1, 1), date(2026, 3, 31))``."""
        return (self >= low) & (self <= high)

    def in_last(self, period: Period | dt.timedelta, ending: dt.date) -> Condition:
        """The values in the ``period`` that ends with ``ending`` (included): ``levels["day"].in_last(
        tiercube.Period(days=30), date(2026, 3, 31))`` is March 2 to 31. A ``Period`` moves by calendar
        months and years (March 31 minus a month is the last day of February)."""
        start = ending - period if isinstance(period, dt.timedelta) else _before(ending, period)
        return (self > start) & (self <= ending)

    def _row(self) -> calculated_wire.RowExpr:
        column, table = self._target()
        return calculated_wire.Field(column, table)

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # pyright: ignore[reportIncompatibleMethodOverride]  # == builds conditions, so no hashing

    def __repr__(self) -> str:
        return f"Column({self.name!r})" if self.table is None else f"Column({self.name!r}, table={self.table!r})"


def _before(ending: dt.date, period: Period) -> dt.date:
    """``ending`` moved back by ``period`` in calendar terms (a month back from March 31 is February 28 or 29)."""
    months = ending.year * 12 + ending.month - 1 - period.years * 12 - period.months
    year, month = divmod(months, 12)
    following = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last_day = (following - dt.timedelta(days=1)).day
    moved = ending.replace(year=year, month=month + 1, day=min(ending.day, last_day))
    return moved - dt.timedelta(weeks=period.weeks, days=period.days, hours=period.hours, minutes=period.minutes)
