"""Querying: what every tier, down to ``MinimalSession``, may do.

These members use only the stable ``/api/query`` endpoints, so they keep
working against servers whose wire protocol differs from this client's.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Generic, overload

from typing_extensions import TypeVar, deprecated

from tiercube._client import display
from tiercube._client.conditions import Condition
from tiercube._client.core import SessionCore
from tiercube._client.results import answered
from tiercube._client.scopes import Top
from tiercube._client.timeouts import HEALTH_TIMEOUT
from tiercube._client.levels import Level
from tiercube._client.measures import Measure
from tiercube._client.opening import open_relay
from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire.paths import path
from tiercube._client.views import ObjectMapping, ServerObject
from tiercube._wire import paths
from tiercube._wire.cubes import CubeQuery, MdxQuery
from tiercube._wire.explorer import EmbedSession, OpenEmbed
from tiercube._wire.tiers import CapabilityReport

if TYPE_CHECKING:
    import pyarrow as pa

    from tiercube._client.explorer_widget import ExplorerWidget


CubeT_co = TypeVar("CubeT_co", covariant=True)

# A cube's measure and level names as types (PEP 696 defaults, through typing-extensions): ``str``
# unless a typed data model (``tiercube model``) narrows them to its ``Literal`` names, so a bare
# ``QueryCube`` is the cube as it always was. Contravariant, as they are only taken: a session's
# ``QueryCube`` (names of any ``str``) is a ``QueryCube[SalesMeasure, SalesLevel]`` without a cast.
MeasureNameT = TypeVar("MeasureNameT", bound=str, default=str, contravariant=True)
LevelNameT = TypeVar("LevelNameT", bound=str, default=str, contravariant=True)


@public
class QueryCube(ServerObject, Generic[MeasureNameT, LevelNameT]):
    """A cube that can be queried by measure and level names.

    Generic in the names it takes: ``QueryCube`` takes any ``str``; the typed data model's
    ``QueryCube[SalesMeasure, SalesLevel]`` only the ``Literal`` names of its measures and levels.
    """

    _can: ClassVar[tuple[str, ...]] = ("query",)
    """What this class of cube can do, as its notebook display says it."""

    def _repr_html_(self) -> str:
        """For notebooks: what the cube can do (its structure is not this session's to read)."""
        return display.cube(type(self).__name__, self._can, self._connection, self._name, None)

    def __str__(self) -> str:
        """``print(cube)``: its name, and that this session queries it by names without reading its structure."""
        return f"{self!r}: this session may query it by measure and level names but not read its structure"

    @overload
    def query(
        self,
        *measures: MeasureNameT | Measure,
        levels: LevelNameT | Level | Sequence[LevelNameT | Level] = (),
        filter: Condition | None = None,
        include_totals: bool = False,
        max_rows: int | None = None,
        top: Top | None = None,
    ) -> pa.Table: ...
    @overload
    @deprecated("result_limit= is now max_rows=, the name table.query and the server's max_result_rows use")
    def query(
        self,
        *measures: MeasureNameT | Measure,
        levels: LevelNameT | Level | Sequence[LevelNameT | Level] = (),
        filter: Condition | None = None,
        include_totals: bool = False,
        top: Top | None = None,
        result_limit: int | None,
    ) -> pa.Table: ...
    def query(
        self,
        *measures: MeasureNameT | Measure,
        levels: LevelNameT | Level | Sequence[LevelNameT | Level] = (),
        filter: Condition | None = None,
        include_totals: bool = False,
        max_rows: int | None = None,
        top: Top | None = None,
        result_limit: int | None = None,
    ) -> pa.Table:
        """Aggregate ``measures`` by ``levels``: one column per level, then one per measure.

        Measures and levels are given by name or as the objects the cube hands out
        (``cube.measures["qty.SUM"]``, ``cube.levels["region"]``).

        ``filter`` restricts level members (``cube.levels["Region"] == "EU"``, or
        ``tiercube.level("Region") == "EU"`` without the cube's structure).
        ``include_totals`` adds subtotal rows, with null in rolled-up levels.
        ``max_rows`` lowers the server's limit on result rows for this query (as in
        ``table.query``); a larger result raises ``ResultTooLargeError`` (it is never cut
        short). ``result_limit`` is its old name, deprecated.
        ``top=tiercube.Top(3, "revenue", per="region")`` keeps the 3 best rows per
        region; totals stay computed over every row.
        """
        if result_limit is not None:
            if max_rows is not None:
                raise TypeError("give max_rows= only: result_limit= is its old name")
            warnings.warn("cube.query(result_limit=) is now max_rows=, as in table.query", DeprecationWarning, stacklevel=2)
            max_rows = result_limit
        body = CubeQuery(
            measures=[name_of(m, "a measure") for m in measures],
            levels=[name_of(level, "a level") for level in ([levels] if isinstance(levels, str | Level) else levels)],
            filter=wire_form(filter) if filter is not None else None,
            include_totals=include_totals,
            max_rows=max_rows,
            top=wire_form(top) if top is not None else None,
        )
        return answered(self._connection.arrow("POST", path(paths.QUERY_CUBE, cube=self._name), body), f"cube {self._name}")

    def explore(self, *, height: int = 600) -> ExplorerWidget:
        """This cube in the server's explorer, as a notebook widget (JupyterLab, Jupyter, VS Code).

        Needs ``pip install "tiercube[notebook]"`` (anywidget). The browser
        never talks to the server: the widget's page sends its requests
        through the kernel, so it works with a kernel on another machine
        (JupyterHub, SSH, Codespaces) as well. It is signed in through a
        session of its own that may only read and query this cube, and no more
        than this session's caller may (never the owner's powers: it cannot
        load files, edit or declare endpoints). The kernel holds that
        session's token (never the browser or the saved notebook) and opens a
        new one when it ends, while this session is open.
        """
        try:
            from tiercube._client.explorer_widget import ExplorerWidget
        except ImportError as error:
            raise ImportError(f'cube.explore() needs anywidget: pip install "tiercube[notebook]" ({error})') from None

        def open_session() -> EmbedSession:
            return self._connection.json("POST", paths.EXPLORER_SESSIONS, EmbedSession, OpenEmbed(self._name))

        relay = open_relay(self._connection, open_session)
        return ExplorerWidget(relay, url=self._connection.url, cube=self._name, height=height)


def name_of(item: object, what: str) -> str:
    """Tables, measures and levels may be given by name or as the objects a session hands out."""
    name = item if isinstance(item, str) else getattr(item, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"expected {what}: its name (a str) or the object itself, not {item!r}")
    return name


@public
class Cubes(ObjectMapping[CubeT_co]):
    """The session's cubes by name: a live view of the server.

    ``cubes[name]`` makes a handle without asking the server; its first use
    raises ``NotFoundError`` if there is no such cube (see ``views``).
    """

    def _names(self) -> list[str]:
        return self._connection.json("GET", paths.QUERY_CUBES, list[str])


class Querying(SessionCore):
    """Members every session has."""

    @property
    def url(self) -> str:
        """The base URL of the server."""
        return self._connection.url

    @property
    def link(self) -> str:
        """The server's explorer, for a browser: sign in with a user of the server, then pivot, chart and export."""
        return self._connection.url + "/"

    @property
    def capabilities(self) -> CapabilityReport:
        """Conditions a to f as ``connect()`` found them, and the resulting tier."""
        return self._report

    def health(self, timeout: float = HEALTH_TIMEOUT) -> float:
        """Whether the server answers now: the seconds it took to answer a request that does no work.

        Raises ``ServerTimeoutError`` when the server accepts the connection but
        does not answer within ``timeout`` seconds (stopped with SIGSTOP, frozen,
        or swamped), and ``ServerUnavailableError`` when nothing listens any more.
        The owner's session also looks at the server's process first: one that
        has exited or is stopped is said to be so at once.
        """
        started = time.perf_counter()
        # Without credentials: checking a password would cost more than the answer.
        self._connection.request("GET", paths.VERSIONS, timeout=timeout, anonymous=True)
        return time.perf_counter() - started

    def query_mdx(self, mdx: str, /) -> pa.Table:
        """Run an MDX ``SELECT``; the answer has the shape of ``cube.query``.

        tiercube answers the subset BI tools send for a pivot table (``SELECT ... ON COLUMNS,
        ... ON ROWS FROM [cube] WHERE ...`` over ``[Measures].[m]``, ``[H].[L].Members``,
        ``[H].[L].[member]``, sets, tuples and ``CrossJoin``), as the README's "Querying with
        MDX" section lists it; anything else raises ``QueryError`` naming the construct.
        """
        return answered(self._connection.arrow("POST", paths.QUERY_MDX, MdxQuery(mdx)), "mdx")


class MinimalCubes(SessionCore):
    """The cubes of a session that may only query them (``MinimalSession``)."""

    @property
    def cubes(self) -> Cubes[QueryCube]:
        """The cubes by name; each can only be queried."""
        return _QueryCubes(self._connection, QueryCube)


class _QueryCubes(Cubes[QueryCube]):
    """``Cubes[QueryCube]`` as a class of its own, so that jedi completes its items (see ``views.ObjectMapping``)."""
