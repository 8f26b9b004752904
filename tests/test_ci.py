"""``.ci/check.py``, which ``dev.py test`` and ``.ci/run`` call: its pytest arguments and what fails the run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_check", ROOT / ".ci" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = load_check()
DEFAULTS: list[str] = [*check.WORKERS, *check.DISTRIBUTION]


def test_arguments_keep_the_default_parallelism() -> None:
    assert check.pytest_arguments([]) == DEFAULTS
    assert check.pytest_arguments(["-k", "connect", "tests/test_tiers.py"]) == [*DEFAULTS, "-k", "connect", "tests/test_tiers.py"]
    assert DEFAULTS[0] == "-n" and int(DEFAULTS[1]) >= 2


@pytest.mark.parametrize("own", [["-n", "0"], ["-n0"], ["-nauto"], ["--numprocesses", "1"], ["--numprocesses=4"]])
def test_a_worker_count_of_ones_own_replaces_the_default(own: list[str]) -> None:
    assert check.pytest_arguments([*own, "-k", "x"]) == [*check.DISTRIBUTION, *own, "-k", "x"]


def test_a_distribution_of_ones_own_replaces_the_default() -> None:
    assert check.pytest_arguments(["--dist", "load"]) == [*check.WORKERS, "--dist", "load"]
    assert check.pytest_arguments(["--dist=worksteal"]) == [*check.WORKERS, "--dist=worksteal"]


@pytest.mark.parametrize("own", [["-p", "no:xdist"], ["-pno:xdist"], ["--pdb"], ["--trace"]])
def test_running_in_this_process_adds_nothing(own: list[str]) -> None:
    assert check.pytest_arguments([*own, "-k", "x"]) == [*own, "-k", "x"]


@pytest.mark.parametrize("code", [1, 5])
def test_a_step_that_exits_non_zero_fails_and_says_why(code: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 5 is pytest's "no tests collected" (a -k that matches nothing): a failure, not a pass."""
    assert check.run("pytest", [sys.executable, "-c", f"raise SystemExit({code})"], check.PYTEST_EXITS) is False
    assert f"FAILED (exit {code}: {check.PYTEST_EXITS[code]})" in capsys.readouterr().out
    assert check.run("pytest", [sys.executable, "-c", "pass"], check.PYTEST_EXITS) is True
