"""Maintained aggregates through a real server: kept, reported, fresh after every change, within budget."""

from __future__ import annotations

import pyarrow as pa

import tiercube
from tiercube._wire.messages import AggregateStats

SALES = pa.table({
    "id": pa.array(range(12), pa.int64()),
    "region": ["EU", "US", "ASIA"] * 4,
    "product": ["p1", "p2"] * 6,
    "qty": pa.array(range(12), pa.int64()),
})


def aggregates(session: tiercube.Session) -> AggregateStats:
    """The owner's view of the maintained aggregates (shown to callers that manage security)."""
    stats = session.stats().aggregates
    assert stats is not None
    return stats


def by_region(cube: tiercube.EditableCube) -> dict[str, int]:
    answer = cube.query("qty.SUM", levels=["region"]).to_pylist()
    return {str(row["region"]): int(row["qty.SUM"]) for row in answer}


def test_repeated_queries_are_served_and_see_every_change_at_once() -> None:
    with tiercube.Session.start() as owner:
        sales = owner.read_arrow(SALES, table_name="sales", keys=["id"])
        cube = owner.create_cube(sales)
        assert by_region(cube) == {"ASIA": 26, "EU": 18, "US": 22}
        cube.query("qty.SUM", levels=["region", "product"])  # a finer grouping, kept
        assert by_region(cube) == {"ASIA": 26, "EU": 18, "US": 22}
        stats, kept = aggregates(owner), owner.stats().kept_answers
        assert stats.entries >= 1 and stats.bytes <= stats.budget
        assert kept is not None and stats.hits + kept >= 1
        # Read your writes: an append, an upsert and a drop show in the very next answer.
        sales.append((100, "EU", "p1", 1000))
        assert by_region(cube)["EU"] == 1018
        sales.append((100, "EU", "p1", 1))  # replaces the row of id 100
        assert by_region(cube)["EU"] == 19
        sales.drop(sales["region"] == "US")
        assert by_region(cube) == {"ASIA": 26, "EU": 19}
        assert aggregates(owner).maintained >= 3


def test_a_budget_of_zero_keeps_nothing() -> None:
    with tiercube.Session.start(tiercube.SessionConfig(aggregate_memory_bytes=0)) as owner:
        cube = owner.create_cube(owner.read_arrow(SALES, table_name="sales"))
        assert by_region(cube) == by_region(cube) == {"ASIA": 26, "EU": 18, "US": 22}
        stats = aggregates(owner)
        assert (stats.entries, stats.budget, owner.stats().kept_answers) == (0, 0, 0)
