"""What a user's type checkers see of the built wheel, not of this checkout's ``src/``.

``test_a_plain_install_types_the_readme_code``: a plain ``pip install tiercube``
(nothing but the wheel, its dependencies and the pinned mypy and pyright in a
fresh virtual environment: no pandas, no stubs of our own choosing) types the
README's example and a user file that touches the loading and querying API:
results are pyarrow.Table, nothing Unknown, under ``mypy --strict`` and pyright
strict.

``test_the_typecheck_suite_passes_every_checker_from_the_wheel``: ``typecheck/``
(every valid use and every flagged misuse) passes all five checkers with the
project's settings when tiercube is the installed wheel. The fresh venv gets
only the wheel; the development environment's third-party packages (pyarrow,
its stubs, the checkers...) come in through a ``.pth`` line, which adds their
directory to ``sys.path`` without running the ``.pth`` files in it, so the
checkout's editable install stays out of sight. A probe module written into the
installed package, and a probe file with one deliberate error, make each checker
prove that it resolved tiercube to the wheel and checked the suite.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_BIN = Path(sysconfig.get_path("scripts"))

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

WHEEL_PROBE_MODULE = "_wheel_probe"
"""Written into the installed package only: an import of it resolves where tiercube is the wheel, nowhere else."""

WHEEL_PROBE = f'''"""Each checker must report one error here, on the last line, and none elsewhere: it checked typecheck/, and
the import resolved, as it does only in the installed wheel (unresolved, it is an error of its own).
"""

from tiercube.{WHEEL_PROBE_MODULE} import INSTALLED

mistake: str = INSTALLED
'''
WHEEL_PROBE_LINE = WHEEL_PROBE.count("\n")

ONE_ERROR = {
    "mypy": r"^Found 1 error in 1 file",
    "pyright": r"^1 error, 0 warnings, 0 informations",
    "basedpyright": r"^1 error, 0 warnings, 0 notes",
    "pyrefly": r"INFO 1 error\b",
    "ty": r"^Found 1 diagnostic$",
}
"""Each checker's summary when the probe's deliberate error is all it found."""


def pinned(name: str) -> str:
    dev: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return next(requirement for requirement in dev if re.match(rf"{re.escape(name)}(\[|==)", requirement))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel, once for the module's tests."""
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (built,) = dist.glob("tiercube-*.whl")
    return built


def fresh_environment(tmp_path: Path) -> tuple[Path, list[str]]:
    """A fresh venv's python, and the pip command that installs into it.

    The venv has no pip of its own (ensurepip takes longer than the rest of the setup): this pip installs into it.
    """
    environment = tmp_path / "venv"
    venv.EnvBuilder().create(environment)
    python = environment / "bin" / "python"
    return python, [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]


@pytest.mark.slow
def test_a_plain_install_types_the_readme_code(tmp_path: Path, wheel: Path) -> None:
    python, pip = fresh_environment(tmp_path)
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


