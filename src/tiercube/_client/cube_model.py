"""The structure of cubes: read by ``ReadOnlyCube``, changed through ``EditableCube``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, TypeAlias

import msgspec

from tiercube._client import display
from tiercube._client.calculated import CalculatedColumn, row_expression
from tiercube._client.channel import Connection
from tiercube._client.conditions import Column, Condition
from tiercube._client.formats import Format, format_from_wire
from tiercube._client.levels import Level
from tiercube._client.public_names import PublicNames
from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire.paths import path
from tiercube._client.measures import Measure, MeasureExpression
from tiercube._client.query import Cubes, CubeT_co, LevelNameT, MeasureNameT, QueryCube
from tiercube._client.views import SnapshotMapping
from tiercube._wire import paths
from tiercube._wire.describe import describe_expression
from tiercube._wire.cubes import (
    CreateCube,
    CubeInfo,
    HierarchyInfo,
    LevelDefinition,
    MeasureInfo,
    SetHierarchy,
    SetMeasure,
    UpdateMeasure,
)


CubeMode: TypeAlias = Literal["auto", "manual", "no_measures"]


@public
class Hierarchy:
    """A hierarchy and its levels, top down."""

    __slots__ = ("name", "levels")

    def __init__(self, name: str, levels: Sequence[Level]) -> None:
        self.name: str = name
        self.levels: tuple[Level, ...] = tuple(levels)

    def __repr__(self) -> str:
        return f"<Hierarchy {self.name}: {' > '.join(level.name for level in self.levels)}>"


class Structure:
    """One cube's hierarchies and measures as its client object knows them: read once, kept up to date
    with the changes made through it (see ``views`` for why)."""

    def __init__(self, connection: Connection, name: str, known: CubeInfo | None) -> None:
        self.connection = connection
        self.name = name
        self._known = known

    def get(self) -> CubeInfo:
        """The cube's structure, asked of the server once; raises ``NotFoundError`` if there is no such cube."""
        if self._known is None:
            self._known = self.connection.json("GET", path(paths.CUBE, cube=self.name), CubeInfo)
        return self._known

    def changed(
        self,
        measures: Callable[[list[MeasureInfo]], list[MeasureInfo]] | None = None,
        hierarchies: Callable[[list[HierarchyInfo]], list[HierarchyInfo]] | None = None,
    ) -> None:
        """Apply a change the server confirmed, if the structure was read already."""
        known = self._known
        if known is not None:
            self._known = msgspec.structs.replace(
                known,
                measures=measures(known.measures) if measures else known.measures,
                hierarchies=hierarchies(known.hierarchies) if hierarchies else known.hierarchies,
            )


class _CubeView(PublicNames):
    """What the views of one cube (measures, levels, hierarchies) share: its structure and connection."""

    def __init__(self, structure: Structure) -> None:
        self._structure = structure
        self._connection = structure.connection

    @property
    def _within(self) -> str:
        return f"cube {self._structure.name!r}"

    def _path(self, template: str, **names: str) -> str:
        return path(template, cube=self._structure.name, **names)


@public
class Measures(_CubeView, SnapshotMapping[Measure]):
    """The cube's measures by name."""

    _kind = "measure"

    def _all(self) -> dict[str, Measure]:
        return {m.name: Measure(m.name, m.expression, format_from_wire(m.format) if m.format else None) for m in self._structure.get().measures}

    # Restated with the item's own type: jedi (IPython's completer, VS Code's notebooks) follows no
    # inherited generic __getitem__ of a live object, so ``cube.measures[name].`` completed nothing.
    def __getitem__(self, name: str) -> Measure:
        """The measure by name; ``NotFoundError`` names the cube's measures when there is none."""
        return super().__getitem__(name)

    def _repr_html_(self) -> str:
        """For notebooks: each measure and its expression (no request once the cube knows its structure)."""
        return display.measures(self._structure.name, self._connection, self._structure.get)


