"""What a session, table, cube or measure shows in a notebook (``_repr_html_``).

Three rules, because a notebook calls these on its own whenever an object is
the last expression of a cell:

- Every value is escaped: names come from the server, and a table named
  ``<script>`` must show as text. Markup is built only by ``tag`` and
  ``grid`` here; any other ``str`` is text (see ``Html``).
- One HTTP request at most, and none when the object already knows what it
  shows (a cube's structure, a measure's expression).
- Never raise: a closed session or an unreachable server is shown as such.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import ParamSpec

from tiercube._client.channel import Connection
from tiercube._wire import paths
from tiercube._wire.column_types import describe_type
from tiercube._client.formats import format_value
from tiercube._wire.cubes import CubeInfo, MeasureExpr, NumberFormat
from tiercube._wire.describe import describe_expression
from tiercube._wire.messages import TableInfo
from tiercube._wire.paths import path
from tiercube._wire.tiers import GROUPS, CapabilityReport, Group


P = ParamSpec("P")

SHOWN = 100
"""Rows shown of a long list (tables, columns, levels, measures); the rest are counted."""


class Html(str):
    """Markup built in this module. Any other ``str`` given to ``tag`` or ``grid`` is text, and escaped."""

    __slots__ = ()


def text(value: object) -> Html:
    return Html(html.escape(str(value), quote=True))


def _piece(value: object) -> Html:
    return value if isinstance(value, Html) else text(value)


def tag(name: str, *children: object) -> Html:
    """``<name>children</name>``; ``name`` is always a literal of this module, never data."""
    return Html(f"<{name}>{''.join(map(_piece, children))}</{name}>")


def grid(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Html:
    """A table; past ``SHOWN`` rows, one row says how many more there are."""
    rows = list(rows)
    body = [tag("tr", *(tag("td", cell) for cell in row)) for row in rows[:SHOWN]]
    if len(rows) > SHOWN:
        body.append(tag("tr", tag("td", tag("em", f"... and {len(rows) - SHOWN} more"))))
    return tag("table", tag("thead", tag("tr", *(tag("th", name) for name in header))), tag("tbody", *body))


def _frame(kind: str, name: str | None, *parts: object) -> Html:
    """The box every object shows: what it is, its name, then the parts."""
    title = [tag("strong", kind), *([" ", tag("code", name)] if name is not None else [])]
    return Html('<div class="tiercube">' + tag("p", *title) + "".join(map(_piece, parts)) + "</div>")


def _line(label: str, *value: object) -> Html:
    return tag("p", tag("em", label + ": "), *value)


def _listed(names: Iterable[object]) -> Html:
    names = list(names)
    shown = [tag("code", name) for name in names[:SHOWN]]
    more = [f" ... and {len(names) - SHOWN} more"] if len(names) > SHOWN else []
    return Html(", ".join(shown) + "".join(map(_piece, more))) if names else tag("em", "none")


def never_raises(render: Callable[P, Html]) -> Callable[P, str]:
    """A display shows what went wrong rather than raising it into the notebook's output."""

    @wraps(render)
    def shown(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return render(*args, **kwargs)
        except Exception as error:  # whatever broke is what there is to show
            return _frame("tiercube", None, _line("cannot show this object", f"{type(error).__name__}: {error}"))

    return shown


def _asking(connection: Connection, ask: Callable[[], Html]) -> Html:
    """What ``ask`` shows (it makes the display's one request), or why it cannot be asked."""
    if connection.closed:
        return _line("state", tag("code", "<closed>"), ": this session's connection is closed")
    try:
        return ask()
    except Exception as error:  # an unreachable server is a state to show, not an error
        return _line("unavailable", f"{type(error).__name__}: {error}")


def _tables(connection: Connection) -> Html:
    infos = connection.json("GET", paths.TABLES, list[TableInfo])
    rows = [(info.name, f"{info.row_count:,}", ", ".join(_column(info, c.name) for c in info.columns)) for info in infos]
    return Html(_line("tables", f"{len(infos)}") + grid(("table", "rows", "columns (* marks a key)"), rows))


def _column(info: TableInfo, name: str) -> str:
    return f"{name}*" if name in info.keys else name


@never_raises
def session(kind: str, connection: Connection, report: CapabilityReport) -> Html:
    """A session: its class, server and user, the capability groups it has and why, and what it may read."""
    groups = next((groups for tier, groups in GROUPS.items() if tier == kind), frozenset[Group]())
    who = report.user if report.user is not None else "anonymous"
    conditions = tag("ul", *(tag("li", str(condition)) for condition in report.conditions))
    parts: list[object] = [
        _line("server", tag("code", connection.url), " as ", tag("code", who)),
        _line("can", _listed(group.value for group in Group if group in groups)),
        _line("cannot", _listed(group.value for group in Group if group not in groups)),
        tag("details", tag("summary", f"why {report.tier}: conditions a to f"), conditions),
    ]

    def cubes() -> Html:  # all a query-only session may list
        return _line("cubes", _listed(connection.json("GET", paths.QUERY_CUBES, list[str])))

    parts.append(_asking(connection, (lambda: _tables(connection)) if Group.READ_MODEL in groups else cubes))
    return _frame(kind, None, *parts)


@never_raises
def table(kind: str, can: Sequence[str], connection: Connection, name: str) -> Html:
    """A table: what it can do, its row count, and its columns with their types and keys."""

    def ask() -> Html:
        info = connection.json("GET", path(paths.TABLE, table=name), TableInfo)
        columns = grid(("column", "type", "key"), ((c.name, describe_type(c.data_type), "key" if c.name in info.keys else "") for c in info.columns))
        return Html(_line("rows", f"{info.row_count:,}") + columns)

    return _frame(kind, name, _line("can", _listed(can)), _asking(connection, ask))


@never_raises
def cube(kind: str, can: Sequence[str], connection: Connection, name: str, structure: Callable[[], CubeInfo] | None) -> Html:
    """A cube: what it can do, and its hierarchies and measures when this session may read them."""
    if structure is None:
        why = "this session may query the cube by level and measure names (tiercube.level(name) for filters) but not read its structure"
        return _frame(kind, name, _line("can", _listed(can)), _line("structure", why))

    def ask() -> Html:
        info = structure()
        levels = [(h.name, level.name, f"{level.table}.{level.column}", describe_type(level.data_type)) for h in info.hierarchies for level in h.levels]
        return Html(
            _line("fact table", tag("code", info.fact_table))
            + _line("hierarchies", f"{len(info.hierarchies)} (levels top down)")
            + grid(("hierarchy", "level", "column", "type"), levels)
            + _line("measures", f"{len(info.measures)}")
            + _measures(info)
        )

    return _frame(kind, name, _line("can", _listed(can)), _asking(connection, ask))


@never_raises
def measure(kind: str, name: str, definition: MeasureExpr, number_format: NumberFormat | None = None) -> Html:
    """A measure, its expression and its number format if it has one (known already: no request)."""
    parts = [_line("expression", tag("code", describe_expression(definition)))]
    if number_format is not None:
        example = format_value(number_format, 1234.5678 if number_format.style != "percent" else 0.1101)
        parts.append(_line("format", f"{number_format.style}, shown as ", tag("code", example)))
    return _frame(kind, name, *parts)


@never_raises
def measures(cube_name: str, connection: Connection, structure: Callable[[], CubeInfo]) -> Html:
    """A cube's measures and their expressions."""
    return _frame("Measures of", cube_name, _asking(connection, lambda: _measures(structure())))


def _measures(info: CubeInfo) -> Html:
    return grid(("measure", "expression"), ((m.name, describe_expression(m.expression)) for m in info.measures))
