"""The benchmark's data: the cube issue's fact table and a 1,000-row product dimension.

Generated with numpy from a fixed seed (vectorized: 10,000,000 rows take a few
seconds), then written once as CSV and Parquet to a temporary directory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

REGIONS = [f"region-{i}" for i in range(10)]
PRODUCTS = [f"product-{i:04d}" for i in range(1000)]
CATEGORIES = [f"category-{i:02d}" for i in range(20)]
FIRST_DAY = dt.date(2026, 1, 1)


def write_parquet(table: pa.Table, path: Path) -> None:
    cast(Any, pq).write_table(table, path)  # the stubs leave some parameters Unknown


def read_parquet(path: Path) -> pa.Table:
    table: pa.Table = cast(Any, pq).read_table(path)
    return table


def fact_table(rows: int, seed: int) -> pa.Table:
    """id int64, region (10 values), product (1,000), day (365), qty int64, price float64; plain strings."""
    generator = np.random.default_rng(seed)
    region = pa.array(REGIONS).take(generator.integers(0, len(REGIONS), rows, dtype=np.int32))
    product = pa.array(PRODUCTS).take(generator.integers(0, len(PRODUCTS), rows, dtype=np.int32))
    epoch_day = (FIRST_DAY - dt.date(1970, 1, 1)).days
    days = generator.integers(0, 365, rows, dtype=np.int32) + np.int32(epoch_day)
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "region": region,
            "product": product,
            "day": pa.array(days).cast(pa.date32()),
            "qty": pa.array(generator.integers(1, 21, rows, dtype=np.int64)),
            "price": pa.array(np.round(generator.uniform(1.0, 100.0, rows), 2)),
        }
    )


def product_table() -> pa.Table:
    """The dimension: one row per product, with its category; ``product`` is its key."""
    return pa.table(
        {
            "product": pa.array(PRODUCTS),
            "category": pa.array([CATEGORIES[i % len(CATEGORIES)] for i in range(len(PRODUCTS))]),
        }
    )


def dictionary_encoded(table: pa.Table) -> pa.Table:
    """``table`` with every string column dictionary-encoded (int32 indices), as tiercube stores it."""
    columns = [
        c.cast(pa.string()).dictionary_encode() if pa.types.is_string(c.type) or pa.types.is_large_string(c.type) else c
        for c in table.columns
    ]
    return pa.table(columns, names=table.column_names)


@dataclass
class Dataset:
    """The generated tables and the files holding them."""

    rows: int
    seed: int
    directory: Path

    @cached_property
    def fact(self) -> pa.Table:
        return fact_table(self.rows, self.seed)

    @cached_property
    def fact_dictionary(self) -> pa.Table:
        return dictionary_encoded(self.fact)

    @cached_property
    def products(self) -> pa.Table:
        return product_table()

    @cached_property
    def csv(self) -> Path:
        path = self.directory / "sales.csv"
        pa_csv.write_csv(self.fact, path)
        return path

    @cached_property
    def parquet(self) -> Path:
        path = self.directory / "sales.parquet"
        write_parquet(self.fact, path)
        return path

    @cached_property
    def products_parquet(self) -> Path:
        path = self.directory / "products.parquet"
        write_parquet(self.products, path)
        return path

    def small_filter_products(self) -> list[str]:
        """Products that, with one region, select about 1,000 fact rows (fewer on tiny data)."""
        wanted = 1000 * len(REGIONS) * len(PRODUCTS) / max(self.rows, 1)
        return PRODUCTS[: max(1, min(len(PRODUCTS), round(wanted)))]
