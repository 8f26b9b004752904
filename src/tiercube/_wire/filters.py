"""Filter expressions as they travel: a small tagged union, evaluated by the server.

Values are sent as JSON scalars: dates, times and timestamps as ISO strings
(a zoned one with its offset), decimals as their digits, durations as ISO 8601
durations; the server reads every value as the type of the column it is
compared with (``engine.values``), so one representation serves all column types.

Nulls follow SQL's three-valued logic, as ``tiercube.Condition`` documents.

A filter may hold at most ``MAX_FILTER_NODES`` comparisons and combinations,
nested at most ``MAX_FILTER_DEPTH`` deep once runs of ``&`` (or of ``|``) are
flattened, and an ``isin`` at most ``MAX_ISIN_VALUES`` values. Larger filters
are refused with an error that names the limit: evaluating them would need
more stack than a server thread has.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

Scalar: TypeAlias = bool | int | float | str | None
Operator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]

MAX_FILTER_NODES = 1_000
MAX_FILTER_DEPTH = 64
MAX_ISIN_VALUES = 1_000_000


class Compare(msgspec.Struct, frozen=True, tag="compare"):
    """A column compared with a value."""

    column: str
    op: Operator
    value: Scalar
    # The table whose column this is; None where the name alone says (a level, a table's own query).
    table: str | None = None


class IsIn(msgspec.Struct, frozen=True, tag="isin"):
    """A column's value is one of ``values``."""

    column: str
    values: list[Scalar]
    table: str | None = None


class IsNull(msgspec.Struct, frozen=True, tag="isnull"):
    """A column's value is null."""

    column: str
    table: str | None = None


class And(msgspec.Struct, frozen=True, tag="and"):
    """Rows for which every operand holds."""

    operands: list[Filter]


class Or(msgspec.Struct, frozen=True, tag="or"):
    """Rows for which at least one operand holds."""

    operands: list[Filter]


class Not(msgspec.Struct, frozen=True, tag="not"):
    """Rows for which the operand does not hold."""

    operand: Filter


Filter: TypeAlias = Compare | IsIn | IsNull | And | Or | Not
Leaf: TypeAlias = Compare | IsIn | IsNull


def leaves(condition: Filter) -> list[Leaf]:
    """Every comparison in ``condition``, in order."""
    match condition:
        case Compare() | IsIn() | IsNull():
            return [condition]
        case And(operands) | Or(operands):
            return [leaf for operand in operands for leaf in leaves(operand)]
        case Not(operand):
            return leaves(operand)


def filter_names(condition: Filter) -> list[str]:
    """Every column (or level) name ``condition`` refers to."""
    return [leaf.column for leaf in leaves(condition)]


def flattened(condition: Filter) -> Filter:
    """``condition`` with nested ``&`` (and ``|``) runs merged and double negations removed.

    ``a & b & c`` built by Python's operators arrives as ``And([And([a, b]), c])``;
    flattening keeps a long chain shallow.
    """
    match condition:
        case And(operands):
            return And([part for o in operands for part in _parts(flattened(o), And)])
        case Or(operands):
            return Or([part for o in operands for part in _parts(flattened(o), Or)])
        case Not(Not(inner)):
            return flattened(inner)
        case Not(operand):
            return Not(flattened(operand))
        case _:
            return condition


def _parts(condition: Filter, kind: type[And] | type[Or]) -> list[Filter]:
    return list(condition.operands) if isinstance(condition, kind) else [condition]


def check_size(condition: Filter) -> Filter:
    """``condition`` flattened, or ``ValueError`` naming the limit it exceeds."""
    flat = flattened(condition)
    nodes = 0
    pending: list[tuple[Filter, int]] = [(flat, 1)]
    while pending:
        node, depth = pending.pop()
        nodes += 1
        if nodes > MAX_FILTER_NODES:
            raise ValueError(
                f"the filter has more than {MAX_FILTER_NODES} comparisons and combinations (the server's limit); "
                "compare one column with many values with isin(...) instead of many =="
            )
        if depth > MAX_FILTER_DEPTH:
            raise ValueError(f"the filter is nested more than {MAX_FILTER_DEPTH} deep (the server's limit)")
        match node:
            case And(operands) | Or(operands):
                pending.extend((operand, depth + 1) for operand in operands)
            case Not(operand):
                pending.append((operand, depth + 1))
            case IsIn(_, values) if len(values) > MAX_ISIN_VALUES:
                raise ValueError(f"isin(...) is given {len(values)} values, over the server's limit of {MAX_ISIN_VALUES}")
            case _:
                pass
    return flat
