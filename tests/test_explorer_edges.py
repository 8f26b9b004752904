"""The explorer's rough edges, in chromium against a real server: formats, charts, refusals, a server gone.

A share shows as a percent of the server's value; a chart of two measures of
different scale puts them on two axes and logs no error; the new-measure
form refuses a name in use; the page says in words when the server is gone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page

import tiercube
from tests.browser import act, browser, by_label, grid, member, page, screenshot, sign_in
from tests.conftest import ADMIN
from tests.test_explorer_tree import expand, geography_tree, session

__all__ = ["browser", "page", "session"]  # fixtures: pytest finds them by the names the tests ask for


@pytest.fixture
def console_errors(page: Page) -> Generator[list[str]]:
    errors: list[str] = []

    def keep(entry: ConsoleMessage) -> None:
        if entry.type == "error":
            errors.append(entry.text)

    page.on("console", keep)
    yield errors


def test_a_share_shows_as_a_percent_of_the_server_s_value(page: Page, session: tiercube.Session) -> None:
    geography_tree(page, session)
    act(page, lambda: page.get_by_label("measure share of region").check())
    expand(page, "Europe")
    rows = grid(page)
    column = rows[0].index("share of region")
    shown = {member(row[0]): row[column] for row in rows[1:]}
    expected = session.cubes["sales"].query("share of region", levels=["region", "country"], filter=tiercube.level("region") == "Europe")
    for row in expected.to_pylist():
        text = shown[row["country"]]
        assert text.endswith("%"), text
        assert float(text.rstrip("%")) == pytest.approx(100 * row["share of region"], abs=0.051)


def test_a_measure_shows_in_the_format_the_server_keeps_for_it(page: Page, session: tiercube.Session, tmp_path: Path) -> None:
    """The share of region is kept with Format.percent(1) (test_explorer_tree's session): the grid shows
    exactly what tiercube.Format shows in Python, "11.0%", from the server's format, not a guess."""
    assert session.cubes["sales"].measures["share of region"].format == tiercube.Format.percent(1)
    geography_tree(page, session)
    act(page, lambda: page.get_by_label("measure share of region").check())
    expand(page, "Europe")
    rows = grid(page)
    column = rows[0].index("share of region")
    shown = {member(row[0]): row[column] for row in rows[1:]}
    expected = session.cubes["sales"].query("share of region", levels=["region", "country"], filter=tiercube.level("region") == "Europe")
    percent = tiercube.Format.percent(1)
    assert {row["country"]: percent(row["share of region"]) for row in expected.to_pylist()}.items() <= shown.items()
    assert all(text.endswith("%") and text[-3] == "." for text in shown.values() if text), shown
    # Exports' display form writes what the grid shows; Export CSV keeps the server's plain numbers.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as shown").click()
    path = tmp_path / "shown.csv"
    download.value.save_as(path)
    exported = list(csv.DictReader(io.StringIO(path.read_text())))
    share_columns = [name for name in exported[0] if name.endswith("share of region")]
    assert share_columns and all(row[name].endswith("%") for row in exported for name in share_columns if row[name])
    assert {percent(row["share of region"]) for row in expected.to_pylist()} <= {row[name] for row in exported for name in share_columns}


def test_two_measures_of_different_scale_get_two_axes_and_no_console_error(page: Page, session: tiercube.Session, console_errors: list[str]) -> None:
    sign_in(page, session.link, ADMIN)
    act(page, lambda: page.get_by_label("measure price.MEAN").check())  # ~25 next to qty.SUM's ~10,000
    act(page, lambda: page.get_by_role("button", name="Line").click())
    second = page.locator("perspective-viewer d3fc-svg.y2-axis")
    second.wait_for()
    ticks = [float(text.replace(",", "")) for text in second.locator("text").all_text_contents() if text.strip()]
    assert ticks and max(ticks) < 100  # price.MEAN's own scale, not qty.SUM's
    screenshot(page, "two-axes-line")
    act(page, lambda: page.get_by_role("button", name="Bar").click())
    act(page, lambda: page.get_by_role("button", name="Heat map").click())
    act(page, lambda: page.get_by_role("button", name="Grid").click())
    assert not console_errors


def test_the_new_measure_form_refuses_a_name_in_use(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, ADMIN)
    before = session.cubes["sales"].measures["price.MEAN"]
    page.get_by_label("new measure's name").fill("price.MEAN")
    page.get_by_label("left measure").select_option("qty.SUM")
    page.get_by_label("operator").select_option("*")
    page.get_by_label("right measure").select_option("qty.SUM")
    page.get_by_role("button", name="Add").click()
    page.locator("#message").get_by_text('already has a measure named "price.MEAN"').wait_for()
    assert repr(session.cubes["sales"].measures["price.MEAN"]) == repr(before)


def test_the_page_says_so_when_the_server_is_gone(page: Page) -> None:
    with tiercube.Session.start() as short_lived:
        sales = short_lived.create_table("sales", data_types={"id": "int64", "region": "string", "qty": "int64"}, keys=["id"])
        sales.append((1, "EU", 3), (2, "US", 5))
        short_lived.create_cube(sales)
        page.goto(short_lived.link)
        page.locator("body[data-ready]").wait_for()
        assert by_label(grid(page)) == {"EU": {"qty.SUM": 3}, "US": {"qty.SUM": 5}}
    banner = page.locator("#gone")
    banner.wait_for(timeout=15_000)
    assert "server is not answering" in banner.inner_text()
    page.get_by_role("button", name="Totals").or_(page.get_by_label("Totals")).first.click()
    page.locator("#message").get_by_text("server is not answering").wait_for()
    assert "Failed to fetch" not in page.locator("body").inner_text()
    screenshot(page, "server-gone")


# Holds back the answer to the next query asking for exactly these measures, as a slow server would.
DELAY_NEXT_QUERY = """(measures) => {
  const original = window.fetch;
  let delayed = false;
  window.fetch = async (path, init) => {
    const body = init && typeof init.body === "string" ? JSON.parse(init.body) : null;
    if (!delayed && body && JSON.stringify(body.measures) === JSON.stringify(measures)) {
      delayed = true;
      const answer = await original(path, init);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      window.tiercubeDelayedAnswered = true;
      return answer;
    }
    return original(path, init);
  };
}"""


def test_a_slow_answer_overtaken_by_a_newer_view_is_not_drawn(page: Page, session: tiercube.Session) -> None:
    """A measure ticked while the previous view's query was under way: the late answer lacked the new
    measure and was read with it ("Cannot read properties of undefined"); only the latest view draws."""
    sign_in(page, session.link, ADMIN)
    act(page, lambda: page.get_by_role("button", name="rows: hierarchy geography").click())
    page.evaluate(DELAY_NEXT_QUERY, ["qty.SUM", "price.MEAN"])
    page.get_by_label("measure price.MEAN").check()  # its answer comes late
    act(page, lambda: page.get_by_label("measure share of region").check())  # this one draws first
    page.wait_for_function("() => window.tiercubeDelayedAnswered === true")
    page.wait_for_timeout(300)  # what the late answer would have drawn, it would have drawn by now
    rows = grid(page)
    assert rows[0][1:] == ["qty.SUM", "price.MEAN", "share of region"]
    expected = session.cubes["sales"].query("qty.SUM", "price.MEAN", "share of region", levels=["region"])
    shown = {member(row[0]): row for row in rows[1:]}
    for row in expected.to_pylist():
        qty, price, share = shown[row["region"]][1:4]
        assert float(qty.replace(",", "")) == row["qty.SUM"]
        assert float(price.replace(",", "")) == pytest.approx(row["price.MEAN"], abs=0.01)
        assert float(share.rstrip("%")) == pytest.approx(100 * row["share of region"], abs=0.051)
