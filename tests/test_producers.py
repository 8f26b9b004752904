"""Every Arrow producer loads as it is: the same rows from polars, duckdb, pandas and pyarrow.

Each producer makes the same rows its own way, nulls included (polars sends text as
``string_view`` and categoricals with ``uint32`` indices, pandas ``large_string`` and
``int8`` categoricals, duckdb decimals, enums, intervals and zoned timestamps in the
connection's zone). Loaded through the typed client into a table the server holds
(or, marked ``distributable``, partitioned on a Dask cluster), every column must come
back from ``table.query`` and from a cube with exactly the expected type and values:
a zoned timestamp with its zone, a decimal as the same decimal, sums exact.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tiercube
from tests.rendered import Rendered
from tiercube import DataFrameLike

pytestmark = pytest.mark.distributable

PARIS = "Europe/Paris"
_counter = itertools.count()

IDS = [1, 2, 3]
NAMES = ["ann", None, "bo"]
KINDS = ["a", "b", None]
PRICES = [Decimal("1.25"), None, Decimal("-3.50")]
TIMES = [dt.datetime(2024, 3, 1, 9, 0, tzinfo=ZoneInfo(PARIS)), None, dt.datetime(2024, 7, 1, 18, 30, tzinfo=ZoneInfo(PARIS))]
TOOK = [dt.timedelta(seconds=5), None, dt.timedelta(minutes=2, microseconds=250)]
OPENS = [dt.time(9, 30), None, dt.time(23, 59, 59, 500_000)]
BLOBS = [b"x", None, b"\x00\xff"]
FLAGS = [True, None, False]
QTY = [1.5, None, 2.0]
DAYS = [dt.date(2024, 1, 1), None, dt.date(2024, 12, 31)]

EXPECTED = pa.table(
    {
        "id": pa.array(IDS, pa.int64()),
        "name": pa.array(NAMES, pa.string()),
        "kind": pa.array(KINDS, pa.string()),
        "price": pa.array(PRICES, pa.decimal128(18, 2)),
        "at": pa.array(TIMES, pa.timestamp("us", tz=PARIS)),
        "took": pa.array(TOOK, pa.duration("us")),
        "opens": pa.array(OPENS, pa.time64("us")),
        "blob": pa.array(BLOBS, pa.binary()),
        "ok": pa.array(FLAGS, pa.bool_()),
        "qty": pa.array(QTY, pa.float64()),
        "day": pa.array(DAYS, pa.date32()),
    }
)
EXPECTED_TYPES: dict[str, tiercube.ColumnType] = {
    "id": "int64",
    "name": "string",
    "kind": "string",
    "price": tiercube.Decimal(18, 2),
    "at": tiercube.Timestamp("us", PARIS),
    "took": "duration",
    "opens": "time",
    "blob": "binary",
    "ok": "bool",
    "qty": "float64",
    "day": "date",
}


Frame = pa.Table | DataFrameLike


def from_pyarrow() -> pa.Table:
    kinds = pa.array(KINDS, pa.dictionary(pa.int8(), pa.large_string()))
    return EXPECTED.set_column(2, "kind", kinds).set_column(1, "name", pa.array(NAMES, pa.string_view()))


def from_polars() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": pl.Series(IDS, dtype=pl.Int64),
            "name": NAMES,
            "kind": pl.Series(KINDS, dtype=pl.Categorical),
            "price": pl.Series(PRICES, dtype=pl.Decimal(18, 2)),
            "at": pl.Series(TIMES, dtype=pl.Datetime("us", PARIS)),
            "took": pl.Series(TOOK, dtype=pl.Duration("us")),
            "opens": OPENS,  # polars holds times in nanoseconds only
            "blob": BLOBS,
            "ok": FLAGS,
            "qty": QTY,
            "day": DAYS,
        }
    )


def from_pandas() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": IDS,
            "name": pd.Series(NAMES, dtype="string"),
            "kind": pd.Categorical(KINDS),
            "price": pd.Series(PRICES, dtype=pd.ArrowDtype(pa.decimal128(18, 2))),
            "at": pd.Series(TIMES, dtype=f"datetime64[us, {PARIS}]"),
            "took": pd.Series(TOOK, dtype="timedelta64[us]"),
            "opens": pd.Series(OPENS, dtype=pd.ArrowDtype(pa.time64("us"))),
            "blob": pd.Series(BLOBS, dtype=pd.ArrowDtype(pa.binary())),
            "ok": pd.Series(FLAGS, dtype="boolean"),
            "qty": QTY,
            "day": pd.Series(DAYS, dtype=pd.ArrowDtype(pa.date32())),
        }
    )


def from_duckdb() -> duckdb.DuckDBPyRelation:
    connection = duckdb.connect()
    connection.execute(f"SET TimeZone = '{PARIS}'")
    connection.execute("CREATE TYPE kind AS ENUM ('a', 'b')")
    return connection.sql(
        """
        SELECT * FROM (VALUES
            (1::BIGINT, 'ann', 'a'::kind, 1.25::DECIMAL(18, 2), TIMESTAMPTZ '2024-03-01 09:00:00+01:00', INTERVAL 5 SECOND,
             TIME '09:30:00', 'x'::BLOB, true, 1.5::DOUBLE, DATE '2024-01-01'),
            (2, NULL, 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, 'bo', NULL, -3.50, TIMESTAMPTZ '2024-07-01 18:30:00+02:00', INTERVAL '2 minutes 250 microseconds',
             TIME '23:59:59.5', '\\x00\\xFF'::BLOB, false, 2.0, DATE '2024-12-31')
        ) AS rows(id, name, kind, price, "at", took, opens, blob, ok, qty, day)
        """
    )


PRODUCERS: dict[str, Callable[[], Frame]] = {"pyarrow": from_pyarrow, "polars": from_polars, "pandas": from_pandas, "duckdb": from_duckdb}
# What a producer cannot say otherwise: polars' times are nanoseconds.
OWN_TYPES: dict[str, dict[str, tuple[tiercube.ColumnType, pa.DataType]]] = {"polars": {"opens": (tiercube.Time("ns"), pa.time64("ns"))}}


def expected(producer: str) -> tuple[dict[str, tiercube.ColumnType], pa.Table]:
    types, table = dict(EXPECTED_TYPES), EXPECTED
    for column, (column_type, arrow_type) in OWN_TYPES.get(producer, {}).items():
        types[column] = column_type
        table = table.set_column(table.column_names.index(column), column, table[column].cast(arrow_type))
    return types, table


def sorted_by_id(table: pa.Table) -> pa.Table:
    ids = table["id"].to_pylist()
    return table.take(pa.array(sorted(range(len(ids)), key=lambda row: ids[row] or 0), pa.int64()))


def shown(obj: object) -> str:
    """What a notebook shows of ``obj``, as text."""
    return Rendered(getattr(obj, "_repr_html_")()).text


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def load(owner: tiercube.Session, producer: str, name: str) -> tiercube.LocalTable:
    """A new table of ``producer``'s rows, read the way its users would."""
    data = PRODUCERS[producer]()
    if isinstance(data, pd.DataFrame):
        return owner.read_pandas(data, table_name=name, keys=["id"])
    return owner.read_arrow(data, table_name=name, keys=["id"])


