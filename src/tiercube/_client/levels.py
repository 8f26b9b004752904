"""A cube's level: its own module so that ``cube.query`` (``query``) can take one without the cube's structure (``cube_model``)."""

from __future__ import annotations

from tiercube._client.conditions import Column
from tiercube._public import public
from tiercube._wire.calculated import RowExpr
from tiercube._wire.column_types import ColumnType, describe_type
from tiercube._wire.cubes import LevelInfo


@public
class Level(Column):
    """A level of a hierarchy; compare it to build filters: ``levels["Region"] == "EU"``.

    A level shows a column of one of the cube's tables, and its conditions are
    conditions on that column: usable in queries, measures and restrictions alike.
    """

    __slots__ = ("hierarchy", "column", "data_type", "expression")

    def __init__(self, info: LevelInfo, hierarchy: str) -> None:
        super().__init__(info.name, info.table)
        self.hierarchy: str = hierarchy
        self.column: str = info.column
        self.data_type: ColumnType = info.data_type
        self.expression: RowExpr | None = info.expression

    def _target(self) -> tuple[str, str | None]:
        # A calculated level (a date hierarchy's month) is compared as a level: it is no table's column.
        return (self.column, self.table) if self.expression is None else (self.name, None)

    def _row(self) -> RowExpr:
        return super()._row() if self.expression is None else self.expression

    def __repr__(self) -> str:
        return f"<Level {self.hierarchy}.{self.name} ({self.table}.{self.column}: {describe_type(self.data_type)})>"
