"""A cube's definition: the columns it can see, its hierarchies and its measures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

from tiercube._server.engine.calculated import Compiled, compile_row
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.joins import JoinGraph, Reached
from tiercube._server.engine.filters import BoundFilter, bind
from tiercube._server.engine.grouping import alias
from tiercube._server.engine.tables import TableStore
from tiercube._wire.calculated import RowExpr
from tiercube._wire.cubes import (
    NumberFormat,
    Aggregate,
    AllOf,
    AnyOf,
    Arithmetic,
    At,
    Constant,
    CubeInfo,
    Cumulative,
    Filtered,
    HierarchyInfo,
    LevelFilter,
    LevelInfo,
    MeasureComparison,
    MeasureCondition,
    MeasureExpr,
    MeasureInfo,
    MeasureRef,
    MemberOf,
    NotCondition,
    Origin,
    ParentValue,
    Rank,
    RowCount,
    Shift,
    Siblings,
    Where,
)
from tiercube._wire.column_types import ColumnType
from tiercube._wire.filters import And, Compare, Filter, IsIn, IsNull, Not, Or, filter_names
from tiercube.errors import InvalidRequestError, NotFoundError, QueryError


@dataclass(frozen=True)
class ColumnRef:
    """A column of one of a cube's tables, or a calculated column over one (then ``column``
    is ``calculated.key``: equal definitions are equal references)."""

    table: str
    column: str
    data_type: ColumnType
    calculated: Compiled | None = field(default=None, compare=False)

    @property
    def alias(self) -> str:
        return alias(self.table, self.column)


class CubeSchema:
    """The columns a cube over ``fact`` can see: the fact table's and every joined table's.

    A join's target columns are left out: they repeat the source columns
    they are mapped from.
    """

    def __init__(self, tables: TableStore, joins: JoinGraph, fact: str) -> None:
        self.fact = fact
        self.reached: list[Reached] = joins.reachable(fact)
        self.columns: list[ColumnRef] = []
        for reached in self.reached:
            mapped = {target for _, target in reached.via.pairs} if reached.via else set()
            stored = tables.get(reached.table)
            self.columns.extend(
                ColumnRef(reached.table, name, data_type)
                for name, data_type in stored.columns.items()
                if name not in mapped
            )

    def resolve(self, column: str, table: str | None = None) -> ColumnRef:
        candidates = [c for c in self.columns if c.column == column and table in (None, c.table)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            tables = ", ".join(repr(c.table) for c in candidates)
            raise InvalidRequestError(
                f"column {column!r} exists in tables {tables}; say which with table=..."
            )
        where = f"table {table!r}" if table is not None else f"cube tables ({', '.join(r.table for r in self.reached)})"
        known = ", ".join(sorted({c.column for c in self.columns if table in (None, c.table)}))
        raise InvalidRequestError(f"no column {column!r} in {where}; the columns are {known}")

    def calculated(self, expression: RowExpr, where: str) -> ColumnRef:
        """The calculated column ``expression``, checked and compiled (``InvalidRequestError`` names a mistake)."""
        compiled = compile_row(expression, self._found, where)
        return ColumnRef(compiled.table, compiled.key, compiled.data_type, compiled)

    def _found(self, column: str, table: str | None) -> tuple[str, str, ColumnType]:
        ref = self.resolve(column, table)
        return ref.table, ref.column, ref.data_type

    def input_of(self, node: Aggregate, where: str = "the measure") -> ColumnRef:
        """The column (or calculated column) an aggregate reads; mistakes name ``where`` they are."""
        if isinstance(node.column, str):
            return self.resolve(node.column, node.table)
        return self.calculated(node.column, f"{where}: {node.function}(...)")

    def level(self, level: LevelInfo) -> ColumnRef:
        """The column (or calculated column) a level shows."""
        if level.expression is not None:
            return self.calculated(level.expression, f"level {level.name!r}")
        return self.resolve(level.column, level.table)


@dataclass
class Cube:
    """A cube's structure. Levels remember the column they were resolved to."""

    name: str
    fact_table: str
    hierarchies: dict[str, list[LevelInfo]] = field(default_factory=dict)
    measures: dict[str, MeasureExpr] = field(default_factory=dict)
    # How some measures' numbers are shown (by measure name); kept with the cube, so journaled with it.
    formats: dict[str, NumberFormat] = field(default_factory=dict)

    @property
    def info(self) -> CubeInfo:
        return CubeInfo(
            name=self.name,
            fact_table=self.fact_table,
            hierarchies=[HierarchyInfo(name, list(levels)) for name, levels in self.hierarchies.items()],
            measures=[MeasureInfo(name, expression, self.formats.get(name)) for name, expression in self.measures.items()],
        )

    def levels(self) -> dict[str, LevelInfo]:
        return {level.name: level for levels in self.hierarchies.values() for level in levels}

    def level(self, name: str) -> LevelInfo:
        levels = self.levels()
        try:
            return levels[name]
        except KeyError:
            raise QueryError(NotFoundError.describe("level", name, levels, within=f"cube {self.name!r}")) from None

    def level_and_below(self, name: str) -> list[str]:
        """``name`` and the levels under it in its hierarchy."""
        for levels in self.hierarchies.values():
            names = [level.name for level in levels]
            if name in names:
                return names[names.index(name) :]
        raise QueryError(f"cube {self.name!r} has no level {name!r}")

    def measure(self, name: str) -> MeasureExpr:
        try:
            return self.measures[name]
        except KeyError:
            raise QueryError(NotFoundError.describe("measure", name, self.measures, within=f"cube {self.name!r}")) from None

    def level_types(self) -> dict[str, ColumnType]:
        return {name: level.data_type for name, level in self.levels().items()}


