"""The MDX subset tiercube answers: what BI tools send for a pivot table.

Supported::

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

A query may be at most ``MAX_MDX_CHARACTERS`` long and nest sets, tuples and
functions at most ``MAX_MDX_DEPTH`` deep; members listed for a level become
one ``isin`` filter, however many there are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tiercube._wire.cubes import MAX_MDX_CHARACTERS, CubeInfo, CubeQuery
from tiercube._wire.filters import And, Compare, Filter, IsIn, Scalar
from tiercube.errors import QueryError

_TOKEN = re.compile(
    r"""\s+|--[^\n]*|//[^\n]*|/\*.*?\*/           # blanks and comments
    |(?P<name>&?\[(?:[^\]]|\]\])*\])                # [bracketed] or &[key]
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>\d+)
    |(?P<punct>[{}(),.*])""",
    re.VERBOSE | re.DOTALL,
)
_PASS_THROUGH = {"HIERARCHIZE", "NONEMPTY"}
MAX_MDX_DEPTH = 64


@dataclass(frozen=True)
class Token:
    kind: str  # name, word, number, punct, end
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(mdx: str) -> list[Token]:
    if len(mdx) > MAX_MDX_CHARACTERS:
        raise QueryError(f"MDX: the query has {len(mdx)} characters, over the server's limit of {MAX_MDX_CHARACTERS}")
    tokens: list[Token] = []
    position = 0
    while position < len(mdx):
        match = _TOKEN.match(mdx, position)
        if match is None:
            raise QueryError(f"MDX: unexpected character {mdx[position]!r} at position {position}")
        if match.lastgroup is not None:
            text = match.group(match.lastgroup)
            if match.lastgroup == "name":
                text = text.lstrip("&")[1:-1].replace("]]", "]")
            tokens.append(Token(match.lastgroup, text, position))
        position = match.end()
    tokens.append(Token("end", "", len(mdx)))
    return tokens


@dataclass
class Dimension:
    """One factor of a set: measures, or (members of) one level."""

    measures: list[str] | None = None
    level: str | None = None
    members: list[str] | None = None  # None: every member of ``level``


@dataclass
class Parsed:
    cube: str = ""
    axes: dict[int, list[Dimension]] = field(default_factory=dict)
    slicer: list[Dimension] = field(default_factory=list)


class _Parser:
    """Recursive descent over the tokens; resolves names against the cube as it goes."""

    def __init__(self, mdx: str, cube_info: Callable[[str], CubeInfo]) -> None:
        self.tokens = tokenize(mdx)
        self.index = 0
        self.depth = 0
        self.cube_info = cube_info
        self.cube: CubeInfo | None = None

    # Token helpers ------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.current.kind in ("word", "punct") and self.current.upper in words:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            found = self.current.text or "the end of the query"
            raise QueryError(f"MDX: expected {word} at position {self.current.position}, found {found!r}")

    # Grammar ------------------------------------------------------------

    def statement(self) -> Parsed:
        if self.accept("WITH"):
            raise QueryError("MDX WITH clauses (calculated members, named sets) are not supported")
        self.expect("SELECT")
        # FROM comes after the axes, but resolving names needs the cube: peek at it first.
        self.cube = self.cube_info(self._peek_cube())
        parsed = Parsed(cube=self.cube.name)
        while not (self.current.kind == "word" and self.current.upper == "FROM"):
            if self.accept("NON"):
                self.expect("EMPTY")
            dimensions = self.set()
            if self.accept("DIMENSION"):
                self.expect("PROPERTIES")
                while self.current.kind != "end" and self.current.upper != "ON":
                    self.advance()
            self.expect("ON")
            axis = self.axis_number()
            if axis in parsed.axes:
                raise QueryError(f"MDX: axis {axis} is given twice")
            parsed.axes[axis] = dimensions
            if not self.accept(","):
                break
        self.expect("FROM")
        self.advance()  # the cube name, read by _peek_cube
        if self.accept("WHERE"):
            parsed.slicer = self.set()
        if self.accept("CELL"):
            self.expect("PROPERTIES")
            while self.current.kind == "word" or self.current.text == ",":
                self.advance()
        if self.current.kind != "end":
            raise QueryError(f"MDX: unexpected {self.current.text!r} at position {self.current.position}")
        return parsed

    def _peek_cube(self) -> str:
        for position, token in enumerate(self.tokens[self.index :], start=self.index):
            if token.kind == "word" and token.upper == "FROM":
                cube = self.tokens[position + 1]
                if cube.kind not in ("name", "word"):
                    raise QueryError("MDX: FROM must name a cube, as in FROM [Sales]")
                return cube.text
        raise QueryError("MDX: the query has no FROM [Cube] clause")

    def axis_number(self) -> int:
        if self.accept("COLUMNS"):
            return 0
        if self.accept("ROWS"):
            return 1
        if self.accept("AXIS"):
            self.expect("(")
            number = self.axis_number()
            self.expect(")")
            return number
        if self.current.kind == "number":
            number = int(self.advance().text)
            if number > 1:
                raise QueryError(f"MDX: only axes 0 (COLUMNS) and 1 (ROWS) are supported, not axis {number}")
            return number
        raise QueryError(f"MDX: expected COLUMNS or ROWS after ON, found {self.current.text!r}")

    def set(self) -> list[Dimension]:
        dimensions = self.term()
        while self.accept("*"):
            dimensions = _cross(dimensions, self.term())
        return dimensions

    def term(self) -> list[Dimension]:
        self.depth += 1
        try:
            if self.depth > MAX_MDX_DEPTH:
                raise QueryError(f"MDX: sets, tuples and functions are nested more than {MAX_MDX_DEPTH} deep (the server's limit)")
            return self._term()
        finally:
            self.depth -= 1

    def _term(self) -> list[Dimension]:
        token = self.current
        if self.accept("{"):
            items = [] if self.current.text == "}" else self.list_of_sets()
            self.expect("}")
            return _union(items)
        if self.accept("("):
            items = self.list_of_sets()
            self.expect(")")
            result: list[Dimension] = []
            for item in items:
                result = _cross(result, item)
            return result
        if token.kind == "word":
            return self.function()
        if token.kind == "name":
            return [self.member_expression()]
        raise QueryError(f"MDX: unexpected {token.text or 'end of query'!r} at position {token.position}")

    def list_of_sets(self) -> list[list[Dimension]]:
        items = [self.set()]
        while self.accept(","):
            items.append(self.set())
        return items

    def function(self) -> list[Dimension]:
        name = self.advance()
        if name.upper not in {"CROSSJOIN", *_PASS_THROUGH} or self.current.text != "(":
            raise QueryError(f"MDX function {name.text} is not supported")
        self.expect("(")
        arguments = self.list_of_sets()
        self.expect(")")
        if name.upper in _PASS_THROUGH:
            if len(arguments) != 1:
                raise QueryError(f"MDX: {name.text} takes one set here")
            return arguments[0]
        if len(arguments) < 2:
            raise QueryError("MDX: CrossJoin needs at least two sets")
        result = arguments[0]
        for argument in arguments[1:]:
            result = _cross(result, argument)
        return result

    def member_expression(self) -> Dimension:
        parts = [self.advance().text]
        suffix = None
        while self.accept("."):
            if self.current.kind == "name":
                parts.append(self.advance().text)
            elif self.current.kind == "word":
                suffix = self.advance().text
                if suffix.upper() not in ("MEMBERS", "ALLMEMBERS"):
                    raise QueryError(f"MDX function {suffix} is not supported")
                break
            else:
                raise QueryError(f"MDX: unexpected {self.current.text!r} after '.' at position {self.current.position}")
        return self.resolve(parts, all_members=suffix is not None)

    def resolve(self, parts: list[str], *, all_members: bool) -> Dimension:
        assert self.cube is not None
        written = ".".join(f"[{p}]" for p in parts)
        if parts[0] == "Measures":
            measures = {m.name for m in self.cube.measures}
            if len(parts) != 2 or all_members or parts[1] not in measures:
                raise QueryError(
                    f"MDX: {written} is not a measure of cube {self.cube.name!r}; "
                    f"its measures are {', '.join(sorted(measures)) or 'none'}"
                )
            return Dimension(measures=[parts[1]])
        hierarchies = {h.name: [level.name for level in h.levels] for h in self.cube.hierarchies}
        if len(parts) >= 3 and parts[1] in hierarchies and parts[2] in hierarchies[parts[1]]:
            parts = parts[1:]  # [Dimension].[Hierarchy].[Level]...
        if parts[0] not in hierarchies:
            raise QueryError(
                f"MDX: {written}: cube {self.cube.name!r} has no hierarchy {parts[0]!r}; "
                f"its hierarchies are {', '.join(hierarchies) or 'none'}"
            )
        levels = hierarchies[parts[0]]
        if len(levels) == 1 and (len(parts) == 1 and all_members or len(parts) == 2 and not all_members and parts[1] not in levels):
            parts = [parts[0], levels[0], *parts[1:]]  # [H].Members and [H].[member] of a one-level hierarchy
        if len(parts) < 2 or parts[1] not in levels:
            raise QueryError(f"MDX: {written} does not name a level of hierarchy {parts[0]!r} (levels: {', '.join(levels)})")
        if len(parts) == 2:
            return Dimension(level=parts[1])
        if len(parts) == 3 and not all_members:
            return Dimension(level=parts[1], members=[parts[2]])
        raise QueryError(f"MDX: {written} is not supported; write [Hierarchy].[Level].Members or [Hierarchy].[Level].[member]")


def _union(items: list[list[Dimension]]) -> list[Dimension]:
    """``{a, b, ...}``: members of the same level, or measures."""
    if not items:
        return []
    first = items[0]
    if any(len(item) != len(first) for item in items) or len(first) != 1:
        raise QueryError("MDX: a set {...} of tuples is not supported; list members of one level, or measures")
    dimensions = [item[0] for item in items]
    if all(d.measures is not None for d in dimensions):
        return [Dimension(measures=[m for d in dimensions for m in d.measures or []])]
    levels = {d.level for d in dimensions}
    if len(levels) != 1 or None in levels:
        raise QueryError("MDX: a set {...} must hold members of one level, or only measures")
    if any(d.members is None for d in dimensions):
        return [Dimension(level=dimensions[0].level)]
    return [Dimension(level=dimensions[0].level, members=[m for d in dimensions for m in d.members or []])]


def _cross(left: list[Dimension], right: list[Dimension]) -> list[Dimension]:
    return [*left, *right]


def to_cube_query(mdx: str, cube_info: Callable[[str], CubeInfo]) -> tuple[str, CubeQuery]:
    """The cube named in ``mdx`` and the equivalent ``CubeQuery``."""
    parsed = _Parser(mdx, cube_info).statement()
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
    return parsed.cube, CubeQuery(measures=measures, levels=levels, filter=condition)
