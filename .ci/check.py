"""The whole test suite: runtime tests, then every type checker. Exit non-zero on any failure.

Run it as ``python3 dev.py test`` (which prepares .venv first); extra
arguments go to pytest, e.g. ``python3 dev.py test -k connect``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def run(name: str, command: list[str]) -> bool:
    print(f"\n=== {name}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    executable = str(BIN / command[0]) if (BIN / command[0]).exists() else command[0]
    code = subprocess.run([executable, *command[1:]], cwd=ROOT).returncode
    print(f"=== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.1f} s", flush=True)
    return code == 0


def main() -> int:
    pytest_args = sys.argv[1:] or ["-n", str(max(2, os.cpu_count() or 2)), "--dist", "loadfile"]
    results = {"pytest": run("pytest", [str(BIN / "python"), "-m", "pytest", *pytest_args])}
    for name, command in CHECKERS:
        results[name] = run(name, command)
    print("\nsummary: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
