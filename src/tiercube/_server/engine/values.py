"""Values as they travel (JSON scalars), made into Arrow values of a column's type.

Bools and numbers travel as JSON numbers; every other value as text, which the
column's type says how to read: dates, times of day and timestamps in ISO 8601
(a timestamp of a zoned column with its offset, ``2024-03-01T09:00:00+01:00``),
decimals as their digits (exact: never through a float), durations in ISO 8601
(``PT3600.5S``, ``-P1DT2H``), binary values as text taken as its UTF-8 bytes.
Filters, appends and default values all read values here.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from tiercube._server.engine.types import storage_type, value_type
from tiercube._wire.column_types import ColumnType, Decimal, Duration, Time, Timestamp, describe_type, expanded
from tiercube._wire.filters import Scalar

_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)(?:\.(?P<fraction>\d{1,9}))?S)?)?$"
)
_TIME = re.compile(r"^(?P<hours>[01]\d|2[0-3]):(?P<minutes>[0-5]\d)(?::(?P<seconds>[0-5]\d)(?:\.(?P<fraction>\d{1,9}))?)?$")
_NANOSECONDS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_MOST_DIGITS = 76


class ValueMismatch(ValueError):
    """A value that is not of its column's kind; ``expected`` says what to give instead."""

    def __init__(self, reason: str, expected: str) -> None:
        super().__init__(reason)
        self.expected = expected


def expected(column_type: ColumnType) -> str:
    """What a value of ``column_type`` is, as a caller gives it from Python."""
    match expanded(column_type):
        case Timestamp(_, None):
            return "a datetime without tzinfo"
        case Timestamp():
            return "a datetime with its tzinfo"
        case Decimal():
            return "a number or a decimal.Decimal"
        case Duration():
            return "a datetime.timedelta"
        case Time():
            return "a datetime.time"
        case "bool":
            return "a bool"
        case "string" | "binary":
            return "a str"
        case "date":
            return "a date"
        case _:
            return "a number"


def text_value(text: str, column_type: ColumnType) -> pa.Scalar[Any]:
    """``text`` (a value that travelled as text) as a value of ``column_type``; ``ValueMismatch`` if it is not one."""
    target = value_type(column_type)
    match expanded(column_type):
        case Decimal() as declared:
            return pa.scalar(exact_decimal(text), storage_type(declared))
        case Duration(unit):
            return pa.scalar(_in_unit(_duration_nanoseconds(text), unit, text), target)
        case Time(unit):
            time_of_day: pa.Scalar[Any] = _counted([_in_unit(_time_nanoseconds(text), unit, text)], target)[0]
            return time_of_day
        case "binary":
            return pa.scalar(text.encode(), target)
        case "string":
            return pa.scalar(text, target)
        case _:  # dates and timestamps; a number or bool written as text
            return _parsed(text, column_type)


def exact_decimal(value: int | float | str) -> decimal.Decimal:
    """``value`` as an exact decimal: a float as the shortest text that reads back as it (0.1, not 0.1000000000000000055...)."""
    try:
        number = decimal.Decimal(repr(value) if isinstance(value, float) else value)
    except decimal.InvalidOperation:
        raise ValueMismatch(f"{value!r} is not a number", "a number or a decimal.Decimal") from None
    if not number.is_finite():
        raise ValueMismatch(f"{value!r} is not a finite number", "a finite number")
    return number


def comparable_decimal(number: decimal.Decimal, column: Decimal) -> pa.Scalar[Any]:
    """``number`` as a decimal value that compares exactly with a ``column`` (more digits if it needs them)."""
    exponent = int(number.as_tuple().exponent)
    scale = max(column.scale, -exponent)
    whole_digits = max(column.precision - column.scale, number.adjusted() + 1)
    precision = whole_digits + scale
    if precision > _MOST_DIGITS:
        raise ValueMismatch(f"{number} has more digits than any decimal holds ({_MOST_DIGITS})", "a number of at most 76 digits")
    kind = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    return pa.scalar(number, kind)