def children(node: MeasureExpr | MeasureCondition) -> Iterator[MeasureExpr | MeasureCondition]:
    """The expressions and conditions directly inside ``node``."""
    match node:
        case Arithmetic(_, left, right) | MeasureComparison(left, _, right):
            yield left
            yield right
        case Where(condition, then, otherwise):
            yield condition
            yield then
            if otherwise is not None:
                yield otherwise
        case Filtered(measure, _) | ParentValue(measure, _):
            yield measure
        case Cumulative() | Shift() | At() | Siblings() | Origin() | Rank() | MemberOf():
            yield node.measure
        case AllOf(conditions) | AnyOf(conditions):
            yield from conditions
        case NotCondition(condition):
            yield condition
        case Aggregate() | RowCount() | MeasureRef() | Constant() | LevelFilter():
            pass  # leaves


def scope_levels(node: MeasureExpr | MeasureCondition) -> list[str]:
    """The levels a scope names (the one it moves along, partitions by, fixes, or adds)."""
    match node:
        case Cumulative(_, level, partitioning):
            return [level] if partitioning is None else [level, partitioning]
        case Shift(_, level) | Siblings(_, level) | MemberOf(_, level) | ParentValue(_, level):
            return [level]
        case At(_, members):
            return list(members)
        case Origin(_, levels):
            return list(levels)
        case Rank(_, level, within):
            return [level] if within is None else [level, within]
        case _:
            return []


def added_levels(node: MeasureExpr | MeasureCondition) -> list[str]:
    """The levels a scope evaluates its measure by beyond the cell's own: the base must group by them."""
    match node:
        case Cumulative(_, _, partitioning) | Rank(_, _, partitioning):
            return [] if partitioning is None else [partitioning]
        case At(_, members):
            return list(members)
        case Origin(_, levels):
            return list(levels)
        case MemberOf(_, level):
            return [level]
        case _:
            return []


def walk(node: MeasureExpr | MeasureCondition) -> Iterator[MeasureExpr | MeasureCondition]:
    yield node
    for child in children(node):
        yield from walk(child)


