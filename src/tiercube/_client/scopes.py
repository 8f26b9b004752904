"""Scopes and ranks: a measure's values in other cells (earlier members, another member, the
siblings, finer cells), and the query option that keeps the best rows (``Top``).

Each function builds a ``MeasureExpression`` the server checks when it is set
(``cube.measures[name] = ...``): a level it does not have, a period along a
level that is not a date, a partitioning level that is not above the level,
are refused then, with the fix in the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tiercube._client.conditions import Column, Value, to_wire_value
from tiercube._client.measures import MeasureExpression, Operand, column_name, where
from tiercube._client.public_names import PublicNames
from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire import cubes as wire

Level = str | Column
"""A level, by name or as ``cube.levels["name"]``."""


@public
def cumulative(
    measure: MeasureExpression, level: Level, partitioning: Level | None = None, window: int | wire.Period | None = None
) -> MeasureExpression:
    """The running total of ``measure`` along ``level``'s members, in their order.

    ``partitioning`` (a level above ``level`` in its hierarchy) starts it again at
    each of its members; ``window`` keeps the last ``n`` members, or those within a
    ``tiercube.Period`` of a date level::

        m["running revenue"] = tiercube.cumulative(m["revenue"], "day")
        m["revenue YTD"] = tiercube.cumulative(m["revenue"], "day", partitioning="year")
        m["revenue, last 3 months"] = tiercube.cumulative(m["revenue"], "month", window=3)
        m["revenue, last 90 days"] = tiercube.cumulative(m["revenue"], "day", window=tiercube.Period(days=90))

    Where a row does not show ``level`` (a total) the value is ``measure``'s own.
    """
    windowed = None
    if isinstance(window, int) and not isinstance(window, bool):
        windowed = wire.Window(members=window)
    elif isinstance(window, wire.Period):
        windowed = wire.Window(period=window)
    elif window is not None:
        raise TypeError(f"a window is a number of members or a tiercube.Period, not {window!r}")
    name = column_name(partitioning) if partitioning is not None else None
    return MeasureExpression(wire.Cumulative(wire_form(measure), column_name(level), name, windowed))


@public
def shift(measure: MeasureExpression, level: Level, offset: int | wire.Period) -> MeasureExpression:
    """``measure`` at the member ``offset`` positions away along ``level`` (-1: the previous one), or a
    ``tiercube.Period`` away on a date level (``Period(months=-1)``: the same day a month before)::

        m["previous month"] = tiercube.shift(m["revenue"], "month", -1)
        m["growth"] = m["revenue"] / tiercube.shift(m["revenue"], "month", -1) - 1
        m["same day last year"] = tiercube.shift(m["revenue"], "day", tiercube.Period(years=-1))

    Before the first member, after the last, or where that cell has no data, the value is null.
    """
    if isinstance(offset, wire.Period):
        return MeasureExpression(wire.Shift(wire_form(measure), column_name(level), 0, offset))
    return MeasureExpression(wire.Shift(wire_form(measure), column_name(level), offset))


@public
def at(measure: MeasureExpression, members: Mapping[str, Value]) -> MeasureExpression:
    """``measure`` with the members of some levels fixed, the row's other members kept::

        m["share of Europe"] = m["revenue"] / tiercube.at(m["revenue"], {"region": "Europe"})
    """
    return MeasureExpression(wire.At(wire_form(measure), {level: to_wire_value(member) for level, member in members.items()}))


@public
def siblings(measure: MeasureExpression, level: Level, *, exclude_self: bool = False) -> MeasureExpression:
    """The total of ``measure`` over the row's member of ``level`` and its siblings (the members that share
    the row's other members); without its own with ``exclude_self``::

        m["share of siblings"] = m["revenue"] / tiercube.siblings(m["revenue"], "country")
    """
    return MeasureExpression(wire.Siblings(wire_form(measure), column_name(level), exclude_self))


@public
def origin(measure: MeasureExpression, levels: Level | Sequence[Level], function: wire.OriginFunction = "sum") -> MeasureExpression:
    """``measure`` computed by the row's levels and ``levels``, then combined per row with ``function``
    ("sum", "mean", "min", "max" or "median")::

        m["value"] = tiercube.origin(m["price.MEAN"] * m["qty.SUM"], "product")   # sum over products
        m["median basket"] = tiercube.origin(m["revenue"], "order", "median")
    """
    names = [column_name(levels)] if isinstance(levels, str | Column) else [column_name(level) for level in levels]
    return MeasureExpression(wire.Origin(wire_form(measure), names, function))


@public
def rank(measure: MeasureExpression, level: Level, within: Level | None = None, ascending: bool = False) -> MeasureExpression:
    """The rank of the row's member of ``level`` by ``measure``, 1 for the largest (the smallest when
    ``ascending``), among the members that share the row's other members (and its member of ``within``)::

        m["rank in region"] = tiercube.rank(m["revenue"], "product")   # query by region and product

    Ties share a rank and leave a gap (SQL's ``rank()``); a null value has no rank.
    """
    name = column_name(within) if within is not None else None
    return MeasureExpression(wire.Rank(wire_form(measure), column_name(level), name, ascending))


@public
def switch(subject: MeasureExpression | Column, cases: Mapping[Value, Operand], default: Operand | None = None) -> MeasureExpression:
    """The case of ``cases`` whose key equals ``subject`` (a level's member, or a measure's value)::

        m["target"] = tiercube.switch(cube.levels["region"], {"Europe": m["eu target"], "Asia": 5_000}, default=0)
    """
    result: Operand | None = default
    for key, case in reversed(list(cases.items())):
        if isinstance(subject, Column):
            matches = subject.isnull() if key is None else subject == key
            result = where(matches, case, result)
        elif isinstance(key, int | float) and not isinstance(key, bool):
            result = where(subject == key, case, result)
        else:
            raise TypeError(f"a measure's value is a number: switch on a measure compares it with numbers, not {key!r}")
    if not isinstance(result, MeasureExpression):
        raise TypeError("switch needs at least one case that is a measure, or a default that is")
    return result


@public
class Top(PublicNames):
    """Keep the ``n`` rows with the largest ``measure`` per member of ``per`` (overall without it)::

        cube.query("revenue", levels=["region", "product"], top=tiercube.Top(3, "revenue", per="region"))

    Ties go to the rows first in level order. Totals (``include_totals=True``) stay,
    computed over every row, for the members the kept rows show.
    """

    __slots__ = ("n", "measure", "per")
    n: int
    measure: str
    per: str | None

    def __init__(self, n: int, measure: str | MeasureExpression, per: Level | None = None) -> None:
        name = measure if isinstance(measure, str) else getattr(measure, "name", None)
        if not isinstance(name, str):
            raise TypeError("Top ranks by a measure of the cube: give its name or cube.measures[name]")
        self.n = n
        self.measure = name
        self.per = column_name(per) if per is not None else None

    def _to_wire(self) -> wire.Top:
        return wire.Top(self.n, self.measure, self.per)

    def __repr__(self) -> str:
        return f"Top({self.n}, {self.measure!r}{'' if self.per is None else f', per={self.per!r}'})"
