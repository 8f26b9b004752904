"""A 64-bit hash of each row's key, the same in every process and for every encoding of a value.

Python's ``hash`` of a str differs between processes and pyarrow has no
hash kernel, so the hash is computed here with numpy, from the values'
bytes: an integer, date or float key by its 8 bytes, a string by its UTF-8
bytes. A dictionary-encoded column is hashed through its dictionary, so
each distinct value is hashed once and two dictionaries holding a value give
it the same hash. A table's key index (``key_index``) and a cluster's
placement of rows (``cluster.hashing``) both stand on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Hashes = npt.NDArray[np.uint64]

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads consecutive integers
_NULL = np.uint64(0x5BD1E995)


def key_hashes(table: pa.Table, keys: Sequence[str]) -> Hashes:
    """For each row of ``table``, a hash of its values in the ``keys`` columns (nulls hash alike)."""
    combined = np.zeros(table.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in keys:
            combined = mix(combined * np.uint64(31) + column_hashes(table[name]))
    return combined


def column_hashes(column: pa.ChunkedArray[Any]) -> Hashes:
    """A 64-bit hash of each value of ``column``; every null hashes alike."""
    if column.num_chunks == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate([_array_hashes(chunk) for chunk in column.chunks])


def _array_hashes(array: pa.Array[Any]) -> Hashes:
    if isinstance(array, pa.DictionaryArray):
        of_values = _array_hashes(array.dictionary)
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        hashes = of_values[indices] if len(of_values) else np.zeros(len(array), dtype=np.uint64)
    elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_binary(array.type):
        hashes = _bytes_hashes(array)
    elif pa.types.is_decimal(array.type):  # by its 16 or 32 bytes: equal values of one type have equal bytes
        hashes = _bytes_hashes(array.view(pa.binary(array.type.byte_width)))
    else:
        hashes = mix(_as_uint64(array))
    if array.null_count:
        hashes = np.where(array.is_null().to_numpy(zero_copy_only=False), _NULL, hashes)
    return hashes


def _as_uint64(array: pa.Array[Any]) -> Hashes:
    """The value's 8 bytes: integers and dates by value, floats by their bits (0.0 and -0.0 alike)."""
    kind = array.type
    if pa.types.is_floating(kind):
        floats = array.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False) + 0.0
        return floats.view(np.uint64)
    if pa.types.is_boolean(kind):
        return array.cast(pa.uint64()).fill_null(0).to_numpy(zero_copy_only=False)
    if pa.types.is_temporal(kind):
        array = array.view(pa.int64()) if kind.bit_width == 64 else array.view(pa.int32())
    return array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).view(np.uint64)


def _bytes_hashes(array: pa.Array[Any]) -> Hashes:
    """A polynomial hash of each value's bytes, over the whole buffer at once (no Python loop per value)."""
    array = array.cast(pa.large_binary())
    _, offsets_buffer, data_buffer = array.buffers()
    assert offsets_buffer is not None
    offsets = np.frombuffer(memoryview(offsets_buffer), dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(memoryview(data_buffer), dtype=np.uint8)[start:end].astype(np.uint64)
        if data_buffer is not None
        else np.zeros(0, np.uint64)
    )
    lengths = np.diff(offsets)
    if len(data) == 0:
        return mix(lengths.astype(np.uint64))
    # Each byte weighted by a power of the multiplier that depends on its place in its value;
    # sums per value from one running sum (uint64 arithmetic wraps, which a hash wants).
    place = np.arange(len(data), dtype=np.int64) - np.repeat(offsets[:-1] - start, lengths)
    weighted = (data + np.uint64(1)) * _powers(int(lengths.max()))[place]
    running = np.concatenate([np.zeros(1, dtype=np.uint64), np.cumsum(weighted, dtype=np.uint64)])
    sums = running[offsets[1:] - start] - running[offsets[:-1] - start]
    return mix(sums ^ lengths.astype(np.uint64))


def _powers(count: int) -> Hashes:
    """1, m, m**2, ... (mod 2**64) for the multiplier m."""
    multipliers = np.full(max(count - 1, 0), _MULTIPLIER, dtype=np.uint64)
    return np.concatenate([np.ones(1, dtype=np.uint64), np.cumprod(multipliers, dtype=np.uint64)])


def mix(values: Hashes) -> Hashes:
    """A finaliser (splitmix64's), so nearby inputs land in different partitions."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))
