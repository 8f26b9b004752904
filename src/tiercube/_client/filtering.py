"""``Condition``: a filter built on the client and evaluated by the server, and the values it compares.

``table["region"] == "EU"`` (``conditions.Column``) does not compare anything
here: it builds a ``Condition`` that travels as a wire filter. Combine with
``&``, ``|`` and ``~``; Python's ``and``/``or``/``not`` cannot be overloaded and
raise. Below ``conditions`` and ``calculated``, which both build conditions.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import TypeAlias, cast

from tiercube._client.public_names import PublicNames
from tiercube._public import public
from tiercube._wire import filters as wire
from tiercube._wire.describe import describe_filter

Value: TypeAlias = bool | int | float | str | decimal.Decimal | dt.date | dt.datetime | dt.time | dt.timedelta | None
"""A value a condition may compare with, or a row hold. Dates, times and datetimes travel as ISO text
(a datetime with its tzinfo as its offset), decimals as their digits (exact), timedeltas as ISO 8601
durations."""


def to_wire_value(value: Value) -> wire.Scalar:
    if isinstance(value, dt.date | dt.time):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise TypeError(
        f"{value!r} of type {type(value).__name__} is not a value tiercube sends; use a bool, number, str, "
        "decimal.Decimal, date, datetime, time or timedelta"
    )


def _iso_duration(value: dt.timedelta) -> str:
    """``value`` in ISO 8601, to the microsecond: ``PT5400.5S``, ``-PT0.000001S``."""
    microseconds = abs(value // dt.timedelta(microseconds=1))
    seconds, fraction = divmod(microseconds, 1_000_000)
    sign = "-" if value < dt.timedelta(0) else ""
    return f"{sign}PT{seconds}.{fraction:06d}S" if fraction else f"{sign}PT{seconds}S"


_AS_IS = frozenset({bool, int, float, str, type(None)})


def to_wire_row(row: Sequence[Value]) -> list[wire.Scalar]:
    """``to_wire_value`` of each value; values of the plain types, by far the most, pass on an exact type test."""
    return cast("list[wire.Scalar]", [value if type(value) in _AS_IS else to_wire_value(value) for value in row])


@public
class Condition(PublicNames):
    """A boolean condition on columns (of a table) or levels (of a cube).

    Nulls follow SQL's three-valued logic, everywhere a condition applies
    (table queries, ``drop``, cube filters, filtered measures, restrictions):
    a comparison with a null value is null, not false; ``~`` of null is null;
    ``&`` and ``|`` are Kleene's (``False & null`` is False, ``True | null`` is
    True); ``isin`` of a null value is null, and so is ``isin`` of a value not
    listed when the list holds ``None``, so ``~isin`` never selects a null. A
    row or cell whose condition is null is not selected, and ``drop`` keeps it.
    """

    __slots__ = ("_filter",)

    def __init__(self, wire_filter: wire.Filter) -> None:
        self._filter = wire_filter

    def _to_wire(self) -> wire.Filter:
        return self._filter

    def __and__(self, other: Condition) -> Condition:
        return Condition(wire.And(_joined(wire.And, self._filter, _checked(other)._filter)))

    def __or__(self, other: Condition) -> Condition:
        return Condition(wire.Or(_joined(wire.Or, self._filter, _checked(other)._filter)))

    def __invert__(self) -> Condition:
        return Condition(wire.Not(self._filter))

    def __bool__(self) -> bool:
        raise TypeError("a Condition has no truth value: combine conditions with &, | and ~, not and/or/not")

    def __repr__(self) -> str:
        return f"Condition({describe_filter(self._filter)})"


def _joined(kind: type[wire.And] | type[wire.Or], left: wire.Filter, right: wire.Filter) -> list[wire.Filter]:
    """The operands of ``left kind right``: a & b & c stays one flat And (the server limits nesting)."""
    return [*(left.operands if isinstance(left, kind) else [left]), *(right.operands if isinstance(right, kind) else [right])]


def _checked(other: object) -> Condition:
    if not isinstance(other, Condition):
        raise TypeError(f"cannot combine a Condition with {type(other).__name__}")
    return other


