"""The explorer shows only numbers the server computed: its tree, drill-down, date ranges and links.

Playwright drives Debian's chromium against a real server holding sales
with a geography hierarchy (region > country > city) and a date. Every number
read off the page is held equal to ``cube.query`` for the same cells. The
viewer's own configure panel (issue 18: grouping there added the server's
subtotals into totals of its own) is tried control by control, and the CSV
export is read back and compared with the server's answer.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import random
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page

import tiercube
from tests.browser import act, browser, by_label, grid, member, page, screenshot, sign_in
from tests.conftest import ADMIN, SECURED, USER
from tests.test_explorer_server import STATED
from tiercube._wire import paths

__all__ = ["browser", "page"]  # fixtures: pytest finds them by the names the tests ask for

GEOGRAPHY = {
    "Americas": {"Brazil": ["Rio", "Sao Paulo"], "Canada": ["Toronto"], "USA": ["Boston", "Denver", "Seattle"]},
    "Europe": {"France": ["Lyon", "Paris"], "Germany": ["Berlin", "Munich"], "Spain": ["Madrid"]},
    "Asia": {"Japan": ["Osaka", "Tokyo"], "India": ["Delhi", "Mumbai"]},
}
CITIES = [(region, country, city) for region, countries in GEOGRAPHY.items() for country, cities in countries.items() for city in cities]
START = datetime.date(2024, 1, 1)
EU_USER = tiercube.BasicAuthentication("eu", "eu-password")


@pytest.fixture(scope="module")
def session() -> Generator[tiercube.Session]:
    """A secured server: 3,000 sales over three years, a geography hierarchy, an average price, a share."""
    generator = random.Random(18)
    config = tiercube.SessionConfig(
        users=[*SECURED.users, tiercube.UserConfig(name=EU_USER.username, password=EU_USER.password, roles=["EUROPE"])],
        max_failed_logins_per_minute=1000,
    )
    with tiercube.Session.start(config) as owner:
        sales = owner.create_table(
            "sales",
            data_types={"id": "int64", "day": "date", "region": "string", "country": "string", "city": "string", "qty": "int64", "price": "float64"},
            keys=["id"],
        )
        sales.append(*[
            (i, START + datetime.timedelta(days=generator.randrange(1095)), *generator.choice(CITIES), generator.randint(1, 20), round(generator.uniform(1, 50), 2))
            for i in range(3000)
        ])
        cube = owner.create_cube(sales)
        hierarchies = cube.hierarchies
        del hierarchies["region"], hierarchies["country"], hierarchies["city"]
        hierarchies["geography"] = ["region", "country", "city"]
        measures = cube.measures
        share = measures["qty.SUM"] / tiercube.parent_value(measures["qty.SUM"], "country")
        measures.set("share of region", share, format=tiercube.Format.percent(1))  # the explorer shows it as the server keeps it
        owner.security.restrict("EUROPE", sales["region"] == "Europe")
        yield owner


def cube_of(session: tiercube.Session) -> Any:
    return session.cubes["sales"]


def requests(page: Page) -> int:
    """How many requests the page has made, as of its last drawing."""
    return int(page.locator("body").get_attribute("data-requests") or "0")


def geography_tree(page: Page, session: tiercube.Session, user: tiercube.BasicAuthentication = ADMIN) -> None:
    """Signed in (as the admin), the geography hierarchy on rows, qty.SUM and price.MEAN, with totals."""
    sign_in(page, session.link, user)
    act(page, lambda: page.get_by_role("button", name="rows: hierarchy geography").click())
    act(page, lambda: page.get_by_label("measure price.MEAN").check())
    act(page, lambda: page.get_by_label("Totals").check())


def expand(page: Page, name: str) -> None:
    cell = page.locator("perspective-viewer regular-table tbody tr td:first-child, perspective-viewer regular-table tbody tr th:first-child")
    act(page, lambda: cell.filter(has_text=name).first.click())


def test_the_viewer_s_own_settings_cannot_re_aggregate_and_the_export_is_the_server_s(page: Page, session: tiercube.Session, tmp_path: Path) -> None:
    """Issue 18: grouping by region in the viewer's panel summed the subtotals; every control is refused now."""
    sign_in(page, session.link, ADMIN)
    act(page, lambda: page.get_by_role("button", name="rows: country").click())  # rows: region, country
    act(page, lambda: page.get_by_label("measure price.MEAN").check())
    act(page, lambda: page.get_by_label("Totals").check())
    assert page.locator("#viewer").evaluate("v => getComputedStyle(v.shadowRoot.querySelector('#settings_button')).display") == "none"
    before = grid(page)
    attempts: list[dict[str, Any]] = [
        {"group_by": ["region"]},  # what the analyst did in the issue
        {"split_by": ["region"]},
        {"aggregates": {"qty.SUM": "sum", "price.MEAN": "sum"}, "group_by": ["region"]},
        {"filter": [["region", "==", "Asia"]]},
        {"sort": [["qty.SUM", "desc"]]},
        {"expressions": {"double": '"qty.SUM" * 2'}, "columns": ["region", "double"]},
        {"columns": ["region"]},
    ]
    for attempt in attempts:
        page.evaluate("() => { document.getElementById('message').hidden = true; }")
        page.locator("#viewer").evaluate("async (v, change) => { await v.toggleConfig(true); await v.restore(change); }", attempt)
        page.locator("#message").get_by_text("settings are off").wait_for()
        page.wait_for_function(
            "async () => { const c = await document.getElementById('viewer').save(); return !c.settings && c.group_by.length === 0"
            " && c.split_by.length === 0 && c.filter.length === 0 && c.sort.length === 0 && Object.keys(c.expressions).length === 0; }"
        )
        assert grid(page) == before, attempt
    shown = by_label(before)
    cube = cube_of(session)
    for row in cube.query("qty.SUM", "price.MEAN", levels=["region"], include_totals=True).to_pylist():
        assert shown[row["region"] or "Total"]["qty.SUM"] == row["qty.SUM"]
        assert shown[row["region"] or "Total"]["price.MEAN"] == pytest.approx(row["price.MEAN"], abs=0.006)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    path = tmp_path / "view.csv"
    download.value.save_as(path)
    exported = {row["region"]: row for row in csv.DictReader(io.StringIO(path.read_text()))}
    assert all(not row["country"] for row in exported.values())  # no country expanded: region subtotals only
    expected = cube.query("qty.SUM", "price.MEAN", levels=["region"], include_totals=True).to_pylist()
    assert set(exported) == {row["region"] or "Total" for row in expected}
    for row in expected:
        line = exported[row["region"] or "Total"]
        assert int(float(line["qty.SUM"])) == row["qty.SUM"]
        assert float(line["price.MEAN"]) == pytest.approx(row["price.MEAN"], rel=1e-12)  # not rounded, not summed


