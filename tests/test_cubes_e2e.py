"""Cubes through real servers and every tier that may use them, checked against pyarrow."""

from __future__ import annotations

from collections.abc import Generator

import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, USER

# Run both ways: tables held by the session server, and on a Dask cluster (see conftest).
pytestmark = pytest.mark.distributable

FACTS = pa.table(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "region": ["EU", "EU", "US", "US", "ASIA", None],
        "product": ["apple", "pear", "apple", "kiwi", "pear", "apple"],
        "qty": [3, 4, 5, 0, 2, 7],
        "price": [1.5, 2.0, 1.0, 4.0, None, 3.0],
    }
)
PRODUCTS = pa.table({"product": ["apple", "pear", "kiwi"], "family": ["pome", "pome", "berry"]})


@pytest.fixture(scope="module")
def cube_owner(owner: tiercube.Session) -> Generator[tiercube.Session]:
    sales = owner.read_arrow(FACTS, table_name="e2e_sales", keys=["id"])
    products = owner.read_arrow(PRODUCTS, table_name="e2e_products", keys=["product"])
    sales.join(products)
    cube = owner.create_cube(sales, name="e2e")
    cube.measures["avg price"] = cube.measures["price.SUM"] / cube.measures["qty.SUM"]
    yield owner


def expected_by(keys: list[str], table: pa.Table = FACTS) -> dict[tuple[object, ...], tuple[object, ...]]:
    grouped = table.group_by(keys).aggregate([("qty", "sum"), ("price", "sum"), ("id", "count")])
    return {
        tuple(row[k] for k in keys): (row["qty_sum"], row["price_sum"], row["id_count"]) for row in grouped.to_pylist()
    }


def as_dict(result: pa.Table, keys: list[str], measures: list[str]) -> dict[tuple[object, ...], tuple[object, ...]]:
    return {tuple(row[k] for k in keys): tuple(row[m] for m in measures) for row in result.to_pylist()}


def test_auto_mode_structure(cube_owner: tiercube.Session) -> None:
    cube = cube_owner.cubes["e2e"]
    assert {"region", "product", "family"} <= set(cube.levels)
    assert {"qty.SUM", "qty.MEAN", "price.SUM", "price.MEAN", "contributors.COUNT", "avg price"} <= set(cube.measures)
    assert cube.fact_table == "e2e_sales"


def test_aggregates_match_pyarrow(cube_owner: tiercube.Session) -> None:
    result = cube_owner.cubes["e2e"].query("qty.SUM", "price.SUM", "contributors.COUNT", levels=["region"])
    assert result.column_names == ["region", "qty.SUM", "price.SUM", "contributors.COUNT"]
    assert as_dict(result, ["region"], ["qty.SUM", "price.SUM", "contributors.COUNT"]) == expected_by(["region"])


def test_levels_from_a_joined_table(cube_owner: tiercube.Session) -> None:
    result = cube_owner.cubes["e2e"].query("qty.SUM", levels=["family"])
    joined = FACTS.join(PRODUCTS, "product")
    expected = {k: v[0] for k, v in expected_by(["family"], joined).items()}
    assert {k: v[0] for k, v in as_dict(result, ["family"], ["qty.SUM"]).items()} == expected


def test_filter_and_measure_arithmetic(cube_owner: tiercube.Session) -> None:
    cube = cube_owner.cubes["e2e"]
    europe_or_us = cube.levels["region"].isin("EU", "US")
    result = cube.query("avg price", levels=["region"], filter=europe_or_us & (cube.levels["product"] != "kiwi"))
    kept = [r for r in FACTS.to_pylist() if r["region"] in ("EU", "US") and r["product"] != "kiwi"]
    expected: dict[str, float] = {}
    for region in {r["region"] for r in kept}:
        rows = [r for r in kept if r["region"] == region]
        expected[region] = sum(r["price"] or 0.0 for r in rows) / sum(r["qty"] for r in rows)
    got = {row["region"]: row["avg price"] for row in result.to_pylist()}
    assert got == pytest.approx(expected)


def test_new_data_is_visible_to_the_next_query(fresh_owner: tiercube.Session) -> None:
    table = fresh_owner.read_arrow(FACTS, table_name="facts", keys=["id"])
    cube = fresh_owner.create_cube(table)
    before = cube.query("qty.SUM")["qty.SUM"][0].as_py()  # ty: ignore[missing-attribute]
    table.append((99, "EU", "apple", 100, 1.0))
    assert cube.query("qty.SUM")["qty.SUM"][0].as_py() == before + 100  # ty: ignore[missing-attribute]
    table.drop(table["id"] == 99)
    assert cube.query("qty.SUM")["qty.SUM"][0].as_py() == before  # ty: ignore[missing-attribute]


def test_every_tier_queries_and_only_editors_define_measures(cube_owner: tiercube.Session) -> None:
    with (
        tiercube.connect(cube_owner.url, authentication=ADMIN) as admin,
        tiercube.connect(cube_owner.url, authentication=USER) as reader,
    ):
        assert isinstance(admin, tiercube.LocalSession)
        assert isinstance(reader, tiercube.ReadOnlySession)
        admin.cubes["e2e"].measures["double qty"] = admin.cubes["e2e"].measures["qty.SUM"] * 2
        # Assigned by one client, visible to another at once.
        result = reader.cubes["e2e"].query("double qty", "qty.SUM")
        assert result["double qty"][0].as_py() == 2 * result["qty.SUM"][0].as_py()  # ty: ignore[missing-attribute]
        assert not hasattr(reader.cubes["e2e"].measures, "__setitem__")
        del admin.cubes["e2e"].measures["double qty"]
        assert "double qty" not in reader.cubes["e2e"].measures


def test_mdx_has_the_shape_of_cube_query(cube_owner: tiercube.Session) -> None:
    mdx = "SELECT {[Measures].[qty.SUM]} ON COLUMNS, NON EMPTY [region].[region].Members ON ROWS FROM [e2e]"
    via_mdx = cube_owner.query_mdx(mdx)
    via_query = cube_owner.cubes["e2e"].query("qty.SUM", levels=["region"])
    assert via_mdx.equals(via_query)


def test_unsupported_mdx_names_the_construct(cube_owner: tiercube.Session) -> None:
    with pytest.raises(tiercube.QueryError, match="TopCount"):
        cube_owner.query_mdx("SELECT TopCount([region].[region].Members, 3) ON ROWS FROM [e2e]")


def test_deleting_a_table_in_use_is_refused(cube_owner: tiercube.Session) -> None:
    with pytest.raises(tiercube.ConflictError, match="e2e"):
        del cube_owner.tables["e2e_products"]
    assert cube_owner.tables["e2e_products"].row_count == 3


def test_division_by_zero_gives_null(cube_owner: tiercube.Session) -> None:
    cube = cube_owner.cubes["e2e"]
    cube.measures["per qty"] = cube.measures["price.SUM"] / cube.measures["qty.SUM"]
    result = cube.query("per qty", levels=["product"], filter=cube.levels["product"] == "kiwi")
    assert result["per qty"].to_pylist() == [None]
