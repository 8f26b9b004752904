"""The sets of an MDX ``SELECT``: its axes, its slicer, and the names its ``WITH`` clause defines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tiercube._server.engine.cubes.mdx.tokens import Cursor, tokenize
from tiercube._wire.cubes import CubeInfo
from tiercube.errors import QueryError

_PASS_THROUGH = {"HIERARCHIZE", "NONEMPTY"}


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


@dataclass(frozen=True)
class Formula:
    """A calculated member of ``WITH``: its name, and where its expression's tokens start and end."""

    name: str
    start: int
    end: int


class SetParser(Cursor):
    """Recursive descent over the tokens of a ``SELECT``; resolves names against the cube as it goes.

    ``WITH MEMBER [Measures].[name] AS ...`` only has its names read here (the axes may show them);
    its expressions are left to ``formulas``, which reads them knowing the axes.
    """

    def __init__(self, mdx: str, cube_info: Callable[[str], CubeInfo]) -> None:
        super().__init__(tokenize(mdx))
        self.cube_info = cube_info
        self.cube: CubeInfo | None = None
        self.formulas: list[Formula] = []

    # Grammar ------------------------------------------------------------

    def statement(self) -> Parsed:
        if self.accept("WITH"):
            self.with_members()
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

    def with_members(self) -> None:
        """``MEMBER [Measures].[name] AS <expression>``, one or more: the names, and where each expression is."""
        while self.accept("MEMBER"):
            parts = [self.advance().text] if self.current.kind == "name" else []
            while self.accept("."):
                parts.append(self.advance().text)
            if len(parts) != 2 or parts[0] != "Measures":
                raise QueryError("MDX: a calculated member is a measure here: WITH MEMBER [Measures].[name] AS ...")
            if any(formula.name == parts[1] for formula in self.formulas):
                raise QueryError(f"MDX: calculated member {parts[1]!r} is defined twice")
            self.expect("AS")
            start = self.index
            depth = 0
            while self.current.kind != "end" and not (depth == 0 and self.current.upper in ("MEMBER", "SELECT", "SET")):
                depth += {"(": 1, ")": -1, "{": 1, "}": -1}.get(self.current.text, 0) if self.current.kind == "punct" else 0
                self.advance()
            if start == self.index:
                raise QueryError(f"MDX: calculated member {parts[1]!r} has no expression after AS")
            self.formulas.append(Formula(parts[1], start, self.index))
        if self.current.upper == "SET":
            raise QueryError("MDX WITH SET (named sets) is not supported; write the set on the axis")
        if not self.formulas:
            raise QueryError("MDX: WITH must be followed by MEMBER [Measures].[name] AS ...")

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
        self.nested()
        try:
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
        raise self.unexpected()

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
            measures = {m.name for m in self.cube.measures} | {formula.name for formula in self.formulas}
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