@pytest.mark.parametrize("producer", PRODUCERS)
def test_every_producer_loads_as_it_is(owner: tiercube.Session, producer: str) -> None:
    types, rows = expected(producer)
    table = load(owner, producer, unique(producer))
    assert table.data_types == types
    answer = sorted_by_id(table.query())
    assert answer.schema == rows.schema, answer.schema
    assert answer.equals(rows), answer.to_pylist()
    # Loaded again into a table declared with the same types: every row replaces itself.
    declared = owner.create_table(unique(f"{producer}_declared"), data_types=types, keys=["id"])
    assert declared.load(PRODUCERS[producer]()) == 3
    assert declared.load(PRODUCERS[producer]()) == 3
    assert declared.row_count == 3 and sorted_by_id(declared.query()).equals(rows)


@pytest.mark.parametrize("producer", PRODUCERS)
def test_filters_compare_zoned_times_decimals_durations_and_times_exactly(owner: tiercube.Session, producer: str) -> None:
    table = load(owner, producer, unique(f"{producer}_filtered"))

    def ids(condition: tiercube.Condition) -> list[int]:
        return sorted(value for value in table.query("id", filter=condition)["id"].to_pylist() if value is not None)

    # 17:00 UTC is 18:00 or 19:00 in Paris: an instant, compared as one, whatever zone it is given in.
    assert ids(table["at"] >= dt.datetime(2024, 7, 1, 16, 30, tzinfo=dt.timezone.utc)) == [3]
    assert ids(table["at"] < dt.datetime(2024, 3, 1, 9, 0, 1, tzinfo=ZoneInfo(PARIS))) == [1]
    assert ids(table["price"] == Decimal("1.25")) == [1]
    assert ids(table["price"] < -3.495) == [3]
    assert ids(table["price"].isin(1.25, 0.125, None)) == [1]
    assert ids(table["took"] > dt.timedelta(seconds=5)) == [3]
    assert ids(table["opens"] <= dt.time(9, 30)) == [1]
    assert ids(table["blob"] == "x") == [1]
    with pytest.raises(tiercube.InvalidRequestError, match=r"has no time zone, but the column is timestamp\[us, Europe/Paris\]; give a datetime with its tzinfo"):
        table.query(filter=table["at"] > dt.datetime(2024, 1, 1))


