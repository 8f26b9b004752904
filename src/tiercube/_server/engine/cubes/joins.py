"""Joins between tables: the star and snowflake schemas cubes are built on.

Joins are kept per source table. The graph stays a forest seen from any
table: no cycles, and no table reachable along two paths, so every column a
cube can see has exactly one way to reach the fact rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tiercube._server.engine.journal import Joined
from tiercube._server.engine.tables import TableStore
from tiercube._wire.cubes import Join, JoinInfo
from tiercube.errors import ConflictError, InvalidRequestError


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    # (source column, target column) pairs, in the order given.
    pairs: tuple[tuple[str, str], ...]

    @property
    def info(self) -> JoinInfo:
        return JoinInfo(self.source, self.target, dict(self.pairs))


@dataclass(frozen=True)
class Reached:
    """A table reachable from a fact table, and the edge that reaches it (None for the fact)."""

    table: str
    via: Edge | None


class JoinGraph:
    """Every join of a session, by source table."""

    def __init__(self) -> None:
        self._edges: dict[str, list[Edge]] = {}
        self._lock = threading.RLock()

    def join(self, tables: TableStore, source: str, request: Join) -> JoinInfo:
        """Join ``request.target`` to ``source``; types of mapped columns must be equal."""
        source_table = tables.get(source)
        target_table = tables.get(request.target)
        mapping = dict(request.mapping)
        if not mapping:
            if not target_table.keys:
                raise InvalidRequestError(
                    f"table {request.target!r} has no key columns, so the join needs a mapping "
                    f"(columns of {source!r} -> columns of {request.target!r})"
                )
            mapping = {key: key for key in target_table.keys}
        for source_column, target_column in mapping.items():
            source_type = source_table.columns.get(source_column)
            target_type = target_table.columns.get(target_column)
            if source_type is None:
                raise InvalidRequestError(
                    f"the join maps {source_column!r}, which is not a column of {source!r} "
                    f"(columns: {', '.join(source_table.columns)})"
                )
            if target_type is None:
                raise InvalidRequestError(
                    f"the join maps to {target_column!r}, which is not a column of {request.target!r} "
                    f"(columns: {', '.join(target_table.columns)})"
                )
            if source_type != target_type:
                raise InvalidRequestError(
                    f"cannot join {source}.{source_column} ({source_type}) to "
                    f"{request.target}.{target_column} ({target_type}): the types differ"
                )
        edge = Edge(source, request.target, tuple(mapping.items()))
        with self._lock:
            self._check_shape(edge)
            with tables.journal.committing(Joined(edge.source, edge.target, list(edge.pairs))):
                self._edges.setdefault(source, []).append(edge)
        return edge.info

    def edges(self) -> list[Edge]:
        """Every join, in the order they were made (per source table)."""
        return [edge for edges in self._edges.values() for edge in edges]

    def replay(self, record: Joined) -> None:
        """Make the join ``record`` describes again, unchecked (it was checked when it was made)."""
        self._edges.setdefault(record.source, []).append(Edge(record.source, record.target, tuple(record.pairs)))

    def _check_shape(self, edge: Edge) -> None:
        if edge.target == edge.source or edge.source in self._reachable_names(edge.target):
            raise InvalidRequestError(
                f"joining {edge.target!r} to {edge.source!r} would make a cycle; "
                "join a copy of the table instead"
            )
        below = self._reachable_names(edge.target)
        for table in self._tables_reaching(edge.source) | {edge.source}:
            twice = below & self._reachable_names(table)
            if twice:
                raise ConflictError(
                    f"joining {edge.target!r} to {edge.source!r} would let {table!r} reach "
                    f"{', '.join(sorted(twice))} along two paths; join a copy of the table instead"
                )

    def _reachable_names(self, table: str) -> set[str]:
        return {r.table for r in self.reachable(table)}

    def _tables_reaching(self, table: str) -> set[str]:
        return {source for source in self._edges if table in self._reachable_names(source)}

    def edges_from(self, source: str) -> list[Edge]:
        return list(self._edges.get(source, []))

    def reachable(self, fact: str) -> list[Reached]:
        """``fact`` then every table joined to it, directly or not, parents before children."""
        found = [Reached(fact, None)]
        for reached in found:  # grows while iterating: a breadth-first walk
            found.extend(Reached(edge.target, edge) for edge in self._edges.get(reached.table, []))
        return found

    def edges_to(self, table: str) -> list[Edge]:
        return [edge for edges in self._edges.values() for edge in edges if edge.target == table]

    def forget(self, table: str) -> None:
        """Drop every join from or to ``table`` (it was deleted)."""
        with self._lock:
            self._edges.pop(table, None)
            for source, edges in list(self._edges.items()):
                self._edges[source] = [edge for edge in edges if edge.target != table]
