"""Every loader on real files, frames and Arrow tables, including malformed ones.

Expected contents come from pyarrow reading the same files in this process. A
failing load must raise ``LoadError`` naming what was wrong, and leave the table
exactly as it was: row count and content are compared before and after.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import tiercube
from tiercube import CsvLoad, LocalTable, ParquetLoad

_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_parquet(table: pa.Table, path: Path, **options: Any) -> Path:
    # pyarrow-stubs leave some parameters of write_table Unknown.
    pq.write_table(table, path, **options)  # pyright: ignore[reportUnknownMemberType]
    return path


def read_parquet(path: Path) -> pa.Table:
    return pq.read_table(path)  # pyright: ignore[reportUnknownMemberType]


# A table of every type, as Arrow, Parquet and pandas hand it over.
EVERY_TYPE = pa.table(
    {
        "flag": pa.array([True, None, False], pa.bool_()),
        "small": pa.array([1, -2, None], pa.int32()),
        "big": pa.array([2**40, None, -1], pa.int64()),
        "ratio": pa.array([0.5, None, -1.25], pa.float32()),
        "amount": pa.array([1.1, 2.2, None], pa.float64()),
        "label": pa.array(["EU", None, "naïve"], pa.string()),
        "day": pa.array([dt.date(2024, 1, 1), None, dt.date(1999, 12, 31)], pa.date32()),
        "at": pa.array([dt.datetime(2024, 1, 1, 12, 30, 0, 250), None, dt.datetime(2000, 2, 29)], pa.timestamp("us")),
    }
)
EVERY_TYPE_NAMES = {
    "flag": "bool",
    "small": "int32",
    "big": "int64",
    "ratio": "float32",
    "amount": "float64",
    "label": "string",
    "day": "date",
    "at": "timestamp",
}


# --------------------------------------------------------------------------- read_csv


def test_read_csv_infers_types_and_reads_what_pyarrow_reads(owner: tiercube.Session, sales_csv: Path) -> None:
    table = owner.read_csv(sales_csv, table_name=unique("csv_sales"), keys=["id"])
    assert table.data_types == {
        "id": "int64",
        "region": "string",
        "product": "string",
        "qty": "int64",
        "price": "float64",
        "day": "date",
    }
    assert table.keys == ("id",)
    assert table.query().equals(pa_csv.read_csv(sales_csv))


def test_read_csv_names_the_table_after_the_file(owner: tiercube.Session, sales_csv: Path) -> None:
    table = owner.read_csv(sales_csv)
    assert table.name == "sales"
    assert "sales" in owner.tables
    with pytest.raises(tiercube.ConflictError, match="sales"):
        owner.read_csv(sales_csv)
    assert owner.tables["sales"].row_count == 4


def test_read_csv_accepts_a_relative_path(owner: tiercube.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "relative.csv", "a,b\n1,x\n")
    monkeypatch.chdir(tmp_path)
    table = owner.read_csv("relative.csv", table_name=unique("relative"))
    assert table.query().to_pylist() == [{"a": 1, "b": "x"}]


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_read_csv_separator(owner: tiercube.Session, tmp_path: Path, separator: str) -> None:
    path = write(tmp_path / "sep.csv", f"a{separator}b{separator}c\n1{separator}x,y{separator}2.5\n")
    table = owner.read_csv(path, table_name=unique("sep"), separator=separator)
    assert table.query().to_pylist() == [{"a": 1, "b": "x,y", "c": 2.5}]


def test_read_csv_without_a_header(owner: tiercube.Session, tmp_path: Path) -> None:
    path = write(tmp_path / "noheader.csv", "1,x\n2,y\n")
    named = owner.read_csv(path, table_name=unique("noheader"), header=False, column_names=["id", "name"])
    assert named.query().to_pylist() == [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]
    generated = owner.read_csv(path, table_name=unique("noheader_generated"), header=False)
    assert generated.columns == ["f0", "f1"]
    assert generated.row_count == 2


def test_read_csv_column_names_replace_a_header(owner: tiercube.Session, tmp_path: Path) -> None:
    path = write(tmp_path / "renamed.csv", "old_a,old_b\n1,x\n")
    table = owner.read_csv(path, table_name=unique("renamed"), column_names=["a", "b"])
    assert table.query().to_pylist() == [{"a": 1, "b": "x"}]


def test_read_csv_quote_char(owner: tiercube.Session, tmp_path: Path) -> None:
    single = write(tmp_path / "single.csv", "id,text\n1,'a,b'\n2,'it''s'\n")
    table = owner.read_csv(single, table_name=unique("single_quote"), quote_char="'")
    assert table.query().to_pylist() == [{"id": 1, "text": "a,b"}, {"id": 2, "text": "it's"}]
    double = write(tmp_path / "double.csv", 'id,text\n1,"a;b"\n')
    unquoted = owner.read_csv(double, table_name=unique("no_quote"), quote_char=None)
    assert unquoted.query().to_pylist() == [{"id": 1, "text": '"a;b"'}]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_read_csv_encoding(owner: tiercube.Session, tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "encoded.csv", "id,city\n1,Zürich\n2,Besançon\n", encoding)
    table = owner.read_csv(path, table_name=unique("encoded"), encoding=encoding)
    assert table.query().to_pylist() == [{"id": 1, "city": "Zürich"}, {"id": 2, "city": "Besançon"}]


def test_read_csv_null_values(owner: tiercube.Session, tmp_path: Path) -> None:
    path = write(tmp_path / "nulls.csv", "id,name,score\n1,NA,1.5\n-,x,-\n3,,n/a\n")
    table = owner.read_csv(path, table_name=unique("nulls"), null_values=["NA", "-", "n/a", ""])
    assert table.data_types == {"id": "int64", "name": "string", "score": "float64"}
    assert table.query().to_pylist() == [
        {"id": 1, "name": None, "score": 1.5},
        {"id": None, "name": "x", "score": None},
        {"id": 3, "name": None, "score": None},
    ]
    # By default "NA" is a null and "-" is text.
    default = owner.read_csv(path, table_name=unique("nulls_default"))
    assert default.data_types["id"] == "string"
    assert default.query("name").column("name").to_pylist() == [None, "x", None]


def test_read_csv_timestamp_formats(owner: tiercube.Session, tmp_path: Path) -> None:
    path = write(tmp_path / "stamps.csv", "id,at\n1,02/01/2024 10:30\n2,31/12/1999 23:59\n")
    table = owner.read_csv(path, table_name=unique("stamps"), timestamp_formats=["%d/%m/%Y %H:%M"])
    assert table.data_types["at"] == "timestamp"
    assert table.query("at").column("at").to_pylist() == [dt.datetime(2024, 1, 2, 10, 30), dt.datetime(1999, 12, 31, 23, 59)]


def test_read_csv_type_overrides(owner: tiercube.Session, tmp_path: Path) -> None:
    path = write(tmp_path / "override.csv", "code,qty,price,day\n007,1,2,2024-01-01\n010,2,3,2024-01-02\n")
    table = owner.read_csv(
        path,
        table_name=unique("override"),
        data_types={"code": "string", "qty": "int32", "price": "float32", "day": "string"},
    )
    assert table.data_types == {"code": "string", "qty": "int32", "price": "float32", "day": "string"}
    assert table.query().to_pylist() == [
        {"code": "007", "qty": 1, "price": 2.0, "day": "2024-01-01"},
        {"code": "010", "qty": 2, "price": 3.0, "day": "2024-01-02"},
    ]


def test_read_csv_keys_and_default_values(owner: tiercube.Session, tmp_path: Path) -> None:
    path = write(tmp_path / "keyed.csv", "id,v,w\n1,a,\n2,b,2.5\n1,c,\n")
    table = owner.read_csv(path, table_name=unique("keyed"), keys=["id"], default_values={"w": -1.0}, on_duplicate_keys="last")
    assert table.keys == ("id",)
    assert sorted(map(tuple, (r.values() for r in table.query().to_pylist()))) == [(1, "c", -1.0), (2, "b", 2.5)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keys": ["nope"]}, "key 'nope' is not a column"),
        ({"data_types": {"nope": "string"}}, "'nope' is not a column"),
    ],
    ids=["unknown_key", "unknown_override"],
)
def test_read_csv_refuses_options_naming_unknown_columns(
    owner: tiercube.Session, sales_csv: Path, options: dict[str, Any], message: str
) -> None:
    name = unique("bad_options")
    with pytest.raises(tiercube.InvalidRequestError, match=message):
        owner.read_csv(sales_csv, table_name=name, **options)
    assert name not in owner.tables


# --------------------------------------------------------------------------- Parquet, Arrow, pandas


def test_read_parquet_every_type_and_several_row_groups(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "every_type.parquet"
    # Small row groups: each holds its own dictionary of the string column.
    write_parquet(pa.concat_tables([EVERY_TYPE] * 4), path, row_group_size=2, use_dictionary=True)
    table = owner.read_parquet(path, table_name=unique("parquet"))
    assert table.data_types == EVERY_TYPE_NAMES
    assert table.query().equals(read_parquet(path))


def test_read_parquet_names_the_table_after_the_file(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "products.v2.parquet"
    write_parquet(pa.table({"sku": ["a"]}), path)
    table = owner.read_parquet(path, keys=["sku"])
    assert table.name == "products"
    assert table.keys == ("sku",)


def test_read_arrow_every_type(owner: tiercube.Session) -> None:
    table = owner.read_arrow(EVERY_TYPE, table_name=unique("arrow"))
    assert table.data_types == EVERY_TYPE_NAMES
    assert table.query().equals(EVERY_TYPE)


def test_read_arrow_narrow_and_unsigned_integers_and_large_strings(owner: tiercube.Session) -> None:
    source = pa.table(
        {
            "i8": pa.array([1, -1], pa.int8()),
            "u16": pa.array([1, 65535], pa.uint16()),
            "u32": pa.array([1, 2**32 - 1], pa.uint32()),
            "text": pa.array(["a", "b"], pa.large_string()),
            "zone": pa.array([dt.datetime(2024, 1, 1, 12), None], pa.timestamp("ms", tz="UTC")),
        }
    )
    table = owner.read_arrow(source, table_name=unique("narrow"))
    # A timestamp keeps its unit and zone: what goes in comes back equal.
    zone = tiercube.Timestamp("ms", "UTC")
    assert table.data_types == {"i8": "int32", "u16": "int32", "u32": "int64", "text": "string", "zone": zone}
    assert table.query().to_pylist() == [
        {"i8": 1, "u16": 1, "u32": 1, "text": "a", "zone": dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)},
        {"i8": -1, "u16": 65535, "u32": 2**32 - 1, "text": "b", "zone": None},
    ]
    assert table.query()["zone"].type == pa.timestamp("ms", tz="UTC")


def test_read_arrow_refuses_a_type_a_table_cannot_hold(owner: tiercube.Session) -> None:
    name = unique("nested")
    with pytest.raises(tiercube.LoadError, match=r"column 'parts' has type list<item: int64>, which a table cannot hold"):
        owner.read_arrow(pa.table({"id": [1], "parts": pa.array([[1, 2]])}), table_name=name)
    assert name not in owner.tables
    # With a type override it loads.
    table = owner.read_arrow(pa.table({"id": [1], "n": pa.array([1], pa.int8())}), table_name=name, data_types={"n": "float64"})
    assert table.data_types == {"id": "int64", "n": "float64"}


def test_read_pandas(owner: tiercube.Session) -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["a", None, "c"],
            "score": [1.5, float("nan"), 3.0],
            "when": [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 03:04:05"), pd.NaT],
            "kind": pd.Categorical(["x", "y", "x"]),
            "ok": [True, False, True],
        },
        index=pd.Index([10, 20, 30], name="ignored"),
    )
    table = owner.read_pandas(frame, table_name=unique("pandas"), keys=["id"])
    assert table.data_types == {
        "id": "int64",
        "name": "string",
        "score": "float64",
        "when": "timestamp",
        "kind": "string",
        "ok": "bool",
    }
    assert table.query().to_pylist() == [
        {"id": 1, "name": "a", "score": 1.5, "when": dt.datetime(2024, 1, 1), "kind": "x", "ok": True},
        {"id": 2, "name": None, "score": None, "when": dt.datetime(2024, 1, 2, 3, 4, 5), "kind": "y", "ok": False},
        {"id": 3, "name": "c", "score": 3.0, "when": None, "kind": "x", "ok": True},
    ]


# --------------------------------------------------------------------------- table.load


@pytest.fixture
def target(owner: tiercube.Session) -> LocalTable:
    """A keyed table with content that a bad load would change."""
    table = owner.create_table(unique("target"), data_types={"id": "int64", "name": "string", "amount": "float64"}, keys=["id"])
    table.append((1, "one", 1.0), (2, "two", 2.0), (3, None, None))
    return table


def test_load_csv_into_an_existing_table(target: LocalTable, tmp_path: Path) -> None:
    path = write(tmp_path / "more.csv", "amount;id;name\n10.5;3;three\n4;4;four\n")
    assert target.load(CsvLoad(path, separator=";")) == 2
    assert sorted(target.query().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "one", "amount": 1.0},
        {"id": 2, "name": "two", "amount": 2.0},
        {"id": 3, "name": "three", "amount": 10.5},
        {"id": 4, "name": "four", "amount": 4.0},
    ]


def test_load_csv_with_every_option(target: LocalTable, tmp_path: Path) -> None:
    path = write(tmp_path / "options.csv", "5|'Genève, CH'|NULL\n6|'x'|6.5\n", "latin-1")
    loaded = target.load(
        CsvLoad(
            path,
            separator="|",
            header=False,
            column_names=["id", "name", "amount"],
            quote_char="'",
            encoding="latin-1",
            null_values=["NULL"],
        )
    )
    assert loaded == 2
    assert target.query(filter=target["id"] >= 5).to_pylist() == [
        {"id": 5, "name": "Genève, CH", "amount": None},
        {"id": 6, "name": "x", "amount": 6.5},
    ]


def test_load_csv_parses_columns_as_the_table_types(owner: tiercube.Session, tmp_path: Path) -> None:
    table = owner.create_table(unique("typed"), data_types={"code": "string", "n": "float32", "d": "date"})
    table.load(CsvLoad(write(tmp_path / "typed.csv", "code,n,d\n007,1,2024-03-04\n")))
    assert table.query().to_pylist() == [{"code": "007", "n": 1.0, "d": dt.date(2024, 3, 4)}]


def test_load_parquet_into_an_existing_table(target: LocalTable, tmp_path: Path) -> None:
    path = tmp_path / "more.parquet"
    write_parquet(pa.table({"id": pa.array([2, 9], pa.int32()), "amount": pa.array([20, 90], pa.int16())}), path)
    assert target.load(ParquetLoad(path)) == 2
    assert target.query(filter=target["id"].isin(2, 9)).to_pylist() == [
        {"id": 2, "name": None, "amount": 20.0},
        {"id": 9, "name": None, "amount": 90.0},
    ]


def test_load_arrow_and_pandas_into_an_existing_table(target: LocalTable) -> None:
    assert target.load(pa.table({"name": ["ten"], "id": [10]})) == 1
    assert target.load(pd.DataFrame({"id": [11, 1], "amount": [11.5, 100.0]})) == 2
    assert sorted(target.query().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": None, "amount": 100.0},
        {"id": 2, "name": "two", "amount": 2.0},
        {"id": 3, "name": None, "amount": None},
        {"id": 10, "name": "ten", "amount": None},
        {"id": 11, "name": None, "amount": 11.5},
    ]


def test_load_an_empty_source(target: LocalTable, tmp_path: Path) -> None:
    before = target.query()
    assert target.load(CsvLoad(write(tmp_path / "header_only.csv", "id,name,amount\n"))) == 0
    assert target.load(pa.table({"id": pa.array([], pa.int64())})) == 0
    assert target.query().equals(before)


def test_loads_are_silent_when_not_interactive(target: LocalTable, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    target.load(CsvLoad(write(tmp_path / "quiet.csv", "id\n50\n")))
    target.load(pa.table({"id": [51]}))
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


# --------------------------------------------------------------------------- malformed inputs

Source: TypeAlias = CsvLoad[Any] | ParquetLoad[Any] | pa.Table | pd.DataFrame


@dataclass(frozen=True)
class Bad:
    """A malformed input: how to make it, what the error must mention, and its fields.

    ``fields`` are the ``LoadError``'s ``path``, ``line`` and ``column`` as the server
    sent them (``{dir}`` is the test's directory); ``line`` and ``column`` not listed must
    be None, ``path`` not listed is not checked (a frame is named with the table it went to).
    """

    make: Callable[[Path], Source]
    mentions: tuple[str, ...]
    fields: dict[str, str | int] = field(default_factory=dict[str, str | int])


def _csv(text: bytes | str, name: str = "bad.csv") -> Callable[[Path], Source]:
    def make(directory: Path) -> Source:
        path = directory / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return CsvLoad(path)

    return make


def _parquet(content: Callable[[Path], bytes], name: str = "bad.parquet") -> Callable[[Path], Source]:
    def make(directory: Path) -> Source:
        path = directory / name
        path.write_bytes(content(directory))
        return ParquetLoad(path)

    return make


def _valid_parquet(directory: Path, table: pa.Table) -> bytes:
    return write_parquet(table, directory / "scratch.parquet").read_bytes()


GOOD_ROWS = "".join(f"{i},row {i},{i}.5\n" for i in range(100, 20_100))
CSV = "{dir}/bad.csv"
PARQUET = "{dir}/bad.parquet"

BAD_INPUTS: dict[str, Bad] = {
    "missing_csv": Bad(lambda d: CsvLoad(d / "missing.csv"), ("missing.csv", "no such file"), {"path": "{dir}/missing.csv"}),
    "missing_parquet": Bad(
        lambda d: ParquetLoad(d / "missing.parquet"), ("missing.parquet", "no such file"), {"path": "{dir}/missing.parquet"}
    ),
    "directory": Bad(lambda d: CsvLoad(d), ("{dir}",), {"path": "{dir}"}),
    "empty_file": Bad(_csv(""), ("bad.csv", "Empty CSV"), {"path": CSV}),
    "too_many_values_in_a_row": Bad(
        _csv("id,name,amount\n1,ONE,9\n4,four,4.0,surplus\n"),
        ("bad.csv", "line 3 has 4 values, but the file has 3 columns"),
        {"path": CSV, "line": 3},
    ),
    "too_few_values_in_a_row": Bad(
        _csv("id,name,amount\n1,ONE,9\n4,four\n"), ("bad.csv", "line 3 has 2 values, but the file has 3 columns"), {"path": CSV, "line": 3}
    ),
    "wrong_type": Bad(
        _csv("id,name,amount\n1,ONE,9\nfour,x,4.0\n"),
        ("bad.csv", "column 'id' (the 1st), line 3", "'four'", "int64"),
        {"path": CSV, "line": 3, "column": "id"},
    ),
    "wrong_type_late_in_a_big_file": Bad(
        _csv("id,name,amount\n1,ONE,9\n" + GOOD_ROWS + "20100,last,not-a-number\n"),
        ("bad.csv", "column 'amount' (the 3rd), line 20003", "'not-a-number'", "float64"),
        {"path": CSV, "line": 20003, "column": "amount"},
    ),
    "invalid_utf8": Bad(
        _csv(b"id,name,amount\n1,ONE,9\n4,\xff\xfe\xfa,4.0\n"),
        ("bad.csv", "column 'name' (the 2nd), line 3", "not valid utf-8 text"),
        {"path": CSV, "line": 3, "column": "name"},
    ),
    "wrong_encoding_declared": Bad(
        lambda d: CsvLoad(write(d / "bad.csv", "id,name,amount\n1,ZÃ¼rich\x81,9\n", "utf-8"), encoding="ascii"),
        ("bad.csv", "ascii"),
        {"path": CSV},
    ),
    "unknown_column": Bad(_csv("id,name,amount,color\n1,ONE,9,red\n"), ("bad.csv", "'color'", "not in table"), {"path": CSV, "column": "color"}),
    "garbage_parquet": Bad(_parquet(lambda d: b"PAR1" + b"\x00garbage" * 64), ("bad.parquet",), {"path": PARQUET}),
    "truncated_parquet": Bad(
        _parquet(lambda d: _valid_parquet(d, pa.table({"id": [1, 4], "name": ["ONE", "four"]}))[:-40]),
        ("bad.parquet",),
        {"path": PARQUET},
    ),
    "csv_named_parquet": Bad(_parquet(lambda d: b"id,name\n1,ONE\n"), ("bad.parquet",), {"path": PARQUET}),
    "parquet_wrong_type": Bad(
        _parquet(lambda d: _valid_parquet(d, pa.table({"id": [1, 4], "amount": ["9", "lots"]}))),
        ("bad.parquet", "'amount'", "float64"),
        {"path": PARQUET, "column": "amount"},
    ),
    "parquet_unknown_column": Bad(
        _parquet(lambda d: _valid_parquet(d, pa.table({"id": [1], "extra": [True]}))),
        ("bad.parquet", "'extra'"),
        {"path": PARQUET, "column": "extra"},
    ),
    "arrow_wrong_type": Bad(lambda d: pa.table({"id": ["1", "four"], "name": ["ONE", "x"]}), ("'id'", "int64"), {"column": "id"}),
    "arrow_unknown_column": Bad(lambda d: pa.table({"id": [1], "color": ["red"]}), ("'color'",), {"column": "color"}),
    "arrow_overflow": Bad(lambda d: pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64())}), ("'id'",), {"column": "id"}),
    "pandas_wrong_type": Bad(lambda d: pd.DataFrame({"id": [1, 4], "amount": ["9", "many"]}), ("'amount'",), {"column": "amount"}),
    "pandas_fraction_for_int": Bad(lambda d: pd.DataFrame({"id": [1.0, 4.5]}), ("'id'",), {"column": "id"}),
    # Refused by the client, which cannot convert it: nothing reaches the server.
    "pandas_unconvertible": Bad(lambda d: pd.DataFrame({"id": [1], "name": [object()]}), ("the pandas.DataFrame", "column name"), {"column": "name"}),
}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_a_malformed_load_raises_and_changes_nothing(target: LocalTable, tmp_path: Path, case: Bad) -> None:
    before = target.query()
    source = case.make(tmp_path)
    with pytest.raises(tiercube.LoadError) as raised:
        target.load(source)
    message = str(raised.value)
    for mention in case.mentions:
        assert mention.format(dir=tmp_path) in message, f"{mention!r} not in {message!r}"
    # What the server knew travels as fields, not only as prose.
    expected = {"line": None, "column": None, **case.fields}
    fields = {name: getattr(raised.value, name) for name in expected}
    assert fields == {name: value.format(dir=tmp_path) if isinstance(value, str) else value for name, value in expected.items()}
    # Every failing row above shares a key with an existing row (1): nothing was replaced.
    assert target.row_count == before.num_rows
    assert target.query().equals(before)


@pytest.mark.parametrize("kind", ["csv", "parquet", "arrow", "pandas"])
def test_a_malformed_read_creates_no_table(owner: tiercube.Session, tmp_path: Path, kind: str) -> None:
    name = unique(f"malformed_{kind}")
    with pytest.raises(tiercube.LoadError):
        if kind == "csv":
            owner.read_csv(write(tmp_path / "bad.csv", "a,b\n1,2\n3\n"), table_name=name)
        elif kind == "parquet":
            owner.read_parquet(write(tmp_path / "bad.parquet", "not parquet"), table_name=name)
        elif kind == "arrow":
            owner.read_arrow(pa.table({"a": ["x"]}), table_name=name, data_types={"a": "int64"})
        else:
            owner.read_pandas(pd.DataFrame({"a": [object()]}), table_name=name)
    assert name not in owner.tables


def test_read_csv_of_invalid_utf8_names_the_file(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,city\n1,Zürich\n".encode("latin-1"))
    name = unique("latin_as_utf8")
    with pytest.raises(tiercube.LoadError) as raised:
        owner.read_csv(path, table_name=name)
    assert str(path) in str(raised.value)
    assert "'city'" in str(raised.value)
    assert name not in owner.tables


def test_read_csv_of_column_names_in_another_encoding_says_so(owner: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "latin_header.csv"
    path.write_bytes("id,Zürich\n1,a\n".encode("latin-1"))
    with pytest.raises(tiercube.LoadError, match="the column names are not valid UTF-8 text; give the file's encoding"):
        owner.read_csv(path, table_name=unique("latin_header"))


# --------------------------------------------------------------------------- shared-file-system transfer


def test_the_arrow_transfer_file_is_removed(
    owner: tiercube.Session, target: LocalTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfer = tmp_path / "transfer"
    transfer.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(transfer))
    owner.read_arrow(pa.table({"x": [1, 2]}), table_name=unique("transferred"))
    owner.read_pandas(pd.DataFrame({"x": [1.5]}), table_name=unique("transferred"))
    target.load(pa.table({"id": [70]}))
    target.load(pd.DataFrame({"id": [71]}))
    assert list(transfer.iterdir()) == []
    # A failing load names the caller's table, not the file that carried it, which is gone too.
    with pytest.raises(tiercube.LoadError) as raised:
        target.load(pa.table({"id": ["not a number"]}))
    assert f"the pyarrow.Table loaded into table {target.name!r}: column 'id'" in str(raised.value)
    assert str(transfer) not in str(raised.value) and raised.value.path == f"the pyarrow.Table loaded into table {target.name!r}"
    assert list(transfer.iterdir()) == []


# --------------------------------------------------------------------------- a large file


def test_a_200k_row_csv_loads_exactly(owner: tiercube.Session, tmp_path: Path) -> None:
    rows = 200_000
    regions = ["EU", "US", "ASIA", "AFRICA", "OCEANIA"]
    source = pa.table(
        {
            "id": list(range(rows)),
            "region": [regions[i % 5] for i in range(rows)],
            "qty": [i % 97 + 1 for i in range(rows)],
            "price": [(i % 1000) / 8 for i in range(rows)],
        }
    )
    path = tmp_path / "big.csv"
    pa_csv.write_csv(source, path)
    expected = pa_csv.read_csv(path)

    table = owner.read_csv(path, table_name=unique("big"), keys=["id"])
    assert table.row_count == rows
    got = table.query()
    assert got.num_rows == rows
    for column in ("id", "qty", "price"):
        assert pc.sum(got[column]).as_py() == pc.sum(expected[column]).as_py(), column
    def qty_by_region(table: pa.Table) -> dict[object, object]:
        sums = table.group_by("region").aggregate([("qty", "sum")])
        return dict(zip(sums["region"].to_pylist(), sums["qty_sum"].to_pylist(), strict=True))

    assert qty_by_region(got) == qty_by_region(expected)
    assert len(qty_by_region(got)) == 5
    assert got.equals(expected)
    # Loading the same file again into the keyed table replaces every row.
    assert table.load(CsvLoad(path)) == rows
    assert table.row_count == rows
