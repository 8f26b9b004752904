"""The typed data model: a Python module of ``Literal`` names written from a live session.

``tiercube model URL > sales_model.py`` writes it, as does ``session.model()``. For each cube it declares
the names of its measures, levels and hierarchies as ``Literal`` types and the
library's own ``QueryCube`` narrowed to them (``QueryCube[SalesMeasure, SalesLevel]``,
whose ``query`` takes only those), with a function that hands the session's own
cube out typed by it; for each table its column names, and a ``Protocol`` whose
``table["column"]`` takes only those. A misspelt measure, level, column, table or
cube is then an error in every type checker, while the objects are the session's
own, unchanged. The module's ``check(session)``
raises ``NotFoundError`` naming what the server no longer has.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from tiercube._version import __version__


class _Table(Protocol):
    @property
    def columns(self) -> list[str]: ...


class _Cube(Protocol):
    @property
    def measures(self) -> Mapping[str, object]: ...
    @property
    def levels(self) -> Mapping[str, object]: ...
    @property
    def hierarchies(self) -> Mapping[str, object]: ...


def render_model(url: str, tables: Mapping[str, _Table], cubes: Mapping[str, _Cube]) -> str:
    """The module's text for a session's ``tables`` and ``cubes`` as they are now, and their names."""
    columns = {name: list(tables[name].columns) for name in sorted(tables)}
    structures: dict[str, dict[str, list[str]]] = {}
    for name in sorted(cubes):
        cube = cubes[name]
        structures[name] = {"measures": list(cube.measures), "levels": list(cube.levels), "hierarchies": list(cube.hierarchies)}
    return _module(url, columns, structures)


def _module(url: str, tables: Mapping[str, list[str]], cubes: Mapping[str, Mapping[str, list[str]]]) -> str:
    identifiers = _identifiers([*tables, *cubes])
    parts = [_HEADER.format(url=url, version=__version__)]
    parts.append(f"TableName: TypeAlias = {_literal(tables)}\nCubeName: TypeAlias = {_literal(cubes)}")
    parts.append(_TABLES)
    for name, columns in tables.items():
        parts.append(_TABLE.format(name=name, title=_title(identifiers[name]), snake=identifiers[name], columns=_literal(columns)))
    parts.append(_CUBES)
    for name, structure in cubes.items():
        title, snake = _title(identifiers[name]), identifiers[name]
        parts.append(
            _CUBE.format(
                name=name, title=title, snake=snake, measures=_literal(structure["measures"]),
                levels=_literal(structure["levels"]), hierarchies=_literal(structure["hierarchies"]),
            )
        )
    parts.append(_CHECK.format(tables=repr(dict(tables)), cubes=repr({name: dict(structure) for name, structure in cubes.items()})))
    text = "\n\n\n".join(part.strip("\n") for part in parts) + "\n"
    # Never stands for a kind of name the model has none of (a cube without measures).
    return text if "= Never\n" in text else text.replace("Literal, Never, Protocol", "Literal, Protocol", 1)


def _literal(names: Iterable[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return f"Literal[{listed}]" if listed else "Never"


def _identifiers(names: Iterable[str]) -> dict[str, str]:
    """A distinct snake_case identifier for each table or cube name (a table and a cube may share one)."""
    found: dict[str, str] = {}
    taken: set[str] = set()
    for name in dict.fromkeys(names):
        base = re.sub(r"\W+", "_", name).strip("_").lower() or "unnamed"
        base = f"n_{base}" if base[0].isdigit() or keyword.iskeyword(base) else base
        identifier, number = base, 2
        while identifier in taken:
            identifier, number = f"{base}_{number}", number + 1
        taken.add(identifier)
        found[name] = identifier
    return found


def _title(identifier: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in identifier.split("_"))


_HEADER = '''"""The data model of the tiercube session at {url}, as names the type checkers know.

Written by ``tiercube model`` (tiercube {version}); write it again when the model changes.
``check(session)`` raises ``tiercube.NotFoundError`` naming what the server no longer has.
"""

from collections.abc import Iterable
from typing import Literal, Never, Protocol, TypeAlias

import tiercube
from tiercube.capabilities import SupportsQuery, SupportsReadModel'''

_TABLES = '''class Tables(Protocol):
    """The session's tables, by the names this module knows."""

    def __getitem__(self, name: TableName, /) -> tiercube.ReadOnlyTable: ...


def tables(session: SupportsReadModel) -> Tables:
    """``session.tables``, taking only the names of this model."""
    return session.tables'''

_TABLE = '''{title}Column: TypeAlias = {columns}


class {title}Table(Protocol):
    """The table {name!r}, by the names of its columns."""

    def __getitem__(self, column: {title}Column, /) -> tiercube.Column: ...


def {snake}_table(session: SupportsReadModel) -> {title}Table:
    """The table {name!r} of ``session``."""
    return session.tables[{name!r}]'''

_CUBES = '''class Cubes(Protocol):
    """The session's cubes, by the names this module knows."""

    def __getitem__(self, name: CubeName, /) -> tiercube.QueryCube: ...


def cubes(session: SupportsQuery) -> Cubes:
    """``session.cubes``, taking only the names of this model."""
    return session.cubes'''

_CUBE = '''{title}Measure: TypeAlias = {measures}
{title}Level: TypeAlias = {levels}
{title}Hierarchy: TypeAlias = {hierarchies}
{title}Cube: TypeAlias = tiercube.QueryCube[{title}Measure, {title}Level]
"""The cube {name!r}, whose ``query`` takes only the names of its measures and levels."""


def {snake}_cube(session: SupportsQuery) -> {title}Cube:
    """The cube {name!r} of ``session``."""
    return session.cubes[{name!r}]'''

_CHECK = '''TABLE_COLUMNS: dict[str, list[str]] = {tables}
"""The tables this module was written from, and their columns."""
CUBE_STRUCTURE: dict[str, dict[str, list[str]]] = {cubes}
"""The cubes this module was written from: their measures, levels and hierarchies."""


def check(session: SupportsReadModel) -> None:
    """Raise ``tiercube.NotFoundError`` naming the first table, column, cube, measure, level or
    hierarchy of this module that ``session`` does not have (any it has besides do no harm)."""
    for table, columns in TABLE_COLUMNS.items():
        if table not in session.tables:
            raise tiercube.NotFoundError.of("table", table, session.tables, within="the model's session")
        _check_names("column", columns, session.tables[table].columns, f"table {{table!r}}")
    for cube, structure in CUBE_STRUCTURE.items():
        if cube not in session.cubes:
            raise tiercube.NotFoundError.of("cube", cube, session.cubes, within="the model's session")
        found = session.cubes[cube]
        _check_names("measure", structure["measures"], found.measures, f"cube {{cube!r}}")
        _check_names("level", structure["levels"], found.levels, f"cube {{cube!r}}")
        _check_names("hierarchy", structure["hierarchies"], found.hierarchies, f"cube {{cube!r}}")


def _check_names(kind: str, expected: list[str], present: Iterable[str], within: str) -> None:
    names = list(present)
    for name in expected:
        if name not in names:
            error = tiercube.NotFoundError.of(kind, name, names, within=within)
            raise tiercube.NotFoundError(f"{{error}}: the model module was written when it had one; write it again", kind=kind, name=name)'''
