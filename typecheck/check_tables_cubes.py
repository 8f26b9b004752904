"""The objects a session hands out are tiered too: tables, cubes and their mappings.

``read_only.tables["t"].append`` is an error; ``remote.tables["t"].load`` takes
a cloud location but not a local path, an Arrow table or a frame;
``minimal.cubes["c"]`` can query but has no structure. The tests at the bottom
run the same functions against real sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, assert_type

import pandas as pd
import pyarrow as pa

import tiercube
from tests.tiers import SALES_ROWS, SALES_TYPES, Sources, Tiers, make_sales
from tiercube import (
    CloudTable,
    Column,
    ColumnType,
    CsvLoad,
    EditableCube,
    Hierarchy,
    Level,
    LocalTable,
    Measure,
    ParquetLoad,
    QueryCube,
    ReadOnlyCube,
    ReadOnlyTable,
    S3Location,
    TableSchema,
)

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING


def total_rows(tables: Mapping[str, ReadOnlyTable]) -> int:
    """Any tier's ``tables`` is a mapping of (at least) read-only tables."""
    return sum(table.row_count for table in tables.values())


def read_only_table(session: tiercube.ReadOnlySession) -> None:
    tables = session.tables
    table = tables["sales"]
    assert_type(table, ReadOnlyTable)
    assert_type(table.name, str)
    assert_type(table.schema, TableSchema)
    assert_type(table.columns, list[str])
    assert_type(table.data_types, dict[str, ColumnType])
    assert_type(table.keys, tuple[str, ...])
    assert_type(table.row_count, int)
    assert_type(table.partitions, list[tiercube.Partition] | None)
    assert_type(table["region"], Column)
    assert_type(table.query("id", filter=table["region"] == "EU", max_rows=10), pa.Table)
    assert_type(tables.schema, dict[str, TableSchema])
    assert "sales" in tables and total_rows(tables) >= len(SALES_ROWS)
    if TYPE_CHECKING_INVALID_USAGE:
        table.append((5, "EU", 1, 1.0))  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        table.drop(table["region"] == "EU")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        table.join(table)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        table.load(CsvLoad(S3Location("s3://b/k")))  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        del session.tables["sales"]  # type: ignore[attr-defined]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[not-subscriptable]


def read_only_cube(session: tiercube.ReadOnlySession) -> None:
    cube = session.cubes["sales"]
    assert_type(cube, ReadOnlyCube)
    assert_type(cube.fact_table, str)
    assert_type(cube.measures["qty.SUM"], Measure)
    assert_type(cube.hierarchies["region"], Hierarchy)
    assert_type(cube.levels["region"], Level)
    assert_type(cube.query("qty.SUM", levels=[cube.levels["region"].name]), pa.Table)
    # The objects the cube hands out are taken wherever their names are.
    by_objects = cube.query(cube.measures["qty.SUM"], levels=[cube.levels["region"]])
    assert by_objects.equals(cube.query("qty.SUM", levels=["region"]))
    assert cube.query(cube.measures["qty.SUM"], levels=cube.levels["region"]).equals(by_objects)
    stats = session.stats()
    assert_type(stats, tiercube.ServerStats)
    assert_type(stats.aggregates, tiercube.AggregateStats | None)  # None unless the caller manages security
    assert_type(stats.cluster, tiercube.ClusterStats | None)
    assert cube.fact_table == "sales" and cube.hierarchies["region"].levels[0].name == "region"
    if TYPE_CHECKING_INVALID_USAGE:
        cube.measures["double"] = cube.measures["qty.SUM"] * 2  # type: ignore[index]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[invalid-assignment]
        del cube.measures["qty.SUM"]  # type: ignore[attr-defined]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[not-subscriptable]
        cube.hierarchies["h"] = ["region"]  # type: ignore[index]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[invalid-assignment]
        del cube.hierarchies["region"]  # type: ignore[attr-defined]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[not-subscriptable]
        del session.cubes["sales"]  # type: ignore[attr-defined]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[not-subscriptable]
        # A hierarchy is not a level, nor a table column a measure.
        cube.query("qty.SUM", levels=[cube.hierarchies["region"]])  # type: ignore[list-item]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
        cube.query(session.tables["sales"]["qty"])  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def query_cube(session: tiercube.MinimalSession) -> None:
    cube = session.cubes["sales"]
    assert_type(cube, QueryCube)
    assert_type(cube.name, str)
    assert_type(cube.query("qty.SUM", levels=["region"], include_totals=True), pa.Table)
    assert list(session.cubes) == ["sales"] or "sales" in session.cubes
    if TYPE_CHECKING_INVALID_USAGE:
        cube.measures  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        cube.hierarchies  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        cube.levels  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        cube.fact_table  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        del session.cubes["sales"]  # type: ignore[attr-defined]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[not-subscriptable]


