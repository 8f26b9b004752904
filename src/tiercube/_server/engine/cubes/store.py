"""Every cube of a session, and the joins they are built on."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable

import msgspec
import pyarrow as pa

from tiercube._server.engine.cubes.joins import JoinGraph
from tiercube._server.engine.hashing import key_hashes
from tiercube._server.engine.cubes.mdx import to_cube_query
from tiercube._server.engine.cubes.cost import check_costs
from tiercube._server.engine.cubes.model import Cube, CubeSchema, bind_measure, references
from tiercube._server.engine.cubes.validation import validate_measure
from tiercube._server.engine.cubes.partials import Partials
from tiercube._server.engine.cubes.results import Answer, Results, digest
from tiercube._server.engine.cubes.query import run_query
from tiercube._server.engine.journal import CubeDefined, CubeDeleted, Joined, ModelRecord, TableDeleted
from tiercube._server.engine.layout import check_name
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.types import is_numeric
from tiercube._server.engine.visibility import EVERYTHING, Visibility
from tiercube._wire.cubes import (
    Aggregate,
    FORMAT_METADATA,
    CreateCube,
    CubeInfo,
    CubeQuery,
    HierarchyInfo,
    Join,
    JoinInfo,
    LevelDefinition,
    LevelInfo,
    MdxQuery,
    MeasureExpr,
    MeasureInfo,
    RowCount,
    SetHierarchy,
    SetMeasure,
    UpdateMeasure,
)
from tiercube.errors import ConflictError, InvalidRequestError, NotFoundError, QueryError

CONTRIBUTORS = "contributors.COUNT"


class CubeStore:
    """Cubes by name over the session's ``tables``, plus its ``JoinGraph``; all methods are synchronous.

    Definitions change under a lock and are replaced, never edited in place,
    so a query running meanwhile sees either the old or the new definition.
    Each change is recorded in the tables' journal before it is made.
    ``partials`` are the maintained aggregates of the fact tables (the same
    object watches ``tables``); ``results`` the answers kept for repeated queries.
    """

    def __init__(self, tables: TableStore, partials: Partials | None = None, results: Results | None = None) -> None:
        self.tables = tables
        self.joins = JoinGraph()
        self.partials = partials
        self.results = results
        self._cubes: dict[str, Cube] = {}
        self._lock = threading.RLock()

    # Joins -------------------------------------------------------------

    def join(self, source: str, request: Join) -> JoinInfo:
        return self.joins.join(self.tables, source, request)

    # Cubes -------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._cubes)

    def cube(self, name: str) -> CubeInfo:
        return self._get(name).info

    def data_version(self, name: str) -> str:
        """A digest of the cube's definition and of the version of every table it reads: it changes with any of them."""
        cube = self._get(name)
        versions = [(r.table, self.tables.get(r.table).version) for r in self.joins.reachable(cube.fact_table)]
        return hashlib.sha256(msgspec.json.encode([cube.info, versions])).hexdigest()[:20]

    def visible_version(self, name: str, visible: Visibility) -> str:
        """``data_version`` as a restricted caller may know it: a digest of its definition and of the rows
        ``visible`` shows of every table it reads, so a change in rows hidden from the caller leaves it as it was.

        It reads those rows (on a cluster they travel to the server): call it when ``data_version`` changed.
        """
        cube = self._get(name)
        seen: list[tuple[str, str]] = []
        for reached in self.joins.reachable(cube.fact_table):
            table = self.tables.get(reached.table)
            columns = list(table.columns)
            rows = table.rows.selected(None, visible.rows(reached.table), None, columns).select(columns)
            seen.append((reached.table, hashlib.sha256(key_hashes(rows, columns).tobytes()).hexdigest()))
        return hashlib.sha256(msgspec.json.encode([cube.info, seen])).hexdigest()[:20]

    def _get(self, name: str) -> Cube:
        try:
            return self._cubes[name]
        except KeyError:
            raise NotFoundError.of("cube", name, self._cubes) from None

    def create_cube(self, request: CreateCube) -> CubeInfo:
        tables = self.tables
        name = check_name("cube", request.name if request.name is not None else request.fact_table)
        schema = CubeSchema(tables, self.joins, request.fact_table)
        cube = Cube(name, request.fact_table)
        # Key columns identify rows: a numeric key is a level (like the reference SDK), never summed.
        keys = {(reached.table, key) for reached in self.joins.reachable(request.fact_table) for key in tables.get(reached.table).keys}
        if request.mode != "manual":
            for ref in schema.columns:
                if not is_numeric(ref.data_type) or (ref.table, ref.column) in keys:
                    level = ref.column if ref.column not in cube.hierarchies else f"{ref.table}.{ref.column}"
                    cube.hierarchies[level] = [LevelInfo(level, ref.column, ref.table, ref.data_type)]
        if request.mode == "auto":
            for ref in schema.columns:
                if ref.table == request.fact_table and is_numeric(ref.data_type) and (ref.table, ref.column) not in keys:
                    cube.measures[f"{ref.column}.SUM"] = Aggregate("sum", ref.column, ref.table)
                    cube.measures[f"{ref.column}.MEAN"] = Aggregate("mean", ref.column, ref.table)
        if request.mode != "no_measures":
            cube.measures[CONTRIBUTORS] = RowCount()
        with self._lock:
            if name in self._cubes:
                raise ConflictError(f"a cube named {name!r} already exists")
            with self.tables.journal.committing(CubeDefined(cube.info)):
                self._cubes[name] = cube
        return cube.info

    def delete_cube(self, name: str) -> None:
        with self._lock:
            self._get(name)
            with self.tables.journal.committing(CubeDeleted(name)):
                del self._cubes[name]

    def _replace(self, cube: Cube) -> None:
        with self._lock:
            if self._cubes.get(cube.name) is None:
                raise NotFoundError(f"cube {cube.name!r} was deleted meanwhile")
            with self.tables.journal.committing(CubeDefined(cube.info)):
                self._cubes[cube.name] = cube

    # Measures ----------------------------------------------------------

    def set_measure(self, cube_name: str, name: str, request: SetMeasure) -> MeasureInfo:
        """Create or replace measure ``name`` (replacing only with ``request.replace``); references are
        checked and cycles refused."""
        check_name("measure", name)
        with self._lock:
            cube = self._get(cube_name)
            if name in cube.measures and not request.replace:
                raise ConflictError(
                    f"cube {cube_name!r} already has a measure named {name!r}; "
                    "pass replace=True to redefine it (cube.measures.set(name, expression, replace=True)), or choose another name"
                )
            expression = bind_measure(cube, request.expression, f"measure {name!r}")
            validate_measure(cube, CubeSchema(self.tables, self.joins, cube.fact_table), name, expression)
            measures = {**cube.measures, name: expression}
            check_costs(measures, name)
            formats = {**cube.formats, **({name: request.format} if request.format is not None else {})}
            self._replace(Cube(cube.name, cube.fact_table, cube.hierarchies, measures, formats))
        return MeasureInfo(name, expression, formats.get(name))

    def update_measure(self, cube_name: str, name: str, request: UpdateMeasure) -> MeasureInfo:
        """Set how measure ``name``'s numbers are shown (``request.format`` None: as they come)."""
        with self._lock:
            cube = self._get(cube_name)
            if name not in cube.measures:
                raise NotFoundError.of("measure", name, cube.measures, within=f"cube {cube_name!r}")
            formats = {n: f for n, f in cube.formats.items() if n != name}
            if request.format is not None:
                formats[name] = request.format
            self._replace(Cube(cube.name, cube.fact_table, cube.hierarchies, cube.measures, formats))
        return MeasureInfo(name, cube.measures[name], request.format)

    def delete_measure(self, cube_name: str, name: str) -> None:
        with self._lock:
            cube = self._get(cube_name)
            if name not in cube.measures:
                raise NotFoundError.of("measure", name, cube.measures, within=f"cube {cube_name!r}")
            _refuse_if_used(cube, "measure", name, (n for n in cube.measures if name in references(cube.measures[n]).measures))
            measures = {n: e for n, e in cube.measures.items() if n != name}
            formats = {n: f for n, f in cube.formats.items() if n != name}
            self._replace(Cube(cube.name, cube.fact_table, cube.hierarchies, measures, formats))

    # Hierarchies -------------------------------------------------------

    def set_hierarchy(self, cube_name: str, name: str, request: SetHierarchy) -> HierarchyInfo:
        """Create or replace hierarchy ``name``, its levels from the top down."""
        check_name("hierarchy", name)
        if not request.levels:
            raise InvalidRequestError(f"hierarchy {name!r} needs at least one level")
        with self._lock:
            cube = self._get(cube_name)
            schema = CubeSchema(self.tables, self.joins, cube.fact_table)
            others = {level for h, levels in cube.hierarchies.items() if h != name for level in (lv.name for lv in levels)}
            levels: list[LevelInfo] = []
            for definition in request.levels:
                check_name("level", definition.name)
                if definition.name in others or any(level.name == definition.name for level in levels):
                    raise ConflictError(
                        f"cube {cube_name!r} already has a level named {definition.name!r}; level names are unique in a cube"
                    )
                levels.append(_level(schema, definition))
            removed = [lv.name for lv in cube.hierarchies.get(name, []) if lv.name not in {x.name for x in levels}]
            for level in removed:
                _refuse_if_used(cube, "level", level, _measures_using_level(cube, level))
            self._replace(Cube(cube.name, cube.fact_table, {**cube.hierarchies, name: levels}, cube.measures, cube.formats))
        return HierarchyInfo(name, levels)

    def delete_hierarchy(self, cube_name: str, name: str) -> None:
        with self._lock:
            cube = self._get(cube_name)
            if name not in cube.hierarchies:
                raise NotFoundError.of("hierarchy", name, cube.hierarchies, within=f"cube {cube_name!r}")
            for level in cube.hierarchies[name]:
                _refuse_if_used(cube, "level", level.name, _measures_using_level(cube, level.name))
            hierarchies = {h: levels for h, levels in cube.hierarchies.items() if h != name}
            self._replace(Cube(cube.name, cube.fact_table, hierarchies, cube.measures, cube.formats))

    # Tables in use -----------------------------------------------------

    def tables_in_use(self, table: str) -> list[str]:
        """The cubes that read ``table``, as their fact table or through a join."""
        return [
            cube.name
            for cube in self._cubes.values()
            if table in {reached.table for reached in self.joins.reachable(cube.fact_table)}
        ]

    def check_table_deletable(self, table: str) -> None:
        users = self.tables_in_use(table)
        if users:
            raise ConflictError(
                f"table {table!r} is used by cube(s) {', '.join(map(repr, users))}; delete them first"
            )

    def delete_table(self, table: str) -> None:
        """Delete ``table`` unless a cube uses it, and forget its joins."""
        with self._lock, self.tables.catalog_lock:
            self.check_table_deletable(table)
            self.tables.get(table)
            with self.tables.journal.committing(TableDeleted(table)):
                self.tables.delete(table)
                self.joins.forget(table)

    # Snapshots and replaying the journal -------------------------------

    def recorded(self) -> list[Joined | CubeDefined]:
        """The joins and cubes as records that make them again, joins first (cubes read through them)."""
        joins = [Joined(edge.source, edge.target, list(edge.pairs)) for edge in self.joins.edges()]
        return [*joins, *(CubeDefined(cube.info) for cube in self._cubes.values())]

    def replay(self, record: ModelRecord) -> None:
        """Apply ``record`` again as it was applied live, unchecked; nothing is recorded."""
        match record:
            case TableDeleted(table):
                self.tables.delete(table)
                self.joins.forget(table)
            case Joined():
                self.joins.replay(record)
            case CubeDefined(info):
                hierarchies = {h.name: list(h.levels) for h in info.hierarchies}
                formats = {m.name: m.format for m in info.measures if m.format is not None}
                self._cubes[info.name] = Cube(info.name, info.fact_table, hierarchies, {m.name: m.expression for m in info.measures}, formats)
            case CubeDeleted(name):
                del self._cubes[name]

    # Queries -----------------------------------------------------------

    def query(self, cube_name: str, request: CubeQuery, visible: Visibility = EVERYTHING, *, limits: QueryLimits | None = None) -> pa.Table:
        """Answer ``request`` as a caller that sees ``visible`` may; see ``CubeQuery`` for the result's shape.

        Restricted callers aggregate only the fact rows they may see, totals
        included, and their answers are never kept. ``limits`` default to the
        table store's (the server's config).
        Raises ``QueryError`` (bad names), ``QueryTimeoutError`` and ``ResultTooLargeError``.
        """
        return self.answer(cube_name, request, visible, limits=limits).table

    def answer(self, cube_name: str, request: CubeQuery, visible: Visibility = EVERYTHING, *, limits: QueryLimits | None = None) -> Answer:
        """``query``'s answer, as it is kept for the next caller asking the same (with its encoding)."""
        cube = self._get(cube_name)
        limits = limits if limits is not None else self.tables.limits
        if visible.restricted or self.results is None:
            plan = visible.rows(cube.fact_table)
            return Answer(presented(cube, run_query(self.tables, self.joins, cube, request, limits=limits, visible=plan, partials=self.partials)))
        # The versions as they are before the query runs: see ``results``.
        key = self._key(cube, request, limits)
        answer = self.results.get(key)
        if answer is None:
            answer = Answer(presented(cube, run_query(self.tables, self.joins, cube, request, limits=limits, partials=self.partials)))
            self.results.put(key, cube, answer)
        return answer

    def kept(self, cube_name: str, request: CubeQuery, visible: Visibility) -> Answer | None:
        """The answer kept for ``request``, if there is one: a lookup that never computes nor waits,
        so the server can answer a repeated query without handing it to a worker thread."""
        cube = self._cubes.get(cube_name)
        if cube is None or visible.restricted or self.results is None:
            return None
        return self.results.get(self._key(cube, request, self.tables.limits))

    def _key(self, cube: Cube, request: CubeQuery, limits: QueryLimits) -> bytes:
        versions = [(r.table, self.tables.get(r.table).version) for r in self.joins.reachable(cube.fact_table)]
        return digest([id(cube).to_bytes(8, "little"), msgspec.json.encode([request, limits.timeout, limits.max_rows, versions])])

    def query_mdx(self, request: MdxQuery, visible: Visibility = EVERYTHING, *, limits: QueryLimits | None = None) -> pa.Table:
        """Answer an MDX ``SELECT`` (see ``mdx`` for the subset) in the shape of ``query``, as ``query`` would."""
        return self.answer_mdx(request, visible, limits=limits).table

    def answer_mdx(
        self, request: MdxQuery, visible: Visibility = EVERYTHING, *, limits: QueryLimits | None = None, allowed: Callable[[str], None] = lambda cube: None
    ) -> Answer:
        """``allowed`` raises for a cube the caller may not query (a token limited to some cubes), before it is looked up."""

        def info(name: str) -> CubeInfo:
            allowed(name)
            return self._get(name).info

        cube_name, query, formulas = to_cube_query(request.mdx, info)
        if not formulas:
            return self.answer(cube_name, query, visible, limits=limits)
        # Its own measures: a cube for this query only, never kept, nor its answer (kept answers are by cube).
        cube = self._with_formulas(self._get(cube_name), formulas)
        limits = limits if limits is not None else self.tables.limits
        plan = visible.rows(cube.fact_table)
        return Answer(run_query(self.tables, self.joins, cube, query, limits=limits, visible=plan, partials=self.partials))

    def _with_formulas(self, cube: Cube, formulas: dict[str, MeasureExpr]) -> Cube:
        """``cube`` with an MDX query's calculated members as measures, each checked as ``set_measure`` checks one."""
        schema = CubeSchema(self.tables, self.joins, cube.fact_table)
        for name in formulas:
            check_name("measure", name)
            if name in cube.measures:
                raise QueryError(f"MDX: WITH MEMBER [Measures].[{name}]: cube {cube.name!r} has a measure of that name; name the calculated member differently")
        measures = dict(cube.measures)
        # Every name first, as references to it: members may refer to each other in any order.
        with_names = Cube(cube.name, cube.fact_table, cube.hierarchies, {**measures, **dict.fromkeys(formulas, RowCount())})
        for name, expression in formulas.items():
            where = f"MDX calculated member {name!r}"
            bound = bind_measure(with_names, expression, where)
            validate_measure(with_names, schema, name, bound)
            measures[name] = bound
        for name in formulas:
            check_costs(measures, name)
        return Cube(cube.name, cube.fact_table, cube.hierarchies, measures)


