"""The expressions of ``WITH MEMBER [Measures].[name] AS ...``, as the measure expressions ``cube.query`` computes.

Arithmetic (``+ - * /``, unary minus, parentheses, numbers) over measures, and

- ``([Measures].[m], [H].[L].CurrentMember.PrevMember)``: ``shift(m, L, -1)``; ``NextMember`` is +1,
  ``.Lag(n)`` is -n and ``.Lead(n)`` is +n; ``([Measures].[m], [H].[L].[member])`` is ``at(m, {L: member})``;
- ``Sum(YTD(), m)``, ``Sum(QTD(...), m)``, ``Sum(MTD(...), m)``,
  ``Sum(PeriodsToDate([H].[Year], [H].[Day].CurrentMember), m)``: ``cumulative(m, Day, partitioning=Year)``
  on a date hierarchy (the level of the given unit is the one ``create_date_hierarchy`` made for it);
  without a member, along the finest level of that hierarchy on the query's axes;
- ``Sum(LastPeriods(n, [H].[L].CurrentMember), m)``: ``cumulative(m, L, window=n)``;
- ``Rank([H].[L].CurrentMember, [H].[L].Members, m)``: ``rank(m, L)``, 1 for the largest; with
  ``[H].[L].CurrentMember.Siblings`` as the set, within the level above L.

``Aggregate`` is read as ``Sum``. Anything else is refused, naming the construct.
"""

from __future__ import annotations

from collections.abc import Callable

from tiercube._server.engine.cubes.mdx.tokens import Cursor, Token
from tiercube._wire.calculated import Call, RowLiteral
from tiercube._wire.cubes import Arithmetic, At, Constant, CubeInfo, Cumulative, LevelInfo, MeasureExpr, MeasureRef, Rank, Shift, Window
from tiercube.errors import QueryError

_MOVES = {"PREVMEMBER": -1, "NEXTMEMBER": 1}
_STEPS = {"LAG": -1, "LEAD": 1}
_TO_DATE = {"YTD": "year", "QTD": "quarter", "MTD": "month"}


class Navigation:
    """A member written in a formula: a level, and what is done from its current member (or a fixed member)."""

    def __init__(self, level: str, offset: int = 0, member: str | None = None, siblings: bool = False) -> None:
        self.level = level
        self.offset = offset
        self.member = member
        self.siblings = siblings


