"""``pyright --verifytypes tiercube``: every public symbol's type is known, and every one has a docstring.

What a user's checker and editor see of the package: a parameter or return
type left to inference, an Unknown base class (such as ipywidgets' behind the
explorer widget) or a missing docstring shows up here first. Types from other
packages are out of our hands (``--ignoreexternal``): pandas, pyarrow and
typeshed's ``numbers`` (behind ``decimal.Decimal``) leave parts Unknown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def verify_types() -> dict[str, Any]:
    # In --verifytypes mode pyright finds site-packages through the first ``python`` on PATH
    # (it ignores --pythonpath and the project's venv setting there), so this venv's comes first.
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    completed = subprocess.run(
        [str(BIN / "pyright"), "--verifytypes", "tiercube", "--ignoreexternal", "--outputjson"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )
    report: dict[str, Any] = json.loads(completed.stdout)["typeCompleteness"]
    return report


def findings(report: dict[str, Any], severity: str) -> list[str]:
    return [
        f"{symbol['name']}: {diagnostic['message']}"
        for symbol in report["symbols"]
        for diagnostic in symbol["diagnostics"]
        if diagnostic["severity"] == severity
    ]


def test_every_public_symbol_is_typed_and_documented() -> None:
    report = verify_types()
    assert report["pyTypedPath"].endswith("py.typed"), report  # tiercube itself was found, not nothing
    assert report["exportedSymbolCounts"]["withKnownType"] > 200, report["exportedSymbolCounts"]
    assert report["completenessScore"] == 1.0, "\n".join(findings(report, "error"))
    undocumented = [f for f in findings(report, "warning") if "docstring" in f or "default value" in f]
    assert (report["missingFunctionDocStringCount"], report["missingClassDocStringCount"]) == (0, 0), "\n".join(undocumented)
    assert report["missingDefaultParamCount"] == 0, "\n".join(undocumented)