def fits_decimal(number: decimal.Decimal, column: Decimal) -> bool:
    """Whether ``number`` is a value a ``column`` can hold exactly (a value it could equal)."""
    quantum = decimal.Decimal(1).scaleb(-column.scale)
    with decimal.localcontext() as context:
        context.prec = _MOST_DIGITS + 2
        quantized = number.quantize(quantum)
    return quantized == number and len(quantized.as_tuple().digits) <= column.precision


def _parsed(text: str, column_type: ColumnType) -> pa.Scalar[Any]:
    """A value from text by Arrow's parser (ISO 8601 for dates and timestamps); a zone where none
    belongs, or none where one does, is named."""
    target = value_type(column_type)
    try:
        return pa.scalar(text).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        if "zone offset" in str(error):
            zoned = isinstance(column_type, Timestamp) and column_type.time_zone is not None
            said = "has no time zone" if zoned else "has a time zone"
            raise ValueMismatch(f"{text!r} {said}, but the column is {describe_type(column_type)}", expected(column_type)) from None
        raise ValueMismatch(f"{text!r} is not a {describe_type(column_type)}", expected(column_type)) from None


def _duration_nanoseconds(text: str) -> int:
    found = _DURATION.match(text)
    if found is None or not any(found[part] for part in ("weeks", "days", "hours", "minutes", "seconds")):
        raise ValueMismatch(f"{text!r} is not an ISO 8601 duration (like 'PT1H30M' or 'PT90.5S')", "a datetime.timedelta")
    parts = {name: int(found[name] or 0) for name in ("weeks", "days", "hours", "minutes", "seconds")}
    seconds = (((parts["weeks"] * 7 + parts["days"]) * 24 + parts["hours"]) * 60 + parts["minutes"]) * 60 + parts["seconds"]
    total = seconds * 10**9 + int((found["fraction"] or "").ljust(9, "0"))
    return -total if found["sign"] == "-" else total


def _time_nanoseconds(text: str) -> int:
    found = _TIME.match(text)
    if found is None:
        raise ValueMismatch(f"{text!r} is not a time of day (like '09:30:00' or '09:30:00.25')", "a datetime.time without tzinfo")
    seconds = (int(found["hours"]) * 60 + int(found["minutes"])) * 60 + int(found["seconds"] or 0)
    return seconds * 10**9 + int((found["fraction"] or "").ljust(9, "0"))


def _in_unit(nanoseconds: int, unit: str, text: str) -> int:
    count, rest = divmod(nanoseconds, _NANOSECONDS[unit])
    if rest:
        raise ValueMismatch(f"{text!r} is finer than the column's unit ({unit})", f"a value in whole {unit}")
    return count


def column_values(values: list[Scalar], column_type: ColumnType) -> pa.Array[Any] | None:
    """``values`` (a column of an append) as an array of ``column_type``'s values; None where Arrow
    reads the JSON values as they are (``conform`` casts them). ``ValueMismatch`` names a bad one."""
    match expanded(column_type):
        case Decimal() as declared:
            return pa.array([_decimal(value, declared) for value in values], storage_type(declared))
        case Duration(unit):
            return _counted([_count(value, _duration_nanoseconds, unit, column_type) for value in values], value_type(column_type))
        case Time(unit):
            return _counted([_count(value, _time_nanoseconds, unit, column_type) for value in values], value_type(column_type))
        case _:
            return None


def _decimal(value: Scalar, column_type: Decimal) -> decimal.Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueMismatch(f"{value!r} is of type bool", expected(column_type))
    number = exact_decimal(value)
    if not fits_decimal(number, column_type):
        raise ValueMismatch(
            f"{value} does not fit {describe_type(column_type)}",
            f"a number of at most {column_type.precision} digits, {column_type.scale} of them after the point",
        )
    return number


def _count(value: Scalar, read: Callable[[str], int], unit: str, column_type: ColumnType) -> int | None:
    """A duration or time of day, travelled as text, as a count of ``unit``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueMismatch(f"{value!r} is of type {type(value).__name__}", expected(column_type))
    return _in_unit(read(value), unit, value)


def _counted(counts: list[int | None], target: pa.DataType) -> pa.Array[Any]:
    """Counts of ``target``'s unit as values of ``target`` (a time32 is 32 bits wide)."""
    width = pa.int32() if target.bit_width == 32 else pa.int64()
    return pa.array(counts, width).cast(target)
