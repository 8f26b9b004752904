"""The explorer's first paint: a 10,000-row view (product down, region across) opened in Debian's chromium.

Each visit is a new browser context (no cache, no cookie): the page, its 4 MB
of viewer assets, WebAssembly compiled, the cube's structure, the query, the
grid drawn, timed by the page's clock from the start of the navigation. The link names the view in its fragment, so the first paint is
the view itself. Measured on a server without security (no sign-in in the
way) once with its aggregates off (the query reads every fact row) and once
with its defaults (after a first visit, the query is served). The baseline is
the same query from Python through ``connect()``, taking turns.
"""

from __future__ import annotations

import functools
import shutil

import tiercube
from bench.common import Context, Figure, Samples, Target, compare, timed
from bench.data import Dataset

VIEW = "#cube=sales&rows=product&columns=region&measures=qty.SUM,price.SUM"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def measure(context: Context, data: Dataset) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("the explorer area needs Debian's chromium (python3 dev.py test installs it)")
    figures: list[Figure] = []
    runs = max(3, context.mode.repeats)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            for kept, label in ((False, "aggregates off"), (True, "served")):
                config = tiercube.SessionConfig() if kept else tiercube.SessionConfig(aggregate_memory_bytes=0)
                with tiercube.Session.start(config) as owner:
                    sales = owner.read_parquet(data.parquet, table_name="sales")
                    sales.join(owner.read_parquet(data.products_parquet, table_name="products", keys=["product"]))
                    cube = owner.create_cube(sales)
                    query = functools.partial(cube.query, "qty.SUM", "price.SUM", levels=["product", "region"], max_rows=50_000)
                    rows = query().num_rows  # and, served, the first query keeps its grouping
                    painted: list[float] = []
                    answered: list[float] = []
                    for _ in range(runs):
                        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                        page.goto(owner.link + VIEW)
                        ready = page.locator("body[data-ready]")
                        ready.wait_for(timeout=60_000)
                        # The page's own clock: from the start of the navigation to the grid drawn.
                        painted.append(float(ready.get_attribute("data-ready") or "nan"))
                        status = page.locator("#view-status").inner_text()
                        if not status.startswith(f"{rows:,} cells"):
                            raise RuntimeError(f"the explorer drew {status!r}, not the {rows:,} cells of the view")
                        page.context.close()
                        answered.append(timed(query) * 1000)
                    figures.append(compare(
                        f"explorer.first_paint.{'served' if kept else 'cold'}",
                        f"explorer: first paint of a {rows:,}-row view, {label}",
                        "ms", Samples(tuple(painted)), Samples(tuple(answered)), "the same cube.query from Python",
                        Target(1000.0, text="< 1 s"),
                        note=f"{data.rows:,} fact rows; each visit a new browser context (assets, WebAssembly, structure, query, grid)",
                    ))
        finally:
            browser.close()
    return figures
