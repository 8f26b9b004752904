"""Rows the server holds, changed at the cost of the change: checked against a model of upserts.

The model is a Python dict in arrival order: an upsert removes the key's
row and adds the new one at the end, a drop removes the rows it matches. The
key index is also run with a hash so weak that most keys collide, which
only costs comparisons, never a wrong row.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pa_fs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiercube._server.engine import key_index
from tiercube._server.engine.arrays import location
from tiercube._server.engine.filters import bind
from tiercube._server.engine.hashing import Hashes, key_hashes
from tiercube._server.engine.held import HeldRows
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.rows import Rows
from tiercube._server.engine.sources import SharedFile
from tiercube._server.engine.tables import TableStore
from tiercube._wire.filters import Compare, IsNull
from tiercube._wire.messages import CloudLocation, Column, CreateTable, CsvSource, DataType, Read

COLUMNS: dict[str, DataType] = {"region": "string", "n": "int64", "qty": "int64"}
KEYS = ("region", "n")
LAYOUT = Layout("t", COLUMNS, KEYS)

Row = tuple[str | None, int | None, int]
regions = st.sampled_from(["EU", "US", "ASIA", None])
rows = st.tuples(regions, st.one_of(st.none(), st.integers(0, 6)), st.integers(-100, 100))
Step = tuple[str, Any]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.lists(rows, max_size=12)),
        st.tuples(st.just("drop"), st.sampled_from(["EU", "US", "ASIA", None])),
        st.tuples(st.just("drop all"), st.none()),
        st.tuples(st.just("compact"), st.none()),
    ),
    max_size=14,
)


def _model(steps_taken: Sequence[Step]) -> list[Row]:
    table: dict[tuple[str | None, int | None], Row] = {}
    for kind, argument in steps_taken:
        if kind == "upsert":
            for row in argument:
                table.pop(row[:2], None)
                table[row[:2]] = row
        elif kind == "drop":
            table = {k: r for k, r in table.items() if not (r[0] == argument if argument is not None else r[0] is None)}
        elif kind == "drop all":
            table = {}
    return list(table.values())


def _run(steps_taken: Sequence[Step]) -> Rows:
    rows: Rows = HeldRows.empty(LAYOUT)
    for kind, argument in steps_taken:
        if kind == "upsert":
            incoming = LAYOUT.conform(pa.table({name: [row[i] for row in argument] for i, name in enumerate(COLUMNS)}), "test")
            change = rows.added(incoming, KEYS)
        elif kind == "drop":
            condition = Compare("region", "==", argument) if argument is not None else IsNull("region")
            change = rows.dropped(bind(condition, COLUMNS, table="t"))
        elif kind == "drop all":
            change = rows.dropped(None)
        else:
            rows = rows.compacted() or rows
            continue
        if change.commit is not None:
            change.commit()
        rows = change.rows
    return rows


def _content(rows: Rows) -> list[Row]:
    data = rows.gathered()
    return [(r["region"], r["n"], r["qty"]) for r in data.cast(pa.schema([(n, pa.string() if t == "string" else pa.int64()) for n, t in COLUMNS.items()])).to_pylist()]


@settings(deadline=None)
@given(steps)
def test_upserts_and_drops_match_the_model(steps_taken: list[Step]) -> None:
    rows = _run(steps_taken)
    expected = _model(steps_taken)
    assert _content(rows) == expected
    assert rows.num_rows == len(expected)


def _colliding(table: pa.Table, keys: Sequence[str]) -> Hashes:
    return key_hashes(table, keys) % np.uint64(3)


@settings(deadline=None)
@given(steps)
def test_colliding_hashes_cost_comparisons_never_a_wrong_row(steps_taken: list[Step]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(key_index, "key_hashes", _colliding)
        rows = _run(steps_taken)
    assert _content(rows) == _model(steps_taken)


def test_a_keyed_append_touches_the_rows_it_replaces_not_the_table() -> None:
    """Replacing one row of a large table marks one row and adds one; the rest is shared, not copied,
    and the old version (which a running query may read) is unchanged."""
    count = 300_000
    layout = Layout("big", {"id": "int64", "qty": "int64"}, ("id",))
    ids = pa.array(np.arange(count, dtype=np.int64))
    first = HeldRows.empty(layout).added(pa.table({"id": ids, "qty": pa.array(np.zeros(count, np.int64))}), ["id"])
    assert first.commit is None  # into an empty table: the index is built when a change needs it
    change = first.rows.added(pa.table({"id": [5, count], "qty": [7, 8]}), ["id"])
    assert change.removed is not None and change.removed.to_pylist() == [{"id": 5, "qty": 0}]
    assert change.added is not None and change.added.num_rows == 2
    assert change.rows.num_rows == count + 1
    assert isinstance(change.rows, HeldRows) and isinstance(first.rows, HeldRows)
    before = first.rows._data.column("id").chunks[0]  # pyright: ignore[reportPrivateUsage]
    after = change.rows._data.column("id").chunks[0]  # pyright: ignore[reportPrivateUsage]
    assert location(before) == location(after)
    assert first.rows.num_rows == count and first.rows.gathered()["qty"].to_pylist()[5] == 0


def test_compaction_gives_back_space_and_keeps_order() -> None:
    tables = TableStore()
    tables.create(CreateTable("t", [Column(n, t) for n, t in COLUMNS.items()], keys=list(KEYS)))
    for round_ in range(4):
        tables.append("t", [["EU", n, round_] for n in range(50)])
    table = tables.get("t")
    # Compaction runs in the background after changes that replaced rows: wait for it.
    deadline = time.monotonic() + 10
    while table.rows.compacted() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert table.rows.compacted() is None
    assert isinstance(table.rows, HeldRows) and table.rows._data.num_rows < 200  # pyright: ignore[reportPrivateUsage]
    assert [(r["n"], r["qty"]) for r in table.rows.gathered().to_pylist()] == [(n, 3) for n in range(50)]


def test_a_table_read_from_a_file_upserts_by_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,qty\n1,10\n2,20\n1,11\n")
    tables = TableStore()
    tables.read(Read("t", CsvSource(str(path)), keys=["id"]), _Anywhere())
    tables.append("t", [[2, 21], [3, 30]])
    assert tables.get("t").rows.gathered().to_pylist() == [{"id": 1, "qty": 11}, {"id": 2, "qty": 21}, {"id": 3, "qty": 30}]


class _Anywhere:
    """Loads may read any local file (the server's own checks are tested over HTTP)."""

    @contextmanager
    def local(self, path: str) -> Generator[str]:
        yield path

    def cloud(self, location: CloudLocation) -> tuple[pa_fs.FileSystem, str]:
        raise AssertionError("no cloud here")

    def shared(self, path: str) -> SharedFile:
        raise AssertionError("no cluster here")
