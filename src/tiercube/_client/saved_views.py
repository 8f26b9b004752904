"""``session.views``: the explorer's views saved on the server, per user, read and written from Python.

A saved view is what the explorer's address holds (cube, rows, columns,
measures, filters, totals, top n, expanded members, sort, chart) under a name. Its
owner sees it, and so does every user holding a role it is shared with; only its
owner replaces, shares or deletes it. Each access is one request: ``views[name]``,
``len``, ``in`` and iteration list the views the caller may see (its own by name,
then those shared with it as ``"owner/name"``); ``save``, ``share`` and ``del``
each write once. The tiers that read the model have ``views``; a saved view
belongs to a user, so on a server without security (where nobody signs in) the
server keeps none and refuses to save one (``PermissionDeniedError``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias, TypeVar

import msgspec
from urllib.parse import urlencode, parse_qsl

from tiercube._client.channel import Connection
from tiercube._client.conditions import Condition
from tiercube._client.core import SessionCore
from tiercube._client.measures import level
from tiercube._client.query import QueryCube
from tiercube._client.scopes import Top
from tiercube._client.views import SnapshotMapping
from tiercube._public import public
from tiercube._wire import explorer, paths
from tiercube._wire.paths import path
from tiercube.errors import PermissionDeniedError

if TYPE_CHECKING:
    import pyarrow as pa

Chart: TypeAlias = Literal["grid", "bar", "line", "heat map"]
"""How the explorer draws a view: its grid (a tree of rows), or a chart of its cells."""

Member: TypeAlias = str | int | float | bool | None
"""A member as a view names it: dates and timestamps as ISO text, as the explorer's filters hold them."""

# The explorer's names of its drawings (Perspective's plugins), by ours.
T = TypeVar("T")

_PLUGINS: dict[Chart, str] = {"grid": "Datagrid", "bar": "Y Bar", "line": "Y Line", "heat map": "Heatmap"}
_CHARTS: dict[str, Chart] = {plugin: chart for chart, plugin in _PLUGINS.items()}


