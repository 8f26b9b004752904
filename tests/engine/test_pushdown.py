"""The per-row filter on levels, computed per dictionary value and spread by the indices."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array, Chunked
from tiercube._server.engine.cubes.pushdown import _spread  # pyright: ignore[reportPrivateUsage]


def chunk(indices: list[int | None], dictionary: list[str]) -> Array:
    codes: Array = pa.array(indices, pa.int32())
    values: Array = pa.array(dictionary)
    return pa.DictionaryArray.from_arrays(codes, values)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]


def test_each_chunk_is_judged_by_its_own_dictionary() -> None:
    """Chunks with different dictionaries (as appends leave them) each get their own verdicts."""
    column: Chunked = pa.chunked_array([
        chunk([0, 1, 0, None], ["EU", "US"]), chunk([0, 1, 1], ["US", "EU"]), chunk([2, 0], ["AS", "US", "EU"]),
    ])

    def is_europe(values: Array | Chunked) -> Array:
        verdicts: Array = pc.equal(values, pa.scalar("EU"))  # pyright: ignore[reportUnknownMemberType]
        return verdicts

    verdicts = _spread(column, is_europe)
    assert verdicts.to_pylist() == [True, False, True, None, False, True, True, True, False]
    assert verdicts.to_pylist() == is_europe(column.cast(pa.string())).to_pylist()
