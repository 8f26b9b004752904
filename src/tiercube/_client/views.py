"""Mappings that ask the server on every access, so what they show is never stale."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tiercube._client.connection import Connection

V_co = TypeVar("V_co", covariant=True)


class LiveMapping(Mapping[str, V_co]):
    """Names come from ``_names()``; subclasses say how to fetch one item."""

    @abstractmethod
    def _names(self) -> list[str]: ...

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {', '.join(self._names()) or '(none)'}>"


class SnapshotMapping(LiveMapping[V_co]):
    """A live mapping whose items all come in one answer: each access takes a fresh snapshot."""

    @abstractmethod
    def _all(self) -> Mapping[str, V_co]: ...

    def _names(self) -> list[str]:
        return list(self._all())

    def __getitem__(self, name: str) -> V_co:
        return self._all()[name]


class ObjectMapping(LiveMapping[V_co]):
    """A live mapping of server objects (tables, cubes) that ``make`` turns into client objects."""

    def __init__(self, connection: Connection, make: Callable[[Connection, str], V_co]) -> None:
        self._connection = connection
        self._make = make


class ServerObject:
    """A table or cube on the server, known by name; what it can do is its subclass's business."""

    def __init__(self, connection: Connection, name: str) -> None:
        self._connection = connection
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r}>"