def wheel_with_development_packages(tmp_path: Path, wheel: Path) -> Path:
    """A fresh venv holding only the wheel, which sees the development environment's other packages; its python.

    The installed package gets the probe module (``WHEEL_PROBE_MODULE``) that no other tiercube has. The ``.pth`` line puts the development site-packages on ``sys.path`` after the venv's own, and Python
    does not run the ``.pth`` files found there: the checkout's editable install stays out of sight.
    """
    python, pip = fresh_environment(tmp_path)
    install = subprocess.run([*pip, "install", "--quiet", "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    site_packages = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip())
    development = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    (site_packages / "development-packages.pth").write_text("".join(f"{directory}\n" for directory in development))
    (site_packages / "tiercube" / f"{WHEEL_PROBE_MODULE}.py").write_text(
        '"""Not part of tiercube: tests/test_typed_wheel.py writes it into the installed wheel."""\n\nINSTALLED = True\n'
    )
    # The interpreter finds the development packages, and tiercube in the wheel.
    where = subprocess.run(
        [str(python), "-c", f"import pyarrow, tiercube.{WHEEL_PROBE_MODULE}; print(tiercube.__file__)"], capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0 and Path(where.stdout.strip()).parent == site_packages / "tiercube", where.stdout + where.stderr
    return python


def checker_settings(python: Path) -> dict[str, Any]:
    """The project's settings for the five checkers, pointed at ``typecheck/`` and ``python``'s environment.

    Dropped: what names the checkout's ``stubs/`` (a user has none of it), its ``src/`` and ``.venv``.
    ``tests/conftest.py`` starts a ``distributed.LocalCluster``, whose ``__init__`` distributed leaves
    unannotated (the project's ``stubs/distributed`` types it): mypy, which also checks the helpers that
    typecheck/ imports, lets those calls through, and only those. The other four report on typecheck/ alone.
    """
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tool = project["tool"]
    checked = ["typecheck"]
    mypy = {key: value for key, value in tool["mypy"].items() if key != "mypy_path"}
    pyright = {key: value for key, value in tool["pyright"].items() if key not in {"stubPath", "venvPath", "venv", "executionEnvironments"}}
    return {
        # ty takes the Python version from requires-python, as it does in the project.
        "project": {"name": "wheel-user", "version": "0", "requires-python": project["project"]["requires-python"]},
        "tool": {
            "mypy": mypy | {"files": checked, "python_executable": str(python), "untyped_calls_exclude": ["distributed"]},
            "pyright": pyright | {"include": checked},
            "pyrefly": tool["pyrefly"] | {"project-includes": checked, "search-path": ["."], "python-interpreter-path": str(python)},
            "ty": tool["ty"] | {"environment": {"python": str(python.parent.parent)}, "src": {"include": checked}},
        },
    }


def toml(table: Mapping[str, Any], name: str = "") -> Iterator[str]:
    """``table`` as TOML lines: the settings hold only strings, booleans and lists of them, in nested tables."""
    if name and any(not isinstance(value, Mapping) for value in table.values()):
        yield f"[{name}]"
    for key, value in table.items():
        if not isinstance(value, Mapping):
            yield f"{key} = {json.dumps(value)}"  # a JSON string, boolean or list of strings is TOML too
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from toml(value, f"{name}.{key}" if name else key)  # pyright: ignore[reportUnknownArgumentType]


@pytest.mark.slow
def test_the_typecheck_suite_passes_every_checker_from_the_wheel(tmp_path: Path, wheel: Path) -> None:
    """typecheck/ (every valid use and every flagged misuse) against the installed wheel, not src/.

    Its helpers (tests/) come along; the project's own stubs do not. The settings are the project's,
    so an ignore the wheel makes unneeded fails too. The five checkers run at once.
    """
    python = wheel_with_development_packages(tmp_path, wheel)
    project = tmp_path / "user"
    for folder in ("typecheck", "tests"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "typecheck" / "wheel_probe.py").write_text(WHEEL_PROBE)
    (project / "pyproject.toml").write_text("\n".join(toml(checker_settings(python))) + "\n")

    commands: dict[str, list[str | Path]] = {
        "mypy": [DEVELOPMENT_BIN / "mypy"],
        "pyright": [DEVELOPMENT_BIN / "pyright", "--pythonpath", python],
        "basedpyright": [DEVELOPMENT_BIN / "basedpyright", "--pythonpath", python],
        "pyrefly": [DEVELOPMENT_BIN / "pyrefly", "check"],
        "ty": [DEVELOPMENT_BIN / "ty", "check"],
    }
    running = {
        checker: subprocess.Popen([str(part) for part in command], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for checker, command in commands.items()
    }
    reports = {checker: process.communicate(timeout=600)[0] for checker, process in running.items()}
    for checker, report in reports.items():
        assert re.search(ONE_ERROR[checker], report, re.MULTILINE), f"{checker}:\n{report[-5000:]}"
        assert f"wheel_probe.py:{WHEEL_PROBE_LINE}:" in report, f"{checker}:\n{report[-5000:]}"
