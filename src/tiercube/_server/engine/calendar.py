"""Calendar arithmetic on date and timestamp members: a month back, a year ahead, seven days back.

Months and years move the calendar date and keep the day, or take the last day
of a shorter month (March 31 minus a month is February 29 in a leap year);
weeks and days move the calendar date; hours and minutes move the wall-clock
time. A zoned timestamp moves in its own zone's local time and is then placed
back in the zone (a wall-clock time that a daylight-saving change skips or
repeats takes the earlier instant). Members are few (a level's distinct values),
so this works on numpy arrays of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array
from tiercube._wire.cubes import Period

_DAY_US = 86_400_000_000
_LOCAL: Callable[..., Any] = pc.local_timestamp  # the stubs type it for typed timestamp arrays only


def moved(values: Array, period: Period, sign: int = 1) -> Array:
    """``values`` (dates or timestamps) moved by ``period`` (times ``sign``), in their own calendar."""
    if pa.types.is_date(values.type):
        days = _days(values.cast(pa.date32()), period, sign)
        dates: Array = pa.array(days.astype(np.int32), mask=np.asarray(pc.is_null(values))).cast(pa.date32())
        return dates
    zone: str | None = getattr(values.type, "tz", None)
    local: Array = _LOCAL(values) if zone is not None else values
    micros = local.cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    day = np.floor_divide(micros, _DAY_US)
    time_of_day = micros - day * _DAY_US
    shifted_days = _day_numbers(day, period, sign)
    minutes = sign * (period.hours * 60 + period.minutes)
    shifted = shifted_days * _DAY_US + time_of_day + minutes * 60_000_000
    naive: Any = pa.array(shifted, type=pa.timestamp("us"), mask=np.asarray(pc.is_null(values)))
    if zone is not None:
        naive = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
    result: Array = naive.cast(values.type)
    return result


def _days(dates: Array, period: Period, sign: int) -> npt.NDArray[np.int64]:
    numbers = dates.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
    return _day_numbers(numbers, period, sign)


def _day_numbers(days: npt.NDArray[np.int64], period: Period, sign: int) -> npt.NDArray[np.int64]:
    """Day numbers (since 1970-01-01) moved by ``period``'s years, months, weeks and days."""
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    day_of_month = (dates - months.astype("datetime64[D]")).astype(np.int64)
    target = months + sign * (period.years * 12 + period.months)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    moved_dates = target.astype("datetime64[D]") + np.minimum(day_of_month, length - 1)
    moved_dates = moved_dates + sign * (period.weeks * 7 + period.days)
    numbers: npt.NDArray[np.int64] = moved_dates.astype(np.int64)
    return numbers


def is_zero(period: Period) -> bool:
    return not any((period.years, period.months, period.weeks, period.days, period.hours, period.minutes))


def signs(period: Period) -> set[int]:
    """The signs of ``period``'s non-zero parts: {1}, {-1}, both, or none."""
    parts = (period.years, period.months, period.weeks, period.days, period.hours, period.minutes)
    return {1 if part > 0 else -1 for part in parts if part}
