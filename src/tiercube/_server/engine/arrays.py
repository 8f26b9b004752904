"""Small array helpers the engine's parts share: decoding, positions, last row per key, evaluating."""

from __future__ import annotations

from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

# The stubs type arrays by element type; the engine handles every column type alike.
Array: TypeAlias = "pa.Array[Any]"
Chunked: TypeAlias = "pa.ChunkedArray[Any]"

POSITION = "\x1fposition"


def plain(array: Chunked) -> Chunked:
    """``array`` with dictionary values decoded (joins and min/max need plain values)."""
    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    return array


def positions(count: int) -> Array:
    """0, 1, ..., count - 1 as int64, without a Python loop."""
    if count == 0:
        return pa.array([], pa.int64())
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count)), pa.scalar(1, pa.int64()))  # ty: ignore[invalid-explicit-return]


def last_positions(table: pa.Table, keys: list[str]) -> Array | None:
    """The position of the last row of each key, or None when no key repeats.

    A join finds at most one target row per key: the last one.
    """
    if table.num_rows == 0 or not keys:
        return None
    latest: Chunked = (
        table.select(keys)
        .append_column(POSITION, positions(table.num_rows))
        .group_by(keys, use_threads=False)
        .aggregate([(POSITION, "max")])[f"{POSITION}_max"]
    )
    return None if len(latest) == table.num_rows else latest.combine_chunks()


def last_per_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row of each key."""
    latest = last_positions(table, keys)
    return table if latest is None else table.take(latest)


def evaluate(table: pa.Table, expression: pc.Expression) -> Array:
    """``expression`` computed for every row of ``table``."""
    import pyarrow.acero as acero  # see main.warm_up: imported off the start-up path

    plan = acero.Declaration.from_sequence(
        [
            acero.Declaration("table_source", acero.TableSourceNodeOptions(table)),
            acero.Declaration("project", acero.ProjectNodeOptions([expression], ["value"])),
        ]
    )
    return plan.to_table(use_threads=False)["value"].combine_chunks()