@pytest.mark.parametrize("producer", PRODUCERS)
def test_cubes_keep_zones_and_units_in_levels_and_sum_exactly(owner: tiercube.Session, producer: str) -> None:
    table = load(owner, producer, unique(f"{producer}_cube"))
    table.append((4, "cy", "a", Decimal("0.10"), dt.datetime(2024, 3, 1, 8, tzinfo=dt.timezone.utc), dt.timedelta(seconds=1), None, None, True, 1.0, None))
    cube = owner.create_cube(table)
    levels = cube.levels
    assert levels["at"].data_type == tiercube.Timestamp("us", PARIS)
    assert levels["opens"].data_type == expected(producer)[0]["opens"]
    assert {"price.SUM", "price.MEAN", "took.SUM", "took.MEAN", "qty.SUM"} <= set(cube.measures)
    by_time = cube.query("price.SUM", "took.SUM", "took.MEAN", levels=["at"])
    assert [(name, by_time[name].type) for name in by_time.column_names] == [
        ("at", pa.timestamp("us", tz=PARIS)),
        ("price.SUM", pa.decimal128(38, 2)),
        ("took.SUM", pa.duration("us")),
        ("took.MEAN", pa.duration("us")),
    ]
    # 08:00 UTC is 09:00 in Paris: rows 1 and 4 are the same instant, one member.
    assert by_time.to_pylist() == [
        {"at": TIMES[0], "price.SUM": Decimal("1.35"), "took.SUM": dt.timedelta(seconds=6), "took.MEAN": dt.timedelta(seconds=3)},
        {"at": TIMES[2], "price.SUM": Decimal("-3.50"), "took.SUM": TOOK[2], "took.MEAN": TOOK[2]},
        {"at": None, "price.SUM": None, "took.SUM": None, "took.MEAN": None},
    ]
    total = cube.query("price.SUM", "price.MEAN", filter=levels["at"] >= dt.datetime(2024, 3, 1, 8, tzinfo=dt.timezone.utc))
    assert total.to_pylist() == [{"price.SUM": Decimal("-2.15"), "price.MEAN": pytest.approx(-2.15 / 3)}]
    measures = cube.measures
    measures["spread"] = measures["price.SUM"] - measures["price.SUM"] + measures["price.SUM"]
    assert cube.query("spread", levels=["kind"]).to_pylist() == [
        {"kind": "a", "spread": Decimal("1.35")},
        {"kind": "b", "spread": None},
        {"kind": None, "spread": Decimal("-3.50")},
    ]
    by_opening = cube.query("contributors.COUNT", levels=["opens"])
    assert by_opening["opens"].type == expected(producer)[1]["opens"].type
    assert by_opening.to_pylist()[0] == {"opens": OPENS[0], "contributors.COUNT": 1}


def test_mdx_members_and_the_notebook_name_the_new_types(owner: tiercube.Session) -> None:
    table = load(owner, "pyarrow", unique("mdx"))
    cube = owner.create_cube(table, name=table.name)
    members = owner.query_mdx(
        f"SELECT [Measures].[price.SUM] ON COLUMNS FROM [{table.name}] "
        "WHERE ([at].[at].[2024-03-01T09:00:00+01:00], [opens].[opens].[09:30:00])"
    )
    assert members.to_pylist() == [{"price.SUM": Decimal("1.25")}]
    columns = shown(table)
    assert "at | timestamp[us, Europe/Paris]" in columns and "price | decimal(18, 2)" in columns and "opens | time" in columns
    assert f"at | at | {table.name}.at | timestamp[us, Europe/Paris]" in shown(cube)
    assert "price: decimal(18, 2)" in repr(table.schema)


