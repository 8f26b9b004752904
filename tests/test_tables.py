"""Tables on a real server: types, keys and upserts, defaults, append, drop, delete, queries, filters.

Filters are checked against pyarrow.compute evaluating the same condition on the
same data in this process.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import duckdb
import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tiercube
from tests.conftest import examples
from tiercube import Condition, DataType, LocalTable

# Run both ways: tables held by the session server, and on a Dask cluster (see conftest).
pytestmark = pytest.mark.distributable

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A table name no other test of this module uses."""
    return f"{prefix}_{next(_counter)}"


Value: TypeAlias = bool | int | float | str | dt.date | dt.datetime | None


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def isin(expression: pc.Expression, values: pa.Array[Any]) -> pc.Expression:
    """pyarrow's own "is in" (a null matches a null in ``values``)."""
    # The stubs leave the element type of value_set open; any array is fine here.
    is_in: Callable[..., pc.Expression] = pc.is_in  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return is_in(expression, value_set=values)


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class TypeCase:
    data_type: DataType
    arrow_type: pa.DataType
    values: tuple[Value, ...]


TYPE_CASES = [
    TypeCase("bool", pa.bool_(), (True, False)),
    TypeCase("int32", pa.int32(), (-(2**31), 0, 2**31 - 1)),
    TypeCase("int64", pa.int64(), (-(2**63), 0, 2**63 - 1)),
    TypeCase("float32", pa.float32(), (1.5, -0.25, 1e30)),
    TypeCase("float64", pa.float64(), (0.1, -1e300, 2.5)),
    TypeCase("string", pa.string(), ("EU", "", "naïve — 漢字", "a,b\"c")),
    TypeCase("date", pa.date32(), (dt.date(1970, 1, 1), dt.date(2024, 2, 29), dt.date(9999, 12, 31))),
    TypeCase(
        "timestamp",
        pa.timestamp("us"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 678901), dt.datetime(1969, 12, 31, 23, 59, 59)),
    ),
]


@pytest.mark.parametrize("case", TYPE_CASES, ids=[c.data_type for c in TYPE_CASES])
def test_each_type_round_trips(owner: tiercube.Session, case: TypeCase) -> None:
    name = unique(f"type_{case.data_type}")
    table = owner.create_table(name, data_types={"id": "int32", "value": case.data_type}, keys=["id"])
    assert table.data_types == {"id": "int32", "value": case.data_type}
    values = [*case.values, None]
    loaded = table.append(*[(i, v) for i, v in enumerate(values)])
    assert loaded == len(values)
    result = table.query()
    assert result.schema == pa.schema([("id", pa.int32()), ("value", case.arrow_type)])
    got = result.column("value").to_pylist()
    if case.data_type == "float32":
        # float32 keeps about 7 significant digits.
        expected = pa.array(values, pa.float32()).to_pylist()
        assert got == expected
    else:
        assert got == values
    # The same type also comes in through Arrow, unchanged.
    table.drop()
    arrow = pa.table({"id": pa.array(range(len(values)), pa.int32()), "value": pa.array(values, case.arrow_type)})
    table.load(arrow)
    assert table.query().equals(arrow)


def test_table_properties(owner: tiercube.Session) -> None:
    name = unique("props")
    table = owner.create_table(name, data_types={"k1": "string", "k2": "int64", "v": "float64"}, keys=("k1", "k2"))
    assert table.name == name
    assert table.columns == ["k1", "k2", "v"]
    assert table.keys == ("k1", "k2")
    assert table.row_count == 0
    assert table.data_types == {"k1": "string", "k2": "int64", "v": "float64"}
    schema = table.schema
    assert (schema.name, schema.columns, schema.keys, schema.row_count) == (name, table.data_types, ("k1", "k2"), 0)
    table.append(("a", 1, 1.0), ("b", 2, None))
    assert table.row_count == 2
    assert owner.tables[name].row_count == 2
    assert "* k1: string" in repr(schema)


