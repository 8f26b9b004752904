"""The explorer in a real browser: Playwright drives Debian's chromium against a real server.

An analyst signs in, builds a pivot, reads the numbers off the grid (held
equal to ``cube.query``), filters members by searching, switches to a
chart, exports the view and reads the files back, and sees an append made
from Python appear. A ReadOnly user gets no editing control, a restricted
user only its members, a Minimal caller can still query by name, and an
embedded explorer signs in with its token. Screenshots of the main views
must not be blank (``tests/browser.py``).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from playwright.sync_api import Browser, Page, Route

import tiercube
from tests.browser import VIEWPORT, act, browser, by_label, grid, page, screenshot, sign_in
from tests.conftest import ADMIN, SECURED, USER
from tiercube._wire import paths

__all__ = ["browser", "page"]  # fixtures: pytest finds them by the names the tests ask for

EU_USER = tiercube.BasicAuthentication("eu", "eu-password")
REGIONS = ["Americas", "Asia", "Europe", "Oceania"]
PRODUCTS = {f"p{i:02d}": ["fruit", "grain", "drink", "sweets"][i % 4] for i in range(12)}


@pytest.fixture(scope="module")
def session() -> Generator[tiercube.Session]:
    """A secured server with sales (2,000 rows) joined to products, a cube, and a user restricted to Europe."""
    config = tiercube.SessionConfig(
        users=[*SECURED.users, tiercube.UserConfig(name=EU_USER.username, password=EU_USER.password, roles=["EUROPE"])],
        max_failed_logins_per_minute=1000,
    )
    generator = random.Random(11)
    with tiercube.Session.start(config) as owner:
        sales = owner.create_table(
            "sales", data_types={"id": "int64", "region": "string", "product": "string", "qty": "int64", "price": "float64"}, keys=["id"]
        )
        sales.append(*[
            (i, generator.choice(REGIONS), generator.choice(list(PRODUCTS)), generator.randint(1, 20), round(generator.uniform(1, 50), 2))
            for i in range(2000)
        ])
        products = owner.create_table("products", data_types={"product": "string", "category": "string"}, keys=["product"])
        products.append(*PRODUCTS.items())
        sales.join(products)
        cube = owner.create_cube(sales)
        cube.measures["price per unit"] = cube.measures["price.SUM"] / cube.measures["qty.SUM"]
        owner.security.restrict("EUROPE", sales["region"] == "Europe")
        yield owner


def test_an_analyst_signs_in_pivots_and_reads_the_server_s_numbers(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, ADMIN)
    assert page.locator("#who").inner_text() == "admin · may query and edit"
    act(page, lambda: page.get_by_role("button", name="rows: region").click())
    act(page, lambda: page.get_by_role("button", name="columns: category").click())
    act(page, lambda: page.get_by_label("measure price per unit").check())
    act(page, lambda: page.get_by_label("Totals").check())
    screenshot(page, "pivot-with-totals")
    shown = by_label(grid(page))
    cube = session.cubes["sales"]
    cells = cube.query("qty.SUM", "price per unit", levels=["region", "category"], include_totals=True).to_pylist()
    by_category = cube.query("qty.SUM", "price per unit", levels=["category"]).to_pylist()
    assert set(shown) == {*REGIONS, "Total"}
    for cell in cells:
        region = cell["region"] or "Total"
        category = cell["category"] or "Total"
        assert shown[region][f"{category} · qty.SUM"] == cell["qty.SUM"]
        assert shown[region][f"{category} · price per unit"] == pytest.approx(cell["price per unit"], abs=0.006)  # drawn with 2 decimals
    for cell in by_category:  # the column totals over every region: from the server, not added up in the browser
        assert shown["Total"][f"{cell['category']} · price per unit"] == pytest.approx(cell["price per unit"], abs=0.006)
    code = page.locator("#code").inner_text()
    assert 'cube.query("qty.SUM", "price per unit", levels=["region", "category"], include_totals=True' in code


def test_member_filter_searches_and_charts_draw(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, USER)
    act(page, lambda: page.get_by_role("button", name="rows: region").click())
    page.get_by_role("button", name="filter: region").click()
    page.locator("#members-list li").first.wait_for()
    assert [text.strip() for text in page.locator("#members-list li").all_inner_texts()] == REGIONS
    page.get_by_label("search members").fill("SI")  # case does not matter
    assert [text.strip() for text in page.locator("#members-list li").all_inner_texts()] == ["Asia"]
    page.locator("#members-list input").first.check()
    screenshot(page, "member-filter")
    act(page, lambda: page.get_by_role("button", name="Apply").click())
    expected = session.cubes["sales"].query("qty.SUM", levels=["region"], filter=tiercube.level("region") == "Asia")
    assert by_label(grid(page)) == {"Asia": {"qty.SUM": expected["qty.SUM"].to_pylist()[0]}}
    act(page, lambda: page.get_by_role("button", name="columns: category").click())
    act(page, lambda: page.get_by_role("button", name="Bar").click())
    page.locator("perspective-viewer-d3fc-ybar svg").first.wait_for()
    screenshot(page, "bar-chart")
    act(page, lambda: page.get_by_role("button", name="Heat map").click())
    page.locator("perspective-viewer-d3fc-heatmap").first.wait_for()
    screenshot(page, "heat-map")


def test_export_writes_the_view_as_csv_and_arrow(page: Page, session: tiercube.Session, tmp_path: Path) -> None:
    sign_in(page, session.link, USER)
    act(page, lambda: page.get_by_role("button", name="remove region").click())  # the first view's rows
    act(page, lambda: page.get_by_role("button", name="rows: category").click())
    act(page, lambda: page.get_by_label("measure price.SUM").check())
    expected = {row["category"]: row for row in session.cubes["sales"].query("qty.SUM", "price.SUM", levels=["category"]).to_pylist()}
    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Export CSV").click()
    csv_path = tmp_path / "view.csv"
    csv_download.value.save_as(csv_path)
    exported = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert {row["category"] for row in exported} == set(expected)
    for row in exported:
        assert int(float(row["qty.SUM"])) == expected[row["category"]]["qty.SUM"]
        assert float(row["price.SUM"]) == pytest.approx(expected[row["category"]]["price.SUM"])
    with page.expect_download() as arrow_download:
        page.get_by_role("button", name="Export Arrow").click()
    arrow_path = tmp_path / "view.arrow"
    arrow_download.value.save_as(arrow_path)
    table = read_arrow(arrow_path.read_bytes())
    assert {row["category"]: (row["qty.SUM"], pytest.approx(row["price.SUM"])) for row in table.to_pylist()} == {
        category: (row["qty.SUM"], row["price.SUM"]) for category, row in expected.items()
    }


def read_arrow(data: bytes) -> pa.Table:
    """Perspective writes Arrow's IPC file format; the stream format is accepted as well."""
    try:
        return pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except pa.ArrowInvalid:
        return pa.ipc.open_stream(pa.BufferReader(data)).read_all()


