"""How tiercube's column types map onto Arrow storage types."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pyarrow as pa

from tiercube._wire.messages import DataType
from tiercube.errors import LoadError

STRING_STORAGE = pa.dictionary(pa.int32(), pa.string())

_STORAGE: dict[DataType, pa.DataType] = {
    "bool": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    # Dictionary-encoded strings make group_by about 2.4x faster and smaller.
    "string": STRING_STORAGE,
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def storage_type(data_type: DataType) -> pa.DataType:
    return _STORAGE[data_type]


def value_type(data_type: DataType) -> pa.DataType:
    """The type of a single value of the column (strings are not dictionaries)."""
    return pa.string() if data_type == "string" else _STORAGE[data_type]


def infer(arrow_type: pa.DataType, column: str) -> DataType:
    """The tiercube type for an Arrow type found in a file or frame."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        narrow = arrow_type.bit_width < 32 or (arrow_type.bit_width == 32 and pa.types.is_signed_integer(arrow_type))
        return "int32" if narrow else "int64"
    if pa.types.is_floating(arrow_type):
        return "float64" if arrow_type.bit_width == 64 else "float32"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return "string"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    raise LoadError(
        f"column {column!r} has type {arrow_type}, which a table cannot hold; "
        "choose one with data_types={...} (bool, int32, int64, float32, float64, string, date, timestamp)",
        column=column,
    )


def cast_column(array: pa.ChunkedArray[Any], data_type: DataType, *, column: str, origin: str) -> pa.ChunkedArray[Any]:
    """Convert ``array`` to the storage type of ``data_type`` or raise a ``LoadError`` naming it."""
    target = _STORAGE[data_type]
    if array.type == target:
        return array
    try:
        if data_type == "string":
            if pa.types.is_dictionary(array.type):
                return array.cast(target)
            return _dictionary_encode(array.cast(pa.string()))
        if pa.types.is_timestamp(array.type) and array.type.tz is not None:
            array = array.cast(pa.timestamp(array.type.unit))
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise LoadError(f"{origin}: column {column!r} cannot be converted to {data_type}: {error}", path=origin, column=column) from None


_ENCODE_SLICE = 1 << 20


@functools.cache
def _workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="tiercube-encode")


def _dictionary_encode(array: pa.ChunkedArray[Any]) -> pa.ChunkedArray[Any]:
    """Encode slices of the column on every core: one kernel call is single-threaded.

    Each slice gets its own dictionary, as CSV blocks and Parquet row groups
    do; queries unify them once. 10,000,000 strings: 0.4 s, not 0.8 s, on 2 cores.
    """
    pieces: list[pa.Array[Any]] = [
        chunk.slice(start, _ENCODE_SLICE) for chunk in array.chunks for start in range(0, len(chunk), _ENCODE_SLICE)
    ]
    # A small append is one slice: handing it to a worker would cost more than encoding it.
    encoded = [_encode(piece) for piece in pieces] if len(pieces) == 1 else list(_workers().map(_encode, pieces))
    result: pa.ChunkedArray[Any] = pa.chunked_array(encoded, cast(Any, STRING_STORAGE))
    return result


def _encode(piece: pa.Array[Any]) -> pa.Array[Any]:
    return piece.dictionary_encode()


def null_column(size: int, data_type: DataType) -> pa.ChunkedArray[Any]:
    """A column of ``size`` nulls in the storage type of ``data_type``."""
    # The stubs type nulls() per concrete Arrow type; ours is only known at run time.
    return pa.chunked_array([pa.nulls(size, cast(Any, _STORAGE[data_type]))])


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns as plain values: users see strings, not the encoding."""
    fields = [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))