def test_tables_schema_lists_every_table(owner: tiercube.Session) -> None:
    first, second = unique("schema_a"), unique("schema_b")
    owner.create_table(first, data_types={"x": "int64", "y": "string"}, keys=["x"]).append((1, "a"))
    owner.create_table(second, data_types={"d": "date"})
    schema = owner.tables.schema
    assert {first, second} <= set(schema)
    assert schema[first].columns == {"x": "int64", "y": "string"}
    assert schema[first].keys == ("x",)
    assert schema[first].row_count == 1
    assert schema[second].columns == {"d": "date"}
    assert schema[second].keys == ()
    assert schema[first] == owner.tables[first].schema
    assert set(owner.tables) == set(schema)
    assert len(owner.tables) == len(schema)


def test_string_columns_come_back_as_plain_strings(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("strings"), data_types={"s": "string", "t": "string"})
    table.append(("x", "y"), ("x", None))
    dictionary = pa.array(["x", "z"], pa.dictionary(pa.int32(), pa.string()))
    table.load(pa.table({"s": dictionary, "t": pa.array(["p", "q"], pa.large_string())}))
    result = table.query()
    assert result.schema == pa.schema([("s", pa.string()), ("t", pa.string())])
    assert rows(result) == [{"s": "x", "t": "y"}, {"s": "x", "t": None}, {"s": "x", "t": "p"}, {"s": "z", "t": "q"}]
    assert rows(table.query(filter=table["s"] == "x")) == rows(result)[:3]


# --------------------------------------------------------------------------- keys


def test_a_row_whose_key_exists_replaces_it(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("upsert"), data_types={"id": "int64", "v": "string", "n": "float64"}, keys=["id"])
    table.append((1, "one", 1.0), (2, "two", 2.0), (3, "three", 3.0))
    table.load(pa.table({"id": [2, 4], "v": ["TWO", "four"], "n": [20.0, 4.0]}))
    assert table.row_count == 4
    by_id = {r["id"]: (r["v"], r["n"]) for r in rows(table.query())}
    assert by_id == {1: ("one", 1.0), 2: ("TWO", 20.0), 3: ("three", 3.0), 4: ("four", 4.0)}
    # append upserts too, and a key replaced by nulls in other columns keeps only the new row.
    table.append((1, None, None))
    assert table.row_count == 4
    assert rows(table.query(filter=table["id"] == 1)) == [{"id": 1, "v": None, "n": None}]


def test_duplicate_keys_within_one_load_are_refused_or_the_last_wins(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("dupes"), data_types={"id": "int64", "v": "int64"}, keys=["id"])
    table.append((7, 0))
    incoming = pa.table({"id": [1, 2, 1, 7, 1, 2], "v": [10, 20, 11, 70, 12, 21]})
    # By default a key repeated within a load refuses it: the table is as it was.
    with pytest.raises(tiercube.LoadError, match=r"the key id=1 comes 3 times \(rows 1, 3 and 5, counting from 1\); 1 more row"):
        table.load(incoming)
    assert rows(table.query()) == [{"id": 7, "v": 0}]
    assert table.load(incoming, on_duplicate_keys="last") == 6  # rows read, before merging
    assert table.row_count == 3
    assert sorted((r["id"], r["v"]) for r in rows(table.query())) == [(1, 12), (2, 21), (7, 70)]
    # append applies its rows one by one: the last of a key wins.
    table.append((5, 1), (5, 2), (5, 3))
    assert rows(table.query(filter=table["id"] == 5)) == [{"id": 5, "v": 3}]


def test_composite_keys_with_strings_dates_and_nulls(owner: tiercube.Session) -> None:
    table = owner.create_table(
        unique("composite"),
        data_types={"region": "string", "day": "date", "qty": "int64"},
        keys=["region", "day"],
    )
    jan1, jan2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    table.append(("EU", jan1, 1), ("EU", jan2, 2), ("US", jan1, 3), (None, jan1, 4))
    table.append(("EU", jan1, 10), ("US", jan2, 5), (None, jan1, 40))
    got = {(r["region"], r["day"]): r["qty"] for r in rows(table.query())}
    # A null key part is a key value like any other.
    assert got == {("EU", jan1): 10, ("EU", jan2): 2, ("US", jan1): 3, ("US", jan2): 5, (None, jan1): 40}


