"""The dashboard: saved views side by side in Chromium, every number the server's for the caller.

One secured server; views saved from Python are laid out on the dashboard
page, read off it and compared with ``cube.query`` (a restricted user's
panels with her rows only), redrawn when Python appends rows, saved as a
dashboard shared with a role and opened by a user of that role; a user of
another role sees the panels refused. Screenshots are checked not blank.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page

import tiercube
from tests.browser import act, browser, number, page, screenshot, sign_in
from tests.conftest import ADMIN, SECURED

__all__ = ["browser", "page"]  # fixtures: pytest finds them by the names the tests ask for

EU = tiercube.BasicAuthentication("eu", "eu-password")
ASIA = tiercube.BasicAuthentication("asia", "asia-password")
PLACES = [("Europe", "France"), ("Europe", "Spain"), ("Asia", "Japan"), ("Americas", "USA"), ("Europe", "Italy")]
BY_REGION = tiercube.ViewDefinition("sales", ["qty.SUM", "price.MEAN"], rows=["region"], totals=True)
COUNTRIES = tiercube.ViewDefinition("sales", ["qty.SUM"], rows=["country"], members={"country": ["France", "Spain", "Japan"]}, chart="bar")
# The best country of each region, as a line chart: the panel keeps the view's top n.
BEST = tiercube.ViewDefinition("sales", ["qty.SUM"], rows=["region", "country"], top=tiercube.Top(1, "qty.SUM", per="region"), chart="line")


@pytest.fixture(scope="module")
def session() -> Generator[tiercube.Session]:
    users = [tiercube.UserConfig(name=who.username, password=who.password, roles=[role]) for who, role in ((EU, "EUROPE"), (ASIA, "ASIA"))]
    with tiercube.Session.start(tiercube.SessionConfig(users=[*SECURED.users, *users], max_failed_logins_per_minute=1000)) as owner:
        sales = owner.create_table("sales", data_types={"id": "int64", "region": "string", "country": "string", "qty": "int64", "price": "float64"}, keys=["id"])
        sales.append(*[(i, *PLACES[i % 5], i % 7 + 1, round(1.5 + i % 11 * 0.75, 2)) for i in range(200)])
        owner.create_cube(sales)
        owner.security.restrict("EUROPE", sales["region"] == "Europe")
        with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.RemoteSession) as admin:
            admin.views.save("by region", BY_REGION, shared_with=["EUROPE"])
            admin.views.save("countries", COUNTRIES, shared_with=["EUROPE"])
            admin.views.save("best", BEST)
        yield owner


def panel(page: Page, key: str) -> list[list[str]]:
    """A panel's table as drawn: the header row, then each row's cell texts."""
    table = page.locator(f'section.panel[data-key="{key}"] table')
    return [[text.strip() for text in row.locator("th, td").all_inner_texts()] for row in table.locator("tr").all()]


def cells(rows: list[list[str]]) -> dict[str, dict[str, float]]:
    header, *body = rows
    return {row[0]: {name: number(text) for name, text in zip(header[1:], row[1:], strict=True)} for row in body}


def charted(page: Page, key: str, depth: int = 1) -> dict[str, dict[str, Any]]:
    """What a panel's chart is drawn from: its groups ``depth`` levels deep, by their last member."""
    page.locator(f'section.panel[data-key="{key}"] perspective-viewer').first.wait_for()
    rows: list[dict[str, Any]] = page.evaluate(
        """async (key) => {
             const rows = [];
             for (const chart of document.querySelectorAll(`section.panel[data-key="${key}"] perspective-viewer`)) {
               rows.push(...(await (await chart.getView()).to_json()));
             }
             return rows;
           }""",
        key,
    )
    return {row["__ROW_PATH__"][-1]: row for row in rows if len(row["__ROW_PATH__"]) == depth}


def expected(session: tiercube.Session, view: tiercube.ViewDefinition, region: str | None = None) -> dict[str, dict[str, Any]]:
    condition = view.filter
    if region is not None:
        mine = tiercube.level("region") == region
        condition = mine if condition is None else condition & mine
    table = session.cubes["sales"].query(*view.measures, levels=list(view.rows), filter=condition, include_totals=view.totals)
    rows: list[dict[str, Any]] = table.to_pylist()
    # The page shows two decimals: each number is compared to the server's within half a hundredth.
    return {row[view.rows[0]] or "Total": {name: pytest.approx(row[name], abs=0.0051) for name in view.measures} for row in rows}


