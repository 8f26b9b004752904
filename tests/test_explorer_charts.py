"""The explorer's charts, in chromium against a real server: totals as a choice, readable axes.

Each test reads what the chart draws (the table the chart is drawn from, the
axes' tick texts) and holds it equal to ``cube.query`` for the same cells:
with Totals ticked the chart shows the server's rollup (never a sum made in
the browser), without it none.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

import tiercube
from tests.browser import act, browser, page, screenshot, sign_in
from tests.conftest import ADMIN
from tests.test_explorer_tree import session

__all__ = ["browser", "page", "session"]  # fixtures: pytest finds them by the names the tests ask for

BAR_BY_REGION = "#cube=sales&rows=region&columns=&measures=qty.SUM,price.MEAN&plugin=Y+Bar"


def drawn(page: Page) -> dict[str, dict[str, Any]]:
    """The rows the chart on screen is drawn from, by the name of their group (the leaves only)."""
    rows: list[dict[str, Any]] = page.evaluate(
        """async () => {
             const view = await document.getElementById("viewer").getView();
             return await view.to_json();
           }"""
    )
    return {row["__ROW_PATH__"][-1]: row for row in rows if len(row["__ROW_PATH__"]) == 1}


def x_ticks(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("perspective-viewer d3fc-svg.x-axis text").all_text_contents() if text.strip()]


def test_a_chart_shows_the_server_s_totals_when_asked_and_none_otherwise(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link + BAR_BY_REGION, ADMIN)
    page.locator("perspective-viewer d3fc-svg.x-axis text").first.wait_for()
    assert "Total" not in drawn(page) and "Total" not in x_ticks(page)
    act(page, lambda: page.get_by_label("Totals").check())
    page.locator("perspective-viewer d3fc-svg.x-axis text", has_text="Total").first.wait_for()
    cube = session.cubes["sales"]
    expected = cube.query("qty.SUM", "price.MEAN", levels=["region"], include_totals=True).to_pylist()
    shown = drawn(page)
    assert set(shown) == {row["region"] or "Total" for row in expected}
    for row in expected:
        cell = shown[row["region"] or "Total"]
        assert cell["qty.SUM"] == row["qty.SUM"]
        # The total's average price is the server's mean over every sale, not a sum or mean of bars.
        assert cell["price.MEAN"] == pytest.approx(row["price.MEAN"], rel=1e-12)
    assert "include_totals=True" in page.locator("#code").inner_text()
    screenshot(page, "bar-chart-totals")
    act(page, lambda: page.get_by_label("Totals").uncheck())
    page.locator("perspective-viewer d3fc-svg.x-axis text", has_text="Total").first.wait_for(state="detached")
    assert "Total" not in drawn(page)


def test_a_chart_split_by_a_column_level_gets_a_total_series_per_group(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link + "#cube=sales&rows=region&columns=country&measures=qty.SUM&plugin=Y+Bar&totals=1", ADMIN)
    page.locator("perspective-viewer d3fc-svg.x-axis text", has_text="Total").first.wait_for()
    expected = session.cubes["sales"].query("qty.SUM", levels=["region", "country"], include_totals=True).to_pylist()
    shown = drawn(page)
    for row in expected:
        group = row["region"] or "Total"
        series = row["country"] or "Total"
        assert shown[group][f"{series}|qty.SUM"] == row["qty.SUM"], (group, series)
