"""No import cycles in tiercube, hidden ones included.

Every module of ``src/tiercube`` is parsed, and every import of a tiercube
module counts as an edge, wherever it is written: at module level, inside a
function (where it only runs later), under ``if TYPE_CHECKING:`` (where it
never runs, yet a type checker follows it), as ``from . import x``, or as
``importlib.import_module("tiercube....")`` with a literal name. An import
moved out of sight to break a cycle at run time is still a cycle in the
design; the fix is to move the shared piece down, or to register instead of
importing upward.

A cycle here is a strongly connected component of that graph: a set of
modules each of which imports, directly or not, every other. There is none.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tiercube

SOURCE = Path(tiercube.__file__).parent.parent


@dataclass(frozen=True)
class Import:
    """One edge of the graph: ``importer`` imports ``imported`` on ``line``."""

    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (line {self.line})"


def modules(root: Path = SOURCE) -> dict[str, Path]:
    """Every module of the package under ``root`` by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for file in sorted(root.glob("tiercube/**/*.py")):
        parts = file.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return found


def imports(name: str, file: Path, known: dict[str, Path]) -> Iterator[Import]:
    """Every import of a tiercube module written anywhere in ``file``."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]

    def module_of(target: str) -> str | None:
        """``target``, or the module that defines it (``tiercube.errors.LoadError`` -> ``tiercube.errors``)."""
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        targets: list[str] = []
        line = 0
        if isinstance(node, ast.Import):
            targets, line = [alias.name for alias in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # "from tiercube._client import display" imports the module tiercube._client.display.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            line = node.lineno
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                targets, line = [argument.value], node.lineno
        for target in targets:
            imported = module_of(target) if target.split(".")[0] == "tiercube" else None
            if imported is not None and imported != name:
                yield Import(name, imported, line)


def _is_import_module(function: ast.expr) -> bool:
    return (isinstance(function, ast.Attribute) and function.attr == "import_module") or (
        isinstance(function, ast.Name) and function.id == "import_module"
    )


def graph(root: Path = SOURCE) -> dict[str, dict[str, Import]]:
    """Each module's imports of other tiercube modules, by imported module (the first line that does)."""
    known = modules(root)
    edges: dict[str, dict[str, Import]] = {name: {} for name in known}
    for name, file in known.items():
        for found in imports(name, file, known):
            edges[name].setdefault(found.imported, found)
    return edges


def cycles(edges: dict[str, dict[str, Import]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set[str]()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def shortest_loop(edges: dict[str, dict[str, Import]], component: frozenset[str]) -> list[Import]:
    """One shortest round of imports through ``component``, to name the cycle in a failure."""
    best: list[Import] = []
    for start in sorted(component):
        came_from: dict[str, Import] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for target, edge in edges[node].items():
                if target == start:
                    loop = [edge]
                    while loop[0].importer != start:
                        loop.insert(0, came_from[loop[0].importer])
                    if not best or len(loop) < len(best):
                        best = loop
                    queue.clear()
                    break
                if target in component and target not in came_from and target != start:
                    came_from[target] = edge
                    queue.append(target)
    return best


def described(edges: dict[str, dict[str, Import]], component: frozenset[str]) -> str:
    loop = "\n    ".join(map(str, shortest_loop(edges, component)))
    return f"{len(component)} modules import one another: {sorted(component)}\n  e.g.\n    {loop}"


def test_no_module_imports_itself_back() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(described(edges, c) for c in found)


def test_every_kind_of_import_is_an_edge(tmp_path: Path) -> None:
    """The parser sees the imports a cycle hides behind: in functions, under TYPE_CHECKING, relative, by name."""
    package = tmp_path / "tiercube"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tiercube.sub import b\n")
    (package / "sub" / "b.py").write_text("def later() -> None:\n    from . import c\n")
    (package / "sub" / "c.py").write_text("import importlib\nimportlib.import_module('tiercube.d.thing')\n")
    (package / "d.py").write_text("import os\nfrom tiercube.a import something\n")
    edges = graph(tmp_path)
    assert {name: set(imported) for name, imported in edges.items()} == {
        "tiercube": set(),
        "tiercube.sub": set(),
        "tiercube.a": {"tiercube.sub.b"},
        "tiercube.sub.b": {"tiercube.sub.c"},
        "tiercube.sub.c": {"tiercube.d"},
        "tiercube.d": {"tiercube.a"},
    }
    assert cycles(edges) == [frozenset({"tiercube.a", "tiercube.sub.b", "tiercube.sub.c", "tiercube.d"})]
    assert [str(edge) for edge in shortest_loop(edges, cycles(edges)[0])] == [
        "tiercube.a -> tiercube.sub.b (line 3)",
        "tiercube.sub.b -> tiercube.sub.c (line 2)",
        "tiercube.sub.c -> tiercube.d (line 2)",
        "tiercube.d -> tiercube.a (line 2)",
    ]


def test_the_server_never_imports_the_client() -> None:
    """The server child runs without the client's modules, even behind a function or TYPE_CHECKING."""
    edges = graph()
    reached: set[str] = set()
    todo = ["tiercube._server.child"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(edges[name])
    assert "tiercube._server.app" in reached
    assert not {name for name in reached if name.startswith("tiercube._client")}