def test_without_keys_every_row_is_kept(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("nokeys"), data_types={"id": "int64"})
    table.append((1,), (1,))
    table.load(pa.table({"id": [1]}))
    assert table.keys == ()
    assert table.query().column("id").to_pylist() == [1, 1, 1]


# --------------------------------------------------------------------------- defaults


def test_default_values_replace_nulls_and_missing_columns(owner: tiercube.Session) -> None:
    table = owner.create_table(
        unique("defaults"),
        data_types={"id": "int64", "s": "string", "n": "float64", "day": "date", "flag": "bool", "i": "int32"},
        default_values={"s": "N/A", "n": 0.0, "day": dt.date(2000, 1, 1), "flag": False, "i": -1},
    )
    table.append((1, None, None, None, None, None), (2, "x", 2.5, dt.date(2024, 5, 6), True, 7))
    table.load(pa.table({"id": [3]}))  # every other column missing
    assert rows(table.query()) == [
        {"id": 1, "s": "N/A", "n": 0.0, "day": dt.date(2000, 1, 1), "flag": False, "i": -1},
        {"id": 2, "s": "x", "n": 2.5, "day": dt.date(2024, 5, 6), "flag": True, "i": 7},
        {"id": 3, "s": "N/A", "n": 0.0, "day": dt.date(2000, 1, 1), "flag": False, "i": -1},
    ]
    # Without a default, a missing column is null.
    plain = owner.create_table(unique("nodefault"), data_types={"id": "int64", "s": "string"})
    plain.load(pa.table({"id": [1]}))
    assert rows(plain.query()) == [{"id": 1, "s": None}]


def test_a_default_value_of_the_wrong_type_is_refused(owner: tiercube.Session) -> None:
    name = unique("bad_default")
    with pytest.raises(tiercube.InvalidRequestError, match="'n'"):
        owner.create_table(name, data_types={"n": "int64"}, default_values={"n": "not a number"})
    assert name not in owner.tables


# --------------------------------------------------------------------------- append, drop, delete


def test_append_returns_the_rows_added(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("append"), data_types={"id": "int64", "s": "string", "day": "date"})
    assert table.append((1, "a", dt.date(2024, 1, 1)), (2, "b", "2024-01-02")) == 2
    assert table.append() == 0
    assert rows(table.query()) == [
        {"id": 1, "s": "a", "day": dt.date(2024, 1, 1)},
        {"id": 2, "s": "b", "day": dt.date(2024, 1, 2)},
    ]


@pytest.mark.parametrize(
    ("bad_rows", "error", "message"),
    [
        ([(3, "c")], tiercube.InvalidRequestError, "row 1 has 2 values but table .* has 3 columns"),
        ([(3, "c", None), (4, "d", None, 5)], tiercube.InvalidRequestError, "row 2 has 4 values"),
        ([(3, "c", None), ("four", "d", None)], tiercube.InvalidRequestError, "column 'id'"),
        ([(3, "c", "not a date")], tiercube.LoadError, "column 'day'"),
        ([(3, "c", None), (4, b"bytes", None)], TypeError, "b'bytes' of type bytes is not a value tiercube sends"),
    ],
    ids=["too_few_values", "too_many_values", "wrong_type", "bad_date", "unsendable_value"],
)
def test_a_failing_append_changes_nothing(
    owner: tiercube.Session, bad_rows: list[tuple[object, ...]], error: type[Exception], message: str
) -> None:
    table = owner.create_table(unique("append_atomic"), data_types={"id": "int64", "s": "string", "day": "date"}, keys=["id"])
    table.append((1, "a", dt.date(2024, 1, 1)), (3, "old", None))
    before = table.query()
    with pytest.raises(error, match=message):
        table.append(*bad_rows)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
    assert table.query().equals(before)


