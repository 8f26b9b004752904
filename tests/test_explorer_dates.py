"""A date hierarchy in the explorer's tree: year > quarter > month > day, each expansion the server's.

Chromium drills a calendar hierarchy (``cube.create_date_hierarchy``) down from
a year to its quarters, a quarter to its months and a month to its days; every
member is shown as its level means it (2024, 2024 Q1, 2024-01, 2024-01-31) and
every number read off the page equals ``cube.query`` for the same member.
"""

from __future__ import annotations

import datetime
from collections.abc import Generator

import pytest
from playwright.sync_api import Page

import tiercube
from tests.browser import browser, by_label, grid, page, screenshot, sign_in
from tests.conftest import ADMIN, SECURED
from tests.test_explorer_tree import expand

__all__ = ["browser", "page"]  # fixtures: pytest finds them by the names the tests ask for

START = datetime.date(2024, 1, 1)


@pytest.fixture(scope="module")
def session() -> Generator[tiercube.Session]:
    """Two years of daily sales (a row every 5th day) and a calendar hierarchy over their day."""
    with tiercube.Session.start(SECURED) as owner:
        sales = owner.create_table("sales", data_types={"id": "int64", "day": "date", "region": "string", "qty": "int64"}, keys=["id"])
        sales.append(*[(i, START + datetime.timedelta(days=5 * i), ("Europe", "Asia")[i % 2], i % 9 + 1) for i in range(146)])
        owner.create_cube(sales).create_date_hierarchy("calendar", sales["day"])
        yield owner


def expected(session: tiercube.Session, level: str, **members: datetime.date) -> dict[datetime.date | None, int]:
    condition = None
    for name, value in members.items():
        this = tiercube.level(name) == value
        condition = this if condition is None else condition & this
    rows = session.cubes["sales"].query("qty.SUM", levels=[level], filter=condition).to_pylist()
    return {row[level]: row["qty.SUM"] for row in rows}


def test_a_date_hierarchy_drills_year_quarter_month_day(page: Page, session: tiercube.Session) -> None:
    # A link to the calendar on rows, with totals; signing in keeps it.
    sign_in(page, session.link + "#cube=sales&rows=Year,Quarter,Month,Day&measures=qty.SUM&totals=1", ADMIN)
    years = by_label(grid(page))
    assert {name: row["qty.SUM"] for name, row in years.items() if name != "Total"} == {
        str(day.year): total for day, total in expected(session, "Year").items() if day is not None
    }
    expand(page, "2024")
    quarters = expected(session, "Quarter", Year=datetime.date(2024, 1, 1))
    shown = by_label(grid(page))
    assert {f"2024 Q{q}" for q in range(1, 5)} <= set(shown)
    for day, total in quarters.items():
        assert day is not None and shown[f"{day.year} Q{(day.month - 1) // 3 + 1}"]["qty.SUM"] == total
    expand(page, "2024 Q2")
    shown = by_label(grid(page))
    for day, total in expected(session, "Month", Quarter=datetime.date(2024, 4, 1)).items():
        assert day is not None and shown[day.isoformat()[:7]]["qty.SUM"] == total
    expand(page, "2024-05")
    shown = by_label(grid(page))
    days = expected(session, "Day", Month=datetime.date(2024, 5, 1))
    assert days and all(day is not None and shown[day.isoformat()]["qty.SUM"] == total for day, total in days.items())
    screenshot(page, "date-drill")
