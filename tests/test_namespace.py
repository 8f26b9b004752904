"""``import tiercube``: one public namespace, loaded lazily, described once for the type checkers."""

from __future__ import annotations

import ast
from pathlib import Path

import tiercube

STUB = Path(tiercube.__file__).with_suffix(".pyi")


def test_the_stub_and_the_lazy_loader_name_the_same_things_in_the_same_places() -> None:
    tree = ast.parse(STUB.read_text())
    imported = {
        alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    declared = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign))
    lazy: dict[str, str] = vars(tiercube)["_LAZY"]
    assert sorted(declared) == sorted(imported) == sorted(lazy) == sorted(tiercube.__all__)
    for name, module in imported.items():
        # "from tiercube import agg" imports the module tiercube.agg.
        assert lazy[name] == (f"tiercube.{name}" if module == "tiercube" else module), name


def test_every_public_name_resolves() -> None:
    for name in tiercube.__all__:
        assert getattr(tiercube, name) is not None
    assert set(tiercube.__all__) <= set(dir(tiercube))
