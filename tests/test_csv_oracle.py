"""CSV loads against an independent reader: Python's ``csv`` module, on generated adversarial files.

Values hold separators, quotes, line breaks (LF and CRLF), leading and
trailing blanks and unicode; files have a BOM or not, CRLF or LF endings,
blank lines between records, other separators; every column type appears.
The large files cross pyarrow's 1 MB block boundaries several times, which is
where a quoted line break used to split a record in two (rows lost, columns
silently read as text). What the server holds must equal what ``csv.reader``
reads, converted to each column's type, with the loader's documented rules
for null: an empty field, and pyarrow's NA markers (``NA``, ``null``, ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiercube
from tests.conftest import SECURED, examples

# pyarrow's default null markers, which the loader keeps (documented with read_csv's options).
NULL_MARKERS = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"}

PIECES = ["a", "b", "Zed", " ", ",", ";", "\t", '"', '""', "\n", "\r\n", "é", "日本", "🙂", "x y", "NA", "'", "\\"]
COLUMNS: dict[str, tiercube.DataType] = {
    "id": "int64", "name": "string", "qty": "int64", "price": "float64", "flag": "bool", "day": "date", "at": "timestamp",
}


@dataclass(frozen=True)
class Dialect:
    separator: str = ","
    line_end: str = "\n"
    bom: bool = False
    blank_lines: bool = False
    quote_all: bool = False


def generated_rows(count: int, seed: int) -> list[list[Any]]:
    generator = random.Random(seed)
    rows: list[list[Any]] = []
    for i in range(count):
        name = "".join(generator.choice(PIECES) for _ in range(generator.randint(1, 6)))
        if generator.random() < 0.02:
            name = generator.choice(["", "NA", "null"])
        rows.append([
            i,
            "n" + name,  # a letter first: the column is text for the type inference
            None if generator.random() < 0.05 else generator.randint(-(2**40), 2**40),
            None if generator.random() < 0.05 else generator.uniform(-1e6, 1e6),
            None if generator.random() < 0.05 else generator.random() < 0.5,
            dt.date(2000, 1, 1) + dt.timedelta(days=generator.randint(0, 20_000)),
            dt.datetime(2020, 1, 1) + dt.timedelta(seconds=generator.randint(0, 10**8)),
        ])
    return rows


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def write(path: Path, rows: list[list[Any]], dialect: Dialect) -> None:
    buffer = io.StringIO(newline="")
    if dialect.quote_all:
        writer = csv.writer(buffer, delimiter=dialect.separator, lineterminator=dialect.line_end, quoting=csv.QUOTE_ALL)
    else:
        writer = csv.writer(buffer, delimiter=dialect.separator, lineterminator=dialect.line_end)
    writer.writerow(list(COLUMNS))
    for number, row in enumerate(rows):
        writer.writerow([text(v) for v in row])  # QUOTE_ALL quotes an empty field too: still a null
        if dialect.blank_lines and number % 97 == 0:
            buffer.write(dialect.line_end)
    path.write_bytes((b"\xef\xbb\xbf" if dialect.bom else b"") + buffer.getvalue().encode())


def oracle(path: Path, dialect: Dialect) -> list[dict[str, Any]]:
    """The file as csv.reader reads it, converted by the declared types and the null rules."""
    content = path.read_bytes().decode("utf-8-sig")
    records = [r for r in csv.reader(io.StringIO(content, newline=""), delimiter=dialect.separator) if r]
    header, body = records[0], records[1:]
    converters: dict[tiercube.DataType, Callable[[str], Any]] = {
        "int64": int,
        "float64": float,
        "bool": lambda v: v == "true",
        "date": dt.date.fromisoformat,
        "timestamp": lambda v: dt.datetime.strptime(v, "%Y-%m-%d %H:%M:%S"),
        "string": str,
    }
    return [
        {name: None if value in NULL_MARKERS else converters[COLUMNS[name]](value) for name, value in zip(header, record, strict=True)}
        for record in body
    ]


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: int(row["id"]))


@pytest.fixture(scope="module")
def owner() -> Any:
    with tiercube.Session.start(SECURED) as session:
        yield session


DIALECTS = {
    "lf": Dialect(),
    "crlf_bom_quoted": Dialect(line_end="\r\n", bom=True, quote_all=True),
    "blank_lines_tab": Dialect(separator="\t", blank_lines=True),
    "semicolon_crlf": Dialect(separator=";", line_end="\r\n", blank_lines=True),
}


@pytest.mark.parametrize("name", list(DIALECTS))
def test_large_adversarial_files_load_as_csv_reader_reads_them(owner: tiercube.Session, tmp_path: Path, name: str) -> None:
    dialect = DIALECTS[name]
    path = tmp_path / f"{name}.csv"
    write(path, generated_rows(45_000, seed=len(name)), dialect)
    assert path.stat().st_size > 3_500_000  # crosses pyarrow's 1 MB blocks several times
    want = oracle(path, dialect)
    table = owner.read_csv(path, table_name=f"oracle_{name}", separator=dialect.separator, keys=["id"])
    assert table.data_types == COLUMNS
    got = by_id(table.query().to_pylist())
    assert len(got) == len(want)
    assert got == want
    # Loading the same file into the existing, typed table upserts every row onto itself.
    assert table.load(tiercube.CsvLoad(path, separator=dialect.separator)) == len(want)
    assert by_id(table.query().to_pylist()) == want
    del owner.tables[f"oracle_{name}"]


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    dialect=st.builds(
        Dialect,
        separator=st.sampled_from([",", ";", "\t", "|"]),
        line_end=st.sampled_from(["\n", "\r\n"]),
        bom=st.booleans(),
        blank_lines=st.booleans(),
        quote_all=st.booleans(),
    ),
)
def test_small_adversarial_files_load_as_csv_reader_reads_them(
    owner: tiercube.Session, tmp_path: Path, rows: int, seed: int, dialect: Dialect
) -> None:
    path = tmp_path / f"small-{seed}.csv"
    write(path, generated_rows(rows, seed), dialect)
    types = dict(COLUMNS)  # a few rows may not show each type: declare them
    table = owner.read_csv(path, table_name="small", separator=dialect.separator, data_types=types)
    try:
        assert by_id(table.query().to_pylist()) == oracle(path, dialect)
    finally:
        del owner.tables["small"]


def test_a_conversion_error_names_the_column_and_the_line(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('id,note,qty\n1,plain,3\n2,"two\nlines",4\n3,x,abc\n')
    table = owner.create_table("typed", data_types={"id": "int64", "note": "string", "qty": "int64"})
    with pytest.raises(tiercube.LoadError) as raised:
        table.load(tiercube.CsvLoad(path))
    message = str(raised.value)
    assert "column 'qty' (the 3rd), line 5: 'abc' is not a valid int64" in message, message
    assert str(path) in message and table.row_count == 0
    short = tmp_path / "short.csv"
    short.write_text("id,note,qty\n1,a,3\n2,b\n")
    with pytest.raises(tiercube.LoadError, match="line 3 has 2 values, but the file has 3 columns"):
        table.load(tiercube.CsvLoad(short))
    del owner.tables["typed"]