def open_dashboard(page: Page, session: tiercube.Session, who: tiercube.BasicAuthentication, fragment: dict[str, str]) -> None:
    sign_in(page, session.link, who)
    act(page, lambda: page.goto(f"{session.url}/dashboard#{urlencode(fragment)}"))


def test_a_dashboard_shows_the_server_s_numbers_and_redraws_when_data_changes(page: Page, session: tiercube.Session) -> None:
    open_dashboard(page, session, ADMIN, {"views": json.dumps(["by region", "countries"])})
    assert cells(panel(page, "by region")) == expected(session, BY_REGION)
    assert {name: {"qty.SUM": row["qty.SUM"]} for name, row in charted(page, "countries").items()} == expected(session, COUNTRIES)
    assert page.locator('section.panel[data-key="by region"] tr.total').inner_text().startswith("Total")
    screenshot(page, "dashboard")
    # Rows appended from Python: both panels of the cube are drawn again, with the new numbers.
    act(page, lambda: session.tables["sales"].append((1000, "Europe", "France", 500, 9.0)))
    page.wait_for_function(
        """async () => {
             const chart = document.querySelector('section.panel[data-key="countries"] perspective-viewer');
             return chart !== null && (await (await chart.getView()).num_rows()) > 0;
           }"""
    )
    assert charted(page, "countries")["France"]["qty.SUM"] == expected(session, COUNTRIES)["France"]["qty.SUM"]
    assert cells(panel(page, "by region")) == expected(session, BY_REGION)
    # Saved as a dashboard shared with EUROPE; the explorer's list opens it on the dashboard page.
    page.get_by_role("button", name="Save dashboard").click()
    page.get_by_label("dashboard name").fill("board")
    page.get_by_label("share with roles").fill("EUROPE")
    page.locator("#save-dialog").get_by_role("button", name="Save").click()
    page.locator("#message").get_by_text('Saved the dashboard "board"').wait_for()
    act(page, lambda: page.get_by_role("link", name="Explorer").click())
    act(page, lambda: page.get_by_label("saved views").select_option(label="board"))
    assert page.url.endswith("/dashboard#saved=board")
    assert {name: {"qty.SUM": row["qty.SUM"]} for name, row in charted(page, "countries").items()} == expected(session, COUNTRIES)


def test_a_restricted_user_s_dashboard_shows_her_rows_only(page: Page, session: tiercube.Session, browser: Browser) -> None:
    open_dashboard(page, session, EU, {"views": json.dumps(["admin/by region", "admin/countries"])})
    # The grand total is Europe's: the server totals only the rows she may see.
    assert cells(panel(page, "admin/by region")) == expected(session, BY_REGION, "Europe")
    assert set(charted(page, "admin/countries")) == {"France", "Spain"}
    assert {name: {"qty.SUM": row["qty.SUM"]} for name, row in charted(page, "admin/countries").items()} == expected(session, COUNTRIES, "Europe")
    screenshot(page, "dashboard-restricted")
    # A user of a role the views were not shared with gets no numbers, only the refusal.
    context = browser.new_context()
    try:
        other = context.new_page()
        open_dashboard(other, session, ASIA, {"views": json.dumps(["admin/by region"])})
        assert other.locator("section.panel .refused").inner_text() == "This view is not shared with you, or it was deleted."
        assert other.locator("section.panel table").count() == 0
    finally:
        context.close()


def test_a_view_saved_as_a_chart_with_a_top_n_is_that_chart_on_the_dashboard(page: Page, session: tiercube.Session) -> None:
    open_dashboard(page, session, ADMIN, {"views": json.dumps(["best"])})
    assert page.locator('section.panel[data-key="best"] .shape').inner_text() == "qty.SUM by region, country · best 1 by qty.SUM per region"
    best = session.cubes["sales"].query("qty.SUM", levels=["region", "country"], top=tiercube.Top(1, "qty.SUM", per="region")).to_pylist()
    assert len(best) == 3  # a country per region, not every country
    drawn = charted(page, "best", depth=2)
    assert {name: row["qty.SUM"] for name, row in drawn.items()} == {row["country"]: row["qty.SUM"] for row in best}
    with tiercube.connect(session.url, authentication=ADMIN, require=tiercube.RemoteSession) as admin:
        saved = admin.views["best"]
        assert saved.definition == BEST and saved.definition.top is not None and saved.definition.top.per == "region"
        assert saved.query().to_pylist() == best  # what the dashboard draws, from Python
    assert page.locator('section.panel[data-key="best"] perspective-viewer').get_attribute("aria-label") == "chart of qty.SUM"
    screenshot(page, "dashboard-chart")