def test_an_append_from_python_shows_without_reloading(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, USER)
    act(page, lambda: page.get_by_role("button", name="rows: region").click())
    before = by_label(grid(page))["Oceania"]["qty.SUM"]
    assert before is not None
    act(page, lambda: session.tables["sales"].append((100_000, "Oceania", "p01", 1000, 1.0)), timeout=10_000)
    assert by_label(grid(page))["Oceania"]["qty.SUM"] == before + 1000
    session.tables["sales"].drop(session.tables["sales"]["id"] == 100_000)


def test_a_read_only_user_gets_no_editing_control_an_admin_does(page: Page, session: tiercube.Session, browser: Browser) -> None:
    sign_in(page, session.link, USER)
    assert page.locator("#who").inner_text() == "user · may query (read only)"
    assert not page.locator("#editing").is_visible()
    assert page.get_by_role("button", name="Add").count() == 0 or not page.get_by_role("button", name="Add").is_visible()
    screenshot(page, "read-only")
    context = browser.new_context(viewport=VIEWPORT)
    admin = context.new_page()
    try:
        sign_in(admin, session.link, ADMIN)
        assert admin.locator("#editing").is_visible()
        admin.get_by_label("new measure's name").fill("qty per price")
        admin.get_by_label("left measure").select_option("qty.SUM")
        admin.get_by_label("operator").select_option("/")
        admin.get_by_label("right measure").select_option("price.SUM")
        act(admin, lambda: admin.get_by_role("button", name="Add").click())
        assert "qty per price" in session.cubes["sales"].measures
        assert "qty per price" in admin.locator("#code").inner_text()
        # Along a level: the level's list takes the right measure's place.
        admin.get_by_label("new measure's name").fill("running qty")
        admin.get_by_label("left measure").select_option("qty.SUM")
        admin.get_by_label("operator").select_option("running total along")
        assert not admin.get_by_label("right measure").is_visible()
        admin.get_by_label("along level").select_option("region")
        act(admin, lambda: admin.get_by_role("button", name="Add").click())
        rows = session.cubes["sales"].query("qty.SUM", "running qty", levels=["region"]).to_pylist()
        totals = [row["qty.SUM"] for row in rows]
        assert [row["running qty"] for row in rows] == [sum(totals[: i + 1]) for i in range(len(totals))]
    finally:
        context.close()
        for name in ("qty per price", "running qty"):
            if name in session.cubes["sales"].measures:
                del session.cubes["sales"].measures[name]


