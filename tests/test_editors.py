"""What editors show: jedi (VS Code's notebooks before a cell runs, many editors) and IPython's completer.

jedi reads ``__init__.pyi`` as a type checker would, but completes only the
names a stub re-exports as ``X as X``; IPython completes live objects through
jedi, which follows a ``__getitem__`` only when its return type is written on
the class itself (not inherited from a generic base).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Protocol, cast

import jedi
import pytest
from IPython.core.completer import IPCompleter, provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

import tiercube


def completions(source: str, tmp_path: Path) -> set[str]:
    """What jedi completes at the end of ``source``, as an editor would in a file of the project."""
    lines = source.splitlines()
    script = jedi.Script(source, path=tmp_path / "user.py")
    return {completion.name for completion in script.complete(len(lines), len(lines[-1]))}


def test_jedi_completes_every_public_name_of_tiercube(tmp_path: Path) -> None:
    offered = completions("import tiercube\ntiercube.", tmp_path)
    assert set(tiercube.__all__) <= offered
    assert {"connect", "Session", "LocalSession", "ServerStats", "ExplorerWidget"} <= offered


def test_jedi_signature_help_shows_connects_overloads_anonymous_first(tmp_path: Path) -> None:
    source = "import tiercube\ntiercube.connect("
    signatures = [s.to_string() for s in jedi.Script(source, path=tmp_path / "user.py").get_signatures(2, len("tiercube.connect("))]
    assert len(signatures) == 19, signatures  # 6 for credentials or none, then 13 for tokens
    assert signatures[0].endswith("-> ReadOnlySession | MinimalSession"), signatures
    assert not any("Never" in signature for signature in signatures)


def test_jedi_follows_a_session_to_its_tables_statically(tmp_path: Path) -> None:
    source = "import tiercube\ndef f(session: tiercube.ReadOnlySession) -> None:\n    session.tables['sales']."
    assert {"query", "schema", "row_count"} <= completions(source, tmp_path)


@pytest.fixture(scope="module")
def live() -> Generator[dict[str, object]]:
    """An owner session with a table and a cube, as a notebook's namespace holds them."""
    with tiercube.Session.start() as session:
        sales = session.create_table("sales", data_types={"id": "int64", "region": "string", "qty": "int64"}, keys=["id"])
        cube = session.create_cube(sales)
        # Without security, a caller without credentials reads: a ReadOnlySession.
        with tiercube.connect(session.url, require=tiercube.ReadOnlySession) as read_only:
            yield {"session": session, "cube": cube, "ro": read_only}


class Shell(Protocol):
    """What is used here of IPython's ``InteractiveShell`` (which leaves ``user_ns`` unannotated)."""

    user_ns: dict[str, object]
    Completer: IPCompleter


def ipython_completions(namespace: dict[str, object], text: str) -> set[str]:
    """What IPython's completer offers after ``text`` in a shell whose namespace is ``namespace``."""
    shell = cast(Shell, InteractiveShell.instance())
    shell.user_ns.update(namespace)
    with provisionalcompleter():
        return {completion.text for completion in shell.Completer.completions(text, len(text))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cube.measures['qty.SUM'].", {"name", "definition"}),
        ("cube.levels['region'].", {"isin", "isnull", "hierarchy", "data_type"}),
        ("cube.hierarchies['region'].", {"levels", "name"}),
        ("ro.tables['sales'].", {"query", "schema", "row_count"}),
        ("session.tables['sales'].", {"append", "load", "query"}),
        ("ro.cubes['sales'].", {"query", "measures", "levels"}),
        ("ro.cubes['sales'].measures['qty.SUM'].", {"name", "definition"}),
    ],
)
def test_ipython_completes_what_a_live_session_hands_out(live: dict[str, object], text: str, expected: set[str]) -> None:
    assert expected <= ipython_completions(live, text)


@pytest.mark.parametrize("text", ["session.", "ro.", "cube.", "ro.tables['sales'].", "cube.measures['qty.SUM']."])
def test_ipython_offers_no_private_names_of_public_objects(live: dict[str, object], text: str) -> None:
    offered = ipython_completions(live, text)
    assert offered and not {name for name in offered if name.startswith("_")}



@pytest.fixture(scope="module")
def bound(live: dict[str, object]) -> dict[str, object]:
    """What a notebook's cells bind to names: jedi completes a live object only when a name holds it
    (after ``x['key'].`` or a property it reads the types, as before a cell runs)."""
    read_only = cast(tiercube.ReadOnlySession, live["ro"])
    cube = cast(tiercube.EditableCube, live["cube"])
    table = read_only.tables["sales"]
    return {
        **live, "table": table, "schema": table.schema, "column": table["qty"], "condition": table["qty"] > 1,
        "measures": cube.measures, "measure": cube.measures["qty.SUM"], "level": cube.levels["region"],
    }


@pytest.mark.parametrize("name", ["session", "ro", "cube", "table", "schema", "column", "condition", "measures", "measure", "level"])
def test_jedi_offers_no_private_names_of_live_objects(bound: dict[str, object], name: str) -> None:
    """jedi on live objects (VS Code's notebooks once a cell ran) completes from dir(), which holds no private names."""
    offered = {completion.name for completion in jedi.Interpreter(f"{name}.", [bound]).complete()}
    assert offered and not {offer for offer in offered if offer.startswith("_") and not offer.startswith("__")}
