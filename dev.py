"""Developer entry point: ``python3 dev.py demo`` and ``python3 dev.py test``.

It needs nothing but Python 3.11+ and pip: it creates ``.venv`` beside this
file, installs tiercube into it with its development extras, then runs the
command inside it.
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

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".tiercube-installed"


def ensure_environment() -> None:
    """Create the virtual environment and (re)install when pyproject changes, saying each step.

    The first install downloads about 60 packages (pyarrow, the five type checkers, chromium's
    driver...), a few minutes on a slow line: pip's own lines (each package collected, a progress
    bar per download, what it installs) are passed through rather than hidden, so the wait shows
    how far it is.
    """
    wanted = (ROOT / "pyproject.toml").read_text()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    extras = tomllib.loads(wanted)["project"]["optional-dependencies"]["dev"]
    if not PYTHON.exists():
        print(f"[1/3] creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on"]
    print("[2/3] upgrading pip in .venv ...", flush=True)
    subprocess.run([*pip, "--quiet", "--upgrade", "pip"], check=True)
    print(f"[3/3] installing tiercube (editable) and its {len(extras)} development tools into .venv: "
          f"{', '.join(_name(requirement) for requirement in extras)}; pip says what it fetches ...", flush=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)
    print("done: .venv is ready (later runs skip this until pyproject.toml changes)", flush=True)


def _name(requirement: str) -> str:
    """``"mypy==2.4.1"`` -> ``"mypy"``: the list printed before the install stays short."""
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0]


def ensure_chromium() -> None:
    """The explorer's browser tests drive Debian's chromium: Playwright's own download does not work everywhere."""
    if shutil.which("chromium") or os.environ.get("TIERCUBE_CHROMIUM"):
        return
    apt = shutil.which("apt-get")
    if apt is None:
        print("note: no chromium and no apt-get: the explorer's browser tests will fail until chromium is installed", flush=True)
        return
    print("installing chromium (Debian's package) for the explorer's browser tests ...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, apt, "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=environment).returncode != 0:
        subprocess.run([*sudo, apt, "update", "-q"], env=environment, check=True)  # a fresh machine's lists are empty
        subprocess.run(install, env=environment, check=True)


def run(*command: str) -> int:
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "bench"}:
        print("usage: python3 dev.py demo | test [pytest args] | bench [args]")
        return 2
    ensure_environment()
    what, rest = sys.argv[1], sys.argv[2:]
    if what == "demo":
        return run("tiercube", "demo")
    if what == "bench":
        return run("python", "-m", "bench", *rest)
    ensure_chromium()
    return run("python", str(ROOT / ".ci" / "check.py"), *rest)


if __name__ == "__main__":
    sys.exit(main())