def test_drop_without_a_filter_empties_the_table(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("drop_all"), data_types={"id": "int64"})
    table.append((1,), (2,), (3,))
    assert table.drop() == 3
    assert table.row_count == 0
    assert table.drop() == 0
    table.append((4,))  # still usable, with its columns
    assert table.query().column("id").to_pylist() == [4]


def test_drop_with_a_filter_removes_exactly_the_matching_rows(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("drop_some"), data_types={"id": "int64", "region": "string", "qty": "int64"})
    table.append((1, "EU", 5), (2, "US", 1), (3, "EU", None), (4, None, 7), (5, "ASIA", 2))
    assert table.drop((table["region"] == "EU") & (table["qty"] > 2)) == 1
    assert table.query().column("id").to_pylist() == [2, 3, 4, 5]
    # Rows for which the condition is unknown (null) do not match, so they stay.
    assert table.drop(table["qty"] < 100) == 3
    assert table.query().column("id").to_pylist() == [3]
    assert table.drop(table["qty"].isnull()) == 1
    assert table.row_count == 0


def test_drop_with_an_unknown_column_changes_nothing(owner: tiercube.Session) -> None:
    table = owner.create_table(unique("drop_bad"), data_types={"id": "int64"})
    table.append((1,), (2,))
    with pytest.raises(tiercube.InvalidRequestError, match="'nope'"):
        table.drop(table["nope"] == 1)
    assert table.row_count == 2


def test_delete_a_table(owner: tiercube.Session) -> None:
    name = unique("deleted")
    table = owner.create_table(name, data_types={"id": "int64"})
    table.append((1,))
    del owner.tables[name]
    assert name not in owner.tables
    assert name not in owner.tables.schema
    with pytest.raises(tiercube.NotFoundError):
        table.query()
    with pytest.raises(tiercube.NotFoundError):
        table.append((2,))
    with pytest.raises(tiercube.NotFoundError):
        del owner.tables[name]
    # The name is free again, for a new and empty table.
    again = owner.create_table(name, data_types={"other": "string"})
    assert again.columns == ["other"]
    assert again.row_count == 0


def test_creating_an_existing_table_conflicts_and_keeps_the_old_one(owner: tiercube.Session) -> None:
    name = unique("taken")
    owner.create_table(name, data_types={"id": "int64"}).append((1,))
    with pytest.raises(tiercube.ConflictError, match=name):
        owner.create_table(name, data_types={"x": "string"})
    assert owner.tables[name].columns == ["id"]
    assert owner.tables[name].row_count == 1


def test_an_unknown_table_is_not_found(owner: tiercube.Session) -> None:
    assert "no_such_table" not in owner.tables
    assert owner.tables.get("no_such_table") is None
    # tables[name] asks nothing (one request per action): its first use finds out.
    missing = owner.tables["no_such_table"]
    with pytest.raises(tiercube.NotFoundError, match="no_such_table") as raised:
        missing.query()
    assert isinstance(raised.value, KeyError)
    assert str(raised.value).startswith("no table named 'no_such_table'")


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", " leading", "trailing ", "a/b", "tab\there", "new\nline", "x" * 201],
    ids=["empty", "dot", "dotdot", "leading_space", "trailing_space", "slash", "tab", "newline", "too_long"],
)
def test_bad_table_names_are_refused(owner: tiercube.Session, name: str) -> None:
    with pytest.raises(tiercube.InvalidRequestError, match="not a valid table name"):
        owner.create_table(name, data_types={"id": "int64"})
    assert name not in owner.tables


@pytest.mark.parametrize("name", ["with space", "q?&#%=", "a%2Fb", "back\\slash", "...", "naïve 漢字", "x" * 200, "dots.and-dashes"])
def test_unusual_but_valid_names_round_trip(owner: tiercube.Session, name: str) -> None:
    table = owner.create_table(name, data_types={"odd column?": "int64", "ö": "string"})
    table.append((1, "x"))
    assert name in owner.tables
    assert owner.tables[name].query(filter=table["odd column?"] == 1).to_pylist() == [{"odd column?": 1, "ö": "x"}]
    del owner.tables[name]


