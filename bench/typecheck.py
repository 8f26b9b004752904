"""A user's cold type check: ``mypy --strict`` and pyright (strict) on a file using tiercube, against the same size of file using httpx.

What a user who ran ``pip install tiercube mypy pyright`` pays for the types:
the wheel is built and installed into a fresh virtual environment with nothing
else, and each file is checked with an empty cache (pyright keeps none), in
turns. Issue 20's target is 1.2x the httpx file for both; what tiercube's
types pull in (pyarrow's stubs, its own modules) is the difference.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from bench.common import Context, Figure, Samples, Target, compare, timed

ROOT = Path(__file__).resolve().parent.parent

HTTPX_FILE = '''
import httpx


def fetch(base: str, token: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get("/items", params={"q": "x"})
        response.raise_for_status()
        items: list[dict[str, object]] = response.json()
        posted = client.post("/items", json={"name": "a"})
        print(posted.status_code, posted.headers.get("content-type"))
        return items
'''


def _environment(directory: Path) -> Path:
    """A fresh venv with the tiercube wheel, httpx (a dependency anyway) and the pinned mypy and pyright."""
    dist = directory / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)], check=True)
    environment = directory / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    dev: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    checkers = [next(r for r in dev if re.match(rf"{name}(\[|==)", r)) for name in ("mypy", "pyright")]
    (wheel,) = dist.glob("tiercube-*.whl")
    pip = [str(environment / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel), *checkers], check=True)
    return environment


def measure(context: Context) -> list[Figure]:
    directory = context.directory / "typecheck"
    directory.mkdir()
    smoke = context.mode.name == "smoke"
    if smoke:
        # The smoke run proves the script, not the install (a minute of pip): the development
        # environment has tiercube and both checkers too.
        environment = Path(sys.prefix)
    else:
        context.log("building the wheel and a fresh environment for it")
        environment = _environment(directory)
    project = directory / "user"
    project.mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.py", project / "with_tiercube.py")
    (project / "with_httpx.py").write_text(HTTPX_FILE)

    (project / "pyproject.toml").write_text('[tool.pyright]\ntypeCheckingMode = "strict"\n')

    def mypy(name: str) -> None:
        shutil.rmtree(project / ".mypy_cache", ignore_errors=True)
        subprocess.run([str(environment / "bin" / "mypy"), "--strict", name], cwd=project, check=True, capture_output=True)

    def pyright(name: str) -> None:
        python = environment / "bin" / "python"
        subprocess.run([str(environment / "bin" / "pyright"), "--pythonpath", str(python), name], cwd=project, check=True, capture_output=True)

    figures: list[Figure] = []
    for key, name, check, runs in (
        # One run each proves the script in smoke mode.
        ("typecheck.mypy_cold", "mypy --strict, cold cache", mypy, 1 if smoke else max(3, context.mode.start_runs)),
        ("typecheck.pyright_cold", "pyright (strict)", pyright, 1 if smoke else max(3, context.mode.start_runs)),
    ):
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(runs):  # in turns, so drift hits both alike
            ours.append(timed(lambda: check("with_tiercube.py")))
            theirs.append(timed(lambda: check("with_httpx.py")))
        figures.append(compare(
            key,
            f"{name}, on the README's example (plain install)",
            "s",
            Samples(tuple(ours)),
            Samples(tuple(theirs)),
            "the same on a file using httpx",
            Target(1.2, on="ratio", text="<= 1.2x the httpx file"),
        ))
    return figures