@public
class ViewDefinition:
    """What a view shows: a cube's ``measures`` by ``rows`` and ``columns`` levels, filtered, drawn as ``chart``.

    ``members`` keeps each level's listed members (``{"region": ["EU"]}``);
    ``ranges`` each level's inclusive ``(from, to)`` range, either end ``None``
    for open (``{"day": ("2024-01-01", None)}``). ``totals`` adds the server's
    subtotals; ``expanded`` names the row members the grid shows with their
    children (each a path from the top row level down); ``sort`` the grid's
    column its siblings are ordered by (``"-qty.SUM"``: descending); ``top``
    keeps the best rows by a measure (``tiercube.Top``), as ``cube.query(top=)`` does.
    """

    __slots__ = ("cube", "measures", "rows", "columns", "members", "ranges", "totals", "chart", "expanded", "sort", "top")

    def __init__(
        self,
        cube: str,
        measures: Sequence[str],
        *,
        rows: Sequence[str] = (),
        columns: Sequence[str] = (),
        members: Mapping[str, Sequence[Member]] | None = None,
        ranges: Mapping[str, tuple[str | None, str | None]] | None = None,
        totals: bool = False,
        chart: Chart = "grid",
        expanded: Sequence[Sequence[Member]] = (),
        sort: str | None = None,
        top: Top | None = None,
    ) -> None:
        self.cube: str = cube
        self.measures: tuple[str, ...] = tuple(measures)
        self.rows: tuple[str, ...] = tuple(rows)
        self.columns: tuple[str, ...] = tuple(columns)
        self.members: dict[str, tuple[Member, ...]] = {name: tuple(listed) for name, listed in (members or {}).items()}
        self.ranges: dict[str, tuple[str | None, str | None]] = dict(ranges or {})
        self.totals: bool = totals
        self.chart: Chart = chart
        self.expanded: tuple[tuple[Member, ...], ...] = tuple(tuple(path) for path in expanded)
        self.sort: str | None = sort
        self.top: Top | None = top

    @property
    def filter(self) -> Condition | None:
        """The view's filters as one condition, as ``cube.query(filter=...)`` takes it; None without any."""
        conditions = [level(name).isin(*listed) for name, listed in self.members.items()]
        for name, (start, end) in self.ranges.items():
            conditions += [*([level(name) >= start] if start is not None else []), *([level(name) <= end] if end is not None else [])]
        combined: Condition | None = None
        for condition in conditions:
            combined = condition if combined is None else combined & condition
        return combined

    @property
    def fragment(self) -> str:
        """The view as the explorer's address holds it (after ``#``)."""
        fields = {"cube": self.cube, "rows": ",".join(self.rows), "columns": ",".join(self.columns), "measures": ",".join(self.measures)}
        if self.chart != "grid":
            fields["plugin"] = _PLUGINS[self.chart]
        if self.totals:
            fields["totals"] = "1"
        filters: dict[str, dict[str, object]] = {name: {"members": list(listed)} for name, listed in self.members.items()}
        for name, (start, end) in self.ranges.items():
            filters.setdefault(name, {}).update({"from": start, "to": end})
        if filters:
            fields["filters"] = json.dumps(filters, separators=(",", ":"))
        if self.expanded:
            fields["expanded"] = json.dumps([list(path) for path in self.expanded], separators=(",", ":"))
        if self.sort is not None:
            fields["sort"] = self.sort
        if self.top is not None:
            fields["top"] = json.dumps({"n": self.top.n, "measure": self.top.measure, "per": self.top.per}, separators=(",", ":"))
        return urlencode(fields)

    @classmethod
    def of_fragment(cls, fragment: str) -> ViewDefinition:
        """The view an explorer address's fragment names (what the explorer saves)."""
        fields = dict(parse_qsl(fragment, keep_blank_values=True))
        # Any user may save any fragment and share it: a part not as the explorer writes it is left out.
        filters = _decoded(fields.get("filters"), dict[str, _Filter], {})
        members = {name: spec.members for name, spec in filters.items() if spec.members is not None}
        ranges = {name: (spec.start or None, spec.end or None) for name, spec in filters.items() if spec.start or spec.end}
        expanded = _decoded(fields.get("expanded"), list[list[Member]], [])
        return cls(
            fields.get("cube", ""), _names(fields.get("measures")), rows=_names(fields.get("rows")), columns=_names(fields.get("columns")),
            members=members, ranges=ranges, totals=fields.get("totals") == "1", chart=_CHARTS.get(fields.get("plugin", "Datagrid"), "grid"),
            expanded=expanded, sort=fields.get("sort") or None, top=_top(fields.get("top")),
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ViewDefinition) and self.fragment == other.fragment

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # pyright: ignore[reportIncompatibleMethodOverride]  # equal by content, and mutable

    def __repr__(self) -> str:
        shape = " by ".join(filter(None, [", ".join(self.measures), " x ".join(filter(None, [", ".join(self.rows), ", ".join(self.columns)]))]))
        extras = [*(f"{name} in {list(listed)}" for name, listed in self.members.items()), *(f"{name} in [{a}, {b}]" for name, (a, b) in self.ranges.items())]
        more = f", where {' and '.join(extras)}" if extras else ""
        best = f", {self.top!r}" if self.top is not None else ""
        return f"<ViewDefinition {self.cube}: {shape or '(nothing)'}{more}{', with totals' if self.totals else ''}{best} ({self.chart})>"


def _names(text: str | None) -> list[str]:
    return [name for name in (text or "").split(",") if name]


def _decoded(text: str | None, kind: type[T], empty: T) -> T:
    """``text`` as JSON of ``kind``; ``empty`` when it is missing or not of that shape."""
    try:
        return msgspec.json.decode(text, type=kind) if text else empty
    except msgspec.MsgspecError:
        return empty


def _top(text: str | None) -> Top | None:
    """The fragment's top n; None when it names none, or not as the explorer writes it."""
    try:
        top = msgspec.json.decode(text, type=_Top) if text else None
    except msgspec.MsgspecError:
        return None
    return Top(top.n, top.measure, top.per) if top is not None else None


class _Top(msgspec.Struct, frozen=True):
    """A view's top n in the explorer's fragment."""

    n: int
    measure: str
    per: str | None = None


class _Filter(msgspec.Struct, frozen=True):
    """A level's filter in the explorer's fragment: members listed, or a range (either end null)."""

    members: list[Member] | None = None
    start: str | None = msgspec.field(default=None, name="from")
    end: str | None = msgspec.field(default=None, name="to")


