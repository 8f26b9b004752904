"""Hostile names and values in the explorer: the server's text is drawn as text, in every view.

An administrator names a cube, its levels, a hierarchy and its measures, and
fills members, with markup meant to run script in another user's page; a
saved view gets such a name too. A user opens all of it in Chromium: the
grid, the tree, each chart, Perspective's fallback plugin (which wrote the
view's CSV into ``innerHTML``), member search and filters, the new-measure
form and the saved views. Before any page script runs, the page listens for
``securitypolicyviolation`` (the CSP would stop an inline handler, but must
not even be asked to) and replaces ``alert``; afterwards no element anywhere
in the page, shadow roots included, has an event handler attribute or is an
``img``/``script`` that the server's text made.

A restricted user's event stream is the same whether or not rows hidden from
her changed. The embeddable page never signs in with the explorer's cookie (a page of the
embedder's site could frame it and act as whoever signed in), and may be
framed only by the origins configured or the page a widget names (a widget's
frame loads on its notebook's page, and not on another origin).
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import Page

import tiercube
from tests.browser import act, browser, page, sign_in
from tests.conftest import ADMIN, SECURED, USER
from tests.in_process import in_process
from tests.test_explorer_server import STATED
from tiercube._wire import paths

__all__ = ["browser", "page"]  # fixtures: pytest finds them by the names the tests ask for

# Names may not hold "/" (they are path segments); values may hold anything.
CUBE = "<img src=x onerror=alert(1)>"
REGION = '"><svg onload=alert(2)>'
CITY = "<b onmouseover=alert(3)>city"
QTY = "qty<img src=x onerror=alert(4)>"
HIERARCHY = "<iframe srcdoc=alert(5)>"
MEASURE = "<details open ontoggle=alert(6)>"
VIEW = "<img src=x onerror=alert(7)> view"
MEMBERS = ["<img src=x onerror=alert(8)>", "</td><script>alert(9)</script>", '"><svg onload=alert(10)>', "<style>body{--injected:1}</style>"]
CITIES = ["<a href=javascript:alert(11)>Lyon</a>", "Paris"]

# Installed before any page script: what would show that the server's text became markup or script.
WATCH = """
window.__violations = [];
window.__alerts = [];
document.addEventListener("securitypolicyviolation", (event) => window.__violations.push(`${event.violatedDirective}: ${event.sample}`), true);
window.alert = (text) => window.__alerts.push(String(text));
"""
# Every element of the page, in shadow roots too, that the server's text could have made.
INJECTED = """
() => {
  const found = [];
  const visit = (root) => {
    for (const element of root.querySelectorAll("*")) {
      const attributes = [...element.attributes];
      const tag = element.tagName.toLowerCase();
      const foreign = attributes.some((attribute) => attribute.name.startsWith("on")
        || (["href", "src", "srcdoc"].includes(attribute.name) && attribute.value.includes("alert(")))
        || (tag === "img" && element.getAttribute("src") === "x") || (tag === "script" && !(element.getAttribute("src") ?? "").startsWith("/explorer/assets/"))
        || (tag === "style" && element.textContent.includes("--injected"));
      if (foreign) found.push(element.outerHTML.slice(0, 160));
      if (element.shadowRoot) visit(element.shadowRoot);
    }
  };
  visit(document);
  return found;
}
"""

FALLBACK = """
async () => {
  const plugin = document.createElement("perspective-viewer-plugin");
  document.querySelector("perspective-viewer").append(plugin);
  await plugin.draw(await document.querySelector("perspective-viewer").getView());
  return plugin.textContent;
}
"""


@pytest.fixture(scope="module")
def session() -> Generator[tiercube.Session]:
    with tiercube.Session.start(tiercube.SessionConfig(users=SECURED.users, max_failed_logins_per_minute=1000)) as owner:
        table = owner.create_table(CUBE, data_types={REGION: "string", CITY: "string", QTY: "int64"})
        table.append(*[(region, city, i + 1) for i, region in enumerate(MEMBERS) for city in CITIES])
        cube = owner.create_cube(table)
        hierarchies = cube.hierarchies
        del hierarchies[REGION], hierarchies[CITY]
        hierarchies[HIERARCHY] = [REGION, CITY]
        cube.measures[MEASURE] = cube.measures[f"{QTY}.SUM"] * 2
        with httpx.Client(base_url=owner.url, headers=STATED, auth=(USER.username, USER.password)) as client:
            saved = client.put(f"/api/v1/explorer/views/{VIEW}", json={"fragment": f"cube={CUBE}&rows={REGION}", "shared_with": []})
            assert saved.is_success, saved.text
        yield owner


def injected(page: Page) -> list[str]:
    found: list[str] = page.evaluate(INJECTED)
    return found


def test_hostile_names_and_members_are_text_in_every_view(page: Page, session: tiercube.Session) -> None:
    page.add_init_script(WATCH)
    sign_in(page, session.link, USER)
    assert page.locator("#cube").input_value() == CUBE
    act(page, lambda: page.get_by_role("button", name=f"rows: hierarchy {HIERARCHY}").click())  # the tree
    act(page, lambda: page.get_by_label(f"measure {MEASURE}").check())
    act(page, lambda: page.get_by_label("Totals").check())
    cells = page.locator("perspective-viewer regular-table tbody tr th:first-child, perspective-viewer regular-table tbody tr td:first-child")
    act(page, lambda: cells.filter(has_text=MEMBERS[0]).first.click())  # expanded: its cities drawn
    page.locator("perspective-viewer regular-table").filter(has_text=CITIES[0]).wait_for()
    for plugin, drawn in [("Bar", "perspective-viewer-d3fc-ybar svg"), ("Line", "perspective-viewer-d3fc-yline svg"), ("Heat map", "perspective-viewer-d3fc-heatmap")]:
        act(page, page.get_by_role("button", name=plugin, exact=True).click)
        page.locator(drawn).first.wait_for()
    act(page, lambda: page.get_by_role("button", name="Grid").click())
    # Perspective's fallback plugin (a view naming a plugin the viewer lacks), drawing the view on screen as CSV.
    fallback = page.evaluate(FALLBACK)
    assert MEMBERS[0] in fallback and f"{QTY}.SUM" in fallback
    page.get_by_role("button", name=f"filter: {REGION}").click()
    page.locator("#members-list li").first.wait_for()
    assert sorted(text.strip() for text in page.locator("#members-list li").all_inner_texts()) == sorted(MEMBERS)
    page.get_by_label("search members").fill("script")
    assert [text.strip() for text in page.locator("#members-list li").all_inner_texts()] == [MEMBERS[1]]
    page.locator("#members-list input").first.check()
    act(page, lambda: page.get_by_role("button", name="Apply").click())
    assert MEMBERS[1] in page.locator("#filters").inner_text()
    page.get_by_label("saved views").select_option(label=VIEW)
    page.locator("#rows").filter(has_text=REGION).wait_for()
    assert QTY in page.locator("#code").inner_text()
    assert page.evaluate("() => [window.__violations, window.__alerts]") == [[], []]
    assert injected(page) == []


def test_the_new_measure_form_takes_and_shows_hostile_names_as_text(page: Page, session: tiercube.Session) -> None:
    page.add_init_script(WATCH)
    sign_in(page, session.link, ADMIN)
    assert MEASURE in page.get_by_label("left measure").inner_text()
    page.get_by_label("new measure's name").fill("<img src=x onerror=alert(12)>")
    page.get_by_label("left measure").select_option(MEASURE)
    page.get_by_label("operator").select_option("*")
    page.get_by_label("right measure").select_option(f"{QTY}.SUM")
    act(page, lambda: page.get_by_role("button", name="Add").click())
    page.get_by_label("measure <img src=x onerror=alert(12)>").wait_for()
    assert page.evaluate("() => [window.__violations, window.__alerts]") == [[], []]
    assert injected(page) == []


def test_the_embeddable_page_never_signs_in_with_the_cookie(page: Page, session: tiercube.Session) -> None:
    sign_in(page, session.link, USER)  # the browser holds a signed-in cookie
    sent: list[dict[str, Any]] = []
    page.on("request", lambda request: sent.append({"url": request.url, "cookie": request.all_headers().get("cookie", "")}))
    page.goto(f"{session.url}{paths.EXPLORER_EMBED}#cube={CUBE}")  # no token in the fragment
    page.get_by_text("This embedded explorer has no session token").wait_for()
    assert page.locator("#who").inner_text() == ""
    # The page itself (the browser sends its cookies with a navigation), its assets and the viewer's worker: no request to the API.
    to_server = [request for request in sent if request["url"].startswith(session.url)]
    assert [request["url"] for request in to_server if "/explorer/assets/" not in request["url"]] == [f"{session.url}{paths.EXPLORER_EMBED}"]


def test_only_the_embedding_page_may_frame_the_embeddable_page() -> None:
    with in_process(SECURED) as server, server.client() as client:
        def ancestors(query: str) -> str:
            policy = client.get(f"{paths.EXPLORER_EMBED}{query}").headers["content-security-policy"]
            found = re.search(r"frame-ancestors ([^;]*)", policy)
            assert found is not None, policy
            return found[1]

        assert ancestors("") == "'none'"
        assert ancestors("?embedder=http://localhost:8888") == "http://localhost:8888"  # the notebook a widget is on
        assert ancestors("?embedder=https://a.test%3B%20script-src%20*") == "'none'"  # not an origin: nothing else gets in
        assert ancestors("?embedder=*") == "'none'"
        assert "frame-ancestors 'none'" in client.get(paths.SIGN_IN).headers["content-security-policy"]
    configured = tiercube.SessionConfig(users=SECURED.users, embed_origins=["https://lab.example.com", "http://localhost:8888"])
    with in_process(configured) as server, server.client() as client:
        policy = client.get(f"{paths.EXPLORER_EMBED}?embedder=https://elsewhere.test").headers["content-security-policy"]
        assert "frame-ancestors https://lab.example.com http://localhost:8888" in policy  # the list, not what the address says
    with pytest.raises(tiercube.InvalidRequestError, match="embed_origins: .* is not an origin"):
        tiercube.SessionConfig(embed_origins=["https://a.test; script-src *"])


def test_a_restricted_user_hears_the_same_whether_or_not_hidden_rows_changed(session: tiercube.Session) -> None:
    """The event stream's digest once changed with every change, also in rows a restriction hides."""
    session.security.create_user("eu", password="eu-password", roles=["EUROPE"])
    sales = session.create_table("watched", data_types={"id": "int64", "region": "string", "qty": "int64"}, keys=["id"])
    sales.append((1, "Europe", 5), (2, "Asia", 7))
    session.create_cube(sales)
    session.security.restrict("EUROPE", sales["region"] == "Europe")

    def heard(auth: tuple[str, str]) -> str:
        with httpx.Client(base_url=session.url, headers=STATED, auth=auth) as client:
            answer = client.get(paths.EXPLORER_EVENTS, params={"once": "1"})
        version: str = msgspec.json.decode(answer.content.removeprefix(b"data: "))["cubes"]["watched"]
        return version

    eu, admin = ("eu", "eu-password"), (ADMIN.username, ADMIN.password)
    before, admin_before = heard(eu), heard(admin)
    sales.append((3, "Asia", 1), (4, "Americas", 2))  # rows she cannot see: added,
    sales.append((2, "Asia", 70))  # changed
    sales.drop(sales["id"] == 4)  # and dropped
    assert heard(admin) != admin_before  # the cube's data changed
    assert heard(eu) == before  # but not the data she may see
    sales.append((5, "Europe", 1))
    assert heard(eu) != before


