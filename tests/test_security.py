"""Security management through a real server: users, passwords, roles and restrictions."""

from __future__ import annotations

import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN

SALES = pa.table({"id": [1, 2, 3, 4], "region": ["EU", "EU", "US", "ASIA"], "qty": [1, 2, 3, 4]})


def test_users_can_be_created_changed_and_deleted(fresh_owner: tiercube.Session) -> None:
    security = fresh_owner.security
    security.create_user("carol", password="first", roles=["ROLE_USER"])
    assert security.users["carol"].roles == ["ROLE_USER"]
    carol = tiercube.BasicAuthentication("carol", "first")
    assert isinstance(tiercube.connect(fresh_owner.url, authentication=carol), tiercube.ReadOnlySession)

    security.set_roles("carol", ["ROLE_ADMIN"])
    assert isinstance(tiercube.connect(fresh_owner.url, authentication=carol), tiercube.LocalSession)

    security.set_password("carol", "second")
    with pytest.raises(tiercube.AuthenticationError):
        tiercube.connect(fresh_owner.url, authentication=carol)

    security.delete_user("carol")
    assert "carol" not in security.users
    with pytest.raises(tiercube.AuthenticationError):
        tiercube.connect(fresh_owner.url, authentication=tiercube.BasicAuthentication("carol", "second"))


def test_duplicate_and_unknown_users_are_clear_errors(fresh_owner: tiercube.Session) -> None:
    with pytest.raises(tiercube.ConflictError, match="admin"):
        fresh_owner.security.create_user("admin", password="x")
    with pytest.raises(tiercube.NotFoundError, match="nobody"):
        fresh_owner.security.delete_user("nobody")
    assert set(fresh_owner.security.users) == {"admin", "user"}


def test_restrictions_limit_tables_and_cubes_for_a_role(fresh_owner: tiercube.Session) -> None:
    sales = fresh_owner.read_arrow(SALES, table_name="sales", keys=["id"])
    fresh_owner.create_cube(sales)
    fresh_owner.security.create_user("eve", password="pw", roles=["EUROPE"])
    # Restrictions are bound to table columns, never to a bare name.
    with pytest.raises(tiercube.InvalidRequestError, match="bound to table columns"):
        fresh_owner.security.restrict("EUROPE", tiercube.level("region") == "EU")
    fresh_owner.security.restrict("EUROPE", sales["region"] == "EU")
    assert set(fresh_owner.security.restrictions) == {"EUROPE"}

    with tiercube.connect(fresh_owner.url, authentication=tiercube.BasicAuthentication("eve", "pw")) as eve:
        assert isinstance(eve, tiercube.ReadOnlySession)
        assert eve.tables["sales"].query()["region"].to_pylist() == ["EU", "EU"]
        totals = eve.cubes["sales"].query("qty.SUM", "contributors.COUNT")
        assert totals.to_pylist() == [{"qty.SUM": 3, "contributors.COUNT": 2}]
        by_mdx = eve.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS, [region].[region].Members ON ROWS FROM [sales]")
        assert by_mdx["region"].to_pylist() == ["EU"]

    # Admins are never restricted, and lifting the restriction restores everything.
    with tiercube.connect(fresh_owner.url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
        assert admin.tables["sales"].row_count == 4
        assert admin.tables["sales"].query().num_rows == 4
    fresh_owner.security.unrestrict("EUROPE")
    eve_again = tiercube.BasicAuthentication("eve", "pw")
    with tiercube.connect(fresh_owner.url, authentication=eve_again, require=tiercube.ReadOnlySession) as eve:
        assert eve.tables["sales"].query().num_rows == 4
