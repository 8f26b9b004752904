"""The structure of cubes: read by ``ReadOnlyCube``, changed through ``EditableCube``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypeAlias

from tiercube._client.core import path
from tiercube._client.query import Cubes, CubeT_co, QueryCube
from tiercube._client.views import SnapshotMapping
from tiercube._conditions import Column
from tiercube._measures import Measure, MeasureExpression
from tiercube._wire import paths
from tiercube._wire.cubes import (
    CreateCube,
    CubeInfo,
    HierarchyInfo,
    LevelDefinition,
    LevelInfo,
    MeasureInfo,
    SetHierarchy,
    SetMeasure,
)
from tiercube._wire.messages import DataType

if TYPE_CHECKING:
    from tiercube._client.connection import Connection

CubeMode: TypeAlias = Literal["auto", "manual", "no_measures"]


class Level(Column):
    """A level of a hierarchy; compare it to build filters: ``levels["Region"] == "EU"``.

    A level shows a column of one of the cube's tables, and its conditions are
    conditions on that column: usable in queries, measures and restrictions alike.
    """

    __slots__ = ("hierarchy", "column", "data_type")

    def __init__(self, info: LevelInfo, hierarchy: str) -> None:
        super().__init__(info.name, info.table)
        self.hierarchy = hierarchy
        self.column = info.column
        self.data_type: DataType = info.data_type

    def _target(self) -> tuple[str, str | None]:
        return self.column, self.table

    def __repr__(self) -> str:
        return f"<Level {self.hierarchy}.{self.name} ({self.table}.{self.column}: {self.data_type})>"


class Hierarchy:
    """A hierarchy and its levels, top down."""

    __slots__ = ("name", "levels")

    def __init__(self, name: str, levels: Sequence[Level]) -> None:
        self.name = name
        self.levels = tuple(levels)

    def __repr__(self) -> str:
        return f"<Hierarchy {self.name}: {' > '.join(level.name for level in self.levels)}>"


class _CubeView:
    """Reads the cube's structure in one request, on first use (see ``views`` for why)."""

    def __init__(self, connection: Connection, cube: str) -> None:
        self._connection = connection
        self._cube = cube

    def _info(self) -> CubeInfo:
        return self._connection.json("GET", path(paths.CUBE, cube=self._cube), CubeInfo)

    @property
    def _within(self) -> str:
        return f"cube {self._cube!r}"


class Measures(_CubeView, SnapshotMapping[Measure]):
    """The cube's measures by name, as they were when first looked into."""

    _kind = "measure"

    def _fetch(self) -> dict[str, Measure]:
        return {m.name: Measure(m.name, m.expression) for m in self._info().measures}


class EditableMeasures(Measures):
    """Measures that can be set (``measures["m"] = expression``) and deleted."""

    def __setitem__(self, name: str, expression: MeasureExpression) -> None:
        body = SetMeasure(_definition(expression).to_wire())
        info = self._connection.json("PUT", path(paths.CUBE_MEASURE, cube=self._cube, measure=name), MeasureInfo, body)
        if self._snapshot is not None:
            self._snapshot[name] = Measure(info.name, info.expression)

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", path(paths.CUBE_MEASURE, cube=self._cube, measure=name))
        if self._snapshot is not None:
            self._snapshot.pop(name, None)


def _definition(expression: object) -> MeasureExpression:
    if not isinstance(expression, MeasureExpression):
        raise TypeError(
            "a measure is defined by an expression such as tiercube.agg.sum('qty') or m['a'] / m['b'], "
            f"not by {type(expression).__name__}"
        )
    return expression


def _hierarchies(info: CubeInfo) -> dict[str, Hierarchy]:
    return {h.name: Hierarchy(h.name, [Level(level, h.name) for level in h.levels]) for h in info.hierarchies}


class Hierarchies(_CubeView, SnapshotMapping[Hierarchy]):
    """The cube's hierarchies by name, as they were when first looked into."""

    _kind = "hierarchy"

    def _fetch(self) -> dict[str, Hierarchy]:
        return _hierarchies(self._info())


class EditableHierarchies(Hierarchies):
    """Hierarchies that can be defined and deleted.

    ``hierarchies["Date"] = ["Year", "Month", "Day"]`` makes levels from the
    columns of those names; a mapping ``{"Year": "year_column", ...}`` names
    the columns explicitly.
    """

    def __setitem__(self, name: str, levels: Sequence[str] | Mapping[str, str]) -> None:
        if isinstance(levels, str):
            levels = [levels]
        pairs = levels.items() if isinstance(levels, Mapping) else [(c, c) for c in levels]
        body = SetHierarchy([LevelDefinition(level, column) for level, column in pairs])
        info = self._connection.json("PUT", path(paths.CUBE_HIERARCHY, cube=self._cube, hierarchy=name), HierarchyInfo, body)
        if self._snapshot is not None:
            self._snapshot[name] = Hierarchy(info.name, [Level(level, info.name) for level in info.levels])

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", path(paths.CUBE_HIERARCHY, cube=self._cube, hierarchy=name))
        if self._snapshot is not None:
            self._snapshot.pop(name, None)


class Levels(_CubeView, SnapshotMapping[Level]):
    """Every level of every hierarchy, by level name (unique within a cube)."""

    _kind = "level"

    def _fetch(self) -> dict[str, Level]:
        return {level.name: level for h in _hierarchies(self._info()).values() for level in h.levels}


class ReadOnlyCube(QueryCube):
    """A cube whose structure (hierarchies, levels, measures) can be read."""

    @property
    def fact_table(self) -> str:
        return self._connection.json("GET", path(paths.CUBE, cube=self._name), CubeInfo).fact_table

    @property
    def hierarchies(self) -> Hierarchies:
        return Hierarchies(self._connection, self._name)

    @property
    def levels(self) -> Levels:
        """Every level of every hierarchy, by level name (unique within a cube)."""
        return Levels(self._connection, self._name)

    @property
    def measures(self) -> Measures:
        return Measures(self._connection, self._name)


class EditableCube(ReadOnlyCube):
    """A cube whose measures and hierarchies can be changed; changes reach all clients at once."""

    @property
    def hierarchies(self) -> EditableHierarchies:
        return EditableHierarchies(self._connection, self._name)

    @property
    def measures(self) -> EditableMeasures:
        return EditableMeasures(self._connection, self._name)


class EditableCubes(Cubes[CubeT_co]):
    """The session's cubes; ``del cubes[name]`` deletes one."""

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", path(paths.CUBE, cube=name))


def create_cube(connection: Connection, fact_table: str, name: str | None, mode: CubeMode) -> EditableCube:
    info = connection.json("POST", paths.CUBES, CubeInfo, CreateCube(fact_table, name, mode))
    return EditableCube(connection, info.name)