@pytest.mark.parametrize(
    ("data_types", "keys", "defaults", "message"),
    [
        ({}, (), {}, "at least one column"),
        ({"a": "int64"}, ("b",), {}, "key 'b' is not a column"),
        ({"a": "int64"}, (), {"b": 1}, "default value 'b' is not a column"),
        ({"a/b": "int64"}, (), {}, "not a valid column name"),
    ],
    ids=["no_columns", "unknown_key", "unknown_default", "bad_column_name"],
)
def test_bad_table_declarations_are_refused(
    owner: tiercube.Session,
    data_types: dict[str, DataType],
    keys: tuple[str, ...],
    defaults: dict[str, int],
    message: str,
) -> None:
    name = unique("bad_declaration")
    with pytest.raises(tiercube.InvalidRequestError, match=message):
        owner.create_table(name, data_types=data_types, keys=keys, default_values=defaults)
    assert name not in owner.tables


# --------------------------------------------------------------------------- queries


@pytest.fixture(scope="module")
def sales(owner: tiercube.Session) -> LocalTable:
    table = owner.create_table(
        "tables_sales",
        data_types={"id": "int64", "region": "string", "qty": "int32", "price": "float64", "day": "date"},
        keys=["id"],
    )
    table.load(SALES)
    return table


SALES = pa.table(
    {
        "id": pa.array(range(1, 11), pa.int64()),
        "region": ["EU", "US", "EU", None, "ASIA", "EU", "US", "", "ASIA", "EU"],
        "qty": pa.array([5, 1, None, 7, 2, 3, 3, 0, None, 10], pa.int32()),
        "price": [1.5, 2.0, None, 0.5, 9.99, 1.5, -1.0, 0.0, 3.25, None],
        "day": pa.array(
            [dt.date(2024, 1, d) if d else None for d in (1, 2, 3, 4, None, 6, 7, 8, 9, 10)], pa.date32()
        ),
    }
)


def test_query_selects_columns_in_the_order_asked(sales: LocalTable) -> None:
    result = sales.query("price", "id")
    assert result.column_names == ["price", "id"]
    assert result.num_rows == SALES.num_rows
    assert result.column("price").to_pylist() == SALES.column("price").to_pylist()
    assert sales.query().column_names == SALES.column_names
    assert sales.query().equals(SALES)


def test_query_max_rows(sales: LocalTable) -> None:
    assert sales.query(max_rows=3).column("id").to_pylist() == [1, 2, 3]
    assert sales.query("id", max_rows=0).num_rows == 0
    assert sales.query(max_rows=1000).num_rows == SALES.num_rows
    eu = sales.query("id", filter=sales["region"] == "EU", max_rows=2)
    assert eu.column("id").to_pylist() == [1, 3]
    with pytest.raises(tiercube.InvalidRequestError, match="max_rows"):
        sales.query(max_rows=-1)


def test_query_of_an_unknown_column_is_refused(sales: LocalTable) -> None:
    with pytest.raises(tiercube.InvalidRequestError, match="no column 'nope'"):
        sales.query("id", "nope")


