"""A real notebook: built with nbformat, run by nbclient in an ipykernel of this very interpreter.

Each cell's last expression is displayed the way Jupyter displays it, and its
outputs are checked: sessions, tables, cubes and measures show as HTML with
the facts they hold, and a query result turns into a pandas frame. To check
another step of the notebook, add a ``Cell`` to ``CELLS``.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

import tiercube
from tests.rendered import Rendered
from tests.tiers import SALES_CSV


@dataclass(frozen=True)
class Cell:
    """A code cell, and what its result must show: lines of its HTML, or its plain text exactly.

    ``remember`` names its plain result (a str) for the ``{name}`` in the lines of later cells.
    """

    source: str
    html: tuple[str, ...] = ()
    plain: str | None = None
    remember: str | None = None
    widget: bool = False


CELLS = [
    # The kernel runs this interpreter, with this tiercube: not some other python3 on the machine.
    # One string, not a tuple: IPython's pretty printer wraps a long tuple over lines (deep checkout paths).
    Cell(
        "import sys\nimport tiercube\nsys.executable + ' ' + tiercube.__file__",
        plain=repr(sys.executable + " " + tiercube.__file__),
    ),
    Cell(
        "session = tiercube.Session.start()\n"
        "sales = session.read_csv('sales.csv', keys=['id'])\n"
        "cube = session.create_cube(sales)\n"
        "m = cube.measures\n"
        "m['margin'] = m['price.SUM'] - m['qty.SUM']\n"
        "session.url",
        remember="url",
    ),
    Cell("session", html=("Session", "server: {url} as owner", "sales | 4 | id*, region, qty, price")),
    Cell("sales", html=("LocalTable sales", "rows: 4", "region | string |")),
    Cell(
        "cube",
        html=("EditableCube sales", "fact table: sales", "region | region | sales.region | string", "margin | price.SUM - qty.SUM"),
    ),
    Cell("m['margin']", html=("Measure margin", "expression: price.SUM - qty.SUM")),
    Cell(
        "cube.query('qty.SUM', 'margin', levels=['region']).to_pandas()",
        html=("| region | qty.SUM | margin", "0 | ASIA | 1 | -0.5", "1 | EU | 8 | -5.5", "2 | US | 4 | -2.0"),
    ),
    # An answer shows as a grid by itself, each measure in the format the server keeps for it.
    Cell(
        "m.set_format('margin', tiercube.Format.number(2))\ncube.query('qty.SUM', 'margin', levels=['region'])",
        html=("region | qty.SUM | margin", "ASIA | 1 | -0.50", "EU | 8 | -5.50", "US | 4 | -2.00", "3 rows x 3 columns"),
    ),
    # The explorer as a widget: its view in the output, its frame on the server's embeddable page.
    Cell("explorer = cube.explore(height=500)\nexplorer", widget=True),
    Cell("explorer.src", remember="src"),
    Cell("session.close()\nsession", html=("Session", "state: <closed>: this session's connection is closed")),
]


class NotebookFormat(Protocol):
    """What is used here of ``nbformat.v4`` (which leaves it unannotated)."""

    def new_notebook(self, *, cells: list[NotebookNode]) -> NotebookNode: ...
    def new_code_cell(self, source: str) -> NotebookNode: ...


V4 = cast(NotebookFormat, nbformat.v4)


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelManager:
    """A kernel of this interpreter, found through a kernelspec of its own (no python3 of the machine's),
    with IPython's and Jupyter's files kept in ``tmp_path``."""
    spec = tmp_path / "kernels" / "tiercube-python"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "tiercube", "language": "python"}))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name="tiercube-python", kernel_spec_manager=specs)


def result_of(outputs: list[Mapping[str, object]], source: str) -> Mapping[str, str]:
    """The cell's displayed result (its ``execute_result``), by mime type."""
    results = [output for output in outputs if output["output_type"] == "execute_result"]
    assert len(results) == 1, (source, outputs)
    return cast("Mapping[str, str]", results[0]["data"])


def test_a_notebook_shows_sessions_tables_cubes_measures_and_frames(tmp_path: Path, kernel: KernelManager) -> None:
    (tmp_path / "sales.csv").write_text(SALES_CSV)
    notebook = V4.new_notebook(cells=[V4.new_code_cell(cell.source) for cell in CELLS])
    # In the notebook's folder, as Jupyter starts a kernel; a failing cell raises CellExecutionError.
    NotebookClient(notebook, km=kernel, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()

    remembered: dict[str, str] = {}
    for cell, ran in zip(CELLS, notebook.cells, strict=True):
        if cell.widget:
            result = result_of(ran.outputs, cell.source)
            view = cast("Mapping[str, str]", result["application/vnd.jupyter.widget-view+json"])
            states = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
            assert states[view["model_id"]]["model_name"] == "AnyModel"
            continue
        if cell.plain is None and not cell.html and cell.remember is None:
            assert not [o for o in ran.outputs if o["output_type"] in ("error", "execute_result")], ran.outputs
            continue
        result = result_of(ran.outputs, cell.source)
        if cell.remember is not None:
            remembered[cell.remember] = ast.literal_eval(result["text/plain"])
        if cell.plain is not None:
            assert result["text/plain"] == cell.plain
        if cell.html:
            assert "text/html" in result, (cell.source, result)
            lines = Rendered(result["text/html"]).lines
            for expected in cell.html:
                assert expected.format(**remembered) in lines, (cell.source, expected, lines)
    assert remembered["url"].startswith("http://127.0.0.1:")
    assert remembered["src"].startswith(remembered["url"] + "/explorer/embed#cube=sales&token=")
