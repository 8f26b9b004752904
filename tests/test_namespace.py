"""``import tiercube``: one public namespace, loaded lazily, described once for the type checkers,
whose classes and functions show, pickle and document as ``tiercube.X``."""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
import pkgutil
import pydoc
import subprocess
import sys
import traceback
from pathlib import Path
from types import FunctionType

import msgspec

import tiercube
from tiercube._client.connect import Connecting

STUB = Path(tiercube.__file__).with_suffix(".pyi")
# What the stub imports to write connect out, not to offer.
PRIVATE_STUB_IMPORTS = {
    "Any", "Path", "overload", "TypeForm", "AnonymousTierT", "P", "TierT", "Capability", "AnonymousCapability",
    "NoSecurityLocalT", "NoSecurityT", "ReadOnlyT", "RemoteT", "UpToNoSecurity", "UpToReadOnly",
}  # fmt: skip


def test_the_stub_and_the_lazy_loader_name_the_same_things_in_the_same_places() -> None:
    tree = ast.parse(STUB.read_text())
    imported = {
        alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    # Re-exported in the "X as X" form: jedi completes nothing else of a stub.
    exported = {
        alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }
    # Written out in the stub: connect, which is a function assigned to a name where it lives.
    defined = {node.name: "tiercube._client.owner" for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert not set(imported) - set(exported) - PRIVATE_STUB_IMPORTS, "a public name imported without 'as'"
    exported |= defined
    declared = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign))
    lazy: dict[str, str] = vars(tiercube)["_LAZY"]
    assert sorted(declared) == sorted(exported) == sorted(lazy) == sorted(tiercube.__all__)
    for name, module in exported.items():
        # "from tiercube import agg" imports the module tiercube.agg.
        assert lazy[name] == (f"tiercube.{name}" if module == "tiercube" else module), name


def _connect_overloads(tree: ast.Module | ast.ClassDef) -> list[str]:
    """The overloads of ``connect`` in ``tree`` as text, with the aliases of ``_client.connect`` spelt out."""
    return [
        ast.unparse(node.args).replace("Location", "Path | str | None").replace("Credentials", "Authenticate | ClientCertificate | None")
        .replace("Timeout=DEFAULT_TIMEOUT", "float | None=300.0")
        + f" -> {ast.unparse(node.returns) if node.returns else ''}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "connect" and "overload" in map(ast.unparse, node.decorator_list)
    ]


def test_the_stub_writes_out_connect_as_it_is_defined() -> None:
    """Its overloads, in order, and its docstring: what an editor shows for ``tiercube.connect``."""
    source = ast.parse(Path(inspect.getfile(Connecting)).read_text())
    connecting = next(node for node in source.body if isinstance(node, ast.ClassDef) and node.name == "Connecting")
    stub = ast.parse(STUB.read_text())
    assert _connect_overloads(stub) == _connect_overloads(connecting) and len(_connect_overloads(stub)) == 19
    first = next(node for node in stub.body if isinstance(node, ast.FunctionDef))
    assert ast.get_docstring(first) == inspect.getdoc(tiercube.connect)
    assert not any("Never" in overload for overload in _connect_overloads(stub))


def test_every_public_name_resolves() -> None:
    for name in tiercube.__all__:
        assert getattr(tiercube, name) is not None
    assert set(tiercube.__all__) <= set(dir(tiercube))


def _public_definitions() -> dict[str, type[object] | FunctionType]:
    """The classes and functions ``tiercube`` offers (not its modules, aliases or version string)."""
    found: dict[str, type[object] | FunctionType] = {}
    for name in tiercube.__all__:
        value: object = getattr(tiercube, name)
        if isinstance(value, type | FunctionType):
            found[name] = value
    return found


def test_public_classes_and_functions_show_as_tiercube_names() -> None:
    definitions = _public_definitions()
    assert len(definitions) > 70  # everything but AnySession, DataType, __version__ and the three modules
    for name, value in definitions.items():
        assert (value.__module__, value.__qualname__) == ("tiercube", name)
    assert repr(tiercube.ReadOnlyTable) == "<class 'tiercube.ReadOnlyTable'>"
    assert str(tiercube.CsvLoad[tiercube.S3Location]) == "tiercube.CsvLoad[tiercube.S3Location]"
    assert traceback.format_exception_only(tiercube.LoadError("bad.csv: line 3")) == ["tiercube.LoadError: bad.csv: line 3\n"]
    assert tiercube.Session.connect is tiercube.connect and repr(tiercube.connect).startswith("<function connect at ")


def test_nothing_private_claims_to_be_tiercube() -> None:
    for module in pkgutil.walk_packages(tiercube.__path__, "tiercube."):
        if module.name != "tiercube.__main__":  # importing it runs the command line
            importlib.import_module(module.name)
    claiming = {
        value
        for module in list(sys.modules.values())
        if module.__name__.startswith("tiercube.")
        for value in vars(module).values()
        if isinstance(value, type | FunctionType) and value.__module__ == "tiercube"
    }
    assert claiming == set(_public_definitions().values())


def test_help_describes_them_as_tiercube_names_with_their_own_docstrings() -> None:
    for name, value in _public_definitions().items():
        page = pydoc.plain(pydoc.render_doc(value))
        assert f"{name} in module tiercube" in page, name
        assert value.__doc__, f"{name} has no docstring of its own"
        assert inspect.cleandoc(value.__doc__).split("\n")[0] in page, name


def test_they_pickle_by_their_tiercube_names_even_where_nothing_was_imported_yet() -> None:
    """A pickle names ``tiercube.X``; another process resolves it through the lazy loader."""
    values: list[object] = [
        *_public_definitions().values(),
        tiercube.SessionConfig(users=[tiercube.UserConfig(name="ann", password="pw")], tls=tiercube.TlsConfig(certificate="c", key="k")),
        tiercube.S3Location("s3://bucket/sales.csv", store="lake"),
        tiercube.LoadError("bad.csv: line 3", path="bad.csv", line=3, column="qty"),
        tiercube.Column("region", table="sales") == "EU",
        tiercube.User("ann", ["ROLE_USER"]),
        tiercube.Partition("tcp://worker:1", 10, 100),
        tiercube.CapabilityReport("http://host", "MinimalSession", (tiercube.ConditionResult("a", "meaning", False, "why"),)),
    ]
    for value in values:
        assert _shown(pickle.loads(pickle.dumps(value))) == _shown(value)
    script = f"import pickle, sys\n{inspect.getsource(_shown)}\nfor value in pickle.loads(sys.stdin.buffer.read()):\n    print(_shown(value))\n"
    answer = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(values), capture_output=True, timeout=60, check=True)
    assert answer.stdout.decode().splitlines() == [_shown(value) for value in values]


def _shown(value: object) -> str:
    """What is, or what holds, ``value``: its name for a class or function, else its repr and fields."""
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__')}.{getattr(value, '__qualname__')}"
    return f"{value!r} {getattr(value, 'details', '')}"


def test_public_structs_resolve_their_field_types() -> None:
    """msgspec reads a Struct's annotations in the namespace its ``__module__`` names: ``tiercube``'s."""
    for value in _public_definitions().values():
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            msgspec.json.schema(value)  # resolves every field's type, or raises NameError


def test_import_tiercube_loads_nothing_else() -> None:
    script = "import sys, tiercube\nprint(sorted(m for m in sys.modules if m.startswith(('tiercube.', 'httpx', 'pyarrow', 'msgspec'))))"
    answer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert answer.stdout.strip() == "[]"