@public
class EditableMeasures(Measures):
    """Measures that can be set (``measures["m"] = expression``) and deleted."""

    def __setitem__(self, name: str, expression: MeasureExpression) -> None:
        """Define a new measure; a measure of that name is redefined only by ``set(..., replace=True)``."""
        self.set(name, expression)

    def set(self, name: str, expression: MeasureExpression, *, replace: bool = False, format: Format | None = None) -> Measure:
        """Define measure ``name`` (one request) and return it.

        A measure of that name (``qty.SUM`` too) is redefined only with ``replace=True``;
        otherwise ``ConflictError`` names it, so a typo cannot silently overwrite a measure
        other measures, views and colleagues rely on. ``format`` sets how its numbers are
        shown (None keeps the format it had).
        """
        body = SetMeasure(wire_form(_definition(expression)), replace, wire_form(format) if format is not None else None)
        info = self._connection.json("PUT", self._path(paths.CUBE_MEASURE, measure=name), MeasureInfo, body)
        self._structure.changed(measures=lambda measures: _with(measures, info))
        return Measure(info.name, info.expression, format_from_wire(info.format) if info.format else None)

    def set_format(self, name: str, format: Format | None, /) -> None:
        """Show measure ``name``'s numbers as ``format`` says (None: as they come); one request.

        The server keeps the format with the measure (in its data directory too) and sends it
        with the cube's description and with every answer, so the explorer, ``tiercube.show``
        and notebook displays show ``Format.percent(1)``'s 0.11 as ``11.0%``.
        """
        body = UpdateMeasure(wire_form(format) if format is not None else None)
        info = self._connection.json("PATCH", self._path(paths.CUBE_MEASURE, measure=name), MeasureInfo, body)
        self._structure.changed(measures=lambda measures: _with(measures, info))

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", self._path(paths.CUBE_MEASURE, measure=name))
        self._structure.changed(measures=lambda measures: [m for m in measures if m.name != name])


def _with(measures: list[MeasureInfo], info: MeasureInfo) -> list[MeasureInfo]:
    """``measures`` with ``info`` in place of the measure of its name (at the end if it is new)."""
    names = [m.name for m in measures]
    return [info if m.name == info.name else m for m in measures] if info.name in names else [*measures, info]


def _definition(expression: object) -> MeasureExpression:
    if not isinstance(expression, MeasureExpression):
        raise TypeError(
            "a measure is defined by an expression such as tiercube.agg.sum('qty') or m['a'] / m['b'], "
            f"not by {type(expression).__name__}"
        )
    return expression


def _hierarchies(info: CubeInfo) -> dict[str, Hierarchy]:
    return {h.name: Hierarchy(h.name, [Level(level, h.name) for level in h.levels]) for h in info.hierarchies}


@public
class Hierarchies(_CubeView, SnapshotMapping[Hierarchy]):
    """The cube's hierarchies by name."""

    _kind = "hierarchy"

    def _all(self) -> dict[str, Hierarchy]:
        return _hierarchies(self._structure.get())

    # Restated with the item's own type: jedi (IPython's completer, VS Code's notebooks) follows no
    # inherited generic __getitem__ of a live object, so ``cube.hierarchies[name].`` completed nothing.
    def __getitem__(self, name: str) -> Hierarchy:
        """The hierarchy by name; ``NotFoundError`` names the cube's hierarchies when there is none."""
        return super().__getitem__(name)


@public
class EditableHierarchies(Hierarchies):
    """Hierarchies that can be defined and deleted.

    ``hierarchies["Date"] = ["Year", "Month", "Day"]`` makes levels from the
    columns of those names; a mapping ``{"Year": "year_column", ...}`` names
    the columns explicitly.
    """

    def __setitem__(self, name: str, levels: Sequence[str] | Mapping[str, LevelSource]) -> None:
        if isinstance(levels, str):
            levels = [levels]
        pairs = levels.items() if isinstance(levels, Mapping) else [(c, c) for c in levels]
        self._set(name, [_definition_of(level, source) for level, source in pairs])

    def _set(self, name: str, definitions: list[LevelDefinition]) -> Hierarchy:
        info = self._connection.json("PUT", self._path(paths.CUBE_HIERARCHY, hierarchy=name), HierarchyInfo, SetHierarchy(definitions))
        self._structure.changed(hierarchies=lambda hierarchies: [*(h for h in hierarchies if h.name != name), info])
        return Hierarchy(info.name, [Level(level, info.name) for level in info.levels])

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", self._path(paths.CUBE_HIERARCHY, hierarchy=name))
        self._structure.changed(hierarchies=lambda hierarchies: [h for h in hierarchies if h.name != name])


LevelSource: TypeAlias = "str | Column | CalculatedColumn | Condition"
"""What a level shows: a column (by name, or ``t["day"]``), a calculated column (``t["day"].month``,
``t["qty"] * t["price"]``) or a condition (``t["price"] > 100``, a level of true, false and null)."""

DateLevel: TypeAlias = Literal["year", "quarter", "month", "week", "day", "hour", "minute"]


def _definition_of(level: str, source: LevelSource) -> LevelDefinition:
    if isinstance(source, str):
        return LevelDefinition(level, source)
    if isinstance(source, Column) and not isinstance(source, Level):
        return LevelDefinition(level, source.name, source.table)
    return LevelDefinition(level, "", expression=row_expression(source))  # raises TypeError for anything else


@public
class Levels(_CubeView, SnapshotMapping[Level]):
    """Every level of every hierarchy, by level name (unique within a cube)."""

    _kind = "level"

    def _all(self) -> dict[str, Level]:
        return {level.name: level for h in _hierarchies(self._structure.get()).values() for level in h.levels}

    # Restated with the item's own type: jedi (IPython's completer, VS Code's notebooks) follows no
    # inherited generic __getitem__ of a live object, so ``cube.levels[name].`` completed nothing.
    def __getitem__(self, name: str) -> Level:
        """The level by name; ``NotFoundError`` names the cube's levels when there is none."""
        return super().__getitem__(name)


