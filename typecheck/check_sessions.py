"""Every capability group on every tier: granted ones type-check, the others are errors.

One function per tier uses each granted group (also through the capability
protocols, so each tier is checked to satisfy them) and, under
``TYPE_CHECKING_INVALID_USAGE``, touches every group it lacks. The tests at
the bottom run the same functions against real servers of every tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, assert_type

import pandas as pd
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import USER
from tests.tiers import SALES_ROWS, SALES_TYPES, Sources, Tiers, raw
from tiercube import (
    CloudTable,
    EditableCube,
    LocalSession,
    LocalTable,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    QueryCube,
    ReadOnlyCube,
    ReadOnlySession,
    ReadOnlyTable,
    RemoteSession,
    S3Location,
    Session,
)
from tiercube.capabilities import (
    SupportsCloudLoading,
    SupportsEditing,
    SupportsFileLoading,
    SupportsLifecycle,
    SupportsQuery,
    SupportsReadModel,
    SupportsSecurity,
)

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING

MDX = "SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]"


# One function per capability group, taking its protocol: passing a tier checks that it satisfies it.


def query(session: SupportsQuery) -> None:
    assert_type(session.url, str)
    assert session.link.startswith(session.url)
    assert session.capabilities.tier == type(session).__name__
    cube = session.cubes["sales"]
    assert_type(cube, QueryCube)
    result = cube.query("qty.SUM", levels=["region"])
    assert_type(result, pa.Table)
    assert set(result.column("qty.SUM").to_pylist()) == {1, 4, 8}
    assert session.query_mdx(MDX).column("qty.SUM").to_pylist() == [13]
    assert "sales" in session.cubes


def read_model(session: SupportsReadModel) -> None:
    table = session.tables["sales"]
    assert_type(table, ReadOnlyTable)
    assert table.row_count == len(SALES_ROWS) and table.keys == ("id",)
    assert table.columns == list(SALES_TYPES) and table.data_types == SALES_TYPES
    assert session.tables.schema["sales"] == table.schema
    assert table.query("id", filter=table["region"] == "EU").column("id").to_pylist() == [1, 3]
    cube = session.cubes["sales"]
    assert_type(cube, ReadOnlyCube)
    assert "qty.SUM" in cube.measures and "region" in cube.levels and "region" in cube.hierarchies
    assert cube.fact_table == "sales"


def editing(session: SupportsEditing, name: str) -> None:
    table = session.create_table(name, data_types=SALES_TYPES, keys=["id"])
    assert_type(table, CloudTable)
    assert_type(table.append(*SALES_ROWS), int)
    assert table.drop(table["region"] == "US") == 1
    cube = session.create_cube(table, name=name)
    assert_type(cube, EditableCube)
    cube.measures["double"] = cube.measures["qty.SUM"] * 2
    assert cube.query("double").column("double").to_pylist() == [18]
    del session.cubes[name]
    del session.tables[name]
    assert name not in session.tables


def cloud_loading(session: SupportsCloudLoading, sources: Sources, name: str) -> None:
    from_csv = session.read_csv(sources.cloud_csv, table_name=f"{name}_csv", keys=["id"])
    assert_type(from_csv, CloudTable)
    from_parquet = session.read_parquet(sources.cloud_parquet, table_name=f"{name}_parquet")
    assert_type(from_parquet, CloudTable)
    assert from_csv.row_count == from_parquet.row_count == len(SALES_ROWS)
    assert_type(from_csv.load(tiercube.CsvLoad(sources.cloud_csv)), int)
    assert_type(from_parquet.load(tiercube.ParquetLoad(sources.cloud_parquet)), int)
    assert (from_csv.row_count, from_parquet.row_count) == (len(SALES_ROWS), 2 * len(SALES_ROWS))
    del session.tables[f"{name}_csv"], session.tables[f"{name}_parquet"]
    if TYPE_CHECKING_INVALID_USAGE:
        # A cloud object is an S3Location, never a bare string.
        session.read_csv("s3://bucket/sales.csv")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


def file_loading(session: SupportsFileLoading, sources: Sources, name: str) -> None:
    from_csv = session.read_csv(sources.csv, table_name=f"{name}_csv", keys=["id"])
    assert_type(from_csv, LocalTable)
    from_parquet = session.read_parquet(str(sources.parquet), table_name=f"{name}_parquet")
    assert_type(from_parquet, LocalTable)
    from_arrow = session.read_arrow(sources.arrow, table_name=f"{name}_arrow")
    assert_type(from_arrow, LocalTable)
    from_pandas = session.read_pandas(sources.frame, table_name=f"{name}_pandas", keys=["id"])
    assert_type(from_pandas, LocalTable)
    assert {t.row_count for t in (from_csv, from_parquet, from_arrow, from_pandas)} == {len(SALES_ROWS)}
    assert_type(from_csv.load(tiercube.CsvLoad(sources.csv)), int)
    assert_type(from_parquet.load(tiercube.ParquetLoad(sources.parquet)), int)
    assert_type(from_arrow.load(sources.arrow), int)
    assert_type(from_pandas.load(pd.DataFrame({"id": [9], "region": ["EU"], "qty": [1], "price": [1.0]})), int)
    assert from_pandas.row_count == len(SALES_ROWS) + 1
    for suffix in ("csv", "parquet", "arrow", "pandas"):
        del session.tables[f"{name}_{suffix}"]


def security(session: SupportsSecurity, name: str) -> None:
    users = session.security
    assert_type(users, tiercube.Security)
    created = users.create_user(name, password="secret", roles=["ROLE_USER"])
    assert_type(created, tiercube.User)
    assert name in users.users and "admin" in users.users
    users.delete_user(name)
    assert name not in users.users
    # What security lists is a snapshot: assigning into it would change nothing, so no checker allows it.
    restrictions = users.restrictions
    assert_type(restrictions, Mapping[str, tiercube.Condition])
    with pytest.raises(TypeError):
        restrictions["EUROPE"] = tiercube.level("region") == "EU"  # type: ignore[index]  # pyright: ignore[reportIndexIssue]  # pyrefly: ignore[unsupported-operation]  # ty: ignore[invalid-assignment]


def lifecycle(session: SupportsLifecycle) -> None:
    assert_type(session.port, int)
    assert_type(session.logs_path, Path)
    assert session.logs_path.exists()
    session.wait(timeout=0)

    @session.endpoint("typed-total")
    def total(request: tiercube.EndpointRequest) -> dict[str, int]:
        return {"total": len(request.query)}

    # The decorator keeps the handler's own type: calling it still gives a dict[str, int], not an object.
    assert_type(total(tiercube.EndpointRequest("typed-total", "GET", None, (), {"a": "1"}, b"")), dict[str, int])


# One function per tier.


def use_owner(session: Session, sources: Sources) -> None:
    query(session)
    read_model(session)
    editing(session, "owner_edit")
    cloud_loading(session, sources, "owner_cloud")
    file_loading(session, sources, "owner_files")
    security(session, "owner_user")
    lifecycle(session)
    assert_type(session.tables["sales"], LocalTable)
    assert_type(session.cubes["sales"], EditableCube)


def use_local(session: LocalSession, sources: Sources) -> None:
    query(session)
    read_model(session)
    editing(session, "local_edit")
    cloud_loading(session, sources, "local_cloud")
    file_loading(session, sources, "local_files")
    security(session, "local_user")
    assert_type(session.tables["sales"], LocalTable)
    assert_type(session.cubes["sales"], EditableCube)
    assert_type(session.read_csv(sources.csv, table_name="local_read"), LocalTable)
    del session.tables["local_read"]
    if TYPE_CHECKING_INVALID_USAGE:
        lifecycle(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.port  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.logs_path  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.wait()  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def use_remote(session: RemoteSession, sources: Sources) -> None:
    query(session)
    read_model(session)
    editing(session, "remote_edit")
    cloud_loading(session, sources, "remote_cloud")
    security(session, "remote_user")
    assert_type(session.tables["sales"], CloudTable)
    assert_type(session.cubes["sales"], EditableCube)
    assert_type(session.read_csv(sources.cloud_csv, table_name="remote_read"), CloudTable)
    del session.tables["remote_read"]
    if TYPE_CHECKING_INVALID_USAGE:
        # Shared-file-system loading: no local paths, Arrow tables or frames.
        file_loading(session, sources, "remote_files")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_csv(sources.csv)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_parquet("sales.parquet")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_arrow(sources.arrow, table_name="t")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.read_pandas(pd.DataFrame(), table_name="t")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Owner lifecycle.
        lifecycle(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.logs_path  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def use_no_security_local(session: NoSecurityLocalSession, sources: Sources) -> None:
    query(session)
    read_model(session)
    editing(session, "nsl_edit")
    cloud_loading(session, sources, "nsl_cloud")
    file_loading(session, sources, "nsl_files")
    assert_type(session.tables["sales"], LocalTable)
    assert_type(session.cubes["sales"], EditableCube)
    if TYPE_CHECKING_INVALID_USAGE:
        # Security management.
        security(session, "nsl_user")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.security  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Owner lifecycle.
        lifecycle(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.port  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def use_no_security(session: NoSecuritySession, sources: Sources) -> None:
    query(session)
    read_model(session)
    editing(session, "ns_edit")
    cloud_loading(session, sources, "ns_cloud")
    assert_type(session.tables["sales"], CloudTable)
    assert_type(session.cubes["sales"], EditableCube)
    if TYPE_CHECKING_INVALID_USAGE:
        # Shared-file-system loading.
        file_loading(session, sources, "ns_files")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_csv(sources.csv)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_arrow(sources.arrow, table_name="t")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Security management.
        security(session, "ns_user")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.security  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Owner lifecycle.
        lifecycle(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.wait()  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def use_read_only(session: ReadOnlySession, sources: Sources) -> None:
    query(session)
    read_model(session)
    assert_type(session.tables["sales"], ReadOnlyTable)
    assert_type(session.cubes["sales"], ReadOnlyCube)
    if TYPE_CHECKING_INVALID_USAGE:
        # Editing the model and data.
        editing(session, "ro_edit")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.create_table("t", data_types=SALES_TYPES)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.create_cube(session.tables["sales"])  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Cloud loading.
        cloud_loading(session, sources, "ro_cloud")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_csv(sources.cloud_csv)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.read_parquet(sources.cloud_parquet)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Shared-file-system loading.
        file_loading(session, sources, "ro_files")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_arrow(sources.arrow, table_name="t")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.read_pandas(pd.DataFrame(), table_name="t")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Security management.
        security(session, "ro_user")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.security  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Owner lifecycle.
        lifecycle(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.port  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def use_minimal(session: MinimalSession, sources: Sources) -> None:
    query(session)
    assert_type(session.cubes["sales"], QueryCube)
    if TYPE_CHECKING_INVALID_USAGE:
        # Reading the data model.
        read_model(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.tables  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        session.cubes["sales"].measures  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Editing the model and data.
        editing(session, "min_edit")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.create_table("t", data_types=SALES_TYPES)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Cloud loading.
        cloud_loading(session, sources, "min_cloud")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_parquet(sources.cloud_parquet)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Shared-file-system loading.
        file_loading(session, sources, "min_files")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.read_arrow(sources.arrow, table_name="t")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Security management.
        security(session, "min_user")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.security  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Owner lifecycle.
        lifecycle(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        session.logs_path  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def cloud_location_is_not_a_string() -> None:
    location = S3Location("s3://bucket/key.csv")
    assert_type(tiercube.CsvLoad(location), tiercube.CsvLoad[S3Location])
    assert_type(tiercube.CsvLoad("key.csv"), tiercube.CsvLoad[tiercube.LocalFile])
    assert_type(tiercube.ParquetLoad(Path("key.parquet")), tiercube.ParquetLoad[tiercube.LocalFile])


# Runtime: every function above against a real session of its tier.


def test_owner(tiers: Tiers, sources: Sources) -> None:
    use_owner(tiers.owner, sources)


def test_local(tiers: Tiers, sources: Sources) -> None:
    use_local(tiers.local, sources)


def test_remote(tiers: Tiers, sources: Sources) -> None:
    use_remote(tiers.remote, sources)


def test_no_security_local(tiers: Tiers, sources: Sources) -> None:
    use_no_security_local(tiers.no_security_local, sources)


def test_no_security(tiers: Tiers, sources: Sources) -> None:
    use_no_security(tiers.no_security, sources)


def test_read_only(tiers: Tiers, sources: Sources) -> None:
    use_read_only(tiers.read_only, sources)
    # What the type forbids, the server refuses too.
    response = raw(tiers.read_only.url, "DELETE", "/api/v1/tables/sales", auth=USER)
    assert response.status_code == 403 and tiers.read_only.tables["sales"].row_count == len(SALES_ROWS)


def test_minimal(tiers: Tiers, sources: Sources) -> None:
    use_minimal(tiers.minimal, sources)
    cloud_location_is_not_a_string()
