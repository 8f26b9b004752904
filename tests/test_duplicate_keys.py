"""A key that comes more than once in one load: refused by default, or its last row kept and counted.

``on_duplicate_keys="error"`` (the client's default) refuses the read or load
with a ``LoadError`` naming the key and where it comes (a CSV file's lines, any
other source's rows), before anything is stored; ``"last"`` keeps the last row
of each key, as rows applied one by one would, and the load's answer counts the
rows it replaced. Marked ``distributable``: on a cluster, files are read by the
workers and the key is counted where it lives.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tiercube

pytestmark = pytest.mark.distributable

_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def test_a_csv_read_names_the_key_and_its_lines(owner: tiercube.Session, tmp_path: Path) -> None:
    # A quoted line break and a blank line: lines are the file's, not records counted.
    path = tmp_path / "orders.csv"
    path.write_text('id,note,qty\n1,"two\nlines",5\n2,b,6\n\n3,c,7\n2,again,8\n4,d,9\n3,once more,10\n')
    name = unique("orders")
    with pytest.raises(tiercube.LoadError) as raised:
        owner.read_csv(path, table_name=name, keys=["id"])
    error = raised.value
    assert str(error) == (
        f"{path}: the key id=2 comes 2 times (lines 4 and 7); 1 more row repeats another key. A load may hold each key once: "
        "fix the data, or pass on_duplicate_keys='last' to keep the last row of each key"
    )
    assert (error.path, error.line, error.column) == (str(path), 4, "id")
    assert name not in owner.tables
    table = owner.read_csv(path, table_name=name, keys=["id"], on_duplicate_keys="last")
    assert sorted(map(tuple, (row.values() for row in table.query("id", "note").to_pylist()))) == [
        (1, "two\nlines"),
        (2, "again"),
        (3, "once more"),
        (4, "d"),
    ]


def test_a_refused_load_leaves_the_table_as_it_was(owner: tiercube.Session, tmp_path: Path) -> None:
    table = owner.create_table(unique("kept"), data_types={"region": "string", "day": "date", "qty": "int64"}, keys=["region", "day"])
    table.append(("EU", "2024-01-01", 1))
    before = table.query()
    parquet = tmp_path / "repeated.parquet"
    jan1, jan2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    repeated = pa.table({"region": ["US", "EU", "US", None, None], "day": pa.array([jan2, jan1, jan2, None, None], pa.date32()), "qty": [1, 2, 3, 4, 5]})
    pq.write_table(repeated, parquet)  # pyright: ignore[reportUnknownMemberType]
    with pytest.raises(tiercube.LoadError, match=r"repeated.parquet: the key region='US', day=2024-01-02 comes 2 times \(rows 1 and 3, counting from 1\); 1 more row"):
        table.load(tiercube.ParquetLoad(parquet))
    # A null key part is a key value like any other: two null keys repeat too.
    with pytest.raises(tiercube.LoadError, match=r"the key region=None, day=None comes 2 times \(rows 2 and 3, counting from 1\)"):
        table.load(pa.table({"region": ["FR", None, None], "day": pa.array([dt.date(2024, 1, 3), None, None], pa.date32()), "qty": [1, 2, 3]}))
    assert table.query().equals(before)


def test_the_last_row_wins_when_asked_and_the_answer_counts_the_rows_replaced(
    owner: tiercube.Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table = owner.create_table(unique("changes"), data_types={"id": "int64", "v": "string"}, keys=["id"])
    table.append((1, "old"))
    csv = tmp_path / "changes.csv"
    csv.write_text("id,v\n1,a\n2,b\n1,c\n2,d\n1,e\n3,f\n")
    with caplog.at_level(logging.INFO, logger="tiercube"):
        assert table.load(tiercube.CsvLoad(csv), on_duplicate_keys="last") == 6
    # Three rows of the file were replaced by later ones: the answer says so, and the client logs it.
    assert f"3 row(s) loaded into {table.name!r} were replaced by a later row with the same key" in caplog.text
    assert sorted(map(tuple, (row.values() for row in table.query().to_pylist()))) == [(1, "e"), (2, "d"), (3, "f")]


def test_tables_without_keys_take_every_row(owner: tiercube.Session) -> None:
    table = owner.read_arrow(pa.table({"id": [1, 1, 1]}), table_name=unique("unkeyed"))
    assert table.row_count == 3
