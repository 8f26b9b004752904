"""What the explorer's browser tests share: Debian's chromium driven by Playwright, reading the page.

``act`` does something and waits until the page has drawn its answer; ``grid`` reads the grid as
drawn; ``screenshot`` keeps a picture of the page and checks it is not blank. Screenshots go to
``test-artifacts/explorer`` (or ``$TIERCUBE_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Frame, Page, ViewportSize, sync_playwright

import tiercube

ARTIFACTS = Path(os.environ.get("TIERCUBE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")) / "explorer"
# What the machine's probe found to work for a root user in a closed network (see dev.py).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# Wide enough that the grid draws every column of these views (it draws only what is on screen).
VIEWPORT: ViewportSize = {"width": 2400, "height": 1000}


def chromium() -> str:
    found = os.environ.get("TIERCUBE_CHROMIUM") or shutil.which("chromium")
    if found is None:
        pytest.fail("the browser tests need Debian's chromium: `apt-get install chromium` (python3 dev.py test installs it)")
    return found


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


def act(page: Page | Frame, action: Callable[[], object], timeout: float = 15_000) -> None:
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


def grid(page: Page | Frame) -> list[list[str]]:
    """The grid as drawn: the header row, then the body's rows, cell texts."""
    table = page.locator("perspective-viewer regular-table")
    header = [cell.strip() for cell in table.locator("thead tr").last.locator("th").all_inner_texts()]
    body = [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in table.locator("tbody tr").all()]
    return [header, *body]


def number(text: str) -> float:
    return float(text.replace(",", ""))


def member(text: str) -> str:
    """A row's name without its indentation and its expand (▸) or collapse (▾) mark."""
    return text.replace("\u00a0", " ").strip().removeprefix("▸").removeprefix("▾").strip()


def by_label(rows: list[list[str]]) -> dict[str, dict[str, float | None]]:
    """Grid rows keyed by their member, each a mapping of column header to number (None when empty)."""
    header, *body = rows
    return {member(row[0]): {h: (number(v) if v else None) for h, v in zip(header[1:], row[1:], strict=False)} for row in body}


def screenshot(page: Page, name: str) -> Path:
    """Keep a screenshot of the page in the artifacts, and check it shows something."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 8, f"{path} looks blank ({len(colors or [])} colours)"
    return path