@public
class SavedView:
    """A view saved on the server: its ``name``, ``owner``, the roles it is ``shared_with``, and ``definition``."""

    __slots__ = ("_connection", "_user", "name", "owner", "shared_with", "definition")

    def __init__(self, connection: Connection, user: str | None, saved: explorer.SavedView) -> None:
        self._connection = connection
        self._user = user
        self.name: str = saved.name
        self.owner: str = saved.owner
        self.shared_with: tuple[str, ...] = tuple(saved.shared_with)
        self.definition: ViewDefinition = ViewDefinition.of_fragment(saved.fragment)

    @property
    def link(self) -> str:
        """The explorer's address of this view, for a browser (it signs in, then opens the view)."""
        return f"{self._connection.url}/#{self.definition.fragment}"

    def query(self) -> pa.Table:
        """Every cell of the view, as the server computes it for this session's caller (one request).

        Its measures by its row and then column levels, under its filters, with
        the server's subtotals (null in rolled-up levels) when the view shows totals:
        the cells the explorer draws as a chart, and those its grid shows with every
        member expanded. A restricted caller gets its own rows' numbers, as in the explorer.
        """
        definition = self.definition
        cube = QueryCube(self._connection, definition.cube)
        levels = [*definition.rows, *definition.columns]
        top = definition.top
        if top is not None and top.per is not None and top.per not in levels[:-1]:
            top = None  # per a level the cells do not hold, or per their last (one row each): the explorer ignores it too
        return cube.query(*definition.measures, levels=levels, filter=definition.filter, include_totals=definition.totals, top=top)

    def share(self, *roles: str) -> SavedView:
        """Share the view with ``roles`` too (one request); the view as saved now. Only its owner may."""
        if self._user != self.owner:
            raise PermissionDeniedError(
                f"the saved view {self.name!r} is {self.owner}'s: only its owner shares it; "
                f"save a copy of your own with session.views.save(name, view.definition, shared_with=[...])"
            )
        return _save(self._connection, self._user, self.name, self.definition, [*self.shared_with, *roles])

    def delete(self) -> None:
        """Delete the view (one request). Only its owner may: a view shared with you is not yours to delete."""
        self._connection.request("DELETE", path(paths.EXPLORER_VIEW, view=self.name))

    def __repr__(self) -> str:
        shared = f", shared with {', '.join(self.shared_with)}" if self.shared_with else ""
        return f"<SavedView {self.name!r} of {self.owner}{shared}: {self.definition!r}>"


def _save(connection: Connection, user: str | None, name: str, definition: ViewDefinition, shared_with: Iterable[str]) -> SavedView:
    body = explorer.SaveView(definition.fragment, sorted(set(shared_with)))
    return SavedView(connection, user, connection.json("PUT", path(paths.EXPLORER_VIEW, view=name), explorer.SavedView, body))


@public
class SavedViews(SnapshotMapping[SavedView]):
    """The views this session's user may open: its own by name, then those shared with it as ``"owner/name"``.

    Every access asks the server (one request), so the mapping is never stale.
    ``save`` keeps a view, ``del views[name]`` deletes one of your own.
    """

    _kind = "saved view"

    def __init__(self, connection: Connection, user: str | None) -> None:
        self._connection = connection
        self._user = user

    def _all(self) -> dict[str, SavedView]:
        listed = self._connection.json("GET", paths.EXPLORER_VIEWS, explorer.SavedViews).views
        views = [SavedView(self._connection, self._user, saved) for saved in listed]
        return {view.name if view.owner == self._user else f"{view.owner}/{view.name}": view for view in views}

    def save(self, name: str, definition: ViewDefinition, *, shared_with: Sequence[str] = ()) -> SavedView:
        """Keep ``definition`` under ``name`` for this session's user (replacing a view of that name), shared with ``shared_with``'s roles."""
        return _save(self._connection, self._user, name, definition, shared_with)

    def __delitem__(self, name: str) -> None:
        """Delete your own view ``name`` (one request)."""
        self._connection.request("DELETE", path(paths.EXPLORER_VIEW, view=name))


class KeepingViews(SessionCore):
    """``views``: what every tier that reads the model has."""

    @property
    def views(self) -> SavedViews:
        """The explorer's views saved on the server that this session's user may open, save and share (see ``SavedViews``)."""
        return SavedViews(self._connection, self._report.user)
