"""A plain ``pip install tiercube`` types the README's code: results are pyarrow.Table, nothing Unknown.

Builds the wheel, installs it with nothing but the pinned checkers into a
fresh virtual environment (no pandas, no stubs of our own choosing: what the
wheel declares is all there is), and runs ``mypy --strict`` and pyright in
strict mode on the README's example and on a user file that touches the
loading and querying API.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USER_CODE = '''
from typing import reveal_type

import pyarrow as pa

import tiercube


def analyse(url: str, password: str, frame: tiercube.DataFrameLike) -> pa.Table:
    session = tiercube.connect(url, authentication=tiercube.BasicAuthentication("ann", password), require=tiercube.LocalSession)
    table = session.read_pandas(frame, table_name="forecast", keys=["id"])
    table.load(frame)
    rows = table.query("id", filter=table["region"] == "EU")
    reveal_type(rows)
    cube = session.cubes["forecast"]
    result = cube.query("qty.SUM", levels="region", include_totals=True)
    reveal_type(result)
    reveal_type(session.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS FROM [forecast]"))
    return result
'''


def pinned(name: str) -> str:
    dev: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return next(requirement for requirement in dev if re.match(rf"{re.escape(name)}(\[|==)", requirement))


@pytest.mark.slow
def test_a_plain_install_types_the_readme_code(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("tiercube-*.whl")
    environment = tmp_path / "venv"
    # Without pip of its own (ensurepip takes longer than the rest of the setup): this pip installs into it.
    venv.EnvBuilder().create(environment)
    python = environment / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "install", "--quiet", str(wheel), pinned("mypy"), pinned("pyright")], capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stderr
    installed = subprocess.run([*pip, "list"], capture_output=True, text=True, timeout=120).stdout
    assert "tiercube " in installed and "mypy " in installed, installed  # the list is the new environment's
    assert "pandas " not in installed and "pandas-stubs" not in installed  # nothing the wheel does not ask for

    project = tmp_path / "user"
    project.mkdir()
    (project / "quickstart.py").write_text((ROOT / "examples" / "quickstart.py").read_text())
    (project / "analysis.py").write_text(USER_CODE)
    (project / "pyproject.toml").write_text('[tool.pyright]\ntypeCheckingMode = "strict"\n')

    mypy = subprocess.run(
        [str(python), "-m", "mypy", "--strict", "quickstart.py", "analysis.py"], cwd=project, capture_output=True, text=True, timeout=600
    )
    assert "Success" in mypy.stdout and " error" not in mypy.stdout, mypy.stdout + mypy.stderr
    revealed = re.findall(r'Revealed type is "(.*?)"', mypy.stdout)
    assert len(revealed) == 3 and all(re.fullmatch(r"pyarrow\.[\w.]*\.Table", r) for r in revealed), mypy.stdout

    pyright = subprocess.run(
        [str(environment / "bin" / "pyright"), "--pythonpath", str(python), "quickstart.py", "analysis.py"], cwd=project, capture_output=True, text=True, timeout=600
    )
    assert re.search(r"^0 errors, 0 warnings", pyright.stdout, re.MULTILINE), pyright.stdout
    assert pyright.stdout.count('is "Table"') == 3, pyright.stdout
