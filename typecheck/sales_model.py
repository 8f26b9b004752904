"""The data model of the tiercube session at http://127.0.0.1:9090, as names the type checkers know.

Written by ``tiercube model`` (tiercube 0.1.0); write it again when the model changes.
``check(session)`` raises ``tiercube.NotFoundError`` naming what the server no longer has.
"""

from collections.abc import Iterable
from typing import Literal, Protocol, TypeAlias

import tiercube
from tiercube.capabilities import SupportsQuery, SupportsReadModel


TableName: TypeAlias = Literal['sales']
CubeName: TypeAlias = Literal['sales']


class Tables(Protocol):
    """The session's tables, by the names this module knows."""

    def __getitem__(self, name: TableName, /) -> tiercube.ReadOnlyTable: ...


def tables(session: SupportsReadModel) -> Tables:
    """``session.tables``, taking only the names of this model."""
    return session.tables


SalesColumn: TypeAlias = Literal['id', 'region', 'qty', 'price']


class SalesTable(Protocol):
    """The table 'sales', by the names of its columns."""

    def __getitem__(self, column: SalesColumn, /) -> tiercube.Column: ...


def sales_table(session: SupportsReadModel) -> SalesTable:
    """The table 'sales' of ``session``."""
    return session.tables['sales']


class Cubes(Protocol):
    """The session's cubes, by the names this module knows."""

    def __getitem__(self, name: CubeName, /) -> tiercube.QueryCube: ...


def cubes(session: SupportsQuery) -> Cubes:
    """``session.cubes``, taking only the names of this model."""
    return session.cubes


SalesMeasure: TypeAlias = Literal['qty.SUM', 'qty.MEAN', 'price.SUM', 'price.MEAN', 'contributors.COUNT']
SalesLevel: TypeAlias = Literal['id', 'region']
SalesHierarchy: TypeAlias = Literal['id', 'region']
SalesCube: TypeAlias = tiercube.QueryCube[SalesMeasure, SalesLevel]
"""The cube 'sales', whose ``query`` takes only the names of its measures and levels."""


def sales_cube(session: SupportsQuery) -> SalesCube:
    """The cube 'sales' of ``session``."""
    return session.cubes['sales']


TABLE_COLUMNS: dict[str, list[str]] = {'sales': ['id', 'region', 'qty', 'price']}
"""The tables this module was written from, and their columns."""
CUBE_STRUCTURE: dict[str, dict[str, list[str]]] = {'sales': {'measures': ['qty.SUM', 'qty.MEAN', 'price.SUM', 'price.MEAN', 'contributors.COUNT'], 'levels': ['id', 'region'], 'hierarchies': ['id', 'region']}}
"""The cubes this module was written from: their measures, levels and hierarchies."""


def check(session: SupportsReadModel) -> None:
    """Raise ``tiercube.NotFoundError`` naming the first table, column, cube, measure, level or
    hierarchy of this module that ``session`` does not have (any it has besides do no harm)."""
    for table, columns in TABLE_COLUMNS.items():
        if table not in session.tables:
            raise tiercube.NotFoundError.of("table", table, session.tables, within="the model's session")
        _check_names("column", columns, session.tables[table].columns, f"table {table!r}")
    for cube, structure in CUBE_STRUCTURE.items():
        if cube not in session.cubes:
            raise tiercube.NotFoundError.of("cube", cube, session.cubes, within="the model's session")
        found = session.cubes[cube]
        _check_names("measure", structure["measures"], found.measures, f"cube {cube!r}")
        _check_names("level", structure["levels"], found.levels, f"cube {cube!r}")
        _check_names("hierarchy", structure["hierarchies"], found.hierarchies, f"cube {cube!r}")


def _check_names(kind: str, expected: list[str], present: Iterable[str], within: str) -> None:
    names = list(present)
    for name in expected:
        if name not in names:
            error = tiercube.NotFoundError.of(kind, name, names, within=within)
            raise tiercube.NotFoundError(f"{error}: the model module was written when it had one; write it again", kind=kind, name=name)
