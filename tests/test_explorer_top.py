"""The explorer's query form keeps the n best members per parent (issue 17), in chromium against a real server.

"Top n by a measure per level" is the server's ``top=`` (``tiercube.Top`` in
Python): the grid shows the members ``cube.query(..., top=...)`` keeps, each
parent's total still the server's over all its children; the Python panel
writes the same ``top=``, a link keeps it, and a chart draws the same members.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Page

import tiercube
from tests.browser import act, browser, by_label, grid, page, screenshot, sign_in
from tests.conftest import ADMIN
from tests.test_explorer_tree import expand, geography_tree, session

__all__ = ["browser", "page", "session"]  # fixtures: pytest finds them by the names the tests ask for


def top_n(page: Page, text: str) -> None:
    """Type ``text`` as the top n and leave the field, as a person does (the page reads it on change)."""
    page.get_by_label("top n").fill(text)
    page.get_by_label("top n").dispatch_event("change")


def test_top_n_per_level_shows_the_server_s_best_members_with_full_totals(page: Page, session: tiercube.Session) -> None:
    geography_tree(page, session)
    page.get_by_label("top by measure").select_option("qty.SUM")
    page.get_by_label("top per level").select_option("region")
    act(page, lambda: top_n(page, "2"))
    expand(page, "Europe")
    expand(page, "Americas")
    cube = session.cubes["sales"]
    top = tiercube.Top(2, "qty.SUM", per="region")
    kept = cube.query("qty.SUM", "price.MEAN", levels=["region", "country"], top=top).to_pylist()
    whole = cube.query("qty.SUM", "price.MEAN", levels=["region"], include_totals=True).to_pylist()
    drawn = grid(page)
    shown = by_label(drawn)
    countries = {"Brazil", "Canada", "USA", "France", "Germany", "Spain"}  # three in each region: one left out
    expected = {row["country"]: row["qty.SUM"] for row in kept if row["country"] in countries}
    assert len(expected) == 4
    assert {name: cells["qty.SUM"] for name, cells in shown.items() if name in countries} == expected, drawn
    for row in whole:  # each region's total and the grand total: over every country, not the two kept
        assert shown[row["region"] or "Total"]["qty.SUM"] == row["qty.SUM"], drawn
    code = page.locator("#code").inner_text()
    assert 'top=tiercube.Top(2, "qty.SUM", per="region")' in code
    screenshot(page, "top-n")
    link = page.url
    other = page.context.new_page()
    act(other, lambda: other.goto(link))
    assert grid(other) == drawn
    assert other.get_by_label("top n").input_value() == "2"
    act(page, lambda: top_n(page, ""))  # no n: every member again
    assert countries <= set(by_label(grid(page)))


def test_a_chart_draws_the_top_n_the_server_keeps(page: Page, session: tiercube.Session) -> None:
    top = json.dumps({"n": 1, "measure": "qty.SUM", "per": "region"})
    link = f"{session.link}#cube=sales&rows=region,country&columns=&measures=qty.SUM&plugin=Y+Bar&top={quote(top)}"
    sign_in(page, link, ADMIN)
    page.locator("perspective-viewer d3fc-svg.x-axis text").first.wait_for()
    rows: list[dict[str, Any]] = page.evaluate("async () => (await document.getElementById('chart-viewer').getView()).to_json()")
    shown = {tuple(row["__ROW_PATH__"]): row["qty.SUM"] for row in rows if len(row["__ROW_PATH__"]) == 2}
    kept = session.cubes["sales"].query("qty.SUM", levels=["region", "country"], top=tiercube.Top(1, "qty.SUM", per="region"))
    assert shown == {(row["region"], row["country"]): row["qty.SUM"] for row in kept.to_pylist()}
    assert len(shown) == 3  # one country per region