def test_a_hierarchy_drills_down_one_query_per_expansion(page: Page, session: tiercube.Session) -> None:
    geography_tree(page, session)
    cube = cube_of(session)
    regions = {row["region"] or "Total": row for row in cube.query("qty.SUM", "price.MEAN", levels=["region"], include_totals=True).to_pylist()}
    shown = by_label(grid(page))
    assert set(shown) == set(regions)  # the top level and the grand total, nothing deeper yet
    for name, row in regions.items():
        assert shown[name]["qty.SUM"] == row["qty.SUM"]
        assert shown[name]["price.MEAN"] == pytest.approx(row["price.MEAN"], abs=0.006)
    before = requests(page)
    expand(page, "Europe")
    assert requests(page) == before + 1  # one round trip for Europe's countries, nothing else
    expand(page, "France")
    assert requests(page) == before + 2
    rows = grid(page)
    names = [member(row[0]) for row in rows[1:]]
    assert names == ["Americas", "Asia", "Europe", "France", "Lyon", "Paris", "Germany", "Spain", "Total"]
    europe = cube.query("qty.SUM", "price.MEAN", levels=["region", "country", "city"], filter=tiercube.level("region") == "Europe", include_totals=True)
    expected = {(row["country"] or row["region"] or "Total") if row["city"] is None else row["city"]: row for row in europe.to_pylist()}
    shown = by_label(rows)
    for name in ["Europe", "France", "Lyon", "Paris", "Germany", "Spain"]:
        assert shown[name]["qty.SUM"] == expected[name]["qty.SUM"], name
        assert shown[name]["price.MEAN"] == pytest.approx(expected[name]["price.MEAN"], abs=0.006), name
    kinds = page.locator("perspective-viewer regular-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["member", "member", "subtotal", "subtotal", "member", "member", "member", "member", "grand"]
    screenshot(page, "tree")
    # Collapsing asks nothing of the server.
    expand(page, "France")
    assert requests(page) == before + 2
    assert [member(row[0]) for row in grid(page)[1:]] == ["Americas", "Asia", "Europe", "France", "Germany", "Spain", "Total"]


def test_sorting_by_a_measure_keeps_children_under_their_parent(page: Page, session: tiercube.Session) -> None:
    geography_tree(page, session)
    expand(page, "Europe")
    expand(page, "Americas")
    header = page.locator("perspective-viewer regular-table thead tr").last.locator("th").filter(has_text="qty.SUM")
    before = requests(page)
    act(page, lambda: header.click())  # ascending
    act(page, lambda: header.click())  # descending
    assert requests(page) == before  # the server's numbers, ordered in the page
    names = [member(row[0]) for row in grid(page)[1:]]
    cube = cube_of(session)
    by_region = cube.query("qty.SUM", levels=["region"]).to_pylist()
    by_country = cube.query("qty.SUM", levels=["region", "country"]).to_pylist()
    expected: list[str] = []
    for region in sorted(by_region, key=lambda row: -row["qty.SUM"]):
        expected.append(region["region"])
        if region["region"] in ("Europe", "Americas"):
            countries = [row for row in by_country if row["region"] == region["region"]]
            expected += [row["country"] for row in sorted(countries, key=lambda row: -row["qty.SUM"])]
    assert names == [*expected, "Total"]
    assert "sort=-qty.SUM" in page.url


def test_a_date_is_filtered_by_a_range_and_never_first_on_rows(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, ADMIN)
    assert [member(text) for text in page.locator("#rows li").all_inner_texts()] != []
    assert "day" not in page.locator("#rows").inner_text()
    page.get_by_role("button", name="filter: day").click()
    assert page.get_by_label("from", exact=True).get_attribute("type") == "date"
    assert page.locator("#members-list input").count() == 0  # no checkbox per day
    page.get_by_label("from", exact=True).fill("2025-03-01")
    page.get_by_label("to", exact=True).fill("2025-05-31")
    act(page, lambda: page.locator("#range").get_by_role("button", name="Apply").click())
    assert "day 2025-03-01 to 2025-05-31" in page.locator("#filters").inner_text()
    spring = (tiercube.level("day") >= datetime.date(2025, 3, 1)) & (tiercube.level("day") <= datetime.date(2025, 5, 31))
    expected = cube_of(session).query("qty.SUM", levels=["region"], filter=spring).to_pylist()
    assert {row["region"]: row["qty.SUM"] for row in expected} == {name: cells["qty.SUM"] for name, cells in by_label(grid(page)).items()}
    act(page, lambda: page.get_by_role("button", name="remove region").click())
    act(page, lambda: page.get_by_role("button", name="rows: day").click())
    labels = [member(row[0]) for row in grid(page)[1:6]]
    assert all(len(text) == 10 and text[4] == "-" for text in labels), labels  # one date format: 2025-03-01
    screenshot(page, "date-range")


def test_a_link_keeps_filters_totals_expanded_members_and_sort(page: Page, session: tiercube.Session) -> None:
    geography_tree(page, session)
    page.get_by_role("button", name="filter: country").click()
    page.locator("#members-list li").first.wait_for()
    for name in ["France", "Germany", "USA"]:
        page.locator("#members-list li").filter(has_text=name).locator("input").check()
    act(page, lambda: page.get_by_role("button", name="Apply").click())
    expand(page, "Europe")
    header = page.locator("perspective-viewer regular-table thead tr").last.locator("th").filter(has_text="qty.SUM")
    act(page, lambda: header.click())
    link = page.url
    drawn = grid(page)
    other = page.context.new_page()
    act(other, lambda: other.goto(link))
    assert grid(other) == drawn
    assert other.get_by_label("Totals").is_checked()
    assert "country in (France, Germany, USA)" in other.locator("#filters").inner_text()
    assert json.loads(parse_qs(urlsplit(link).fragment)["expanded"][0]) == [["Europe"]]


def test_a_saved_view_opens_for_a_role_it_is_shared_with_and_no_other(page: Page, session: tiercube.Session) -> None:
    geography_tree(page, session)
    expand(page, "Asia")
    drawn = grid(page)
    for name, roles in (("asia drill", "ROLE_USER"), ("admin only", "")):
        page.get_by_role("button", name="Save view").click()
        page.get_by_label("view name").fill(name)
        page.get_by_label("share with roles").fill(roles)
        page.locator("#save-dialog").get_by_role("button", name="Save").click()
        page.locator("#message").get_by_text(f'Saved "{name}"').wait_for()
    assert page.get_by_label("saved views").locator("option").all_inner_texts() == ["Saved views…", "admin only", "asia drill"]
    other = page.context.browser
    assert other is not None
    context = other.new_context(viewport={"width": 2400, "height": 1000})
    try:
        user = context.new_page()
        sign_in(user, session.link, USER)
        # The user's role sees the view shared with it, under its owner's name; not the other one.
        assert user.get_by_label("saved views").locator("option").all_inner_texts() == ["Saved views…", "asia drill (shared by admin)"]
        act(user, lambda: user.get_by_label("saved views").select_option(label="asia drill (shared by admin)"))
        assert grid(user) == drawn
        assert user.get_by_label("Totals").is_checked()
        # The API says the same to the user's own credentials: the private view is not theirs to see.
        listed = httpx.get(session.url + paths.EXPLORER_VIEWS, auth=(USER.username, USER.password), headers=STATED, timeout=10)
        assert [(view["name"], view["owner"], view["shared_with"]) for view in listed.json()["views"]] == [("asia drill", "admin", ["ROLE_USER"])]
        deleted = httpx.delete(session.url + paths.EXPLORER_VIEW.format(view="asia drill"), auth=(USER.username, USER.password), headers=STATED, timeout=10)
        assert deleted.status_code == 404  # only its owner deletes it
    finally:
        context.close()


def test_a_restricted_user_drills_and_exports_only_its_rows(page: Page, session: tiercube.Session, tmp_path: Path) -> None:
    geography_tree(page, session, EU_USER)
    europe = tiercube.level("region") == "Europe"
    cube = cube_of(session)
    assert {name for name in by_label(grid(page))} == {"Europe", "Total"}
    # The user's grand total is Europe's: the server totals only the rows the user may see.
    assert by_label(grid(page))["Total"]["qty.SUM"] == cube.query("qty.SUM", filter=europe)["qty.SUM"].to_pylist()[0]
    expand(page, "Europe")
    expected = {row["country"]: row["qty.SUM"] for row in cube.query("qty.SUM", levels=["country"], filter=europe).to_pylist()}
    shown = by_label(grid(page))
    assert {name: shown[name]["qty.SUM"] for name in expected} == expected
    assert set(shown) == {"Europe", *expected, "Total"}
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    path = tmp_path / "europe.csv"
    download.value.save_as(path)
    exported = list(csv.DictReader(io.StringIO(path.read_text())))
    assert {row["region"] for row in exported} == {"Europe", "Total"}
    assert {row["country"]: int(float(row["qty.SUM"])) for row in exported if row["country"]} == expected


def test_column_levels_are_subtotalled_within_their_parent_by_the_server(page: Page, session: tiercube.Session) -> None:
    """Two column levels with Totals: a region's total across its countries (Europe · Total) in each row and the grand total."""
    sign_in(page, f"{session.link}#cube=sales&rows=city&columns=region,country&measures=qty.SUM&totals=1", ADMIN)
    rows = grid(page)
    shown = by_label(rows)
    cube = cube_of(session)
    by_city = cube.query("qty.SUM", levels=["city", "region"]).to_pylist()
    by_region = {row["region"]: row["qty.SUM"] for row in cube.query("qty.SUM", levels=["region"]).to_pylist()}
    assert {column for column in rows[0] if column.endswith(" · Total · qty.SUM")} == {f"{region} · Total · qty.SUM" for region in GEOGRAPHY}
    for row in by_city:
        assert shown[row["city"]][f"{row['region']} · Total · qty.SUM"] == row["qty.SUM"]
        assert all(shown[row["city"]][f"{other} · Total · qty.SUM"] is None for other in set(GEOGRAPHY) - {row["region"]})  # empty, not 0
    for region, total in by_region.items():
        assert shown["Total"][f"{region} · Total · qty.SUM"] == total
    assert rows[0].index("Europe · Total · qty.SUM") == rows[0].index("Europe · Spain · qty.SUM") + 1  # after its members
