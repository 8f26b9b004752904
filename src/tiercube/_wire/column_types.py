"""The types a table's columns hold: as users declare them, as they travel, as the engine keeps them.

A column type is a name (``DataType``: ``"int64"``, ``"string"``, ``"timestamp"``...) or, for a type
with parameters, one of ``Timestamp``, ``Decimal``, ``Duration`` and ``Time``. A name stands for its
type with the default parameters (``"timestamp"`` is ``Timestamp("us")``, without a time zone), and
a type whose parameters are the defaults is always described by its name (``canonical``): code
written for the names keeps working, and a name and the type it stands for are never told apart.

On the wire a name travels as a string, as it always did, and a type with parameters as a small
tagged object (``{"type": "timestamp", "unit": "ns", "time_zone": "Europe/Paris"}``).
"""

# No ``from __future__ import annotations``: the public Structs below are shown as
# ``tiercube.X``, and msgspec would look their postponed annotations up in that namespace.

import re
import zoneinfo
from typing import Literal, TypeAlias

import msgspec

from tiercube._public import public

DataType: TypeAlias = Literal[
    "bool", "int32", "int64", "float32", "float64", "decimal", "string", "binary", "date", "time", "timestamp", "duration"
]
"""The names of the column types. Strings are stored dictionary-encoded; ``"timestamp"``,
``"time"`` and ``"duration"`` are at microseconds (``"timestamp"`` without a time zone), and
``"decimal"`` is ``Decimal(38, 9)``: declare ``Timestamp``, ``Time``, ``Duration`` or ``Decimal``
for others."""

TimeUnit: TypeAlias = Literal["s", "ms", "us", "ns"]
"""Seconds, milliseconds, microseconds or nanoseconds."""

_OFFSET = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")


@public
class Timestamp(msgspec.Struct, frozen=True, tag="timestamp"):
    """A point in time, to ``unit``; with ``time_zone`` (``"Europe/Paris"``, ``"UTC"``, ``"+01:00"``)
    an instant shown in that zone, without one a wall-clock time in no zone.

    Values keep their zone: what is loaded comes back from queries with the same type and
    instants. ``Timestamp()`` is the column type named ``"timestamp"``.
    """

    unit: TimeUnit = "us"
    time_zone: str | None = None

    def __post_init__(self) -> None:
        if self.time_zone is not None and not known_time_zone(self.time_zone):
            raise ValueError(
                f"{self.time_zone!r} is not a time zone tiercube knows: give an IANA name "
                "('Europe/Paris', 'UTC') or an offset ('+01:00')"
            )


@public
class Decimal(msgspec.Struct, frozen=True, tag="decimal"):
    """An exact decimal number of at most ``precision`` digits, ``scale`` of them after the point.

    Sums stay exact decimals; means, products and quotients are float64. ``precision`` up to
    76 (above 38 the values take 32 bytes instead of 16). ``Decimal()`` is the column type
    named ``"decimal"``: 38 digits, 9 after the point.
    """

    precision: int = 38
    scale: int = 9

    def __post_init__(self) -> None:
        if not 1 <= self.precision <= 76 or not 0 <= self.scale <= self.precision:
            raise ValueError(
                f"Decimal({self.precision}, {self.scale}) cannot be: the precision is 1 to 76 digits, "
                "the scale 0 to the precision"
            )


@public
class Duration(msgspec.Struct, frozen=True, tag="duration"):
    """A length of time, to ``unit``; sums and means are durations too. ``Duration()`` is ``"duration"``."""

    unit: TimeUnit = "us"


@public
class Time(msgspec.Struct, frozen=True, tag="time"):
    """A time of day, to ``unit``. ``Time()`` is ``"time"``."""

    unit: TimeUnit = "us"


ColumnType: TypeAlias = DataType | Timestamp | Decimal | Duration | Time
"""A column's type: its name, or one of the types with parameters (see ``DataType``)."""

_DEFAULTS: dict[DataType, ColumnType] = {"timestamp": Timestamp(), "decimal": Decimal(), "duration": Duration(), "time": Time()}


def canonical(column_type: ColumnType) -> ColumnType:
    """``column_type`` as it is described: by its name when its parameters are the name's defaults."""
    if isinstance(column_type, str):
        return column_type
    name = type_name(column_type)
    return name if _DEFAULTS[name] == column_type else column_type


def expanded(column_type: ColumnType) -> ColumnType:
    """``column_type`` with its parameters spelt out: ``"timestamp"`` -> ``Timestamp()``."""
    if isinstance(column_type, str):
        return _DEFAULTS.get(column_type, column_type)
    return column_type


def type_name(column_type: ColumnType) -> DataType:
    """The name of ``column_type``'s kind: ``Timestamp(...)`` -> ``"timestamp"``."""
    match column_type:
        case Timestamp():
            return "timestamp"
        case Decimal():
            return "decimal"
        case Duration():
            return "duration"
        case Time():
            return "time"
        case name:
            return name


def describe_type(column_type: ColumnType) -> str:
    """``column_type`` in a few characters, for schemas and messages: ``timestamp[ns, Europe/Paris]``."""
    match canonical(column_type):
        case Timestamp(unit, None):
            return f"timestamp[{unit}]"
        case Timestamp(unit, zone):
            return f"timestamp[{unit}, {zone}]"
        case Decimal(precision, scale):
            return f"decimal({precision}, {scale})"
        case Duration(unit):
            return f"duration[{unit}]"
        case Time(unit):
            return f"time[{unit}]"
        case name:
            return name


def known_time_zone(zone: str) -> bool:
    """Whether ``zone`` names a time zone: an IANA name of this machine's database, or an offset."""
    if _OFFSET.match(zone):
        return True
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
