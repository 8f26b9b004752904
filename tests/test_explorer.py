"""The explorer in a real browser: Playwright drives Debian's chromium against a real server.

An analyst signs in, builds a pivot, reads the numbers off the grid (held
equal to ``cube.query``), filters members by searching, switches to a
chart, exports the view and reads the files back, and sees an append made
from Python appear. A ReadOnly user gets no editing control, a restricted
user only its members, a Minimal caller can still query by name, and an
embedded explorer signs in with its token. Screenshots of the main views go
to ``test-artifacts/explorer`` (or ``$TIERCUBE_TEST_ARTIFACTS``) and must not
be blank.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import shutil
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, ViewportSize, sync_playwright

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tiercube._wire import paths

ARTIFACTS = Path(os.environ.get("TIERCUBE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")) / "explorer"
# What the machine's probe found to work for a root user in a closed network (see dev.py).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# Wide enough that the grid draws every column of these views (it draws only what is on screen).
VIEWPORT: ViewportSize = {"width": 2400, "height": 1000}
EU_USER = tiercube.BasicAuthentication("eu", "eu-password")
REGIONS = ["Americas", "Asia", "Europe", "Oceania"]
PRODUCTS = {f"p{i:02d}": ["fruit", "grain", "drink", "sweets"][i % 4] for i in range(12)}


def chromium() -> str:
    found = os.environ.get("TIERCUBE_CHROMIUM") or shutil.which("chromium")
    if found is None:
        pytest.fail("the browser tests need Debian's chromium: `apt-get install chromium` (python3 dev.py test installs it)")
    return found


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


@pytest.fixture(scope="module")
def browser() -> Generator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Generator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def act(page: Page, action: Callable[[], object], timeout: float = 15_000) -> None:
    """Do ``action`` and wait until the page has drawn the answer to the query it causes."""
    before = page.locator("body").get_attribute("data-ready")
    action()
    selector = "body[data-ready]" if before is None else f"body[data-ready]:not([data-ready='{before}'])"
    page.locator(selector).wait_for(timeout=timeout)


def sign_in(page: Page, url: str, user: tiercube.BasicAuthentication) -> None:
    page.goto(url)
    page.wait_for_url(re.compile(r".*/explorer/sign-in(#.*)?$"))  # the link's fragment survives the redirect
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    act(page, lambda: page.get_by_role("button", name="Sign in").click())


def grid(page: Page) -> list[list[str]]:
    """The grid as drawn: the header row, then the body's rows, cell texts."""
    table = page.locator("perspective-viewer regular-table")
    header = [cell.strip() for cell in table.locator("thead tr").last.locator("th").all_inner_texts()]
    body = [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in table.locator("tbody tr").all()]
    return [header, *body]


def number(text: str) -> float:
    return float(text.replace(",", ""))


def by_label(rows: list[list[str]]) -> dict[str, dict[str, float | None]]:
    """Grid rows keyed by their first cell, each a mapping of column header to number (None when empty)."""
    header, *body = rows
    return {row[0]: {h: (number(v) if v else None) for h, v in zip(header[1:], row[1:], strict=False)} for row in body}


def screenshot(page: Page, name: str) -> Path:
    """Keep a screenshot of the page in the artifacts, and check it shows something."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 8, f"{path} looks blank ({len(colors or [])} colours)"
    return path


def test_an_analyst_signs_in_pivots_and_reads_the_server_s_numbers(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, ADMIN)
    assert page.locator("#who").inner_text() == "admin · RemoteSession"
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
    assert page.locator("#who").inner_text() == "user · ReadOnlySession"
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
    assert page.locator("#who").inner_text() == "user · MinimalSession"
    assert page.locator("#by-name").is_visible() and not page.locator("#structure").is_visible()
    page.get_by_label("Measures").fill("qty.SUM, price per unit")
    page.get_by_label("Levels").fill("region")
    act(page, lambda: page.get_by_role("button", name="Query").click())
    expected = session.cubes["sales"].query("qty.SUM", levels=["region"]).to_pylist()
    shown = by_label(grid(page))
    assert {row["region"]: row["qty.SUM"] for row in expected} == {region: cells["qty.SUM"] for region, cells in shown.items()}
    screenshot(page, "minimal")


def test_a_view_too_large_to_show_says_so(page: Page, session: tiercube.Session) -> None:
    big = session.create_table("big", data_types={"id": "int64", "n": "int64"}, keys=["id"])
    big.load(pa.table({"id": pa.array(range(60_000), pa.int64()), "n": pa.array([1] * 60_000, pa.int64())}))
    session.create_cube(big)
    try:
        sign_in(page, session.link, USER)
        page.get_by_label("cube").select_option("big")  # its only level is its key: 60,000 rows
        page.locator("#message").get_by_text("more cells than the page shows").wait_for()
        assert page.locator("#status").inner_text() == ""
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
    assert page.locator("#who").inner_text() == "user · ReadOnlySession"
    assert "token" not in page.url  # taken out of the address bar
    assert not page.get_by_role("button", name="Sign out").is_visible()
    assert set(by_label(grid(page))) <= {*REGIONS, "(null)"}


def test_a_link_opens_the_view_it_names_even_through_signing_in(page: Page, session: tiercube.Session) -> None:
    link = f"{session.link}#cube=sales&rows=category&columns=&measures=qty.SUM,price.SUM&plugin=Y+Line"
    sign_in(page, link, USER)
    assert page.get_by_role("button", name="Line").get_attribute("aria-pressed") == "true"
    assert page.locator("#code").inner_text().endswith('cube.query("qty.SUM", "price.SUM", levels=["category"], result_limit=50000)')
    act(page, lambda: page.get_by_role("button", name="Grid").click())
    expected = session.cubes["sales"].query("qty.SUM", levels=["category"]).to_pylist()
    assert {row["category"]: row["qty.SUM"] for row in expected} == {k: v["qty.SUM"] for k, v in by_label(grid(page)).items()}
    assert "rows=category" in page.url and "plugin" not in page.url  # the address follows the view
