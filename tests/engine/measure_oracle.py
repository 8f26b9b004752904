"""An independent oracle for the measure language: each measure as duckdb SQL, per set of levels.

``MeasureSql(levels_sql, hierarchies, measures).cells(node, levels)`` is a SELECT with one
row per cell of ``levels`` (the distinct combinations of those levels among the
query's fact rows, ``base``): the level columns, then ``v``. Every construct is
written the way SQL says it, not the way the engine computes it: aggregates with
duckdb's own functions (``median``, ``quantile_cont``, ``quantile_disc``,
``stddev_samp``, ``product``), scopes with window functions and self-joins over the
cells, dates with ``date_trunc`` and ``INTERVAL`` arithmetic. A query's answer is
the union of those SELECTs, one per set of levels it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tiercube._wire.calculated import Call, Field, RowExpr, RowLiteral
from tiercube._wire.cubes import (
    Aggregate,
    Arithmetic,
    At,
    Constant,
    Cumulative,
    Filtered,
    MeasureComparison,
    MeasureExpr,
    MeasureRef,
    MemberOf,
    Origin,
    ParentValue,
    Period,
    Rank,
    RowCount,
    Shift,
    Siblings,
    Where,
)
from tiercube._wire.filters import And, Compare, Filter, IsIn, IsNull, Not, Or

_SQL_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def filter_sql(condition: Filter, date_levels: frozenset[str] = frozenset()) -> str:
    """A level filter as SQL over ``base`` (three-valued logic, as duckdb's WHERE)."""
    match condition:
        case Compare(column, op, value):
            rendered = f"DATE {literal(value)}" if column in date_levels and value is not None else literal(value)
            return f"({q(column)} {_SQL_OPERATORS[op]} {rendered})"
        case IsIn(column, values):
            return f"({q(column)} IN ({', '.join(map(literal, values))}))" if values else "FALSE"
        case IsNull(column):
            return f"({q(column)} IS NULL)"
        case Not(operand):
            return f"(NOT {filter_sql(operand, date_levels)})"
        case And(operands):
            return "(" + " AND ".join(filter_sql(o, date_levels) for o in operands) + ")" if operands else "TRUE"
        case Or(operands):
            return "(" + " OR ".join(filter_sql(o, date_levels) for o in operands) + ")" if operands else "FALSE"


def row_sql(expression: RowExpr) -> str:
    match expression:
        case Field(column):
            return q(column)
        case RowLiteral(value):
            return literal(value)
        case Call("multiply", [left, right]):
            return f"({row_sql(left)} * {row_sql(right)})"
        case Call("add", [left, right]):
            return f"({row_sql(left)} + {row_sql(right)})"
        case Call("greater", [left, right]):
            return f"({row_sql(left)} > {row_sql(right)})"
        case _:
            raise NotImplementedError(expression)


@dataclass
class MeasureSql:
    """Measures of a cube as SQL over ``base`` (a relation with a column per level and per fact column)."""

    hierarchies: Mapping[str, Sequence[str]]
    measures: Mapping[str, MeasureExpr]
    date_levels: frozenset[str] = frozenset()

    def level_and_below(self, level: str) -> list[str]:
        for levels in self.hierarchies.values():
            if level in levels:
                return list(levels[list(levels).index(level) :])
        return [level]

    # Cells ---------------------------------------------------------------

    def distinct(self, levels: Sequence[str]) -> str:
        if not levels:
            return "(SELECT 1 AS one FROM base LIMIT 1)"
        return f"(SELECT DISTINCT {', '.join(q(level) for level in levels)} FROM base)"

    @staticmethod
    def on(levels: Sequence[str], left: str, right: str) -> str:
        return " AND ".join(f"{left}.{q(level)} IS NOT DISTINCT FROM {right}.{q(level)}" for level in levels) or "TRUE"

    @staticmethod
    def columns(levels: Sequence[str], alias: str) -> str:
        return "".join(f"{alias}.{q(level)}, " for level in levels)

    def over_cells(self, levels: Sequence[str], sources: Mapping[str, str], value: str, keys: Sequence[str] | None = None) -> str:
        """``value`` (over the ``v`` of ``sources``, by alias) for each cell of ``levels``; sources are found
        by the cell's members of ``keys`` (all its levels by default)."""
        keys = levels if keys is None else keys
        joins = " ".join(f"LEFT JOIN ({sql}) {alias} ON {self.on(keys, 'c', alias)}" for alias, sql in sources.items())
        return f"SELECT {self.columns(levels, 'c')}{value} AS v FROM {self.distinct(levels)} c {joins}"

    # Measures -------------------------------------------------------------

    def cells(self, node: MeasureExpr, levels: Sequence[str], context: str = "TRUE") -> str:
        levels = list(levels)
        match node:
            case Aggregate() | RowCount():
                return self.aggregate(node, levels, context)
            case MeasureRef(name):
                return self.cells(self.measures[name], levels, context)
            case Constant(value):
                return self.over_cells(levels, {}, literal(value))
            case Arithmetic(op, left, right):
                sources = {"a": self.cells(left, levels, context), "b": self.cells(right, levels, context)}
                combined = "CASE WHEN b.v = 0 THEN NULL ELSE a.v::DOUBLE / b.v END" if op == "/" else f"a.v {op} b.v"
                return self.over_cells(levels, sources, combined)
            case Where(MeasureComparison(left, op, right), then, otherwise):
                sources = {
                    "l": self.cells(left, levels, context), "r": self.cells(right, levels, context),
                    "t": self.cells(then, levels, context),
                }
                other = "NULL"
                if otherwise is not None:
                    sources["o"] = self.cells(otherwise, levels, context)
                    other = "o.v"
                return self.over_cells(levels, sources, f"CASE WHEN l.v {_SQL_OPERATORS[op]} r.v THEN t.v ELSE {other} END")
            case Filtered(inner, condition):
                return self.cells(inner, levels, f"({context}) AND {filter_sql(condition, self.date_levels)}")
            case ParentValue(inner, level):
                removed = self.level_and_below(level)
                parent = [name for name in levels if name not in removed]
                if parent == levels:
                    return self.cells(inner, levels, context)
                return self.over_cells(levels, {"p": self.cells(inner, parent, context)}, "p.v", keys=parent)
            case Cumulative():
                return self.cumulative(node, levels, context)
            case Shift():
                return self.shift(node, levels, context)
            case At(inner, members):
                wider = levels + [name for name in members if name not in levels]
                chosen = " AND ".join(
                    f"{q(level)} IS NULL" if member is None else f"{q(level)} = {self._member(level, member)}"
                    for level, member in members.items()
                )
                keys = [level for level in levels if level not in members]
                picked = f"SELECT * FROM ({self.cells(inner, wider, context)}) WHERE {chosen}"
                return f"SELECT {self.columns(levels, 'c')}p.v AS v FROM {self.distinct(levels)} c LEFT JOIN ({picked}) p ON {self.on(keys, 'c', 'p')}"
            case Siblings(inner, level, exclude_self):
                own = self.cells(inner, levels, context)
                if level not in levels:
                    return self.over_cells(levels, {"s": own}, "NULL" if exclude_self else "s.v")
                keys = [name for name in levels if name not in self.level_and_below(level)]
                window = f"sum(s.v) OVER (PARTITION BY {', '.join(f's.{q(k)}' for k in keys) or '1'})"
                shared = f"CASE WHEN s.v IS NULL THEN {window} ELSE {window} - s.v END" if exclude_self else window
                return f"SELECT {self.columns(levels, 's')}{shared} AS v FROM ({own}) s"
            case Origin(inner, origin_levels, function):
                wider = levels + [name for name in origin_levels if name not in levels]
                combine = {"sum": "sum", "mean": "avg", "min": "min", "max": "max", "median": "median"}[function]
                grouped = f"SELECT {self.columns(levels, 'w')}{combine}(w.v) AS v FROM ({self.cells(inner, wider, context)}) w {self.group(levels, 'w')}"
                return self.over_cells(levels, {"g": grouped}, "g.v")
            case Rank(inner, level, within, ascending):
                if level not in levels:
                    return self.over_cells(levels, {}, "NULL::BIGINT")
                wider, coarse = self.coarse(levels, within, level)
                keys = [name for name in coarse if name != level]
                partition = ", ".join(f"w.{q(k)}" for k in keys) or "1"
                direction = "ASC" if ascending else "DESC"
                ranked = (
                    f"SELECT {self.columns(coarse, 'w')}CASE WHEN w.v IS NULL THEN NULL ELSE "
                    f"rank() OVER (PARTITION BY {partition} ORDER BY w.v {direction} NULLS LAST) END AS v "
                    f"FROM ({self.cells(inner, coarse, context)}) w"
                )
                return self.handed_down(levels, wider, coarse, ranked, "min")
            case MemberOf(inner, level, largest):
                wider = levels + ([level] if level not in levels else [])
                direction = "DESC" if largest else "ASC"
                partition = ", ".join(f"w.{q(k)}" for k in levels) or "1"
                numbered = (
                    f"SELECT {self.columns(wider, 'w')}w.v, row_number() OVER (PARTITION BY {partition} "
                    f"ORDER BY w.v {direction} NULLS LAST, w.{q(level)} ASC NULLS LAST) AS n "
                    f"FROM ({self.cells(inner, wider, context)}) w WHERE w.v IS NOT NULL"
                )
                best = f"SELECT {self.columns(levels, 'b')}b.{q(level)} AS v FROM ({numbered}) b WHERE b.n = 1"
                return self.over_cells(levels, {"m": best}, "m.v")
            case _:  # conditions other than a comparison: the generated measures do not use them
                raise NotImplementedError(node)

    def group(self, levels: Sequence[str], alias: str) -> str:
        return f"GROUP BY {', '.join(f'{alias}.{q(level)}' for level in levels)}" if levels else ""

    def _member(self, level: str, member: object) -> str:
        return f"DATE {literal(member)}" if level in self.date_levels else literal(member)

    def aggregate(self, node: Aggregate | RowCount, levels: list[str], context: str) -> str:
        if isinstance(node, RowCount):
            function, value = "count(*)", None
        else:
            x = q(node.column) if isinstance(node.column, str) else row_sql(node.column)
            function = {
                "sum": f"sum({x})", "mean": f"avg({x})", "min": f"min({x})", "max": f"max({x})", "count": f"count({x})",
                "distinct_count": f"count(DISTINCT {x})", "median": f"median({x})", "prod": f"product({x})",
                "std": f"stddev_{'pop' if node.population else 'samp'}({x})", "var": f"var_{'pop' if node.population else 'samp'}({x})",
                "single_value": f"CASE WHEN min({x}) = max({x}) THEN min({x}) END",
                "quantile": f"quantile_{'disc' if node.interpolation == 'discrete' else 'cont'}({x}, {node.q!r})",
            }[node.function]
            value = node.function
        empty = "0" if value in (None, "count", "distinct_count") else "NULL"
        grouped = f"SELECT {''.join(q(level) + ', ' for level in levels)}{function} AS v FROM base WHERE {context} {'GROUP BY ' + ', '.join(map(q, levels)) if levels else ''}"
        return self.over_cells(levels, {"g": grouped}, f"coalesce(g.v, {empty})")

    # Moving along a level -------------------------------------------------

    def positioned(self, node: MeasureExpr, levels: list[str], level: str, context: str) -> str:
        """The cells with ``pos``: the rank of their member among the members the query's rows have."""
        members = f"SELECT {q(level)}, dense_rank() OVER (ORDER BY {q(level)} NULLS LAST) AS pos FROM (SELECT DISTINCT {q(level)} FROM base)"
        return f"SELECT i.*, m.pos FROM ({self.cells(node, levels, context)}) i JOIN ({members}) m ON i.{q(level)} IS NOT DISTINCT FROM m.{q(level)}"

    def coarse(self, levels: list[str], extra: str | None, level: str) -> tuple[list[str], list[str]]:
        """The levels with ``extra``, and those of them not below ``level`` (where a scope along it is computed)."""
        wider = levels + ([extra] if extra is not None and extra not in levels else [])
        below = self.level_and_below(level)[1:]
        return wider, [name for name in wider if name not in below]

    def handed_down(self, levels: list[str], wider: list[str], coarse: list[str], computed: str, combine: str) -> str:
        """``computed`` (by ``coarse``) for each cell of ``wider`` by its members of ``coarse``, combined per cell of ``levels``."""
        spread = f"SELECT {self.columns(wider, 'c')}x.v AS v FROM {self.distinct(wider)} c JOIN ({computed}) x ON {self.on(coarse, 'c', 'x')}"
        folded = f"SELECT {self.columns(levels, 'w')}{combine}(w.v) AS v FROM ({spread}) w {self.group(levels, 'w')}"
        return self.over_cells(levels, {"f": folded}, "f.v")

    def cumulative(self, node: Cumulative, levels: list[str], context: str) -> str:
        if node.level not in levels:
            return self.cells(node.measure, levels, context)
        wider, coarse = self.coarse(levels, node.partitioning, node.level)
        keys = [name for name in coarse if name != node.level]
        inner = self.positioned(node.measure, coarse, node.level, context)
        level = q(node.level)
        window = "o.pos <= c.pos"
        if node.window is not None and node.window.members is not None:
            window += f" AND o.pos > c.pos - {node.window.members}"
        elif node.window is not None and node.window.period is not None:
            earliest = self._moved(f"c.{level}", node.window.period, -1)
            window = f"((o.{level} <= c.{level} AND o.{level} > {earliest}) OR (o.{level} IS NULL AND c.{level} IS NULL))"
        summed = (
            f"SELECT {self.columns(coarse, 'c')}sum(o.v) AS v FROM ({inner}) c JOIN ({inner}) o "
            f"ON {self.on(keys, 'c', 'o')} AND {window} {self.group(coarse, 'c')}"
        )
        return self.handed_down(levels, wider, coarse, summed, "sum")

    def shift(self, node: Shift, levels: list[str], context: str) -> str:
        if node.level not in levels:
            return self.over_cells(levels, {}, "NULL")
        others = [name for name in levels if name != node.level]
        inner = self.positioned(node.measure, levels, node.level, context)
        level = q(node.level)
        if node.period is None:
            target = f"o.pos = c.pos + ({node.offset})"
        else:
            target = f"o.{level} = {self._moved(f'c.{level}', node.period, 1)}"
        return (
            f"SELECT {self.columns(levels, 'c')}o.v AS v FROM ({inner}) c LEFT JOIN ({inner}) o "
            f"ON {self.on(others, 'c', 'o')} AND {target}"
        )

    def _moved(self, value: str, period: Period, sign: int) -> str:
        # Months and years in one step (2024-02-29 + 13 months is 2025-03-29, not 2025-03-28), then days.
        parts = [((period.years * 12 + period.months) * sign, "MONTH"), ((period.weeks * 7 + period.days) * sign, "DAY")]
        moved = value
        for amount, unit in parts:
            if amount:
                moved = f"({moved} + INTERVAL ({amount}) {unit})"
        return f"CAST({moved} AS DATE)"
