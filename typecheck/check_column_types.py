"""Column types as a caller declares them, and what loads accept: every checker must judge them alike.

A type is a name (``"int64"``, as it always was) or a type with parameters
(``tiercube.Decimal(18, 2)``, ``tiercube.Timestamp("ns", "Europe/Paris")``...);
code that typed its declarations with ``DataType`` alone still checks. The
tests at the bottom run the same functions against a real session.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import TYPE_CHECKING, assert_type

import pandas as pd
import pyarrow as pa

import tiercube
from tests.tiers import Tiers
from tiercube import ColumnType, Condition, DataType, LocalTable

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING
PARIS = dt.timezone(dt.timedelta(hours=1))


def declared(session: tiercube.capabilities.SupportsFileLoading, name: str) -> LocalTable:
    """Every kind of declaration ``create_table`` and ``data_types=`` take."""
    types: dict[str, ColumnType] = {
        "id": "int64",
        "price": tiercube.Decimal(18, 2),
        "amount": "decimal",
        "at": tiercube.Timestamp("us", "Europe/Paris"),
        "logged": tiercube.Timestamp(),
        "took": tiercube.Duration("ms"),
        "opens": tiercube.Time("s"),
        "blob": "binary",
    }
    table = session.create_table(name, data_types=types, keys=["id"])
    assert_type(table, LocalTable)
    assert_type(table.data_types, dict[str, ColumnType])
    # Declarations typed with the names only, as code written before the types with parameters.
    names: dict[str, DataType] = {"id": "int64", "region": "string"}
    assert_type(session.create_table(f"{name}_names", data_types=names), LocalTable)
    assert_type(session.read_arrow(pa.table({"id": [1], "at": ["2024-01-01"]}), table_name=f"{name}_read", data_types={"at": "date"}), LocalTable)
    assert_type(tiercube.Decimal(18, 2).scale, int)
    assert_type(tiercube.Timestamp("ns", "UTC").time_zone, str | None)
    return table


def values(table: LocalTable) -> None:
    """Rows and conditions take the values of the new types."""
    at = dt.datetime(2024, 3, 1, 9, tzinfo=PARIS)
    row = (1, decimal.Decimal("1.25"), 3, at, dt.datetime(2024, 3, 1), dt.timedelta(seconds=5), dt.time(9, 30), None)
    assert_type(table.append(row), int)
    assert_type(table["at"] >= at, Condition)
    assert_type(table["price"] == decimal.Decimal("1.25"), Condition)
    assert_type(table["took"].isin(dt.timedelta(seconds=5), None), Condition)
    assert_type(table["opens"] < dt.time(12), Condition)


def duplicate_keys(table: LocalTable, session: tiercube.capabilities.SupportsFileLoading, name: str) -> None:
    """Loads and reads say what a key repeated within them does."""
    frame = pd.DataFrame({"id": [2, 2]})
    assert_type(table.load(frame, on_duplicate_keys="last"), int)
    assert_type(session.read_pandas(frame, table_name=name, keys=["id"], on_duplicate_keys="last"), LocalTable)
    if TYPE_CHECKING_INVALID_USAGE:
        table.load(frame, on_duplicate_keys="first")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_pandas(frame, table_name=name, on_duplicate_keys="keep")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def invalid_declarations(session: tiercube.capabilities.SupportsEditing) -> None:
    if TYPE_CHECKING_INVALID_USAGE:
        session.create_table("t", data_types={"a": "int128"})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-assignment]  # ty: ignore[invalid-argument-type]
        session.create_table("t", data_types={"a": pa.int64()})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-assignment]  # ty: ignore[invalid-argument-type]
        tiercube.Timestamp("minutes")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.Duration(unit="days")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        tiercube.Decimal("18", 2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


# Runtime.


def test_declared_types_read_back_by_their_names_where_they_have_the_defaults(tiers: Tiers) -> None:
    table = declared(tiers.owner, "typecheck_declared")
    assert table.data_types == {
        "id": "int64",
        "price": tiercube.Decimal(18, 2),
        "amount": "decimal",
        "at": tiercube.Timestamp("us", "Europe/Paris"),
        "logged": "timestamp",
        "took": tiercube.Duration("ms"),
        "opens": tiercube.Time("s"),
        "blob": "binary",
    }
    values(table)
    assert table.query("id", filter=table["at"] >= dt.datetime(2024, 3, 1, 8, tzinfo=dt.timezone.utc))["id"].to_pylist() == [1]
    duplicate_keys(table, tiers.owner, "typecheck_repeated")
    assert table.row_count == 2
    invalid_declarations(tiers.owner)


def test_a_declaration_that_cannot_be_is_refused_where_it_is_made() -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: tiercube.Decimal(80, 2), "the precision is 1 to 76 digits"),
        (lambda: tiercube.Decimal(10, 12), "the scale 0 to the precision"),
        (lambda: tiercube.Timestamp("us", "Europe/Pari"), "not a time zone tiercube knows"),
    ]
    for make, message in cases:
        try:
            make()
        except ValueError as error:
            assert message in str(error)
        else:
            raise AssertionError(f"no error: {message}")
