"""The static type and the runtime object agree, and both follow the contract.

The contract's group table (../shared/spec/capabilities.md) is encoded below as
data: member names per capability group, and which tier class, table, cube and
mapping variant has which groups. For every class:

- the public members present at runtime are exactly those of its groups;
- mypy, run once on a generated file that touches every member of every group
  on every class, reports an error on exactly the lines of absent members;
- ``isinstance(obj, Protocol)`` holds at runtime, and assigning to the protocol
  type-checks, exactly when the contract grants the protocol's groups.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import typing
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

import tiercube
from tests.signatures import bindings, drift, narrower, protocol_members
from tests.tiers import ALL_TIERS
from tiercube import capabilities
from tiercube._client.connection import Connection
from tiercube._client.cube_model import EditableCubes, EditableHierarchies, EditableMeasures, Hierarchies, Measures
from tiercube._client.editing import EditableTables
from tiercube._client.query import Cubes
from tiercube._client.read_model import Tables
from tiercube._wire.tiers import CapabilityReport
from tiercube.capabilities import Capability

# The contract's capability groups, by the names of the members that make them.
SESSION_GROUPS: dict[str, frozenset[str]] = {
    "query": frozenset({"cubes", "query_mdx", "link", "url", "close", "capabilities", "health"}),
    # Saved views are read and kept where the model is read: a MinimalSession knows only the query API.
    "read model": frozenset({"tables", "stats", "model", "views"}),
    "edit model and data": frozenset({"create_table", "create_cube"}),
    "cloud loading": frozenset({"read_csv", "read_parquet"}),
    "shared-file-system loading": frozenset({"read_arrow", "read_pandas"}),
    "security management": frozenset({"security"}),
    # The contract names endpoint(), logs_path, wait() and stopping (close(), in every tier);
    # port is the owner's too: the server's address is the owner's business.
    "owner lifecycle": frozenset({"endpoint", "logs_path", "wait", "port"}),
}

ALL_GROUPS = tuple(SESSION_GROUPS)
EDITING_TIER = ("query", "read model", "edit model and data", "cloud loading")

# The contract's tier table, read across.
SESSIONS: dict[type[object], tuple[str, ...]] = {
    tiercube.Session: ALL_GROUPS,
    tiercube.LocalSession: (*EDITING_TIER, "shared-file-system loading", "security management"),
    tiercube.RemoteSession: (*EDITING_TIER, "security management"),
    tiercube.NoSecurityLocalSession: (*EDITING_TIER, "shared-file-system loading"),
    tiercube.NoSecuritySession: EDITING_TIER,
    tiercube.ReadOnlySession: ("query", "read model"),
    tiercube.MinimalSession: ("query",),
}

# What a session hands out, by the same groups: tables ...
TABLE_GROUPS: dict[str, frozenset[str]] = {
    "read model": frozenset({"name", "schema", "columns", "data_types", "keys", "row_count", "partitions", "query"}),
    "edit model and data": frozenset({"append", "drop", "join"}),
    # CloudTable.load takes cloud locations only, LocalTable.load anything: typecheck/ checks the arguments.
    "loading": frozenset({"load"}),
}
TABLES: dict[type[object], tuple[str, ...]] = {
    tiercube.ReadOnlyTable: ("read model",),
    tiercube.EditableTable: ("read model", "edit model and data"),
    tiercube.CloudTable: ("read model", "edit model and data", "loading"),
    tiercube.LocalTable: ("read model", "edit model and data", "loading"),
}

# ... cubes ...
CUBE_GROUPS: dict[str, frozenset[str]] = {
    "query": frozenset({"name", "query", "explore"}),
    "read model": frozenset({"fact_table", "hierarchies", "levels", "measures"}),
    "edit model and data": frozenset({"create_date_hierarchy"}),
}
CUBES: dict[type[object], tuple[str, ...]] = {
    tiercube.QueryCube: ("query",),
    tiercube.ReadOnlyCube: ("query", "read model"),
    # Its measures and hierarchies are the editable ones, and it derives date hierarchies.
    tiercube.EditableCube: ("query", "read model", "edit model and data"),
}

# ... and the mappings of tables, cubes, measures and hierarchies: editing is item assignment and deletion.
MAPPING_GROUPS: dict[str, frozenset[str]] = {
    "read model": frozenset({"__getitem__", "__iter__", "__len__", "__contains__", "keys", "values", "items", "get"}),
    "delete": frozenset({"__delitem__"}),
    "assign": frozenset({"__setitem__"}),
    "save": frozenset({"save"}),
}
MAPPINGS: dict[type[object], tuple[str, ...]] = {
    Tables: ("read model",),
    EditableTables: ("read model", "delete"),
    Cubes: ("read model",),
    EditableCubes: ("read model", "delete"),
    Measures: ("read model",),
    EditableMeasures: ("read model", "delete", "assign"),
    Hierarchies: ("read model",),
    EditableHierarchies: ("read model", "delete", "assign"),
    tiercube.SavedViews: ("read model", "delete", "save"),
}

KINDS: list[tuple[str, dict[str, frozenset[str]], dict[type[object], tuple[str, ...]]]] = [
    ("session", SESSION_GROUPS, SESSIONS),
    ("table", TABLE_GROUPS, TABLES),
    ("cube", CUBE_GROUPS, CUBES),
    ("mapping", MAPPING_GROUPS, MAPPINGS),
]

# Any: mypy refuses a Protocol class where type[...] is expected.
PROTOCOLS: dict[Any, tuple[str, ...]] = {
    capabilities.SupportsQuery: ("query",),
    capabilities.SupportsReadModel: ("query", "read model"),
    capabilities.SupportsEditing: ("query", "read model", "edit model and data"),
    capabilities.SupportsCloudLoading: EDITING_TIER,
    capabilities.SupportsFileLoading: (*EDITING_TIER, "shared-file-system loading"),
    # Every tier queries: a protocol of any other group includes query, so that
    # ``with connect(..., require=SECURITY) as session:`` and ``session.close()`` type-check.
    capabilities.SupportsSecurity: ("query", "security management"),
    capabilities.SupportsLifecycle: ("query", "owner lifecycle"),
}
MARKERS: dict[Capability[object], object] = {
    capabilities.QUERY: capabilities.SupportsQuery,
    capabilities.READ_MODEL: capabilities.SupportsReadModel,
    capabilities.EDITING: capabilities.SupportsEditing,
    capabilities.CLOUD_LOADING: capabilities.SupportsCloudLoading,
    capabilities.SHARED_FILE_LOADING: capabilities.SupportsFileLoading,
    capabilities.SECURITY: capabilities.SupportsSecurity,
    capabilities.LIFECYCLE: capabilities.SupportsLifecycle,
}


def granted(groups: dict[str, frozenset[str]], names: tuple[str, ...]) -> set[str]:
    return set[str]().union(*(groups[name] for name in names))


def universe(groups: dict[str, frozenset[str]]) -> set[str]:
    return set[str]().union(*groups.values())


def public(cls: type[object]) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


# Ways to make an owner session, not members of one.
CONSTRUCTORS = {"start", "connect"}


@pytest.mark.parametrize("cls", list(SESSIONS), ids=lambda cls: cls.__name__)
def test_session_members_at_runtime_are_the_contract(cls: type[object]) -> None:
    constructors: set[str] = CONSTRUCTORS if cls is tiercube.Session else set()
    assert public(cls) - constructors == granted(SESSION_GROUPS, SESSIONS[cls])
    assert not {"start", "connect"} & public(cls) - constructors


@pytest.mark.parametrize(
    ("kind", "cls"),
    [(kind, cls) for kind, _, classes in KINDS[1:] for cls in classes],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_handed_out_members_at_runtime_are_the_contract(kind: str, cls: type[object]) -> None:
    groups, classes = next((g, c) for k, g, c in KINDS if k == kind)
    present = {name for name in universe(groups) if hasattr(cls, name)}
    assert present == granted(groups, classes[cls])
    if kind != "mapping":  # a mapping has Mapping's public methods besides
        assert public(cls) == granted(groups, classes[cls])


def test_every_public_class_is_classified() -> None:
    """A new public session, table or cube class must be added to the contract data above."""
    classified = {*SESSIONS, *TABLES, *CUBES}
    for name in tiercube.__all__:
        value = getattr(tiercube, name)
        if isinstance(value, type) and name.endswith(("Session", "Table", "Cube")):
            assert value in classified, name


def test_what_connect_hands_out_is_the_contract() -> None:
    """Each tier's ``tables`` and ``cubes`` are the variants the contract gives it (checked offline)."""
    expected: dict[type[tiercube.AnySession], tuple[type[object] | None, type[object] | None, type[object]]] = {
        tiercube.LocalSession: (EditableTables, tiercube.LocalTable, tiercube.EditableCube),
        tiercube.RemoteSession: (EditableTables, tiercube.CloudTable, tiercube.EditableCube),
        tiercube.NoSecurityLocalSession: (EditableTables, tiercube.LocalTable, tiercube.EditableCube),
        tiercube.NoSecuritySession: (EditableTables, tiercube.CloudTable, tiercube.EditableCube),
        tiercube.ReadOnlySession: (Tables, tiercube.ReadOnlyTable, tiercube.ReadOnlyCube),
        tiercube.MinimalSession: (None, None, tiercube.QueryCube),
    }
    for tier, (mapping, table, cube) in expected.items():
        session = offline(tier)
        try:
            if mapping is None:
                assert not hasattr(session, "tables")
            else:
                tables = getattr(session, "tables")
                # An instance of a private subclass that names the item type (for jedi: see views.ObjectMapping).
                assert type(tables).__mro__[1] is mapping and getattr(tables, "_make") is table
            cubes = session.cubes
            assert getattr(cubes, "_make") is cube
            assert isinstance(cubes, EditableCubes) == (cube is tiercube.EditableCube)
        finally:
            session.close()


