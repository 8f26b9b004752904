"""A measure is checked when it is set, never at query time: names, types and combinations.

``validate_measure`` refuses, with an ``InvalidRequestError`` that names the
fix: an unknown column, level or measure; a calculated column that does not
type-check; an aggregate of text where it needs numbers; a scope along a level
it cannot move along (a period on a level that is not a date, a partitioning
level that is not above the level); arithmetic on a measure whose values are
not numbers (``min(brand)``); a cycle. What a valid measure may cost a query
(its depth, the expressions and filter contexts it makes a query evaluate) is
bounded next, in ``cost``, for it and every measure that reaches it.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from tiercube._server.engine.calendar import is_zero, signs
from tiercube._server.engine.cubes.holistic import check_quantile
from tiercube._server.engine.cubes.model import Cube, CubeSchema, bind_level_filter, references, walk
from tiercube._server.engine.filters import bind
from tiercube._server.engine.types import is_numeric
from tiercube._wire.cubes import (
    Aggregate,
    AllOf,
    AnyOf,
    Arithmetic,
    At,
    Constant,
    Cumulative,
    Filtered,
    LevelFilter,
    MeasureComparison,
    MeasureCondition,
    MeasureExpr,
    MeasureRef,
    MemberOf,
    NotCondition,
    Origin,
    ParentValue,
    Period,
    Rank,
    RowCount,
    Shift,
    Siblings,
    Where,
)
from tiercube._wire.filters import Compare, IsNull
from tiercube._wire.column_types import ColumnType, DataType, describe_type, type_name
from tiercube.errors import InvalidRequestError

Kind: TypeAlias = Literal["number", "string", "date", "timestamp", "bool"]
_NUMERIC_ONLY = frozenset({"sum", "mean", "median", "quantile", "std", "var", "prod"})
_TEMPORAL = frozenset({"date", "timestamp"})


def validate_measure(cube: Cube, schema: CubeSchema, name: str, expression: MeasureExpr) -> None:
    """Raise an ``InvalidRequestError`` if ``expression`` cannot be a measure ``name`` of ``cube``."""
    where = f"measure {name!r}"
    for node in walk(expression):
        _check_node(cube, schema, where, name, node)
    _check_no_cycle(cube, name, expression)
    _Kinds(cube, schema, {**cube.measures, name: expression}).of(expression, where)


def _check_node(cube: Cube, schema: CubeSchema, where: str, name: str, node: MeasureExpr | MeasureCondition) -> None:
    levels = cube.levels()
    known = ", ".join(levels) or "none"

    def level(level_name: str, role: str) -> DataType:
        if level_name not in levels:
            raise InvalidRequestError(f"{where} {role} {level_name!r}, which is not a level of cube {cube.name!r}; its levels are {known}")
        return type_name(levels[level_name].data_type)

    match node:
        case Aggregate(function):
            ref = schema.input_of(node, where)
            if function in _NUMERIC_ONLY and not is_numeric(ref.data_type):
                described = f"{ref.table}.{ref.column}" if ref.calculated is None else "the calculated column"
                raise InvalidRequestError(
                    f"{where}: {function} needs a numeric column but {described} is {describe_type(ref.data_type)}; cast it or pick a numeric one"
                )
            if function == "quantile" and not check_quantile(node.q):
                raise InvalidRequestError(f"{where}: a quantile is between 0 and 1, not {node.q}")
        case MeasureRef(other) if other != name and other not in cube.measures:
            raise InvalidRequestError(
                f"{where} refers to measure {other!r}, which cube {cube.name!r} does not have; "
                f"its measures are {', '.join(cube.measures) or 'none'}"
            )
        case ParentValue(_, parent_of):
            level(parent_of, "takes the parent of")
        case Filtered(_, condition) | LevelFilter(condition):
            bind_level_filter(cube, condition, where)  # refused when the measure is set, not at query time
        case Constant(value) if isinstance(value, bool):
            raise InvalidRequestError(f"{where}: a constant must be a number, not {value!r}")
        case Constant(value) if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise InvalidRequestError(f"{where}: the constant {value} is beyond any 64-bit integer; write it as a float")
        case Cumulative(_, along, partitioning, window):
            data_type = level(along, "runs along")
            if partitioning is not None:
                level(partitioning, "starts again at every member of")
                above = _above(cube, along)
                if partitioning not in above:
                    raise InvalidRequestError(
                        f"{where}: the running total along {along!r} starts again at each member of a level above it "
                        f"in its hierarchy ({', '.join(map(repr, above)) or 'there is none'}), not {partitioning!r}"
                    )
            if window is not None:
                if (window.members is None) == (window.period is None):
                    raise InvalidRequestError(f"{where}: a window is a number of members or a period, one of the two")
                if window.members is not None and window.members < 1:
                    raise InvalidRequestError(f"{where}: a window spans 1 member or more, not {window.members}")
                if window.period is not None:
                    _check_period(where, along, data_type, window.period, past=True)
        case Shift(_, along, offset, period):
            data_type = level(along, "shifts along")
            if period is not None:
                if offset:
                    raise InvalidRequestError(f"{where}: shift by a number of members or by a period, not both")
                _check_period(where, along, data_type, period, past=None)
            elif offset == 0:
                raise InvalidRequestError(f"{where}: a shift by 0 members is the measure itself; shift by -1 for the previous member")
        case At(_, members):
            if not members:
                raise InvalidRequestError(f"{where}: at(...) needs at least one level and its member")
            for fixed, member in members.items():
                level(fixed, "fixes")
                condition = IsNull(fixed) if member is None else Compare(fixed, "==", member)
                try:
                    bind(condition, cube.level_types())
                except InvalidRequestError as error:
                    raise InvalidRequestError(f"{where}: {error}") from None
        case Siblings(_, along):
            level(along, "adds up the siblings along")
        case Origin(_, origin_levels):
            if not origin_levels or len(set(origin_levels)) != len(origin_levels):
                raise InvalidRequestError(f"{where}: origin(...) needs one level or more, each once")
            for origin_level in origin_levels:
                level(origin_level, "computes at")
        case Rank(_, along, within):
            level(along, "ranks the members of")
            if within is not None:
                level(within, "ranks within")
                if within == along:
                    raise InvalidRequestError(f"{where}: rank within a level other than {along!r} itself, or leave within out")
        case MemberOf(_, along):
            level(along, "picks a member of")
        case _:
            pass


def _above(cube: Cube, level: str) -> list[str]:
    for levels in cube.hierarchies.values():
        names = [lv.name for lv in levels]
        if level in names:
            return names[: names.index(level)]
    return []


def _check_period(where: str, level: str, data_type: DataType, period: Period, *, past: bool | None) -> None:
    if data_type not in _TEMPORAL:
        raise InvalidRequestError(f"{where}: a period moves along a date or timestamp level; {level!r} is {data_type}: use a number of members")
    if is_zero(period):
        raise InvalidRequestError(f"{where}: the period is empty; give it a length, as in Period(months=1)")
    if len(signs(period)) > 1:
        raise InvalidRequestError(f"{where}: a period's parts go the same way (all before or all after), not {period}")
    if past and signs(period) != {1}:
        raise InvalidRequestError(f"{where}: a window's period is a length, as in Period(months=3), not {period}")
    if data_type == "date" and (period.hours or period.minutes):
        raise InvalidRequestError(f"{where}: {level!r} holds dates: move it by days, weeks, months or years, not hours or minutes")


def _check_no_cycle(cube: Cube, name: str, expression: MeasureExpr) -> None:
    seen: set[str] = set()

    def visit(current: MeasureExpr, path: list[str]) -> None:
        for other in sorted(references(current).measures):
            if other == name:
                raise InvalidRequestError(f"measure {name!r} would depend on itself: {' -> '.join([*path, other])}")
            if other in cube.measures and other not in seen:
                seen.add(other)
                visit(cube.measures[other], [*path, other])

    visit(expression, [name])


class _Kinds:
    """What each measure's values are: numbers, or members of a type (``min(brand)`` is text)."""

    def __init__(self, cube: Cube, schema: CubeSchema, measures: dict[str, MeasureExpr]) -> None:
        self.cube = cube
        self.schema = schema
        self.measures = measures
        self._known: dict[str, Kind] = {}

    def of(self, node: MeasureExpr, where: str) -> Kind:
        match node:
            case Aggregate(function):
                if function in ("min", "max", "single_value"):
                    return _kind(self.schema.input_of(node).data_type)
                return "number"
            case RowCount() | Constant():
                return "number"
            case MeasureRef(other):
                if other not in self._known:
                    self._known[other] = self.of(self.measures[other], f"measure {other!r}")
                return self._known[other]
            case Arithmetic(op, left, right):
                for side in (left, right):
                    self._number(side, where, f"'{op}'")
                return "number"
            case Where(condition, then, otherwise):
                self.condition(condition, where)
                chosen = self.of(then, where)
                if otherwise is not None and self.of(otherwise, where) != chosen:
                    raise InvalidRequestError(f"{where}: where(...) gives {chosen} values in one case and {self.of(otherwise, where)} in the other; make them alike")
                return chosen
            case Filtered(inner) | ParentValue(inner) | Shift(inner) | At(inner):
                return self.of(inner, where)
            case Cumulative(inner) | Siblings(inner):
                return self._number(inner, where, type(node).__name__.lower())
            case Origin(inner, _, function):
                return self._number(inner, where, f"origin(..., function={function!r})") if function in ("sum", "mean", "median") else self.of(inner, where)
            case Rank(inner):
                self.of(inner, where)
                return "number"
            case MemberOf(inner, along):
                self.of(inner, where)
                return _kind(self.cube.levels()[along].data_type)

    def _number(self, node: MeasureExpr, where: str, operation: str) -> Kind:
        kind = self.of(node, where)
        if kind != "number":
            raise InvalidRequestError(f"{where}: {operation} needs numbers, but one of its measures gives {kind} values (such as min of a text column)")
        return kind

    def condition(self, node: MeasureCondition, where: str) -> None:
        match node:
            case MeasureComparison(left_node, _, right_node):
                left, right = self.of(left_node, where), self.of(right_node, where)
                if left != right:
                    raise InvalidRequestError(f"{where}: a comparison of {left} values with {right} values; compare values of one kind")
            case AllOf(conditions) | AnyOf(conditions):
                for condition in conditions:
                    self.condition(condition, where)
            case NotCondition(condition):
                self.condition(condition, where)
            case LevelFilter():
                pass


def _kind(column_type: ColumnType) -> Kind:
    if is_numeric(column_type):
        return "number"
    data_type = type_name(column_type)
    return "string" if data_type == "string" else "date" if data_type == "date" else "timestamp" if data_type == "timestamp" else "bool"
