"""The measure algebra: expressions built on the client, validated and computed by the server.

``agg.sum("qty") * 2``, ``m["price.SUM"] / m["qty.SUM"]`` or
``where(m["qty.SUM"] > 100, m["price.SUM"])`` build expression trees; assign
one with ``cube.measures["name"] = expression`` and every client sees it.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias, overload

from tiercube._client import display
from tiercube._client.calculated import Calculable, CalculatedColumn, ColumnLike, if_else
from tiercube._client.conditions import Column, Condition
from tiercube._client.public_names import PublicNames
from tiercube._client.wire_form import wire_form
from tiercube._client.formats import Format
from tiercube._public import public
from tiercube._wire import cubes as wire
from tiercube._wire.describe import describe_condition, describe_expression
from tiercube._wire.filters import Operator

Operand: TypeAlias = "MeasureExpression | int | float"
ArithmeticOperator: TypeAlias = Literal["+", "-", "*", "/"]


def _expr(operand: object) -> wire.MeasureExpr:
    if isinstance(operand, MeasureExpression):
        return wire_form(operand)
    if isinstance(operand, int | float) and not isinstance(operand, bool):
        return wire.Constant(operand)
    raise TypeError(f"a measure expression cannot combine with {operand!r}; use a measure or a number")


@public
class MeasureCondition(PublicNames):
    """A condition evaluated per cell: measure comparisons and level conditions, combined."""

    __slots__ = ("_condition",)

    def __init__(self, condition: wire.MeasureCondition) -> None:
        self._condition = condition

    @classmethod
    def of(cls, condition: MeasureCondition | Condition) -> MeasureCondition:
        """``condition`` as a condition on cells: a condition on levels keeps the cells of the members it holds."""
        if isinstance(condition, Condition):
            return cls(wire.LevelFilter(wire_form(condition)))
        return condition

    def _to_wire(self) -> wire.MeasureCondition:
        return self._condition

    def __and__(self, other: MeasureCondition | Condition) -> MeasureCondition:
        return MeasureCondition(wire.AllOf([self._condition, MeasureCondition.of(other)._condition]))

    def __or__(self, other: MeasureCondition | Condition) -> MeasureCondition:
        return MeasureCondition(wire.AnyOf([self._condition, MeasureCondition.of(other)._condition]))

    def __invert__(self) -> MeasureCondition:
        return MeasureCondition(wire.NotCondition(self._condition))

    def __bool__(self) -> bool:
        raise TypeError("a MeasureCondition has no truth value: combine with &, | and ~")

    def __repr__(self) -> str:
        return f"MeasureCondition({describe_condition(self._condition)})"


@public
class MeasureExpression(PublicNames):
    """A measure definition: aggregates, constants and other measures combined arithmetically."""

    __slots__ = ("_expression",)

    def __init__(self, expression: wire.MeasureExpr) -> None:
        self._expression = expression

    def _to_wire(self) -> wire.MeasureExpr:
        return self._expression

    def _arith(self, op: ArithmeticOperator, left: Operand, right: Operand) -> MeasureExpression:
        return MeasureExpression(wire.Arithmetic(op, _expr(left), _expr(right)))

    def __add__(self, other: Operand) -> MeasureExpression:
        return self._arith("+", self, other)

    def __radd__(self, other: Operand) -> MeasureExpression:
        return self._arith("+", other, self)

    def __sub__(self, other: Operand) -> MeasureExpression:
        return self._arith("-", self, other)

    def __rsub__(self, other: Operand) -> MeasureExpression:
        return self._arith("-", other, self)

    def __mul__(self, other: Operand) -> MeasureExpression:
        return self._arith("*", self, other)

    def __rmul__(self, other: Operand) -> MeasureExpression:
        return self._arith("*", other, self)

    def __truediv__(self, other: Operand) -> MeasureExpression:
        """Division gives a float; dividing by zero gives null, not an error."""
        return self._arith("/", self, other)

    def __rtruediv__(self, other: Operand) -> MeasureExpression:
        return self._arith("/", other, self)

    def __neg__(self) -> MeasureExpression:
        return self._arith("-", 0, self)

    def _compare(self, op: Operator, other: Operand) -> MeasureCondition:
        return MeasureCondition(wire.MeasureComparison(self._expression, op, _expr(other)))

    def __lt__(self, other: Operand) -> MeasureCondition:
        return self._compare("<", other)

    def __le__(self, other: Operand) -> MeasureCondition:
        return self._compare("<=", other)

    def __gt__(self, other: Operand) -> MeasureCondition:
        return self._compare(">", other)

    def __ge__(self, other: Operand) -> MeasureCondition:
        return self._compare(">=", other)

    def __eq__(self, other: Operand) -> MeasureCondition:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]  # pyrefly: ignore[bad-override]  # ty: ignore[incompatible-method-override]
        return self._compare("==", other)

    def __ne__(self, other: Operand) -> MeasureCondition:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]  # pyrefly: ignore[bad-override]  # ty: ignore[incompatible-method-override]
        return self._compare("!=", other)

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # pyright: ignore[reportIncompatibleMethodOverride]

    def __repr__(self) -> str:
        return f"MeasureExpression({describe_expression(self._expression)})"


@public
class Measure(MeasureExpression):
    """A named measure of a cube; in expressions it stands for its own value."""

    __slots__ = ("name", "definition", "format")

    def __init__(self, name: str, definition: wire.MeasureExpr, format: Format | None = None) -> None:
        super().__init__(wire.MeasureRef(name))
        self.name: str = name
        # The expression it is defined as, in public terms (its wire form stays private).
        self.definition: MeasureExpression = MeasureExpression(definition)
        self.format: Format | None = format
        """How its numbers are shown, as the server keeps it (``cube.measures.set_format`` sets it); None: as they come."""

    def __repr__(self) -> str:
        return f"<Measure {self.name!r} = {describe_expression(wire_form(self.definition))}>"

    def _repr_html_(self) -> str:
        return display.measure(type(self).__name__, self.name, wire_form(self.definition), wire_form(self.format) if self.format else None)


def column_name(column: str | Column) -> str:
    return column.name if isinstance(column, Column) else column


@overload
def where(condition: MeasureCondition | Condition, then: MeasureExpression, otherwise: Operand | None = None) -> MeasureExpression: ...
@overload
def where(condition: MeasureCondition | Condition, then: int | float, otherwise: MeasureExpression) -> MeasureExpression: ...
@overload
def where(condition: MeasureCondition | Condition, then: int | float, otherwise: int | float | None = None) -> MeasureExpression: ...
@overload
def where(condition: CalculatedColumn | Condition, then: ColumnLike, otherwise: Calculable = None) -> CalculatedColumn: ...
@overload
def where(condition: CalculatedColumn | Condition, then: Calculable, otherwise: ColumnLike) -> CalculatedColumn: ...
@overload
def where(condition: CalculatedColumn, then: Calculable, otherwise: Calculable = None) -> CalculatedColumn: ...
@public
def where(
    condition: MeasureCondition | Condition | CalculatedColumn,
    then: Operand | Calculable,
    otherwise: Operand | Calculable = None,
) -> MeasureExpression | CalculatedColumn:
    """Per cell, ``then`` where ``condition`` holds, else ``otherwise`` (null when not given)::

        m["big orders"] = tiercube.where(m["qty.SUM"] > 100, m["revenue"])

    Given columns or calculated columns, it is a calculated column instead, row by row::

        discounted = tiercube.where(sales["qty"] > 10, sales["price"] * 0.9, sales["price"])
    """
    if isinstance(condition, CalculatedColumn) or isinstance(then, ColumnLike) or isinstance(otherwise, ColumnLike):
        if isinstance(condition, MeasureCondition) or isinstance(then, MeasureExpression) or isinstance(otherwise, MeasureExpression):
            raise TypeError("where(...) either chooses between measures per cell or between columns per row, not both")
        return if_else(condition, then, otherwise)
    other = _expr(otherwise) if otherwise is not None else None
    return MeasureExpression(wire.Where(wire_form(MeasureCondition.of(condition)), _expr(then), other))


@public
def filtered(measure: MeasureExpression, condition: Condition) -> MeasureExpression:
    """``measure`` computed only over the fact rows whose levels match ``condition``."""
    return MeasureExpression(wire.Filtered(wire_form(measure), wire_form(condition)))


@public
def parent_value(measure: MeasureExpression, level: str | Column) -> MeasureExpression:
    """``measure`` one step up ``level``'s hierarchy; ``m / parent_value(m, "Country")`` is a share."""
    return MeasureExpression(wire.ParentValue(wire_form(measure), column_name(level)))


@public
def level(name: str) -> Column:
    """A level by name, for filters in sessions that cannot read the cube's structure."""
    return Column(name)