class FormulaParser(Cursor):
    """Reads one calculated member's tokens (``tokens`` ends with an end token) into a ``MeasureExpr``."""

    def __init__(self, tokens: list[Token], cube: CubeInfo, measures: set[str], shown: list[str]) -> None:
        super().__init__(tokens)
        self.cube = cube
        self.measures = measures
        self.shown = shown
        self.hierarchies = {h.name: h.levels for h in cube.hierarchies}

    def formula(self) -> MeasureExpr:
        expression = self.sum()
        if self.current.kind != "end":
            raise self.unexpected()
        return expression

    def sum(self) -> MeasureExpr:
        expression = self.product()
        while self.current.text in ("+", "-") and self.current.kind == "punct":
            op = self.advance().text
            expression = Arithmetic("+" if op == "+" else "-", expression, self.product())
        return expression

    def product(self) -> MeasureExpr:
        expression = self.unary()
        while self.current.text in ("*", "/") and self.current.kind == "punct":
            op = self.advance().text
            expression = Arithmetic("*" if op == "*" else "/", expression, self.unary())
        return expression

    def unary(self) -> MeasureExpr:
        if self.accept("-"):
            return Arithmetic("-", Constant(0), self.unary())
        self.nested()
        try:
            return self.primary()
        finally:
            self.depth -= 1

    def primary(self) -> MeasureExpr:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Constant(float(token.text) if "." in token.text else int(token.text))
        if self.accept("("):
            items = [self.item()]
            while self.accept(","):
                items.append(self.item())
            self.expect(")")
            return _tuple(items)
        if token.kind == "name":
            found = self.item()
            if isinstance(found, Navigation):
                raise QueryError(f"MDX: a member alone has no value here; write a tuple with a measure, as ([Measures].[m], {token.text!r}...)")
            return found
        if token.kind == "word":
            return self.function()
        raise self.unexpected()

    def item(self) -> MeasureExpr | Navigation:
        """A measure, a member (to navigate to) or, first in parentheses, any expression."""
        if self.current.kind != "name" or self.current.text == "Measures":
            return self.measure() if self.current.text == "Measures" and self.current.kind == "name" else self.sum()
        return self.member()

    def measure(self) -> MeasureExpr:
        self.advance()
        self.expect(".")
        name = self.advance()
        if name.kind != "name" or name.text not in self.measures:
            known = ", ".join(sorted(self.measures)) or "none"
            raise QueryError(f"MDX: [Measures].[{name.text}] is not a measure of cube {self.cube.name!r} nor of WITH; its measures are {known}")
        return MeasureRef(name.text)

    def member(self) -> Navigation:
        """``[H].[L].CurrentMember[.PrevMember | .NextMember | .Lag(n) | .Lead(n) | .Siblings]`` or ``[H].[L].[member]``."""
        parts = self.names()
        if not self.accept("."):
            level, member = self._level_and_member(parts)
            if member is None:
                raise QueryError(f"MDX: {_written(parts)} names a level; write {_written(parts)}.CurrentMember or a member")
            return Navigation(level, member=member)
        level, member = self._level_and_member(parts)
        if member is not None or not self.accept("CURRENTMEMBER"):
            raise QueryError(f"MDX: after {_written(parts)} a formula takes .CurrentMember (then .PrevMember, .NextMember, .Lag(n), .Lead(n))")
        offset, siblings = 0, False
        while self.accept("."):
            word = self.advance()
            if word.upper in _MOVES:
                offset += _MOVES[word.upper]
            elif word.upper in _STEPS:
                self.expect("(")
                count = self.advance()
                if count.kind != "number" or "." in count.text:
                    raise QueryError(f"MDX: {word.text} takes a whole number of members, as {word.text}(1)")
                self.expect(")")
                offset += _STEPS[word.upper] * int(count.text)
            elif word.upper == "SIBLINGS":
                siblings = True
            else:
                raise QueryError(f"MDX function {word.text} is not supported")
        return Navigation(level, offset, siblings=siblings)

    def names(self) -> list[str]:
        """``[a].[b]...``: the bracketed names, up to a word or the end of the chain."""
        if self.current.kind != "name":
            raise self.unexpected()
        parts = [self.advance().text]
        while self.current.text == "." and self.tokens[self.index + 1].kind == "name":
            self.advance()
            parts.append(self.advance().text)
        return parts

    def _level_and_member(self, parts: list[str]) -> tuple[str, str | None]:
        """The level ``[H].[L]`` (``[D].[H].[L]``, ``[H]`` of a one-level hierarchy) names, and a member after it."""
        if len(parts) >= 3 and parts[1] in self.hierarchies and parts[2] in {lv.name for lv in self.hierarchies[parts[1]]}:
            parts = parts[1:]
        if parts[0] not in self.hierarchies:
            raise QueryError(f"MDX: {_written(parts)}: cube {self.cube.name!r} has no hierarchy {parts[0]!r}; its hierarchies are {', '.join(self.hierarchies) or 'none'}")
        levels = [lv.name for lv in self.hierarchies[parts[0]]]
        if len(parts) >= 2 and parts[1] in levels:
            level, rest = parts[1], parts[2:]
        elif len(levels) == 1:
            level, rest = levels[0], parts[1:]
        else:
            raise QueryError(f"MDX: {_written(parts)} does not name a level of hierarchy {parts[0]!r} (levels: {', '.join(levels)})")
        if len(rest) > 1:
            raise QueryError(f"MDX: {_written(parts)} is not supported; write [Hierarchy].[Level].[member]")
        return level, rest[0] if rest else None

    def function(self) -> MeasureExpr:
        name = self.advance()
        if self.current.text != "(":
            raise QueryError(f"MDX function {name.text} is not supported")
        if name.upper in ("SUM", "AGGREGATE"):
            self.expect("(")
            along = self.periods()
            self.expect(",")
            measure = self.sum()
            self.expect(")")
            return along(measure)
        if name.upper == "RANK":
            return self.rank()
        raise QueryError(f"MDX function {name.text} is not supported")

    def periods(self) -> Callable[[MeasureExpr], MeasureExpr]:
        """The set a ``Sum`` adds over, as the scope it becomes."""
        name = self.advance()
        if name.kind != "word" or self.current.text != "(":
            raise QueryError(f"MDX: {name.text} is not supported inside Sum; Sum adds over YTD(), QTD(), MTD(), PeriodsToDate(...) or LastPeriods(...)")
        self.expect("(")
        if name.upper in _TO_DATE or name.upper == "PERIODSTODATE":
            unit_level: str | None = None
            along: Navigation | None = None
            if name.upper == "PERIODSTODATE":
                parts = self.names()
                unit_level, member = self._level_and_member(parts)
                if member is not None or self.looking_at("."):
                    raise QueryError("MDX: PeriodsToDate takes a level first, as PeriodsToDate([calendar].[Year], ...)")
                if self.accept(","):
                    along = self.member()
            elif self.current.kind == "name":
                along = self.member()
            self.expect(")")
            level, partitioning = self._to_date(name.text, _TO_DATE.get(name.upper), unit_level, along)
            return lambda measure: Cumulative(measure, level, partitioning)
        if name.upper == "LASTPERIODS":
            count = self.advance()
            if count.kind != "number" or "." in count.text or int(count.text) < 1:
                raise QueryError("MDX: LastPeriods takes a number of members first, as LastPeriods(3, [calendar].[Month].CurrentMember)")
            self.expect(",")
            along_member = self.member()
            self.expect(")")
            window = Window(members=int(count.text))
            return lambda measure: Cumulative(measure, along_member.level, window=window)
        raise QueryError(f"MDX function {name.text} is not supported inside Sum; Sum adds over YTD(), QTD(), MTD(), PeriodsToDate(...) or LastPeriods(...)")

    def _to_date(self, function: str, unit: str | None, unit_level: str | None, along: Navigation | None) -> tuple[str, str]:
        """(the level the total runs along, the level it starts again at) for YTD and the others."""
        if along is not None and (along.member is not None or along.offset or along.siblings):
            raise QueryError(f"MDX: {function} takes a level's .CurrentMember, as {function}([calendar].[Day].CurrentMember)")
        candidates = [along.level] if along is not None else list(reversed(self.shown))
        for level in candidates:
            hierarchy = next(h for h in self.hierarchies.values() if level in {lv.name for lv in h})
            names = [lv.name for lv in hierarchy]
            start = unit_level if unit_level is not None else _unit_level(hierarchy, unit)
            if start is None or start not in names:
                if along is not None:
                    raise QueryError(
                        f"MDX: {function} needs a date hierarchy (cube.create_date_hierarchy) holding both {level!r} and the level of the period; "
                        f"hierarchy {names} has none"
                    )
                continue
            if names.index(start) >= names.index(level):
                raise QueryError(f"MDX: {function} runs along a level below {start!r}; {level!r} is not")
            return level, start
        raise QueryError(f"MDX: {function}() needs a level of a date hierarchy on an axis, or its member: {function}([calendar].[Day].CurrentMember)")

    def rank(self) -> MeasureExpr:
        self.expect("(")
        member = self.member()
        self.expect(",")
        if self.current.kind != "name":
            raise QueryError("MDX: Rank's set is [H].[L].Members or [H].[L].CurrentMember.Siblings")
        parts = [self.advance().text]
        while self.accept("."):
            if self.current.kind == "name":
                parts.append(self.advance().text)
                continue
            suffix = self.advance()
            if suffix.upper in ("MEMBERS", "ALLMEMBERS"):
                within = None
            elif suffix.upper == "CURRENTMEMBER" and self.accept(".") and self.accept("SIBLINGS"):
                within = self._above(member.level)
            else:
                raise QueryError("MDX: Rank's set is [H].[L].Members or [H].[L].CurrentMember.Siblings")
            break
        else:
            raise QueryError("MDX: Rank's set is [H].[L].Members or [H].[L].CurrentMember.Siblings")
        level, _ = self._level_and_member(parts)
        if level != member.level or member.offset or member.member is not None:
            raise QueryError(f"MDX: Rank ranks {_written(parts)}'s current member among that level's members; give the same level twice")
        if not self.accept(","):
            raise QueryError("MDX: Rank needs the measure to rank by, as Rank([H].[L].CurrentMember, [H].[L].Members, [Measures].[m])")
        measure = self.sum()
        self.expect(")")
        return Rank(measure, member.level, within)

    def _above(self, level: str) -> str | None:
        for levels in self.hierarchies.values():
            names = [lv.name for lv in levels]
            if level in names:
                position = names.index(level)
                return names[position - 1] if position else None
        return None


