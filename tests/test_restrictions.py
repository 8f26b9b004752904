"""Row-level restrictions through a real server, checked against duckdb joins of the same data.

A snowflake: ``sales`` -> ``stores`` -> ``regions``, and ``sales`` -> ``products``.
The role EUROPE is restricted to ``regions.region == "Europe"``: the fact table
has no region column, the cube shows the region under another name, and
some rows join nothing. A restricted user must see exactly the European
rows everywhere: table queries, row counts, the schema overview, cubes and
their totals, MDX, and the owner's custom endpoints.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import duckdb
import httpx
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, placed
from tiercube._wire import paths

# Run both ways: tables held by the session server, and on a Dask cluster (see conftest).
pytestmark = pytest.mark.distributable

REGIONS = pa.table({"region_id": [1, 2, 3], "region": ["Europe", "Americas", "Asia"]})
STORES = pa.table({"store": ["paris", "berlin", "nyc", "tokyo", "nowhere"], "region_id": [1, 1, 2, 3, None]})
PRODUCTS = pa.table({"product": ["apple", "pear", "plum"], "category": ["fruit", "fruit", "stone"]})
SALES = pa.table(
    {
        "id": list(range(1, 11)),
        "store": ["paris", "berlin", "nyc", "tokyo", "paris", "nyc", "nowhere", "atlantis", None, "berlin"],
        "product": ["apple", "pear", "plum", "apple", "plum", "pear", "apple", "pear", "plum", "apple"],
        "qty": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    }
)
EVE = tiercube.BasicAuthentication("eve", "eve-password")
FRUITY = tiercube.BasicAuthentication("fred", "fred-password")


@dataclass
class Shop:
    owner: tiercube.Session
    eve: tiercube.ReadOnlySession


@pytest.fixture(scope="module")
def shop(placement: str, request: pytest.FixtureRequest) -> Generator[Shop]:
    with tiercube.Session.start(placed(SECURED, placement, request)) as owner:
        regions = owner.read_arrow(REGIONS, table_name="regions", keys=["region_id"])
        stores = owner.read_arrow(STORES, table_name="stores", keys=["store"])
        products = owner.read_arrow(PRODUCTS, table_name="products", keys=["product"])
        sales = owner.read_arrow(SALES, table_name="sales", keys=["id"])
        sales.join(stores)
        stores.join(regions)
        sales.join(products)
        cube = owner.create_cube(sales)
        # The level that shows the region has another name than its column.
        cube.hierarchies["Geography"] = {"Territory": "region"}
        owner.security.create_user("eve", password=EVE.password, roles=["EUROPE"])
        owner.security.create_user("fred", password=FRUITY.password, roles=["EUROPE", "STONE"])
        owner.security.restrict("EUROPE", regions["region"] == "Europe")
        owner.security.restrict("STONE", products["category"] == "stone")
        with tiercube.connect(owner.url, authentication=EVE, require=tiercube.ReadOnlySession) as eve:
            yield Shop(owner, eve)


def oracle(sql: str) -> list[tuple[object, ...]]:
    connection = duckdb.connect()
    for name, table in (("regions", REGIONS), ("stores", STORES), ("products", PRODUCTS), ("sales", SALES)):
        connection.register(name, table)
    return connection.execute(sql).fetchall()


EUROPEAN_SALES = """
    SELECT s.id FROM sales s JOIN stores st ON s.store = st.store JOIN regions r ON st.region_id = r.region_id
    WHERE r.region = 'Europe' ORDER BY s.id