Check: TypeAlias = Callable[[LocalTable], Condition]
FILTER_CASES: list[tuple[str, Check, pc.Expression]] = [
    ("eq_string", lambda t: t["region"] == "EU", pc.field("region") == "EU"),
    ("eq_empty_string", lambda t: t["region"] == "", pc.field("region") == ""),
    ("ne_string", lambda t: t["region"] != "EU", pc.field("region") != "EU"),
    ("lt_string", lambda t: t["region"] < "EU", pc.field("region") < "EU"),
    ("eq_int", lambda t: t["qty"] == 3, pc.field("qty") == 3),
    ("ne_int", lambda t: t["qty"] != 3, pc.field("qty") != 3),
    ("lt_int", lambda t: t["qty"] < 3, pc.field("qty") < 3),
    ("le_int", lambda t: t["qty"] <= 3, pc.field("qty") <= 3),
    ("gt_int", lambda t: t["qty"] > 3, pc.field("qty") > 3),
    ("ge_int", lambda t: t["qty"] >= 3, pc.field("qty") >= 3),
    ("int_column_float_bound", lambda t: t["qty"] >= 2.0, pc.field("qty") >= 2),
    ("lt_float", lambda t: t["price"] < 1.5, pc.field("price") < 1.5),
    ("ge_float_int_value", lambda t: t["price"] >= 2, pc.field("price") >= 2.0),
    ("eq_date", lambda t: t["day"] == dt.date(2024, 1, 6), pc.field("day") == pa.scalar(dt.date(2024, 1, 6), pa.date32())),
    ("gt_date", lambda t: t["day"] > dt.date(2024, 1, 6), pc.field("day") > pa.scalar(dt.date(2024, 1, 6), pa.date32())),
    ("isin_strings", lambda t: t["region"].isin("EU", "ASIA"), isin(pc.field("region"), pa.array(["EU", "ASIA"]))),
    # SQL's IN: a null in the list is unknown, never a match, so only "US" rows are selected.
    ("isin_with_null", lambda t: t["region"].isin("US", None), pc.field("region") == "US"),
    ("isin_ints", lambda t: t["qty"].isin(1, 3, 10), isin(pc.field("qty"), pa.array([1, 3, 10], pa.int32()))),
    ("isin_nothing", lambda t: t["qty"].isin(), isin(pc.field("qty"), pa.array([], pa.int32()))),
    ("isnull_string", lambda t: t["region"].isnull(), pc.field("region").is_null()),
    ("isnull_int", lambda t: t["qty"].isnull(), pc.field("qty").is_null()),
    ("not_isnull", lambda t: ~t["price"].isnull(), ~pc.field("price").is_null()),
    ("and", lambda t: (t["region"] == "EU") & (t["qty"] > 2), (pc.field("region") == "EU") & (pc.field("qty") > 2)),
    ("or", lambda t: (t["region"] == "US") | (t["price"] < 1), (pc.field("region") == "US") | (pc.field("price") < 1)),
    ("not_eq", lambda t: ~(t["region"] == "EU"), ~(pc.field("region") == "EU")),
    ("not_and", lambda t: ~((t["qty"] > 1) & (t["price"] > 1)), ~((pc.field("qty") > 1) & (pc.field("price") > 1))),
    (
        "nested",
        lambda t: ((t["region"].isin("EU", "US") | t["qty"].isnull()) & ~(t["day"] < dt.date(2024, 1, 3))),
        (isin(pc.field("region"), pa.array(["EU", "US"])) | pc.field("qty").is_null())
        & ~(pc.field("day") < pa.scalar(dt.date(2024, 1, 3), pa.date32())),
    ),
    ("compare_with_null_matches_nothing", lambda t: t["qty"] == None, pc.field("qty") == pa.scalar(None, pa.int32())),  # noqa: E711
]


@pytest.mark.parametrize(("check", "expected"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES])
def test_filters_agree_with_pyarrow_compute(sales: LocalTable, check: Check, expected: pc.Expression) -> None:
    want = SALES.filter(expected)
    got = sales.query(filter=check(sales))
    assert got.equals(want), f"{check(sales)!r}: got ids {got['id'].to_pylist()}, want {want['id'].to_pylist()}"
    assert sales.query("id", filter=check(sales)).column("id").to_pylist() == want.column("id").to_pylist()


BAD_FILTERS: list[tuple[Check, str]] = [
        (lambda t: t["nope"] == 1, "'nope'"),
        (lambda t: t["nope"].isin(1, 2), "'nope'"),
        (lambda t: t["nope"].isin(), "'nope'"),
        (lambda t: t["nope"].isnull(), "'nope'"),
        (lambda t: (t["id"] > 1) & ~(t["nope"] < 3), "'nope'"),
        (lambda t: (t["id"] > 1) | (t["nope"] < 3), "'nope'"),
        (lambda t: t["qty"] == "three", "'qty'"),
        (lambda t: t["qty"] == True, "'qty'"),  # noqa: E712 (builds a condition, compares nothing)
        (lambda t: t["day"] > "yesterday", "'day'"),
        (lambda t: t["region"] == 3, "'region'"),
        (lambda t: t["qty"].isin(1, "x"), "'qty'"),
]


