"""The whole test suite: runtime tests, then every type checker. Exit non-zero on any failure.

Run it as ``python3 dev.py test`` (which prepares .venv first); extra
arguments go to pytest, e.g. ``python3 dev.py test -k connect``. They are
added to the default parallelism (``-n 2 --dist loadfile`` on 2 cores) unless
they choose their own (``-n 0``, ``-p no:xdist``, ``--pdb``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# (name, command). Each must pass: a capability that leaks onto a type turns one of them red.
CHECKERS = [
    ("mypy --strict", ["mypy"]),
    ("pyright (strict)", ["pyright"]),
    ("basedpyright", ["basedpyright"]),
    ("pyrefly", ["pyrefly", "check"]),
    ("ty", ["ty", "check"]),
]

WORKERS = ["-n", str(max(2, os.cpu_count() or 2))]
# Whole files to a worker: a module's server fixture then starts once, not once per worker.
# In collection order, which puts files with slow tests first (tests/conftest.py).
DISTRIBUTION = ["--dist", "loadfile", "--no-loadscope-reorder"]

PYTEST_EXITS = {
    1: "tests failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected: check the -k expression and the paths",
}
"""What pytest's exit codes mean; every one but 0 fails the run, 5 (nothing ran) included."""


def pytest_arguments(given: Sequence[str]) -> list[str]:
    """``given``, after the default parallelism unless ``given`` chooses its own.

    Any argument used to replace the defaults, so ``-k connect`` ran on one core.
    ``-n``/``--numprocesses`` replaces the worker count, ``--dist`` the distribution;
    ``-p no:xdist``, ``--pdb`` and ``--trace`` need the tests in this process.
    """
    arguments = list(given)
    if any(a in ("--pdb", "--trace", "no:xdist", "-pno:xdist") for a in arguments):
        return arguments
    own_workers = any(a == "-n" or (a.startswith("-n") and a[2:].isalnum()) or a.startswith("--numprocesses") for a in arguments)
    own_distribution = any(a.startswith("--dist") for a in arguments)
    return [*([] if own_workers else WORKERS), *([] if own_distribution else DISTRIBUTION), *arguments]


def run(name: str, command: list[str], exits: dict[int, str] | None = None) -> bool:
    print(f"\n=== {name}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    executable = str(BIN / command[0]) if (BIN / command[0]).exists() else command[0]
    code = subprocess.run([executable, *command[1:]], cwd=ROOT).returncode
    meaning = f": {exits[code]}" if exits and code in exits else ""
    print(f"=== {name}: {'ok' if code == 0 else f'FAILED (exit {code}{meaning})'} in {time.monotonic() - started:.1f} s", flush=True)
    return code == 0


def main() -> int:
    pytest = [str(BIN / "python"), "-m", "pytest", *pytest_arguments(sys.argv[1:])]
    results = {"pytest": run("pytest", pytest, PYTEST_EXITS)}
    for name, command in CHECKERS:
        results[name] = run(name, command)
    print("\nsummary: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
