"""The small queries, shared by the query figures and the concurrent client processes.

Kept free of server and baseline imports, so a client process starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa

import tiercube

REGION = "region-3"
SMALL_MDX = (
    "SELECT {[Measures].[qty.SUM], [Measures].[price.SUM]} ON COLUMNS, [region].[region].Members ON ROWS "
    "FROM [sales] WHERE [category].[category].[category-03]"
)


def fact_condition(table: tiercube.ReadOnlyTable, products: Sequence[str]) -> tiercube.Condition:
    """About 1,000 fact rows: one region and a few products."""
    return (table["region"] == REGION) & table["product"].isin(*products)


def small_queries(session: tiercube.ReadOnlySession | tiercube.LocalSession, products: Sequence[str]) -> list[Callable[[], pa.Table]]:
    """``table.query`` of about 1,000 fact rows with a filter, the same on the product table, and the small MDX."""
    sales = session.tables["sales"]
    dimension = session.tables["products"]
    condition = fact_condition(sales, products)
    every_product = dimension["category"] != "none"
    return [
        lambda: sales.query(filter=condition, max_rows=1000),
        lambda: dimension.query(filter=every_product, max_rows=1000),
        lambda: session.query_mdx(SMALL_MDX),
    ]