def test_a_restricted_user_sees_only_its_members(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, EU_USER)
    act(page, lambda: page.get_by_role("button", name="rows: region").click())
    act(page, lambda: page.get_by_role("button", name="columns: category").click())
    shown = by_label(grid(page))
    assert set(shown) == {"Europe"}
    europe = session.cubes["sales"].query("qty.SUM", levels=["category"], filter=tiercube.level("region") == "Europe").to_pylist()
    assert {f"{row['category']} · qty.SUM": row["qty.SUM"] for row in europe} == shown["Europe"]
    page.get_by_role("button", name="filter: region").click()
    page.locator("#members-list li").first.wait_for()
    assert [text.strip() for text in page.locator("#members-list li").all_inner_texts()] == ["Europe"]
    screenshot(page, "restricted")


def test_a_minimal_caller_still_queries_by_name(page: Page, session: tiercube.Session) -> None:
    """A page that speaks another wire protocol is granted query only: no structure, but queries by name."""

    def other_protocol(route: Route) -> None:
        headers = {**route.request.headers, paths.CLIENT_PROTOCOL_HEADER: "0"}
        route.continue_(headers=headers)

    page.route("**/*", other_protocol)
    sign_in(page, session.link, USER)
    assert page.locator("#who").inner_text() == "user · may query by name"
    assert page.locator("#by-name").is_visible() and not page.locator("#structure").is_visible()
    page.get_by_label("Measures").fill("qty.SUM, price per unit")
    page.get_by_label("Levels").fill("region")
    act(page, lambda: page.get_by_role("button", name="Query").click())
    expected = session.cubes["sales"].query("qty.SUM", levels=["region"]).to_pylist()
    shown = by_label(grid(page))
    assert {row["region"]: row["qty.SUM"] for row in expected} == {region: cells["qty.SUM"] for region, cells in shown.items()}
    screenshot(page, "minimal")


def test_a_key_is_kept_off_the_first_view_and_a_view_too_large_says_what_to_do(page: Page, session: tiercube.Session) -> None:
    big = session.create_table("big", data_types={"id": "int64", "n": "int64"}, keys=["id"])
    big.load(pa.table({"id": pa.array(range(60_000), pa.int64()), "n": pa.array([1] * 60_000, pa.int64())}))
    session.create_cube(big)
    try:
        sign_in(page, session.link, USER)
        act(page, lambda: page.get_by_label("cube").select_option("big"))
        # Its only level is its key (a member per row): not on rows at first, not even listed.
        assert page.locator("#rows li").count() == 0
        assert by_label(grid(page)) == {"Total": {"n.SUM": 60_000}}
        assert not page.get_by_role("button", name="rows: id").is_visible()
        page.get_by_role("button", name="1 more level").click()
        act(page, lambda: page.get_by_role("button", name="rows: id").click())  # 60,000 rows
        alert = page.locator("#message").inner_text()
        assert "more than 50,000 cells" in alert and "Add a filter" in alert and "raise" not in alert
        assert page.locator("#view-status").inner_text() == ""
        assert grid(page)[1:] == []  # the old grid does not stay under the new chips
    finally:
        del session.cubes["big"]
        del session.tables["big"]


def test_an_embedded_explorer_signs_in_with_its_token(page: Page, session: tiercube.Session) -> None:
    with tiercube.connect(session.url, authentication=USER) as user:
        widget: Any = user.cubes["sales"].explore()
    src = str(widget.src)
    assert "#cube=sales&token=" in src
    page.goto(src)
    page.locator("body[data-ready]").wait_for()
    assert page.locator("#who").inner_text() == "user · may query (read only)"
    assert "token" not in page.url  # taken out of the address bar
    assert not page.get_by_role("button", name="Sign out").is_visible()
    assert set(by_label(grid(page))) <= {*REGIONS, "(null)"}


def test_a_link_opens_the_view_it_names_even_through_signing_in(page: Page, session: tiercube.Session) -> None:
    link = f"{session.link}#cube=sales&rows=category&columns=&measures=qty.SUM,price.SUM&plugin=Y+Line"
    sign_in(page, link, USER)
    assert page.get_by_role("button", name="Line").get_attribute("aria-pressed") == "true"
    assert page.locator("#code").inner_text().endswith('cube.query("qty.SUM", "price.SUM", levels=["category"], max_rows=50000)')
    act(page, lambda: page.get_by_role("button", name="Grid").click())
    expected = session.cubes["sales"].query("qty.SUM", levels=["category"]).to_pylist()
    assert {row["category"]: row["qty.SUM"] for row in expected} == {k: v["qty.SUM"] for k, v in by_label(grid(page)).items()}
    assert "rows=category" in page.url and "plugin" not in page.url  # the address follows the view