CONNECTED = ALL_TIERS


def offline(tier: type[tiercube.AnySession]) -> tiercube.AnySession:
    """A tier object that was never connected: enough for members and ``isinstance``."""
    report = CapabilityReport("http://127.0.0.1:9", "MinimalSession", ())
    return tier(Connection("http://127.0.0.1:9"), report)


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    with tiercube.Session.start() as session:
        yield session


def test_isinstance_with_each_protocol_is_the_contract(owner: tiercube.Session) -> None:
    assert set(SESSIONS) == {tiercube.Session, *CONNECTED}
    sessions: list[tiercube.Session | tiercube.AnySession] = [owner, *(offline(tier) for tier in CONNECTED)]
    for session in sessions:
        groups = SESSIONS[type(session)]
        for protocol, needed in PROTOCOLS.items():
            assert isinstance(session, protocol) == (set(needed) <= set(groups)), (type(session).__name__, protocol)
        if session is not owner:
            session.close()
    for marker, protocol in MARKERS.items():
        assert marker.protocol is protocol


# Protocol signatures against the implementations.


def test_protocol_signatures_are_those_of_the_tiers_that_satisfy_them() -> None:
    """``tiercube.capabilities`` types the tiers' members by hand: held to the implementations here."""
    drifted: list[str] = []
    for protocol, needed in PROTOCOLS.items():
        members = protocol_members(protocol)
        assert members, protocol
        for tier, groups in SESSIONS.items():
            if not set(needed) <= set(groups):
                continue
            for name, declared in members.items():
                implemented = inspect.getattr_static(tier, name)
                problems = drift(declared, implemented, bindings(tier))
                drifted += [f"{protocol.__name__}.{name} on {tier.__name__}: {problem}" for problem in problems]
    assert not drifted, "\n".join(drifted)


