"""The MDX subset tiercube answers: what BI tools send for a pivot table.

Supported::

    [WITH MEMBER [Measures].[name] AS <formula> [MEMBER ...]]
    SELECT [NON EMPTY] <set> [DIMENSION PROPERTIES ...] ON COLUMNS | ROWS | 0 | 1 | AXIS(n), ...
    FROM [Cube]
    [WHERE <set or tuple>]
    [CELL PROPERTIES ...]

where a set is built from

- ``[Measures].[name]``
- ``[H].[L].Members`` or ``[D].[H].[L].Members`` (``AllMembers`` too): every member of level L
  of hierarchy H (the dimension D, if written, is ignored)
- ``[H].[L].[member]``, ``[D].[H].[L].[member]``, ``[H].[L].&[key]``: one member of level L
  (``[H].[member]`` and ``[H].Members`` too when H has a single level)
- ``{a, b, ...}`` (members of one level, or measures), ``(a, b, ...)`` tuples,
  ``CrossJoin(a, b)``, ``a * b``, and ``Hierarchize(s)`` / ``NonEmpty(s)`` which change nothing here.

The answer has the shape of ``cube.query``: one column per level (levels on
ROWS first, then those on COLUMNS), then one per measure. Members listed on
an axis or in the WHERE slicer restrict their level (several members of one
level: any of them). Only non-empty cells are returned, with or without
``NON EMPTY``. With no measure anywhere the cube's ``contributors.COUNT`` is
used. Anything else is refused with a ``QueryError`` naming the construct.

A ``WITH MEMBER`` is a measure of this query only (never stored in the cube), checked
as ``cube.measures[name] = ...`` would check it; its formula is arithmetic over
measures, ``PrevMember`` and the like, ``YTD`` / ``PeriodsToDate`` and ``Rank``
(see ``formulas``). The query answers as its caller may see, restrictions included.

A query may be at most ``MAX_MDX_CHARACTERS`` long and nest sets, tuples and
functions at most ``MAX_MDX_DEPTH`` deep; members listed for a level become
one ``isin`` filter, however many there are.
"""


from __future__ import annotations

from collections.abc import Callable

from tiercube._server.engine.cubes.mdx.formulas import FormulaParser
from tiercube._server.engine.cubes.mdx.sets import SetParser
from tiercube._server.engine.cubes.mdx.tokens import MAX_MDX_DEPTH, Token
from tiercube._wire.cubes import CubeInfo, CubeQuery, MeasureExpr
from tiercube._wire.filters import And, Compare, Filter, IsIn, Scalar
from tiercube.errors import QueryError

__all__ = ["MAX_MDX_DEPTH", "to_cube_query"]


def to_cube_query(mdx: str, cube_info: Callable[[str], CubeInfo]) -> tuple[str, CubeQuery, dict[str, MeasureExpr]]:
    """The cube named in ``mdx``, the equivalent ``CubeQuery``, and the measures its ``WITH`` defines
    for this query (by name, in their order: the query may name them as it names the cube's)."""
    parser = SetParser(mdx, cube_info)
    parsed = parser.statement()
    cube = cube_info(parsed.cube)
    measures: list[str] = []
    levels: list[str] = []
    members: dict[str, list[str]] = {}
    for dimension in [*parsed.axes.get(1, []), *parsed.axes.get(0, []), *parsed.slicer]:
        on_axis = not any(dimension is d for d in parsed.slicer)
        if dimension.measures is not None:
            if on_axis or not measures:
                measures.extend(m for m in dimension.measures if m not in measures)
            continue
        assert dimension.level is not None
        if on_axis:
            if dimension.level in levels:
                raise QueryError(f"MDX: level {dimension.level!r} appears on two axes or twice on one")
            levels.append(dimension.level)
        if dimension.members is not None:
            if dimension.level in members:
                raise QueryError(f"MDX: level {dimension.level!r} is restricted twice")
            members[dimension.level] = dimension.members
    if not measures:
        names = [m.name for m in cube.measures]
        measures = ["contributors.COUNT"] if "contributors.COUNT" in names else names[:1]
    filters: list[Filter] = [
        Compare(level, "==", values[0]) if len(values) == 1 else IsIn(level, list[Scalar](values))
        for level, values in members.items()
    ]
    condition = None if not filters else filters[0] if len(filters) == 1 else And(filters)
    known = {m.name for m in cube.measures} | {f.name for f in parser.formulas}
    formulas: dict[str, MeasureExpr] = {}
    for formula in parser.formulas:
        end = parser.tokens[formula.end]
        tokens = [*parser.tokens[formula.start : formula.end], Token("end", end.text, end.position)]
        formulas[formula.name] = FormulaParser(tokens, cube, known, levels).formula()
    return parsed.cube, CubeQuery(measures=measures, levels=levels, filter=condition), formulas