def test_a_widget_s_frame_loads_on_its_notebook_page_and_on_no_other(page: Page, session: tiercube.Session) -> None:
    """The notebook is a page on another port of loopback; the same page reached as localhost is another origin."""
    with tiercube.connect(session.url, authentication=USER) as user:
        widget: Any = user.cubes[CUBE].explore()
    notebook = HTTPServer(("127.0.0.1", 0), _Notebook)
    threading.Thread(target=notebook.serve_forever, daemon=True).start()
    try:
        port = notebook.server_address[1]
        # What the widget's script does: name the page it is on.
        _Notebook.frame = str(httpx.URL(str(widget.src)).copy_merge_params({"embedder": f"http://127.0.0.1:{port}"}))
        page.goto(f"http://127.0.0.1:{port}/")
        page.frame_locator("iframe").locator("#who").filter(has_text="user").wait_for()
        page.goto(f"http://localhost:{port}/")
        page.wait_for_function("() => document.querySelector('iframe') !== null")
        page.wait_for_timeout(1000)
        assert [frame.url.split(":")[0] for frame in page.frames[1:]] == ["chrome-error"]  # refused by frame-ancestors
    finally:
        notebook.shutdown()
        notebook.server_close()


class _Notebook(BaseHTTPRequestHandler):
    """A notebook's page: the widget's frame, and nothing else."""

    frame = ""

    def do_GET(self) -> None:
        body = f'<iframe src="{html.escape(self.frame)}" width="1200" height="800"></iframe>'.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