"""


def ids(table: pa.Table) -> list[int]:
    return sorted(int(v) for v in table.column("id").to_pylist() if v is not None)


def test_the_fact_table_is_restricted_through_its_joins(shop: Shop) -> None:
    want = [row[0] for row in oracle(EUROPEAN_SALES)]
    assert want == [1, 2, 5, 10]  # not the sale of a store without region, of an unknown store, or without store
    assert ids(shop.eve.tables["sales"].query()) == want
    assert ids(shop.eve.tables["sales"].query(filter=shop.eve.tables["sales"]["qty"] > 1)) == [2, 5, 10]
    assert shop.eve.tables["sales"].query(max_rows=2).num_rows == 2


def test_every_table_on_the_path_is_restricted_and_others_are_not(shop: Shop) -> None:
    tables = shop.eve.tables
    assert tables["regions"].query().column("region").to_pylist() == ["Europe"]
    assert sorted(str(v) for v in tables["stores"].query().column("store").to_pylist()) == ["berlin", "paris"]
    assert tables["products"].query().num_rows == 3  # products do not reference regions


def test_counts_and_the_schema_overview_show_only_visible_rows(shop: Shop) -> None:
    tables = shop.eve.tables
    assert tables["sales"].row_count == 4
    assert {name: schema.row_count for name, schema in tables.schema.items()} == {
        "regions": 1, "stores": 2, "products": 3, "sales": 4,
    }
    # The owner and admins see everything.
    assert shop.owner.tables["sales"].row_count == 10
    with tiercube.connect(shop.owner.url, authentication=ADMIN) as admin:
        assert isinstance(admin, tiercube.LocalSession)
        assert admin.tables["sales"].row_count == 10


def test_cubes_see_only_the_visible_fact_rows_whatever_the_level_is_called(shop: Shop) -> None:
    cube = shop.eve.cubes["sales"]
    by_territory = cube.query("qty.SUM", levels=["Territory"], include_totals=True)
    assert by_territory.to_pylist() == [{"Territory": "Europe", "qty.SUM": 18}, {"Territory": None, "qty.SUM": 18}]
    want = oracle(
        "SELECT s.product, sum(s.qty) FROM sales s JOIN stores st ON s.store = st.store JOIN regions r "
        "ON st.region_id = r.region_id WHERE r.region = 'Europe' GROUP BY s.product ORDER BY s.product"
    )
    by_product = cube.query("qty.SUM", levels=["product"])
    assert [tuple(row.values()) for row in by_product.to_pylist()] == want
    # A filter cannot widen the view, and MDX answers the same.
    assert cube.query("qty.SUM", filter=tiercube.level("Territory") == "Asia").num_rows == 0
    mdx = shop.eve.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS, [Geography].[Territory].Members ON ROWS FROM [sales]")
    assert mdx.to_pylist() == [{"Territory": "Europe", "qty.SUM": 18}]


def test_several_roles_see_what_any_of_them_allows(shop: Shop) -> None:
    with tiercube.connect(shop.owner.url, authentication=FRUITY) as fred:
        assert isinstance(fred, tiercube.ReadOnlySession)
        want = [row[0] for row in oracle(
            "SELECT s.id FROM sales s LEFT JOIN stores st ON s.store = st.store LEFT JOIN regions r ON st.region_id = r.region_id "
            "LEFT JOIN products p ON s.product = p.product WHERE r.region = 'Europe' OR p.category = 'stone' ORDER BY s.id"
        )]
        assert ids(fred.tables["sales"].query()) == want
        # products: STONE restricts them, EUROPE does not: one unrestricted role is enough.
        assert fred.tables["products"].row_count == 3
        assert fred.tables["regions"].row_count == 3


def test_a_restriction_that_cannot_be_applied_hides_everything(shop: Shop) -> None:
    owner = shop.owner
    owner.create_table("budgets", data_types={"team": "string", "amount": "int64"}).append(("a", 1), ("b", 2))
    owner.security.restrict("BUDGET", owner.tables["budgets"]["team"] == "a")
    owner.security.create_user("bea", password="bea-password", roles=["BUDGET"])
    bea = tiercube.BasicAuthentication("bea", "bea-password")
    with tiercube.connect(owner.url, authentication=bea, require=tiercube.ReadOnlySession) as session:
        assert session.tables["budgets"].query().column("team").to_pylist() == ["a"]
    # The table is replaced by one without the restricted column: nothing shows, rather than everything.
    del owner.tables["budgets"]
    owner.create_table("budgets", data_types={"department": "string", "amount": "int64"}).append(("a", 1), ("b", 2))
    with tiercube.connect(owner.url, authentication=bea, require=tiercube.ReadOnlySession) as session:
        assert session.tables["budgets"].query().num_rows == 0
        assert session.tables["budgets"].row_count == 0


def test_restrictions_must_name_table_columns_of_one_table_per_part(shop: Shop) -> None:
    security = shop.owner.security
    regions, products = shop.owner.tables["regions"], shop.owner.tables["products"]
    with pytest.raises(tiercube.InvalidRequestError, match="bound to table columns"):
        security.restrict("X", tiercube.level("region") == "Europe")
    with pytest.raises(tiercube.InvalidRequestError, match="only with &"):
        security.restrict("X", (regions["region"] == "Europe") | (products["category"] == "stone"))
    with pytest.raises(tiercube.NotFoundError, match="no table named 'nowhere'"):
        security.restrict("X", tiercube.Column("a", table="nowhere") == 1)
    with pytest.raises(tiercube.InvalidRequestError, match="'nope'"):
        security.restrict("X", regions["nope"] == 1)
    # A cube's level is a column of a table too.
    security.restrict("X", shop.owner.cubes["sales"].levels["Territory"] == "Asia")
    assert repr(security.restrictions["X"]) == "Condition(regions.region == 'Asia')"
    security.unrestrict("X")


def test_custom_endpoints_answer_with_what_the_caller_may_see(shop: Shop) -> None:
    owner = shop.owner
    cube = owner.cubes["sales"]

    @owner.endpoint("total")
    def total(request: tiercube.EndpointRequest) -> dict[str, object]:
        answer = cube.query("qty.SUM")
        return {"total": answer.column("qty.SUM").to_pylist()[0], "restricted": request.restricted}

    @owner.endpoint("everything", unrestricted=True)
    def everything(request: tiercube.EndpointRequest) -> int:
        return owner.tables["sales"].row_count

    @owner.endpoint("sneaky")
    def sneaky(request: tiercube.EndpointRequest) -> int:
        # Documented: the caller's restriction follows the handler's own thread, not threads it starts.
        import threading

        seen: list[int] = []
        worker = threading.Thread(target=lambda: seen.append(owner.tables["sales"].row_count))
        worker.start()
        worker.join()
        return seen[0]

    as_eve = httpx.get(f"{owner.url}/api/custom/total", auth=(EVE.username, EVE.password), timeout=30)
    assert as_eve.json() == {"total": 18, "restricted": True}
    as_admin = httpx.get(f"{owner.url}/api/custom/total", auth=(ADMIN.username, ADMIN.password), timeout=30)
    assert as_admin.json() == {"total": 55, "restricted": False}
    # The documented opt-out: the handler sees everything and decides itself.
    assert httpx.get(f"{owner.url}/api/custom/everything", auth=(EVE.username, EVE.password), timeout=30).json() == 10
    # A request the owner makes outside any endpoint call is the owner's own, unrestricted.
    assert owner.tables["sales"].row_count == 10
    assert httpx.get(f"{owner.url}/api/custom/sneaky", auth=(EVE.username, EVE.password), timeout=30).json() == 10


def test_a_stale_delegation_token_is_refused(shop: Shop) -> None:
    token = shop.owner._server.owner_token  # pyright: ignore[reportPrivateUsage]
    headers = {"Authorization": f"Bearer {token}", paths.DELEGATION_HEADER: "no-such-call"}
    response = httpx.get(f"{shop.owner.url}/api/v1/tables", headers=headers, timeout=30)
    assert response.status_code == 403 and "has ended" in response.json()["message"]
