"""The mappings a session hands out, and how many requests each access costs.

One user action, one request:

- ``session.tables`` and ``session.cubes`` ask the server for the names on
  every ``in``, ``len`` or iteration, so they are never stale; but
  ``tables[name]`` asks nothing: it returns a handle, and the first request
  made through it (a query, a load) is the one that finds out whether the
  table exists, raising ``NotFoundError`` (a ``KeyError``) if it does not.
  ``session.cubes["sales"].query(...)`` is one request.
- A cube object reads its structure (hierarchies, levels, measures) once, when
  first asked, or gets it with the answer that created the cube, and answers
  ``cube.measures``, ``cube.hierarchies`` and ``cube.levels`` from it;
  assignments and deletions go to the server and update it. So
  ``m["margin"] = m["price.SUM"] - m["cost.SUM"]`` is one request, and
  ``cube.levels["region"] == "EU"`` none once the cube is known.
  ``session.cubes[name]`` hands out a fresh object, which sees what other
  clients changed since.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import TypeVar, overload

from tiercube._client.channel import Connection
from tiercube._client.public_names import PublicNames
from tiercube.errors import NotFoundError


T = TypeVar("T")
V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)


class SnapshotMapping(PublicNames, Mapping[str, V]):
    """Items answered from a snapshot the owner object holds (a cube's structure): no request per access."""

    _kind = "item"

    @abstractmethod
    def _all(self) -> dict[str, V]: ...

    @property
    def _within(self) -> str | None:
        return None

    def __getitem__(self, name: str) -> V:
        items = self._all()
        try:
            return items[name]
        except KeyError:
            raise NotFoundError.of(self._kind, name, items, within=self._within) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def keys(self) -> KeysView[str]:
        """The names, as the server lists them now."""
        return self._all().keys()

    def values(self) -> ValuesView[V]:
        """The items, as the server lists them now."""
        return self._all().values()

    def items(self) -> ItemsView[str, V]:
        """The names and items, as the server lists them now."""
        return self._all().items()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {_listing(lambda: list(self._all()))}>"


class ObjectMapping(PublicNames, Mapping[str, V_co]):
    """Server objects (tables, cubes) by name: names asked for each time, handles made without asking.

    Sessions hand out instances of small private subclasses (``_ReadOnlyTables`` is
    ``Tables[ReadOnlyTable]``): jedi, which IPython's completer and VS Code's notebooks use,
    finds the items' type of a live mapping only through a base class written with it, so
    ``session.tables["sales"].`` completed nothing on an instance of the generic class.
    """

    def __init__(self, connection: Connection, make: Callable[[Connection, str], V_co]) -> None:
        self._connection = connection
        self._make = make

    @abstractmethod
    def _names(self) -> list[str]: ...

    def __getitem__(self, name: str) -> V_co:
        return self._make(self._connection, _name(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    # The overloads of typeshed's Mapping.get, covariant default included.
    @overload
    def get(self, name: object, /) -> V_co | None: ...
    @overload
    def get(self, name: object, default: V_co, /) -> V_co: ...  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues]  # pyrefly: ignore[invalid-variance]
    @overload
    def get(self, name: object, default: T, /) -> V_co | T: ...
    def get(self, name: object, default: object = None, /) -> object:
        """The object if the server has one by that name (one request), else ``default``."""
        return self[_name(name)] if name in self else default

    def __repr__(self) -> str:
        closed = self._connection.closed
        shown = next(c.__name__ for c in type(self).__mro__ if not c.__name__.startswith("_"))  # the public class
        return f"<{shown}: {'(closed)' if closed else _listing(self._names)}>"


def _listing(names: Callable[[], list[str]]) -> str:
    """The names, or why there are none to show: a repr must not raise (debuggers and tracebacks call it)."""
    try:
        return ", ".join(names()) or "(none)"
    except Exception as error:
        return f"(unavailable: {type(error).__name__}: {error})"


def _name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"tables and cubes are looked up by name (a str), not by {type(name).__name__}")
    return name


class ServerObject(PublicNames):
    """A table or cube on the server, known by name; what it can do is its subclass's business."""

    def __init__(self, connection: Connection, name: str) -> None:
        self._connection = connection
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        state = " (closed)" if self._connection.closed else ""
        return f"<{type(self).__name__} {self._name!r}{state}>"
