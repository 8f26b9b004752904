"""The per-row filter on levels, computed per dictionary value and spread by the indices."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.engine.cube_fixtures import query, snowflake
from tiercube._server.engine import filters
from tiercube._server.engine.arrays import Array, Chunked
from tiercube._server.engine.cancellation import Deadline
from tiercube._server.engine.cubes.pushdown import _spread  # pyright: ignore[reportPrivateUsage]
from tiercube._wire.filters import And, Compare, IsNull, Leaf, Not
from tiercube._wire.messages import DataType


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


def test_a_query_compiles_its_filter_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One bound filter serves every step (narrowing the fact rows, judging dimension rows, selecting
    cells): each comparison is compiled exactly once per query, with totals asked for too."""
    tables, cubes = snowflake()
    compiled: list[str] = []
    compile_leaf = filters._leaf  # pyright: ignore[reportPrivateUsage]

    def counting(leaf: Leaf, columns: Mapping[str, DataType], table: str | None, deadline: Deadline | None) -> pc.Expression:
        compiled.append(leaf.column)
        return compile_leaf(leaf, columns, table, deadline)

    monkeypatch.setattr(filters, "_leaf", counting)
    condition = And([Compare("region", "==", "EU"), Compare("category", "==", "fruit"), Not(IsNull("country"))])
    result = query(tables, cubes, measures=["qty.SUM"], levels=["region", "category"], filter=condition, include_totals=True)
    assert sorted(compiled) == ["category", "country", "region"]
    assert result.num_rows > 0