def bind_levels(cube: Cube, condition: Filter, where: str) -> Filter:
    """``condition`` with table columns (``sales["region"] == "EU"``) replaced by the level that shows them."""
    match condition:
        case Compare(column, _, _, table) | IsIn(column, _, table) | IsNull(column, table):
            if table is None:
                return condition
            for level in cube.levels().values():
                if (level.table, level.column) == (table, column):
                    return msgspec.structs.replace(condition, column=level.name, table=None)
            raise QueryError(
                f"{where} filters on column {table}.{column}, which no level of cube {cube.name!r} shows; "
                f"its levels are {', '.join(cube.levels()) or 'none'}"
            )
        case And(operands):
            return And([bind_levels(cube, operand, where) for operand in operands])
        case Or(operands):
            return Or([bind_levels(cube, operand, where) for operand in operands])
        case Not(operand):
            return Not(bind_levels(cube, operand, where))


def bind_measure(cube: Cube, node: MeasureExpr, where: str) -> MeasureExpr:
    """``node`` with the conditions inside it bound to levels (see ``bind_levels``)."""

    def expression(inner: MeasureExpr) -> MeasureExpr:
        return bind_measure(cube, inner, where)

    def condition(inner: MeasureCondition) -> MeasureCondition:
        match inner:
            case LevelFilter(level_filter):
                return LevelFilter(bind_levels(cube, level_filter, where))
            case MeasureComparison(left, op, right):
                return MeasureComparison(expression(left), op, expression(right))
            case AllOf(conditions):
                return AllOf([condition(c) for c in conditions])
            case AnyOf(conditions):
                return AnyOf([condition(c) for c in conditions])
            case NotCondition(negated):
                return NotCondition(condition(negated))

    match node:
        case Filtered(measure, measure_filter):
            return Filtered(expression(measure), bind_levels(cube, measure_filter, where))
        case Arithmetic(op, left, right):
            return Arithmetic(op, expression(left), expression(right))
        case Where(when, then, otherwise):
            return Where(condition(when), expression(then), expression(otherwise) if otherwise is not None else None)
        case ParentValue(measure, level):
            return ParentValue(expression(measure), level)
        case Cumulative() | Shift() | At() | Siblings() | Origin() | Rank() | MemberOf():
            return msgspec.structs.replace(node, measure=expression(node.measure))
        case Aggregate() | RowCount() | MeasureRef() | Constant():
            return node


@dataclass(frozen=True)
class References:
    measures: frozenset[str]
    levels: frozenset[str]


def references(expression: MeasureExpr) -> References:
    """The measures and levels ``expression`` names (not following measure references)."""
    measures: set[str] = set()
    levels: set[str] = set()
    for node in walk(expression):
        match node:
            case MeasureRef(name):
                measures.add(name)
            case ParentValue() | Cumulative() | Shift() | At() | Siblings() | Origin() | Rank() | MemberOf():
                levels.update(scope_levels(node))
            case Filtered(_, condition) | LevelFilter(condition):
                levels.update(filter_names(condition))
            case _:
                pass
    return References(frozenset(measures), frozenset(levels))


def bind_level_filter(cube: Cube, condition: Filter, where: str, deadline: Deadline | None = None) -> BoundFilter:
    """``condition`` on levels of ``cube``, checked and compiled once (within a query's ``deadline``);
    ``QueryError`` names a mistake.

    Table columns a level shows (``sales["region"] == "EU"``) are bound to that level first.
    """
    condition = bind_levels(cube, condition, where)
    types = cube.level_types()
    for name in filter_names(condition):
        if name not in types:
            raise QueryError(
                f"{where} filters on {name!r}, which is not a level of cube {cube.name!r}; "
                f"its levels are {', '.join(types) or 'none'}"
            )
    try:
        return bind(condition, types, deadline=deadline)
    except InvalidRequestError as error:
        raise QueryError(f"{where}: {error}") from None
