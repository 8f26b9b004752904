"""A small snowflake schema, and an independent oracle (duckdb) over the same Arrow data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

import duckdb
import pyarrow as pa

from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.types import decoded
from tiercube._wire.cubes import CreateCube, CubeQuery, Join
from tiercube._wire.messages import Column, CreateTable, DataType

Row = tuple[Any, ...]

SALES: list[tuple[str, DataType]] = [
    ("id", "int64"),
    ("region", "string"),
    ("product", "string"),
    ("day", "date"),
    ("qty", "int64"),
    ("price", "float64"),
]
SALES_ROWS: list[list[Any]] = [
    [1, "EU", "apple", date(2026, 1, 5), 3, 1.5],
    [2, "EU", "pear", date(2026, 1, 6), 2, 2.0],
    [3, "EU", "apple", date(2026, 2, 1), None, 1.0],
    [4, "US", "apple", date(2026, 2, 3), 7, None],
    [5, "US", "kiwi", date(2026, 3, 9), 1, 4.0],  # kiwi is not in the product table
    [6, "US", "pear", date(2026, 3, 10), 0, 0.5],
    [7, None, "plum", date(2026, 3, 11), 5, 3.0],
    [8, "ASIA", "plum", date(2027, 1, 1), 4, 2.5],
]
PRODUCTS: list[tuple[str, DataType]] = [("product", "string"), ("category", "string"), ("brand", "string"), ("weight", "float64")]
PRODUCT_ROWS: list[list[Any]] = [
    ["apple", "fruit", "acme", 0.2],
    ["pear", "fruit", "bestco", 0.3],
    ["plum", "stone", "acme", None],
]
BRANDS: list[tuple[str, DataType]] = [("brand", "string"), ("country", "string")]
BRAND_ROWS: list[list[Any]] = [["acme", "FR"], ["bestco", "DE"]]


def create(tables: TableStore, name: str, columns: list[tuple[str, DataType]], rows: list[list[Any]], keys: Sequence[str] = ()) -> None:
    tables.create(CreateTable(name, [Column(n, t) for n, t in columns], keys=list(keys)))
    if rows:
        tables.append(name, rows)


def snowflake(*, mode: Literal["auto", "manual", "no_measures"] = "auto") -> tuple[TableStore, CubeStore]:
    """sales -> products -> brands, and a cube "sales" over it."""
    tables = TableStore()
    cubes = CubeStore(tables)
    create(tables, "sales", SALES, SALES_ROWS)
    create(tables, "products", PRODUCTS, PRODUCT_ROWS, keys=["product"])
    create(tables, "brands", BRANDS, BRAND_ROWS, keys=["brand"])
    cubes.join("sales", Join("products"))
    cubes.join("products", Join("brands", {"brand": "brand"}))
    cubes.create_cube(CreateCube("sales", mode=mode))
    return tables, cubes


def query(tables: TableStore, cubes: CubeStore, **fields: Any) -> pa.Table:
    return cubes.query("sales", CubeQuery(**fields), limits=QueryLimits(30, 100_000))


def oracle(tables: TableStore, sql: str) -> list[Row]:
    """Run ``sql`` with duckdb over the stored tables (dictionaries decoded, so duckdb sees plain values)."""
    connection = duckdb.connect()
    for name in tables.names():
        connection.register(name, decoded(tables.get(name).rows.gathered()))
    return [tuple(row) for row in connection.sql(sql).fetchall()]


def rows(table: pa.Table) -> list[Row]:
    return [tuple(row.values()) for row in table.to_pylist()]


def same(actual: Sequence[Row], expected: Sequence[Row]) -> bool:
    """Equal row by row, in order; floats within a relative 1e-9."""
    if len(actual) != len(expected):
        return False
    for left, right in zip(actual, expected, strict=True):
        if len(left) != len(right):
            return False
        for a, b in zip(left, right, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                if a is None or b is None:
                    if a is not b:
                        return False
                elif not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif a != b:
                return False
    return True


def assert_same(actual: pa.Table, expected: Sequence[Row]) -> None:
    got = rows(actual)
    assert same(got, expected), f"engine:\n{got}\noracle:\n{list(expected)}"