def _unit_level(levels: list[LevelInfo], unit: str | None) -> str | None:
    """The level of a date hierarchy that truncates its dates to ``unit`` (as ``create_date_hierarchy`` makes them)."""
    for level in levels:
        expression = level.expression
        if isinstance(expression, Call) and expression.function == "date_trunc":
            argument = expression.arguments[1] if len(expression.arguments) > 1 else None
            if isinstance(argument, RowLiteral) and argument.value == unit:
                return level.name
    return None


def _tuple(items: list[MeasureExpr | Navigation]) -> MeasureExpr:
    """``(a)`` is ``a``; ``(measure, member, ...)`` the measure at those members."""
    measures = [item for item in items if not isinstance(item, Navigation)]
    if len(measures) != 1:
        raise QueryError("MDX: a tuple in a formula holds one measure and members, as ([Measures].[m], [H].[L].CurrentMember.PrevMember)")
    (value,) = measures
    fixed: dict[str, str | int | float | bool | None] = {}
    for item in items:
        if not isinstance(item, Navigation):
            continue
        if item.siblings:
            raise QueryError("MDX: .Siblings is a set; it goes in Rank's second argument")
        if item.member is not None:
            fixed[item.level] = item.member
        elif item.offset:
            value = Shift(value, item.level, item.offset)
    return At(value, fixed) if fixed else value


def _written(parts: list[str]) -> str:
    return ".".join(f"[{part}]" for part in parts)
