"""A CSV column's type holds for the whole file: never a silent switch to text.

pyarrow reads files in blocks of about 1 MB. A column of numbers with one bad
value far into the file used to come back as text (a level, its sums gone);
now the load is refused, naming the column, the line and the value, and the
``data_types=`` that reads the column as text. A column that is text from its
first block stays text, and numbers that only widen (an integer column with a
2.5 later) stay numbers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import tiercube

_counter = itertools.count()
ROWS = 300_000  # 3 to 4 MB: several blocks


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def big_csv(path: Path, header: str, row: Callable[[int], str]) -> Path:
    """A file of ``ROWS`` records after ``header``; record ``i`` is on line ``i + 2``."""
    with path.open("w") as file:
        file.write(header + "\n")
        file.writelines(row(i) + "\n" for i in range(ROWS))
    assert path.stat().st_size > 3_000_000
    return path


def test_a_bad_value_past_the_first_block_is_refused_with_its_line_and_the_fix(owner: tiercube.Session, tmp_path: Path) -> None:
    path = big_csv(tmp_path / "sales.csv", "id,qty,region", lambda i: f"{i},{'abc' if i == 200_000 else i % 50},EU")
    assert path.read_bytes().index(b"abc") > 2_000_000  # line 200,002: past the first blocks
    name = unique("switched")
    with pytest.raises(tiercube.LoadError) as raised:
        owner.read_csv(path, table_name=name, keys=["id"])
    error = raised.value
    assert (error.path, error.line, error.column) == (str(path), 200_002, "qty")
    assert str(error) == (
        f"{path}: column 'qty' (the 2nd), line 200002: 'abc' is not a number, though the column's values before it are, "
        "so the column would be read as text. Fix the value, or read the column as text with data_types={'qty': 'string'}"
    )
    assert name not in owner.tables
    # The fix the message names works: the column is text, as asked.
    table = owner.read_csv(path, table_name=name, keys=["id"], data_types={"qty": "string"})
    assert table.data_types == {"id": "int64", "qty": "string", "region": "string"}
    assert table.query("qty", filter=table["id"] == 200_000)["qty"].to_pylist() == ["abc"]


def test_a_date_column_broken_late_names_the_date_it_expected(owner: tiercube.Session, tmp_path: Path) -> None:
    path = big_csv(tmp_path / "days.csv", "id,day", lambda i: f"{i},{'soon' if i == ROWS - 1 else '2024-01-02'}")
    with pytest.raises(tiercube.LoadError, match=rf"column 'day' \(the 2nd\), line {ROWS + 1}: 'soon' is not a valid date, though") as raised:
        owner.read_csv(path, table_name=unique("late_date"))
    assert raised.value.line == ROWS + 1


def test_types_still_widen_over_the_whole_file(owner: tiercube.Session, tmp_path: Path) -> None:
    # Integers then one 2.5: a float column. Empty at first, dates later: a date column.
    path = big_csv(
        tmp_path / "widening.csv", "id,qty,day", lambda i: f"{i},{'2.5' if i == 250_000 else i},{'2024-05-06' if i >= 200_000 else ''}"
    )
    table = owner.read_csv(path, table_name=unique("widening"))
    assert table.data_types == {"id": "int64", "qty": "float64", "day": "date"}
    assert table.query("qty", "day", filter=table["id"] == 250_000).to_pylist() == [{"qty": 2.5, "day": dt.date(2024, 5, 6)}]
    assert table.row_count == ROWS


def test_a_column_of_text_from_its_first_block_stays_text(owner: tiercube.Session, tmp_path: Path) -> None:
    path = big_csv(tmp_path / "codes.csv", "id,code", lambda i: f"{i},{'A7' if i == 3 else i}")
    table = owner.read_csv(path, table_name=unique("codes"))
    assert table.data_types == {"id": "int64", "code": "string"}
    assert table.query("code", filter=table["id"].isin(3, 200_000))["code"].to_pylist() == ["A7", "200000"]


def test_a_small_file_is_its_own_first_block(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("id,qty\n1,5\n2,abc\n3,7\n")
    assert owner.read_csv(path, table_name=unique("small")).data_types == {"id": "int64", "qty": "string"}


def test_times_without_an_offset_in_a_zoned_column_are_local_times_there(owner: tiercube.Session, tmp_path: Path) -> None:
    paris = ZoneInfo("Europe/Paris")
    zoned = {"at": tiercube.Timestamp("us", "Europe/Paris")}
    local = tmp_path / "local.csv"
    local.write_text("id,at\n1,2024-01-15 09:00:00\n2,2024-07-15 09:00:00\n3,\n")
    table = owner.read_csv(local, table_name=unique("local"), data_types=zoned)
    assert table.data_types == {"id": "int64", **zoned}
    assert table.query("at")["at"].to_pylist() == [dt.datetime(2024, 1, 15, 9, tzinfo=paris), dt.datetime(2024, 7, 15, 9, tzinfo=paris), None]
    # With offsets they are instants, shown in the column's zone.
    offsets = tmp_path / "offsets.csv"
    offsets.write_text("id,at\n1,2024-01-15T08:00:00Z\n2,2024-07-15T09:00:00+02:00\n")
    instants = owner.read_csv(offsets, table_name=unique("offsets"), data_types=zoned)
    assert instants.query("at")["at"].to_pylist() == [dt.datetime(2024, 1, 15, 9, tzinfo=paris), dt.datetime(2024, 7, 15, 9, tzinfo=paris)]
    # A local time that the clocks skip in that zone is an error, not a guess.
    skipped = tmp_path / "skipped.csv"
    skipped.write_text("id,at\n1,2024-03-31 02:30:00\n")
    with pytest.raises(tiercube.LoadError, match="column 'at' cannot be converted to timestamp"):
        owner.read_csv(skipped, table_name=unique("skipped"), data_types=zoned)


def test_inferred_timestamps_and_times_are_microseconds_at_least(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "seconds.csv"
    path.write_text("id,at,opens\n1,2024-01-15 09:00:00,09:30:00\n")
    table = owner.read_csv(path, table_name=unique("seconds"), keys=["id"])
    assert table.data_types == {"id": "int64", "at": "timestamp", "opens": "time"}
    # So a value with a fraction of a second still fits.
    table.append((2, dt.datetime(2024, 1, 15, 9, 0, 0, 250), dt.time(9, 30, 0, 5)))
    assert table.query("opens", filter=table["id"] == 2)["opens"].to_pylist() == [dt.time(9, 30, 0, 5)]
