"""A plain ``pip install tiercube`` types the README's code: results are pyarrow.Table, nothing Unknown.

Builds the wheel, installs it with nothing but the pinned checkers into a
fresh virtual environment (no pandas, no stubs of our own choosing: what the
wheel declares is all there is), and runs ``mypy --strict`` and pyright in
strict mode on the README's example and on a user file that touches the
loading and querying API.
"""

from __future__ import annotations

import os
import re
import shutil
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


WHEEL_TYPECHECK = "TIERCUBE_WHEEL_TYPECHECK"
"""Set to 1 to run typecheck/ under mypy --strict from the wheel: it installs the dev extra into a fresh venv (minutes)."""


def pinned(name: str) -> str:
    dev: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return next(requirement for requirement in dev if re.match(rf"{re.escape(name)}(\[|==)", requirement))


def wheel_and_environment(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """The project built as a wheel, a fresh venv's python, and the pip command that installs into it.

    The venv has no pip of its own (ensurepip takes longer than the rest of the setup): this pip installs into it.
    """
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("tiercube-*.whl")
    environment = tmp_path / "venv"
    venv.EnvBuilder().create(environment)
    python = environment / "bin" / "python"
    return wheel, python, [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]


@pytest.mark.slow
def test_a_plain_install_types_the_readme_code(tmp_path: Path) -> None:
    wheel, python, pip = wheel_and_environment(tmp_path)
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
        [str(python.parent / "pyright"), "--pythonpath", str(python), "quickstart.py", "analysis.py"], cwd=project, capture_output=True, text=True, timeout=600
    )
    assert re.search(r"^0 errors, 0 warnings", pyright.stdout, re.MULTILINE), pyright.stdout
    assert pyright.stdout.count('is "Table"') == 3, pyright.stdout


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get(WHEEL_TYPECHECK), reason=f"installs the wheel's dev extra into a fresh venv (minutes): set {WHEEL_TYPECHECK}=1")
def test_the_typecheck_suite_passes_mypy_strict_from_the_wheel(tmp_path: Path) -> None:
    """typecheck/ (every valid use and every flagged misuse) against the installed wheel, not src/.

    Its helpers (tests/) come along; the project's own stubs do not, as a user has none of them.
    The mypy settings are the project's, so an ignore the wheel makes unneeded fails too.
    """
    wheel, python, pip = wheel_and_environment(tmp_path)
    install = subprocess.run([*pip, "install", "--quiet", f"{wheel}[dev]"], capture_output=True, text=True, timeout=1800)
    if install.returncode != 0 and ("NewConnectionError" in install.stderr or "No matching distribution" in install.stderr):
        pytest.skip(f"the wheel's dependencies cannot be installed here: {install.stderr[-300:]}")
    assert install.returncode == 0, install.stderr

    project = tmp_path / "user"
    for folder in ("typecheck", "tests"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    codes = ", ".join(settings["enable_error_code"])
    (project / "mypy.ini").write_text(
        f"[mypy]\npython_version = {settings['python_version']}\nstrict = True\nwarn_unused_ignores = True\n"
        f"warn_unreachable = True\nenable_error_code = {codes}\n"
        # The helpers are not the subject, and call distributed, typed only by the project's stubs.
        "[mypy-tests.*]\nignore_errors = True\n"
    )
    mypy = subprocess.run([str(python), "-m", "mypy", "typecheck"], cwd=project, capture_output=True, text=True, timeout=900)
    assert mypy.returncode == 0 and "Success" in mypy.stdout, mypy.stdout[-5000:] + mypy.stderr[-2000:]
    # It checked the wheel: tiercube resolved inside the new environment, not to this checkout.
    where = subprocess.run([str(python), "-c", "import tiercube; print(tiercube.__file__)"], capture_output=True, text=True, timeout=60)
    assert str(python.parent.parent) in where.stdout, where.stdout