def presented(cube: Cube, table: pa.Table) -> pa.Table:
    """``table`` with each formatted measure's column carrying its format, so every client can show it
    (a ``MinimalSession`` too, which may not read the cube's structure). Metadata only: no data is copied."""
    formats = {name: fmt for name, fmt in cube.formats.items() if name in table.column_names}
    if not formats:
        return table
    fields = [
        field.with_metadata({FORMAT_METADATA: msgspec.json.encode(formats[field.name])}) if field.name in formats else field
        for field in table.schema
    ]
    metadata: dict[bytes | str, bytes | str] = {key: value for key, value in (table.schema.metadata or {}).items()}
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, metadata))

def _level(schema: CubeSchema, definition: LevelDefinition) -> LevelInfo:
    """The level ``definition`` asks for, its column (or calculated column) checked now, not at query time."""
    if definition.expression is None:
        ref = schema.resolve(definition.column, definition.table)
        return LevelInfo(definition.name, ref.column, ref.table, ref.data_type)
    ref = schema.calculated(definition.expression, f"level {definition.name!r}")
    assert ref.calculated is not None
    return LevelInfo(definition.name, ref.calculated.columns[0], ref.table, ref.data_type, definition.expression)


def _measures_using_level(cube: Cube, level: str) -> list[str]:
    return [name for name, expression in cube.measures.items() if level in references(expression).levels]


def _refuse_if_used(cube: Cube, kind: str, name: str, users: Iterable[str]) -> None:
    used_by = list(users)
    if used_by:
        raise ConflictError(
            f"{kind} {name!r} of cube {cube.name!r} is used by measure(s) {', '.join(map(repr, used_by))}; "
            "change or delete them first"
        )
