"""Filter expressions as they travel: a small tagged union, evaluated by the server.

Values are sent as JSON scalars; dates and timestamps travel as ISO strings
and the server casts every value to the type of the column it is compared
with, so one representation serves all column types.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

Scalar: TypeAlias = bool | int | float | str | None
Operator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]


class Compare(msgspec.Struct, frozen=True, tag="compare"):
    column: str
    op: Operator
    value: Scalar


class IsIn(msgspec.Struct, frozen=True, tag="isin"):
    column: str
    values: list[Scalar]


class IsNull(msgspec.Struct, frozen=True, tag="isnull"):
    column: str


class And(msgspec.Struct, frozen=True, tag="and"):
    operands: list[Filter]


class Or(msgspec.Struct, frozen=True, tag="or"):
    operands: list[Filter]


class Not(msgspec.Struct, frozen=True, tag="not"):
    operand: Filter


Filter: TypeAlias = Compare | IsIn | IsNull | And | Or | Not


def filter_names(condition: Filter) -> list[str]:
    """Every column (or level) name ``condition`` refers to."""
    match condition:
        case Compare(column) | IsIn(column) | IsNull(column):
            return [column]
        case And(operands) | Or(operands):
            return [name for operand in operands for name in filter_names(operand)]
        case Not(operand):
            return filter_names(operand)
