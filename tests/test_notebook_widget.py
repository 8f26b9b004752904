"""``cube.explore()`` in JupyterLab, with a kernel whose server the browser cannot reach.

A real JupyterLab (jupyter_server, the anywidget extension) runs a real
ipykernel; the kernel connects to a real tiercube server as a Europe-only
user and shows the widget. Chromium opens the notebook, with every request to
the tiercube server's port refused: the widget must load its page, scripts and
numbers through the kernel (``explorer_relay.py``), as with a kernel on another
machine, in a sandboxed frame that cannot reach the notebook's page. The numbers
it shows are the server's for that user.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Request, Route

import tiercube
from tests.browser import VIEWPORT, act, browser, by_label, grid, screenshot
from tests.conftest import SECURED
from tiercube._client.connection import Connection
from tiercube._client.explorer_relay import Relay
from tiercube._wire import paths
from tiercube._wire.explorer import EmbedSession, OpenEmbed

__all__ = ["browser"]

EU_USER = tiercube.BasicAuthentication("eu", "eu-password")
REGIONS = ["Americas", "Asia", "Europe", "Oceania"]
JUPYTER_TOKEN = "notebook-test-token"


@pytest.fixture(scope="module")
def session() -> Generator[tiercube.Session]:
    """A secured server: sales by region and product, a cube, a user who may see Europe only."""
    config = tiercube.SessionConfig(
        users=[*SECURED.users, tiercube.UserConfig(name=EU_USER.username, password=EU_USER.password, roles=["EUROPE"])]
    )
    generator = random.Random(5)
    with tiercube.Session.start(config) as owner:
        sales = owner.create_table("sales", data_types={"id": "int64", "region": "string", "product": "string", "qty": "int64"}, keys=["id"])
        sales.append(*[(i, generator.choice(REGIONS), f"p{generator.randrange(8)}", generator.randint(1, 20)) for i in range(3000)])
        owner.create_cube(sales)
        owner.security.restrict("EUROPE", sales["region"] == "Europe")
        yield owner


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Generator[tuple[str, Path]]:
    """JupyterLab on loopback, its kernels this interpreter; its address and its notebooks' folder."""
    root = tmp_path_factory.mktemp("jupyter")
    port = _free_port()
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / ".config"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "IPYTHONDIR": str(root / ".ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={JUPYTER_TOKEN}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--allow-root", "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    log = (root / "jupyter.log").open("wb")
    process = subprocess.Popen(command, cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT)
    # The port it listens on: the one asked for, or the next free one if something took it since.
    info = root / ".runtime" / f"jpserver-{process.pid}.json"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
                if httpx.get(f"{url}/api/status", params={"token": JUPYTER_TOKEN}).is_success:
                    break
            except (OSError, ValueError, KeyError, httpx.TransportError):
                pass  # not written yet, or not listening yet
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {(root / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, root
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"JupyterLab did not stop within 30 s: {(root / 'jupyter.log').read_text()[-3000:]}")
        log.close()


def _notebook(path: Path, *cells: str) -> None:
    notebook: dict[str, object] = {
        "cells": [{"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None} for source in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def test_the_widget_works_through_the_kernel_when_the_browser_cannot_reach_the_server(
    browser: Browser, session: tiercube.Session, jupyter: tuple[str, Path]
) -> None:
    url, root = jupyter
    _notebook(
        root / "explore.ipynb",
        "import tiercube\n"
        f"user = tiercube.connect({session.url!r}, authentication=tiercube.BasicAuthentication('eu', 'eu-password'))\n"
        "explorer = user.cubes['sales'].explore(height=700)\n"
        "explorer",
        # Where the test can read the widget's token, to look for it in what the browser got.
        "import pathlib\npathlib.Path('widget-token').write_text(explorer._relay.token);",
    )
    server_port = httpx.URL(session.url).port
    refused: list[str] = []

    def refuse(route: Route, request: Request) -> None:
        refused.append(request.url)
        route.abort("connectionrefused")

    context = browser.new_context(viewport=VIEWPORT)
    context.route(re.compile(rf"^[a-z]+://[^/]+:{server_port}(/.*)?$"), refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    frames: list[str | bytes] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(frame)))
    try:
        page.goto(f"{url}/lab/tree/explore.ipynb?token={JUPYTER_TOKEN}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=60_000)  # the kernel is up
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        element = page.locator("iframe[title='tiercube explorer']")
        element.wait_for(timeout=60_000)
        frame = element.element_handle().content_frame()
        assert frame is not None
        frame.locator("body[data-ready]").wait_for(timeout=60_000)

        # The page runs in an origin of its own: what the server sends cannot reach the notebook.
        assert frame.evaluate("() => origin") == "null"
        assert frame.evaluate("() => { try { return parent.document.title; } catch { return 'refused'; } }") == "refused"
        assert frame.locator("#who").inner_text() == "eu · may query (read only)"
        assert not frame.get_by_role("button", name="Sign out").is_visible()
        act(frame, lambda: frame.get_by_role("button", name="rows: product").click())
        act(frame, lambda: frame.get_by_role("button", name="columns: region").click())
        with tiercube.connect(session.url, authentication=EU_USER) as eu:
            expected = eu.cubes["sales"].query("qty.SUM", levels=["product", "region"]).to_pylist()
        shown = by_label(grid(frame))
        assert {row["product"]: row["qty.SUM"] for row in expected} == {label: cells["Europe · qty.SUM"] for label, cells in shown.items()}
        assert {row["region"] for row in expected} == {"Europe"}
        screenshot(page, "notebook-widget")
        shown_page = page.content() + frame.content()
    finally:
        context.close()
    assert refused == [], "the browser tried to reach the tiercube server itself"
    assert not errors, errors
    # The widget's token stayed in the kernel: in no message the browser got, nor in the page.
    token = (root / "widget-token").read_text()
    assert len(token) > 20 and frames
    assert not [frame for frame in frames if token in (frame if isinstance(frame, str) else frame.decode("latin-1"))]
    assert token not in shown_page


def test_the_relay_carries_only_paths_on_its_server_with_the_widget_s_token_only(session: tiercube.Session) -> None:
    """A page (or anything else in the browser) that sends the widget's messages gets no more than the widget may."""
    with tiercube.connect(session.url, authentication=EU_USER) as eu:
        connection: Connection = getattr(eu.cubes["sales"], "_connection")
        relay = Relay(connection, lambda: connection.json("POST", paths.EXPLORER_SESSIONS, EmbedSession, OpenEmbed("sales")))
        answers: dict[int, list[tuple[dict[str, object], list[bytes]]]] = {}
        relay.bind(lambda content, buffers: answers.setdefault(int(str(content["id"])), []).append((content, buffers)))
        stated = {paths.CLIENT_VERSION_HEADER: tiercube.__version__, paths.CLIENT_PROTOCOL_HEADER: "1"}
        asked = {
            1: ("GET", paths.EXPLORER_GRANT, stated),
            2: ("GET", "//evil.example/steal", stated),
            3: ("GET", "http://evil.example/steal", stated),
            4: ("GET", paths.EXPLORER_GRANT, {**stated, "authorization": "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ="}),
        }
        for id, (method, path, headers) in asked.items():
            relay.receive({"kind": "request", "id": id, "method": method, "path": path, "headers": headers}, [])
        relay.receive({"kind": "request", "id": 5, "method": "TRACE", "path": "/", "headers": {}}, [])  # not a request it carries
        deadline = time.monotonic() + 30
        while not all(id in answers and answers[id][-1][0].get("done", answers[id][-1][0]["kind"] == "fail") for id in asked):
            assert time.monotonic() < deadline, answers
            time.sleep(0.05)
        relay.close()
    grant = json.loads(b"".join(answers[1][-1][1]))
    assert grant["user"] == "eu" and answers[1][-1][0]["status"] == 200
    for id in (2, 3):
        assert answers[id][-1][0]["kind"] == "fail" and "not a path on the server" in str(answers[id][-1][0]["message"])
    # The admin's credentials, sent by the page, were dropped: the caller is still the widget's.
    assert json.loads(b"".join(answers[4][-1][1]))["user"] == "eu"
    assert 5 not in answers
