"""Maintained aggregates through a real server: kept, reported, fresh after every change, within budget."""

from __future__ import annotations

import pyarrow as pa

import tiercube

SALES = pa.table({
    "id": pa.array(range(12), pa.int64()),
    "region": ["EU", "US", "ASIA"] * 4,
    "product": ["p1", "p2"] * 6,
    "qty": pa.array(range(12), pa.int64()),
})


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
        stats = owner.stats()
        assert stats.aggregates.entries >= 1 and stats.aggregates.bytes <= stats.aggregates.budget
        assert stats.aggregates.hits + stats.kept_answers >= 1
        # Read your writes: an append, an upsert and a drop show in the very next answer.
        sales.append((100, "EU", "p1", 1000))
        assert by_region(cube)["EU"] == 1018
        sales.append((100, "EU", "p1", 1))  # replaces the row of id 100
        assert by_region(cube)["EU"] == 19
        sales.drop(sales["region"] == "US")
        assert by_region(cube) == {"ASIA": 26, "EU": 19}
        assert owner.stats().aggregates.maintained >= 3


def test_a_budget_of_zero_keeps_nothing() -> None:
    with tiercube.Session.start(tiercube.SessionConfig(aggregate_memory_bytes=0)) as owner:
        cube = owner.create_cube(owner.read_arrow(SALES, table_name="sales"))
        assert by_region(cube) == by_region(cube) == {"ASIA": 26, "EU": 18, "US": 22}
        stats = owner.stats()
        assert (stats.aggregates.entries, stats.aggregates.budget, stats.kept_answers) == (0, 0, 0)
