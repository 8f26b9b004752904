"""The explorer's charts, in chromium against a real server: totals as a choice, readable axes.

Each test reads what the chart draws (the table the chart is drawn from, the
axes' tick texts) and holds it equal to ``cube.query`` for the same cells:
with Totals ticked the chart shows the server's rollup (never a sum made in
the browser), without it none; every tick of a value axis is drawn whole
(millions were cut to ",400,000"); bars of measures of different scale are
small multiples, each measure's chart on an axis of its own scale.
"""

from __future__ import annotations

import re
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
    """What the charts on screen are drawn from (each of small multiples its measure), by the name
    of their group (the leaves only)."""
    rows: list[dict[str, Any]] = page.evaluate(
        """async () => {
             const rows = [];
             for (const chart of document.querySelectorAll("#view perspective-viewer:not([hidden])")) {
               const view = await chart.getView();
               rows.push(...(await view.to_json()));
             }
             return rows;
           }"""
    )
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        if len(row["__ROW_PATH__"]) == 1:
            merged.setdefault(row["__ROW_PATH__"][-1], {}).update(row)
    return merged


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


COMPACT = re.compile(r"^-?\d+(\.\d+)?[kMGTPE]$")
FULL = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$")


def tick_value(text: str) -> float:
    """A tick's number, written in full ("1,400,000") or compact ("1.40M"); anything else fails."""
    if FULL.match(text):
        return float(text.replace(",", ""))
    assert COMPACT.match(text), f"tick {text!r} is neither a full number nor a compact one"
    exponent: int = "kMGTPE".index(text[-1]) + 1
    return float(text[:-1]) * 1000.0**exponent


def clipped_ticks(page: Page, axis: str) -> list[str]:
    """The tick texts of ``axis`` (y-axis, y2-axis) drawn, even in part, outside their axis's box."""
    texts: list[str] = page.evaluate(
        """(axis) => {
             const plugin = [...document.getElementById("chart-viewer").children].find((element) => element.shadowRoot?.querySelector(`d3fc-svg.${axis}`));
             const box = plugin.shadowRoot.querySelector(`d3fc-svg.${axis}`).getBoundingClientRect();
             return [...plugin.shadowRoot.querySelectorAll(`d3fc-svg.${axis} text`)]
               .filter((text) => { const own = text.getBoundingClientRect(); return own.left < box.left - 0.5 || own.right > box.right + 0.5; })
               .map((text) => text.textContent);
           }""",
        axis,
    )
    return texts


def test_large_numbers_on_a_chart_s_axis_are_drawn_whole(page: Page, session: tiercube.Session) -> None:
    cube = session.cubes["sales"]
    cube.measures.set("qty x 1000", cube.measures["qty.SUM"] * 1000)  # millions: "1,400,000" was cut to ",400,000"
    sign_in(page, session.link + "#cube=sales&rows=region&columns=&measures=qty x 1000&plugin=Y+Bar&totals=1", ADMIN)
    axis = page.locator("perspective-viewer d3fc-svg.y-axis text")
    axis.first.wait_for()
    ticks = [text.strip() for text in axis.all_text_contents() if text.strip()]
    values = [tick_value(text) for text in ticks]
    grand = cube.query("qty x 1000", include_totals=True)["qty x 1000"].to_pylist()[-1]
    assert isinstance(grand, int)
    assert max(values) >= grand / 2 and max(values) > 1_000_000, ticks  # the axis reaches the Total bar's millions
    assert clipped_ticks(page, "y-axis") == []
    screenshot(page, "bar-chart-millions")


def test_bars_of_measures_of_different_scale_are_small_multiples_each_on_its_own_axis(page: Page, session: tiercube.Session) -> None:
    """Perspective's bar chart draws a second axis with the first one's scale: the page draws one chart per measure."""
    sign_in(page, session.link + "#cube=sales&rows=region&columns=&measures=qty.SUM,price.MEAN&plugin=Y+Bar", ADMIN)
    charts = page.locator("#view perspective-viewer:not([hidden])")
    page.locator("perspective-viewer.multiple d3fc-svg.y-axis text").first.wait_for()
    assert charts.count() == 2
    expected = session.cubes["sales"].query("qty.SUM", "price.MEAN", levels=["region"]).to_pylist()
    for index, measure in enumerate(["qty.SUM", "price.MEAN"]):
        chart = charts.nth(index)
        ticks = [tick_value(text.strip()) for text in chart.locator("d3fc-svg.y-axis text").all_text_contents() if text.strip()]
        largest = max(row[measure] for row in expected)
        # Each axis spans its own measure: qty.SUM's thousands, price.MEAN's tens (not qty.SUM's scale).
        assert largest <= max(ticks) < 2 * largest + 1, (measure, ticks)
        assert chart.locator("d3fc-svg.y2-axis").count() == 0
    act(page, lambda: page.get_by_role("button", name="Line").click())  # lines draw a true second axis: one chart
    page.locator("perspective-viewer d3fc-svg.y2-axis").first.wait_for()
    assert charts.count() == 1
    act(page, lambda: page.get_by_role("button", name="Bar").click())
    page.locator("perspective-viewer.multiple d3fc-svg.y-axis text").first.wait_for()
    screenshot(page, "bar-small-multiples")
    act(page, lambda: page.get_by_role("button", name="Grid").click())
    assert charts.count() == 1