def test_the_signature_check_sees_a_drift() -> None:
    """What the test above would say of the drift it was written for: a parameter the protocol lacks."""

    class Drifted(typing.Protocol):
        def create_table(self, name: str, /, *, keys: Sequence[str] = ()) -> tiercube.ReadOnlyTable: ...

    problems = drift(vars(Drifted)["create_table"], inspect.getattr_static(tiercube.LocalSession, "create_table"), bindings(tiercube.LocalSession))
    assert problems == [
        "takes (name, /, *, data_types, keys=(), default_values=None, distributed=None) where the protocol has (name, /, *, keys=())"
    ]
    assert drift(vars(Drifted)["create_table"], vars(Drifted)["create_table"], {}) == []

    class Exiting(typing.Protocol):  # the other drift it found: parameters a caller could name, or not
        def __exit__(self, kind: object, error: object, traceback: object, /) -> None: ...

    class Exits:
        def __exit__(self, kind: object, error: object, traceback: object) -> None: ...

    assert drift(vars(Exiting)["__exit__"], vars(Exits)["__exit__"], {}) == [
        "takes (kind, error, traceback) where the protocol has (kind, error, traceback, /)"
    ]
    assert narrower(tiercube.LocalTable, tiercube.CloudTable) and not narrower(tiercube.CloudTable, tiercube.LocalTable)
    assert narrower(EditableTables[tiercube.LocalTable], Tables[tiercube.ReadOnlyTable])
    assert narrower(tiercube.S3Location, str | tiercube.S3Location) and not narrower(str | tiercube.S3Location, tiercube.S3Location)