@pytest.mark.parametrize("producer", PRODUCERS)
def test_an_error_names_the_frame_and_its_column_not_the_transfer_file(owner: tiercube.Session, producer: str) -> None:
    nested: dict[str, Callable[[], Frame]] = {
        "pyarrow": lambda: pa.table({"id": [1], "parts": [[1, 2]]}),
        "polars": lambda: pl.DataFrame({"id": [1], "parts": [[1, 2]]}),
        "pandas": lambda: pd.DataFrame({"id": [1], "parts": [[1, 2]]}),
        "duckdb": lambda: duckdb.connect().sql("SELECT 1 AS id, [1, 2] AS parts"),
    }
    name = unique(f"{producer}_nested")
    with pytest.raises(tiercube.LoadError) as raised:
        owner.read_arrow(nested[producer](), table_name=name)
    kind = {"pyarrow": "pyarrow.Table", "polars": "polars.DataFrame", "pandas": "pandas.DataFrame", "duckdb": "duckdb.DuckDBPyRelation"}
    label = f"the {kind[producer]} loaded into table {name!r}"
    assert str(raised.value).startswith(f"{label}: column 'parts' has type ")
    assert "tiercube-transfer" not in str(raised.value)
    assert (raised.value.path, raised.value.column) == (label, "parts")
    assert name not in owner.tables
    # A value that does not fit a declared column: named with the frame, the table and the column.
    target = owner.create_table(unique(f"{producer}_target"), data_types={"id": "int64", "price": tiercube.Decimal(4, 2)})
    with pytest.raises(tiercube.LoadError, match=r"loaded into table '[^']+': column 'price' cannot be converted to decimal\(4, 2\)"):
        target.load(pa.table({"id": [1], "price": pa.array([Decimal("123.45")], pa.decimal128(5, 2))}))
    assert target.row_count == 0


def test_appended_rows_of_the_new_types_fit_or_are_named(owner: tiercube.Session) -> None:
    table = owner.create_table(
        unique("appended"),
        data_types={"id": "int64", "price": tiercube.Decimal(6, 2), "at": tiercube.Timestamp("ns", "UTC"), "took": tiercube.Duration("s")},
        keys=["price", "at"],  # a decimal and a zoned timestamp as the key
        default_values={"took": dt.timedelta(minutes=1)},
    )
    noon = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    table.append((1, Decimal("1.10"), noon, None), (2, Decimal("2.20"), noon, dt.timedelta(seconds=2)))
    table.append((3, 1.1, noon.astimezone(ZoneInfo(PARIS)), dt.timedelta(hours=1)))  # the same key: 1.1 is 1.10, the same instant
    assert sorted_by_id(table.query()).to_pylist() == [
        {"id": 2, "price": Decimal("2.20"), "at": noon, "took": dt.timedelta(seconds=2)},
        {"id": 3, "price": Decimal("1.10"), "at": noon, "took": dt.timedelta(hours=1)},
    ]
    for row, message in [
        ((4, Decimal("1.111"), noon, None), r"column 'price' \(decimal\(6, 2\)\) of table '[^']+': 1.111 does not fit decimal\(6, 2\); give a number of at most 6 digits, 2 of them after the point"),
        ((4, Decimal("1.5"), noon, dt.timedelta(microseconds=5)), r"column 'took' \(duration\[s\]\) of table '[^']+': 'PT0.000005S' is finer than the column's unit \(s\)"),
        ((4, Decimal("1.5"), noon, 5), r"5 is of type int; give a datetime.timedelta"),
        ((4, Decimal("1.5"), dt.datetime(2024, 1, 1), None), r"column 'at' cannot be converted to timestamp\[ns, UTC\]: give its values with a time zone"),
    ]:
        with pytest.raises(tiercube.InvalidRequestError, match=message):
            table.append(row)
    assert table.row_count == 2
