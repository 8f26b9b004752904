"""What a measure costs a query, bounded when the measure is set: an admin's graph must not stall readers.

A query evaluates each measure it reaches once per set of levels and filter
context (``query.Evaluator`` and ``query.Collector`` memoize), so a chain
``m_k = m_(k-1) + m_(k-1)`` costs k evaluations, not 2^k. What memoizing
cannot shrink is refused when a measure is set, with the measure named:

- operations nested deeper than ``MAX_MEASURE_DEPTH`` through references
  (each level is a frame of the evaluator's recursion), the longest chain counted;
- more than ``MAX_MEASURE_CONTEXTS`` filter contexts: ``Filtered`` under a
  reference evaluates what it refers to under one more context, each an
  aggregation of the fact rows of its own, so ``m_k = m_(k-1)[c_k] + m_(k-1)``
  needs 2^k of them even memoized;
- more than ``MAX_MEASURE_NODES`` expressions to evaluate, counted as the
  evaluator counts them.

Setting a measure also checks every measure that refers to it, whose cost it
changes.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from tiercube._server.engine.cubes.model import children, references
from tiercube._wire.cubes import Filtered, MeasureCondition, MeasureExpr, MeasureRef, ParentValue
from tiercube.errors import InvalidRequestError

MAX_MEASURE_DEPTH = 100
"""Nested operations, through references: the deepest recursion evaluating a measure takes."""

MAX_MEASURE_CONTEXTS = 64
"""Different sets of ``Filtered`` conditions one measure is computed under, each an aggregation of its own."""

MAX_MEASURE_NODES = 20_000
"""Expressions one measure makes a query evaluate (per set of levels), memoized as the evaluator does."""


def check_costs(measures: Mapping[str, MeasureExpr], changed: str) -> None:
    """``InvalidRequestError`` if ``changed`` or a measure that refers to it costs more than the bounds."""
    depths: dict[str, int] = {}
    for name in _dependents(measures, changed):
        deepest = _depth(measures, measures[name], depths)
        if deepest > MAX_MEASURE_DEPTH:
            raise InvalidRequestError(
                f"measure {name!r} nests {deepest} operations deep through the measures it uses, over the limit of "
                f"{MAX_MEASURE_DEPTH}; build it from shorter chains, or sum measures side by side"
            )
        _Walk(measures, name).visit(measures[name], frozenset(), frozenset())


def _depth(measures: Mapping[str, MeasureExpr], node: MeasureExpr | MeasureCondition, depths: dict[str, int]) -> int:
    """The longest chain of operations under ``node``, through references (each measure's memoized in ``depths``).

    Measures have no cycles when this runs (validation refuses them first); recursion
    is at most ``MAX_MEASURE_DEPTH`` deep below a measure already checked, since each
    was checked when it was set.
    """
    if isinstance(node, MeasureRef):
        if node.name not in measures:
            return 1
        if node.name not in depths:
            depths[node.name] = 1 + _depth(measures, measures[node.name], depths)
        return depths[node.name]
    return 1 + max((_depth(measures, child, depths) for child in children(node)), default=0)


def _dependents(measures: Mapping[str, MeasureExpr], changed: str) -> list[str]:
    """``changed`` and every measure that refers to it, directly or not."""
    referring: dict[str, list[str]] = {}
    for name, expression in measures.items():
        for other in references(expression).measures:
            referring.setdefault(other, []).append(name)
    found, pending = {changed: None}, [changed]
    while pending:
        for name in referring.get(pending.pop(), []):
            if name not in found:
                found[name] = None
                pending.append(name)
    return list(found)


class _Walk:
    """The expressions a query evaluates for measure ``root``, counted until a bound is passed."""

    def __init__(self, measures: Mapping[str, MeasureExpr], root: str) -> None:
        self._measures = measures
        self._root = root
        self._nodes = 0
        # (measure, filter context, parents taken): what the evaluator memoizes on, levels
        # approximated by the ParentValue levels taken on the way.
        self._seen: set[tuple[str, frozenset[bytes], frozenset[str]]] = set()
        self._contexts: set[frozenset[bytes]] = set()

    def visit(self, node: MeasureExpr | MeasureCondition, context: frozenset[bytes], parents: frozenset[str]) -> None:
        self._nodes += 1
        if self._nodes > MAX_MEASURE_NODES:
            raise InvalidRequestError(
                f"measure {self._root!r} would make a query evaluate more than {MAX_MEASURE_NODES:,} expressions "
                "(the server's limit); refer to fewer measures, or to measures that are simpler"
            )
        match node:
            case MeasureRef(name):
                key = (name, context, parents)
                if key not in self._seen and name in self._measures:
                    self._seen.add(key)
                    self.visit(self._measures[name], context, parents)
            case Filtered(inner, condition):
                inner_context = context | {msgspec.json.encode(condition)}
                self._contexts.add(inner_context)
                if len(self._contexts) > MAX_MEASURE_CONTEXTS:
                    raise InvalidRequestError(
                        f"measure {self._root!r} would be computed under more than {MAX_MEASURE_CONTEXTS} different "
                        "combinations of filters (the server's limit), each an aggregation of its own: measures it refers "
                        "to are filtered again and again; refer to fewer of them, or combine the conditions in one measure"
                    )
                self.visit(inner, inner_context, parents)
            case ParentValue(inner, level):
                self.visit(inner, context, parents | {level})
            case _:
                for child in children(node):
                    self.visit(child, context, parents)