def editable_cube(session: tiercube.capabilities.SupportsEditing, name: str) -> None:
    table = make_sales(session, name)
    cube = session.cubes[name]
    assert_type(cube, EditableCube)
    cube.measures["double"] = cube.measures["qty.SUM"] * 2
    assert cube.query("double").column("double").to_pylist() == [26]
    del cube.measures["double"]
    assert "id" in cube.hierarchies and "id.SUM" not in cube.measures  # a key is a level, not a quantity
    cube.hierarchies["by id"] = {"sale": "id"}
    assert "by id" in cube.hierarchies
    del cube.hierarchies["by id"]
    del session.cubes[name]
    del session.tables[table.name]


def cloud_table(session: tiercube.RemoteSession | tiercube.NoSecuritySession, sources: Sources, name: str) -> None:
    table = make_sales(session, name)
    assert_type(session.tables[name], CloudTable)
    assert_type(table.append((5, "EU", 1, 1.0)), int)
    assert_type(table.drop(table["id"] == 5), int)
    assert_type(table.load(CsvLoad(sources.cloud_csv)), int)
    assert_type(session.tables[name].load(ParquetLoad(sources.cloud_parquet)), int)
    assert table.row_count == len(SALES_ROWS)
    del session.cubes[name]
    del session.tables[name]
    assert name not in session.tables
    if TYPE_CHECKING_INVALID_USAGE:
        # Local paths, Arrow tables and frames need a shared file system.
        table.load(CsvLoad("x.csv"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        table.load(CsvLoad(sources.csv))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        table.load(ParquetLoad("x.parquet"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        table.load(sources.arrow)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        table.load(pd.DataFrame())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def local_table(
    session: tiercube.Session | tiercube.LocalSession | tiercube.NoSecurityLocalSession, sources: Sources, name: str
) -> None:
    make_sales(session, name)
    table = session.tables[name]
    assert_type(table, LocalTable)
    assert_type(table.load(CsvLoad(sources.csv)), int)
    assert_type(table.load(CsvLoad(str(sources.csv))), int)
    assert_type(table.load(ParquetLoad(Path(sources.parquet))), int)
    assert_type(table.load(CsvLoad(sources.cloud_csv)), int)
    assert_type(table.load(ParquetLoad(sources.cloud_parquet)), int)
    assert_type(table.load(sources.arrow), int)
    assert_type(table.load(sources.frame), int)
    assert table.row_count == len(SALES_ROWS)
    other = session.create_table(f"{name}_regions", data_types={"region": "string", "zone": "string"}, keys=["region"])
    assert_type(other, LocalTable)
    other.append(("EU", "west"), ("US", "west"), ("ASIA", "east"))
    table.join(other)
    assert "zone" in session.create_cube(table, name=f"{name}_joined").levels
    del session.cubes[f"{name}_joined"], session.cubes[name]
    del session.tables[name], session.tables[f"{name}_regions"]
    if TYPE_CHECKING_INVALID_USAGE:
        table.load("x.csv")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        table.load(SALES_TYPES)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def examples_of_the_contract(
    read_only: tiercube.ReadOnlySession, remote: tiercube.RemoteSession, minimal: tiercube.MinimalSession
) -> None:
    """The contract's and the issue's own examples, as they are written there."""
    if TYPE_CHECKING:  # type-checked only: the bucket does not exist
        assert_type(remote.tables["t"].load(CsvLoad(S3Location("s3://b/k"))), int)
        assert_type(remote.tables["t"].load(ParquetLoad(S3Location("s3://b/k.parquet"))), int)
    if TYPE_CHECKING_INVALID_USAGE:
        read_only.tables["t"].append((1, "EU"))  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        remote.tables["t"].load(CsvLoad("x.csv"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        minimal.cubes["c"].measures  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        remote.read_arrow  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


# Runtime.


def test_read_only_objects(tiers: Tiers) -> None:
    read_only_table(tiers.read_only)
    read_only_cube(tiers.read_only)
    table = tiers.read_only.tables["sales"]
    assert not hasattr(table, "append") and not hasattr(tiers.read_only.tables, "__delitem__")
    assert not hasattr(tiers.read_only.cubes["sales"].measures, "__setitem__")


def test_query_cube(tiers: Tiers) -> None:
    query_cube(tiers.minimal)
    examples_of_the_contract(tiers.read_only, tiers.remote, tiers.minimal)
    assert not hasattr(tiers.minimal.cubes["sales"], "measures")


def test_editable_cubes(tiers: Tiers) -> None:
    editors: list[tuple[tiercube.capabilities.SupportsEditing, str]] = [
        (tiers.owner, "owner_cube"), (tiers.local, "local_cube"), (tiers.remote, "remote_cube"),
        (tiers.no_security_local, "nsl_cube"), (tiers.no_security, "ns_cube"),
    ]
    for session, name in editors:
        editable_cube(session, name)


def test_cloud_tables(tiers: Tiers, sources: Sources) -> None:
    cloud_table(tiers.remote, sources, "remote_table")
    cloud_table(tiers.no_security, sources, "ns_table")
    assert not hasattr(tiers.remote.tables["sales"], "__call__")


def test_local_tables(tiers: Tiers, sources: Sources) -> None:
    local_table(tiers.owner, sources, "owner_table")
    local_table(tiers.local, sources, "local_table")
    local_table(tiers.no_security_local, sources, "nsl_table")
    assert total_rows(tiers.local.tables) == total_rows(tiers.read_only.tables)