@public
class ReadOnlyCube(QueryCube[MeasureNameT, LevelNameT]):
    """A cube whose structure (hierarchies, levels, measures) can be read.

    The cube object reads its structure once, when first asked (or gets it
    with the answer that created the cube), and answers ``hierarchies``,
    ``levels`` and ``measures`` from it; changes made through it update it.
    ``session.cubes[name]`` gives a fresh object, free of charge, that sees
    what other clients changed since.
    """

    _can = (*QueryCube._can, "read hierarchies, levels and measures")

    def __init__(self, connection: Connection, name: str, structure: CubeInfo | None = None) -> None:
        super().__init__(connection, name)
        self._structure = Structure(connection, name, structure)

    def _repr_html_(self) -> str:
        """For notebooks: what the cube can do, its hierarchies, levels and measures (no request once known)."""
        return display.cube(type(self).__name__, self._can, self._connection, self._name, self._structure.get)

    def __str__(self) -> str:
        """``print(cube)``: its fact table, hierarchies (levels top down) and measures with their expressions.

        Asks the server once if this object has not read the structure yet, never after;
        it never raises, and says why it cannot show them.
        """
        try:
            info = self._structure.get()
        except Exception as error:  # printing must not fail: what went wrong is what there is to show
            return f"{self!r}: cannot show its structure ({type(error).__name__}: {error})"
        lines = [f"{type(self).__name__} {self._name!r} over table {info.fact_table!r}", "  hierarchies:"]
        lines += [f"    {h.name}: {' > '.join(level.name for level in h.levels)}" for h in info.hierarchies]
        lines.append("  measures:")
        lines += [f"    {m.name} = {describe_expression(m.expression)}" for m in info.measures]
        return "\n".join(lines)

    @property
    def fact_table(self) -> str:
        return self._structure.get().fact_table

    @property
    def hierarchies(self) -> Hierarchies:
        return Hierarchies(self._structure)

    @property
    def levels(self) -> Levels:
        """Every level of every hierarchy, by level name (unique within a cube)."""
        return Levels(self._structure)

    @property
    def measures(self) -> Measures:
        return Measures(self._structure)


@public
class EditableCube(ReadOnlyCube[MeasureNameT, LevelNameT]):
    """A cube whose measures and hierarchies can be changed; changes reach all clients at once."""

    _can = (*ReadOnlyCube._can, "change hierarchies and measures")

    @property
    def hierarchies(self) -> EditableHierarchies:
        return EditableHierarchies(self._structure)

    @property
    def measures(self) -> EditableMeasures:
        return EditableMeasures(self._structure)

    def create_date_hierarchy(
        self, name: str, column: Column | CalculatedColumn, levels: Sequence[DateLevel] | Mapping[str, DateLevel] = ("year", "quarter", "month", "day")
    ) -> Hierarchy:
        """A hierarchy of ``levels`` derived from a date or timestamp column, from the top down::

            cube.create_date_hierarchy("calendar", sales["day"])   # year > quarter > month > day
            cube.create_date_hierarchy("time", events["at"], levels={"Date": "day", "Hour": "hour"})

        Each level's members are the column's values truncated to the start of their year,
        quarter, month, ISO week (a Monday), day, hour or minute (duckdb's ``date_trunc``), as
        dates (or timestamps, in the column's own time zone), so they sort in time and
        ``tiercube.Period`` moves along them. They are derived on the server from the column's
        distinct values, whenever a query needs them, so they follow every append, upsert and
        drop. A mapping names the levels (level name -> unit); by default they are named after
        their units, capitalized (Year, Quarter, Month, Day), beside the column's own level.
        """
        pairs: Iterable[tuple[str, DateLevel]] = levels.items() if isinstance(levels, Mapping) else [(unit.capitalize(), unit) for unit in levels]
        definitions = [LevelDefinition(level, "", expression=wire_form(column.date_trunc(unit))) for level, unit in pairs]
        return EditableHierarchies(self._structure)._set(name, definitions)  # pyright: ignore[reportPrivateUsage]


@public
class EditableCubes(Cubes[CubeT_co]):
    """The session's cubes; ``del cubes[name]`` deletes one."""

    def __delitem__(self, name: str) -> None:
        self._connection.request("DELETE", path(paths.CUBE, cube=name))


def create_cube(connection: Connection, fact_table: str, name: str | None, mode: CubeMode) -> EditableCube:
    info = connection.json("POST", paths.CUBES, CubeInfo, CreateCube(fact_table, name, mode))
    return EditableCube(connection, info.name, info)
