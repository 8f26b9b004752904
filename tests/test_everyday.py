"""The everyday API as a newcomer meets it: what prints, what a mistake says, one name per idea. Real servers."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED
from tiercube._client import progress
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths

SALES = Path(__file__).resolve().parent.parent / "examples" / "sales.csv"


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    with tiercube.Session.start(SECURED) as session:
        session.create_cube(session.read_csv(SALES, keys=["id"]))
        yield session


def test_a_misspelt_config_field_names_the_field_meant(tmp_path: Path) -> None:
    cases = {
        "quey_timeout = 3.0\n": "unknown field `quey_timeout`; did you mean 'query_timeout'?",
        '[tls]\ncertificat = "a.pem"\nkey = "b.pem"\n': "`certificat` - at `$.tls`; did you mean 'certificate'?",
        '[[users]]\nname = "ann"\nrols = ["ROLE_ADMIN"]\n': "`rols` - at `$.users[0]`; did you mean 'roles'?",
        "zzzzzzzz = 1\n": "its fields are users, tls,",
    }
    for text, expected in cases.items():
        path = tmp_path / "tiercube.toml"
        path.write_text(text)
        with pytest.raises(tiercube.InvalidRequestError) as raised:
            tiercube.SessionConfig.from_toml(path)
        assert expected in str(raised.value)


def test_max_rows_is_the_one_name_and_result_limit_still_works_with_a_warning(owner: tiercube.Session) -> None:
    cube = owner.cubes["sales"]
    with pytest.raises(tiercube.ResultTooLargeError):
        cube.query("qty.SUM", levels=["country"], max_rows=2)
    untyped: Any = cube  # the deprecated overload: every checker flags it, the call still works
    with pytest.warns(DeprecationWarning, match=r"result_limit=\) is now max_rows="):
        assert untyped.query("qty.SUM", levels=["region"], result_limit=10).num_rows == 3
    with pytest.raises(TypeError, match="give max_rows= only"):
        untyped.query("qty.SUM", max_rows=5, result_limit=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns about nothing
        assert cube.query("qty.SUM", levels=["region"], max_rows=10).num_rows == 3


def test_redefining_a_measure_needs_replace(owner: tiercube.Session) -> None:
    cube = owner.cubes["sales"]
    m = cube.measures
    with pytest.raises(tiercube.ConflictError, match=r"already has a measure named 'qty.SUM'; pass replace=True"):
        m["qty.SUM"] = m["qty.SUM"] * 2
    m["doubled"] = m["qty.SUM"] * 2  # a new name needs nothing
    with pytest.raises(tiercube.ConflictError, match="'doubled'"):
        m["doubled"] = m["qty.SUM"] * 3
    both = cube.query("qty.SUM", "doubled").to_pylist()[0]
    assert both["doubled"] == 2 * both["qty.SUM"]  # the first definition stands
    m.set("doubled", m["qty.SUM"] * 3, replace=True)
    total = owner.cubes["sales"].query("qty.SUM", "doubled").to_pylist()[0]
    assert total["doubled"] == 3 * total["qty.SUM"]
    # Callers that predate the field (the explorer's form, other clients) send no "replace": as before, it replaces.
    body = {"expression": {"type": "measure_ref", "name": "qty.SUM"}}
    headers = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
    response = httpx.put(
        f"{owner.url}/api/v1/cubes/sales/measures/doubled", json=body, headers=headers, auth=(ADMIN.username, ADMIN.password), timeout=10
    )
    assert response.status_code == 200, response.text
    del m["doubled"]


def test_print_shows_a_table_and_a_cube(owner: tiercube.Session) -> None:
    text = str(owner.tables["sales"])
    assert text.startswith("LocalTable 'sales': 300 rows (* marks a key)")
    assert "* id: int64" in text and "  region: string" in text
    cube = str(owner.cubes["sales"])
    assert cube.startswith("EditableCube 'sales' over table 'sales'")
    assert "qty.SUM = sum(sales.qty)" in cube and "country: country" in cube
    assert repr(owner.tables["sales"]) == "<LocalTable 'sales'>"  # repr asks nothing: debuggers call it
    assert str(owner.tables["gone"]) == "<LocalTable 'gone'>: cannot show its columns (NotFoundError: no table named 'gone' (tables: sales))"


def test_results_show_as_a_grid(owner: tiercube.Session) -> None:
    result = owner.cubes["sales"].query("qty.SUM", "price.MEAN", levels=["country"])
    assert isinstance(result, pa.Table)  # the answer itself stays Arrow
    shown = str(tiercube.show(result, max_rows=4)).split("\n")
    assert shown[0].split() == ["country", "qty.SUM", "price.MEAN"]
    assert set(shown[1]) == {"-", " "}
    assert shown[4].split() == ["...", "...", "..."]
    assert shown[-1] == "8 rows x 3 columns (4 not shown; show(result, max_rows=...) shows more)"
    assert "<td" in tiercube.show(result)._repr_html_()  # pyright: ignore[reportPrivateUsage]  # what notebooks call
    everything = str(tiercube.show(result)).split("\n")
    assert len(everything) == 2 + 8 + 1
    assert everything[-1] == "8 rows x 3 columns"


@pytest.fixture
def not_tiercube(tmp_path: Path) -> Generator[str]:
    """Python's own file server: an HTTP server that is not tiercube, answering HTML."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_connecting_to_something_else_says_so_in_one_line(not_tiercube: str) -> None:
    with pytest.raises(tiercube.ProtocolError) as raised:
        tiercube.connect(not_tiercube)
    message = str(raised.value)
    assert message.startswith(f"{not_tiercube} does not answer as a tiercube server: GET /versions/rest answered 404 File not found (text/html,")
    assert "\n" not in message and "<" not in message  # none of its HTML


def test_a_cancelled_load_ends_its_progress_line_and_says_what_is_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress line of a terminal (here a stream of its own, drawn at once): Ctrl+C leaves no half line
    behind. tests/test_interrupt.py interrupts a real load of a real server."""
    monkeypatch.setattr(progress, "_DELAY", 0.0)
    terminal = io.StringIO()

    def interrupted() -> None:
        with progress.cancellable_load("reading 'big'", "no table 'big' was created", terminal, 10**9):
            time.sleep(0.5)  # the spinner draws a few frames
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match=r"^reading 'big' was cancelled: the server drops .*, so no table 'big' was created$"):
        interrupted()
    drawn = terminal.getvalue()
    assert drawn.endswith("\n") and drawn.count("\n") == 1
    assert drawn.split("\r")[-1].startswith("  reading 'big' (1,000.0 MB): cancelled after ")
