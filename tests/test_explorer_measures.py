"""The explorer's new-measure form builds the analytics language, in chromium against a real server.

An admin adds a year-to-date, a rolling window, a growth over the previous member and a rank
along a date hierarchy's quarters, then a median, a 90th percentile and a standard deviation of
a column; every number read off the grid is held equal to ``cube.query`` for the same cells.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest
from playwright.sync_api import Page

import tiercube
from tests.browser import act, browser, grid, number, page, sign_in
from tests.conftest import ADMIN
from tests.test_explorer_tree import session

__all__ = ["browser", "page", "session"]  # fixtures: pytest finds them by the names the tests ask for

ADDED = ["qty YTD", "rolling 2", "growth", "rank in year", "median price", "p90 price", "price std"]


@pytest.fixture
def calendar(session: tiercube.Session) -> Generator[tiercube.Session]:
    """The sales cube with a calendar (Year > Quarter > Month > Day); what the test adds is taken away after."""
    cube = session.cubes["sales"]
    cube.create_date_hierarchy("calendar", session.tables["sales"]["day"])
    yield session
    for name in ADDED:
        if name in cube.measures:
            del cube.measures[name]
    del cube.hierarchies["calendar"]


def add(page: Page, name: str, kind: str, **inputs: str) -> None:
    """Fill the form (``inputs`` by their labels: a choice, or a number typed) and add the measure."""
    page.get_by_label("new measure's name").fill(name)
    page.get_by_label("operator").select_option(kind)
    for label, value in inputs.items():
        field = page.get_by_label(label.replace("_", " "), exact=True)
        assert field.is_visible(), f"{label} is hidden for {kind}"
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    act(page, lambda: page.get_by_role("button", name="Add").click())


def shown(page: Page, measures: list[str]) -> dict[str, list[float | None]]:
    """The grid's columns for ``measures``, in the grid's row order (one row per member)."""
    header, *rows = grid(page)
    return {m: [number(row[header.index(m)]) if row[header.index(m)] else None for row in rows] for m in measures}


def close(got: list[float | None], want: list[float | None]) -> bool:
    """Equal as the grid shows them (two decimals at most)."""
    return len(got) == len(want) and all(
        g == w if g is None or w is None else g == pytest.approx(w, abs=0.006, rel=1e-9) for g, w in zip(got, want, strict=True)
    )


def test_running_totals_growth_and_ranks_along_quarters(page: Page, calendar: tiercube.Session) -> None:
    sign_in(page, calendar.link, ADMIN)
    act(page, lambda: page.get_by_role("button", name="remove region").click())
    act(page, lambda: page.get_by_role("button", name="rows: Quarter").click())
    add(page, "qty YTD", "running total restarting at (year-to-date) along", left_measure="qty.SUM", along_level="Quarter", restart_at_level="Year")
    add(page, "rolling 2", "rolling window along", left_measure="qty.SUM", along_level="Quarter", members_in_the_window="2")
    add(page, "growth", "growth over previous member along", left_measure="qty.SUM", along_level="Quarter")
    add(page, "rank in year", "rank along", left_measure="qty.SUM", along_level="Quarter", rank_within_level="Year")
    measures = ["qty YTD", "rolling 2", "growth", "rank in year"]
    expected = calendar.cubes["sales"].query(*measures, levels=["Quarter"])
    assert expected.num_rows == 12
    got = shown(page, measures)
    for name in measures:
        assert close(got[name], expected[name].to_pylist()), name
    quarters = [int(q or 0) for q in calendar.cubes["sales"].query("qty.SUM", levels=["Quarter"])["qty.SUM"].to_pylist()]
    assert got["qty YTD"][:4] == [sum(quarters[: i + 1]) for i in range(4)] and got["qty YTD"][4] == quarters[4]  # a new year starts again
    assert got["growth"][0] is None  # no quarter before the first


def test_statistics_of_a_column_by_region(page: Page, calendar: tiercube.Session) -> None:
    sign_in(page, calendar.link, ADMIN)  # rows: region, the first level, at first
    add(page, "median price", "median of", column="price")
    add(page, "p90 price", "quantile of", column="price", quantile_from_0_to_1="0.9")
    add(page, "price std", "standard deviation (sample) of", column="price")
    measures = ["median price", "p90 price", "price std"]
    expected = calendar.cubes["sales"].query(*measures, levels=["region"])
    got = shown(page, measures)
    for name in measures:
        assert close(got[name], expected[name].to_pylist()), name
    assert not page.get_by_label("left measure").is_visible()  # a statistic reads a column, not a measure
    page.get_by_label("new measure's name").fill("bad quantile")
    page.get_by_label("operator").select_option("quantile of")
    page.get_by_label("quantile from 0 to 1", exact=True).fill("2")  # over the input's max: the browser keeps the form
    page.get_by_role("button", name="Add").click()
    page.get_by_label("quantile from 0 to 1", exact=True).fill("")
    page.get_by_role("button", name="Add").click()
    page.get_by_text("A quantile is a number from 0 to 1").wait_for()
    assert "bad quantile" not in calendar.cubes["sales"].measures