@pytest.mark.parametrize(
    ("check", "message"),
    BAD_FILTERS,
    ids=[
        "compare_unknown",
        "isin_unknown",
        "empty_isin_unknown",
        "isnull_unknown",
        "nested_unknown",
        "or_unknown",
        "string_for_int",
        "bool_for_int",
        "bad_date",
        "int_for_string",
        "isin_mixed",
    ],
)
def test_bad_filters_are_invalid_requests(sales: LocalTable, check: Check, message: str) -> None:
    with pytest.raises(tiercube.InvalidRequestError, match=message):
        sales.query(filter=check(sales))


def test_conditions_refuse_python_boolean_operators(sales: LocalTable) -> None:
    with pytest.raises(TypeError, match="&, | and ~"):
        _ = (sales["qty"] > 1) and (sales["qty"] < 5)  # noqa: SIM222
    with pytest.raises(TypeError, match="cannot combine"):
        _ = cast(Any, sales["qty"] > 1) & True


def test_filters_are_evaluated_by_the_server(owner: tiercube.Session, sales: LocalTable) -> None:
    """The filter travels as data: a raw request with the wire form gets the same rows."""
    condition = (sales["region"] == "EU") & (sales["qty"] > 2)
    answer = httpx.post(
        f"{owner.url}/api/v1/tables/tables_sales/query",
        json={"columns": ["id"], "filter": {"type": "and", "operands": [
            {"type": "compare", "column": "region", "op": "==", "value": "EU"},
            {"type": "compare", "column": "qty", "op": ">", "value": 2},
        ]}},
        auth=("admin", "admin-password"),
        headers={"tiercube-client-version": tiercube.__version__, "tiercube-client-protocol": "1"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    via_http = pa.ipc.open_stream(answer.content).read_all()
    assert via_http.column("id").to_pylist() == sales.query("id", filter=condition).column("id").to_pylist() == [1, 6, 10]


# --------------------------------------------------------------------------- property test


@dataclass(frozen=True)
class Leaf:
    kind: str  # one of == != < <= > >= isin isnull
    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Node:
    kind: str  # and, or, not
    operands: tuple[Tree, ...]


Tree: TypeAlias = Leaf | Node

PROPERTY_TYPES: dict[str, DataType] = {"i": "int64", "f": "float64", "s": "string", "b": "bool"}
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "i": st.integers(-5, 5),
    "f": st.sampled_from([-1.5, 0.0, 0.25, 1.0, 2.5, 1e9]),
    "s": st.sampled_from(["", "a", "b", "B", "é", "ab"]),
    "b": st.booleans(),
}
OPERATORS = ["==", "!=", "<", "<=", ">", ">="]


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    column = draw(st.sampled_from(sorted(PROPERTY_TYPES)))
    kind = draw(st.sampled_from([*OPERATORS, "isin", "isnull"]))
    if kind == "isnull":
        return Leaf(kind, column, ())
    if kind == "isin":
        return Leaf(kind, column, tuple(draw(st.lists(st.one_of(st.none(), VALUES[column]), max_size=4))))
    return Leaf(kind, column, (draw(VALUES[column]),))


def _and(left: Tree, right: Tree) -> Tree:
    return Node("and", (left, right))


def _or(left: Tree, right: Tree) -> Tree:
    return Node("or", (left, right))


def _not(operand: Tree) -> Tree:
    return Node("not", (operand,))


def _extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    return st.one_of(st.builds(_and, children, children), st.builds(_or, children, children), st.builds(_not, children))


trees: st.SearchStrategy[Tree] = st.recursive(leaves(), _extend, max_leaves=6)


def to_condition(tree: Tree, table: LocalTable) -> Condition:
    if isinstance(tree, Node):
        parts = [to_condition(o, table) for o in tree.operands]
        if tree.kind == "not":
            return ~parts[0]
        return parts[0] & parts[1] if tree.kind == "and" else parts[0] | parts[1]
    column = table[tree.column]
    if tree.kind == "isnull":
        return column.isnull()
    if tree.kind == "isin":
        return column.isin(*tree.values)
    value = tree.values[0]
    comparisons: dict[str, Callable[[Any], Condition]] = {
        "==": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    return comparisons[tree.kind](value)


def to_sql(tree: Tree) -> str:
    """The same condition in SQL, for duckdb: the independent oracle of the null semantics."""
    if isinstance(tree, Node):
        parts = [to_sql(o) for o in tree.operands]
        if tree.kind == "not":
            return f"(NOT {parts[0]})"
        return f"({parts[0]} {tree.kind.upper()} {parts[1]})"
    column = f'"{tree.column}"'
    if tree.kind == "isnull":
        return f"({column} IS NULL)"
    if tree.kind == "isin":
        # SQL has no empty IN list; "one of no values" is false.
        return f"({column} IN ({', '.join(map(sql_literal, tree.values))}))" if tree.values else "FALSE"
    return f"({column} {'=' if tree.kind == '==' else tree.kind} {sql_literal(tree.values[0])})"


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


PROPERTY_ARROW: dict[str, pa.DataType] = {"i": pa.int64(), "f": pa.float64(), "s": pa.string(), "b": pa.bool_()}


@st.composite
def datasets(draw: st.DrawFn) -> pa.Table:
    size = draw(st.integers(0, 12))
    columns = {
        name: pa.array(draw(st.lists(st.one_of(st.none(), VALUES[name]), min_size=size, max_size=size)), PROPERTY_ARROW[name])
        for name in PROPERTY_TYPES
    }
    return pa.table({"row": pa.array(range(size), pa.int64()), **columns})


@settings(max_examples=examples(30))  # 60 took 14 s (idle) of the cluster run alone
@given(data=datasets(), tree=trees)
def test_any_filter_agrees_with_duckdb(owner: tiercube.Session, data: pa.Table, tree: Tree) -> None:
    """Tables follow SQL's three-valued logic, as duckdb does, in query and in drop."""
    name = unique("property")
    table = owner.create_table(name, data_types={"row": "int64", **PROPERTY_TYPES})
    try:
        table.load(data)
        condition = to_condition(tree, table)
        oracle = duckdb.connect()
        oracle.register("data", data)
        rows = oracle.execute(f"SELECT row FROM data WHERE {to_sql(tree)} ORDER BY row").fetchall()
        want = [row for (row,) in rows]
        got = table.query("row", filter=condition).column("row").to_pylist()
        assert got == want, f"{condition!r} on {data.to_pylist()}"
        # drop() removes exactly what the same filter selects.
        assert table.drop(condition) == len(want)
        assert table.query("row").column("row").to_pylist() == [r for r in range(data.num_rows) if r not in set(want)]
    finally:
        del owner.tables[name]


def test_the_module_table_is_untouched(sales: LocalTable) -> None:
    """Queries never change data: after every filter above, the table is as loaded."""
    assert sales.query().equals(SALES)


def test_max_rows_with_a_filter_stops_early_but_returns_the_first_matches(owner: tiercube.Session) -> None:
    rows = range(300_000)
    data = pa.table({"id": pa.array(rows, type=pa.int64()), "bucket": pa.array([i % 7 for i in rows], type=pa.int64())})
    table = owner.read_arrow(data, table_name=unique("early"))
    matching = [i for i in rows if i % 7 == 3]
    expected = pa.table({"id": pa.array(matching, type=pa.int64()), "bucket": pa.array([3] * len(matching), type=pa.int64())})
    for max_rows in (0, 1, 1_000, 40_000, 50_000):
        got = table.query(filter=table["bucket"] == 3, max_rows=max_rows)
        assert got.equals(expected.slice(0, max_rows)), max_rows