# What mypy sees.


def _annotation(cls: type[object]) -> str:
    generic = bool(getattr(cls, "__parameters__", ()))
    return f"{cls.__module__}.{cls.__qualname__}" + ("[Any]" if generic else "")


def _generated() -> tuple[str, dict[int, tuple[str, str, bool]]]:
    """The file for mypy, and what each checked line is: (class, member or protocol, granted)."""
    modules = sorted({cls.__module__ for _, _, classes in KINDS for cls in classes} | {"tiercube.capabilities"})
    lines = ["from typing import Any", *(f"import {module}" for module in modules), ""]
    expected: dict[int, tuple[str, str, bool]] = {}
    for kind, groups, classes in KINDS:
        for index, (cls, names) in enumerate(classes.items()):
            members = granted(groups, names)
            lines.append(f"def check_{kind}_{index}(obj: {_annotation(cls)}) -> None:")
            for member in sorted(universe(groups)):
                lines.append(f"    obj.{member}")
                expected[len(lines)] = (cls.__name__, member, member in members)
            if kind == "session":
                for protocol, needed in PROTOCOLS.items():
                    name = getattr(protocol, "__name__")
                    lines.append(f"    _{name}: tiercube.capabilities.{name} = obj")
                    expected[len(lines)] = (cls.__name__, name, set(needed) <= set(names))
            lines.append("")
    return "\n".join(lines), expected


def test_mypy_sees_exactly_the_runtime_members(tmp_path: Path) -> None:
    source, expected = _generated()
    path = tmp_path / "surface.py"
    path.write_text(source)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nwarn_unused_ignores = True\n")
    stdout, stderr, _ = mypy_api.run([
        str(path), "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
        "--no-error-summary", "--show-error-codes", "--no-pretty", "--hide-error-context",
    ])
    assert not stderr, stderr
    errors: dict[int, str] = {}
    for line in stdout.splitlines():
        found = re.match(rf"{re.escape(str(path))}:(\d+): error: (.*)", line)
        if found:
            errors[int(found.group(1))] = found.group(2)
    unexpected = {n: message for n, message in errors.items() if n not in expected}
    assert not unexpected, f"{unexpected}\n{textwrap.indent(source, '  ')}"
    seen = {n: n not in errors for n in expected}
    wrong = {expected[n][:2]: ("type checker sees it" if ok else errors[n]) for n, ok in seen.items() if ok != expected[n][2]}
    assert not wrong, wrong
    for message in errors.values():
        assert message.endswith(("[attr-defined]", "[index]", "[assignment]")), message
