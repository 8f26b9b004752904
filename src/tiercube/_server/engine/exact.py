"""Measures over decimals and durations: what Arrow's kernels will not do as they are.

Arrow sums a ``decimal128(p, s)`` column into ``decimal128(38, s)``: exact, as a
sum of money must be. But it refuses to add two such sums (the result would
need 39 digits), and it can neither sum nor take the minimum of durations.
So grouping sums durations as integers of their unit (``grouping``), a cube
query makes the result a duration again here, and the operands of ``+`` and
``-`` on decimals are given the digits their values need. Products and
quotients of decimals are float64, as means are.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array
from tiercube._server.engine.types import storage_type
from tiercube._wire.column_types import ColumnType, type_name

# Digits that leave room for one more in a sum or difference, in 16 bytes and in 32.
_ROOMY = (37, 75)


def as_column_type(values: Array, column_type: ColumnType) -> Array:
    """An aggregate of a column of ``column_type`` (a duration's computed on integers) in the column's terms."""
    if type_name(column_type) != "duration":
        return values
    whole: Array = pc.round(values.cast(pa.float64())).cast(pa.int64()) if pa.types.is_floating(values.type) else values
    return whole.cast(storage_type(column_type))


def as_number(values: Array) -> Array:
    """``values`` as float64, for a quotient: durations count their unit."""
    if pa.types.is_duration(values.type):
        values = values.cast(pa.int64())
    return values.cast(pa.float64())


def operands(op: str, left: Array, right: Array) -> tuple[Array, Array]:
    """``left`` and ``right`` as ``op`` can take them: decimals added or subtracted with the digits
    they need (exact), multiplied as float64; anything else as it is."""
    if not (pa.types.is_decimal(left.type) or pa.types.is_decimal(right.type)):
        return left, right
    if op in ("+", "-") and not (pa.types.is_floating(left.type) or pa.types.is_floating(right.type)):
        scale = max(getattr(side.type, "scale", 0) for side in (left, right))
        for digits in _ROOMY:
            kind = pa.decimal128(digits, scale) if digits <= 38 else pa.decimal256(digits, scale)
            try:
                return left.cast(kind), right.cast(kind)
            except pa.ArrowInvalid:  # a value with more digits than that: try the wider type
                continue
    return as_number(left), as_number(right)
