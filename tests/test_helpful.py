"""Mistakes get an answer that says how to fix them, against a real server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

import tiercube
from tests.conftest import SECURED, USER

SALES_CSV = "id,country,product,qty\n1,France,apple,3\n2,Spain,pear,4\n3,France,pear,5\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Generator[tiercube.Session]:
    with tiercube.Session.start(SECURED) as owner:
        path = tmp_path_factory.mktemp("shop") / "sales.csv"
        path.write_text(SALES_CSV)
        owner.read_csv(path, keys=["id"])
        owner.create_cube("sales")  # a table's name is enough
        yield owner


def test_a_misspelt_option_is_a_type_error_naming_the_right_one(shop: tiercube.Session, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(SALES_CSV)
    untyped: Any = shop  # the type checkers already refuse these calls; the runtime must too
    with pytest.raises(TypeError, match=r"read_csv\(\) got an unexpected keyword argument 'key'; did you mean 'keys'\?"):
        untyped.read_csv(path, table_name="y", key=["id"])
    with pytest.raises(TypeError, match="read_parquet.*'datatypes'; did you mean 'data_types'"):
        untyped.read_parquet(path, table_name="y", datatypes={})
    with pytest.raises(TypeError, match="its options are"):
        untyped.read_csv(path, table_name="y", zzz=1)
    assert "y" not in shop.tables
    # One key may be named by itself.
    assert shop.read_csv(path, table_name="one_key", keys="id").keys == ("id",)


def test_misses_name_what_exists_and_the_closest(shop: tiercube.Session) -> None:
    cube = shop.cubes["sales"]
    with pytest.raises(tiercube.NotFoundError, match=r"cube 'sales' has no measure 'qty.SUN' \(did you mean 'qty.SUM'\?"):
        cube.measures["qty.SUN"]
    with pytest.raises(KeyError, match=r"has no level 'contry' \(did you mean 'country'\? levels: "):
        cube.levels["contry"]
    with pytest.raises(tiercube.NotFoundError, match=r"no table named 'sale' \(did you mean 'sales'\?") as raised:
        shop.tables["sale"].row_count
    assert (raised.value.kind, raised.value.name) == ("table", "sale")  # the server's, as fields
    with pytest.raises(tiercube.NotFoundError, match=r"no cube named 'sale' \(did you mean 'sales'\?"):
        shop.cubes["sale"].query("qty.SUM")


def test_a_str_is_taken_where_one_name_is_natural(shop: tiercube.Session) -> None:
    cube = shop.cubes["sales"]
    by_country = cube.query("qty.SUM", levels="country")
    assert by_country.column_names == ["country", "qty.SUM"]
    assert by_country.to_pylist() == [{"country": "France", "qty.SUM": 8}, {"country": "Spain", "qty.SUM": 4}]
    untyped: Any = shop
    with pytest.raises(TypeError, match="expected the fact table: its name"):
        untyped.create_cube(42)
    with pytest.raises(TypeError, match="a measure is defined by an expression"):
        cube.measures["bad"] = untyped


def test_a_member_a_tier_lacks_says_why(shop: tiercube.Session) -> None:
    with tiercube.connect(shop.url, authentication=USER, require=tiercube.ReadOnlySession) as read_only:
        with pytest.raises(AttributeError) as raised:
            read_only.read_csv  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        message = str(raised.value)
        assert message.startswith("'ReadOnlySession' object has no attribute 'read_csv': read_csv is on LocalSession")
        assert "b (the credentials grant ROLE_ADMIN: authenticated as 'user' with roles ROLE_USER)" in message
        with pytest.raises(AttributeError, match="only the owner"):
            read_only.wait  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        assert not hasattr(read_only, "create_table")
        anything: object = read_only
        assert not isinstance(anything, tiercube.capabilities.SupportsEditing)


def test_a_process_that_only_connects_knows_what_only_the_owner_has(shop: tiercube.Session) -> None:
    """The owner's class registers itself with every tier, even where no owner was ever started."""
    script = (
        "import tiercube\n"
        f"session = tiercube.connect({shop.url!r}, authentication=tiercube.BasicAuthentication({USER.username!r}, {USER.password!r}))\n"
        "try:\n"
        "    session.wait\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    answer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert answer.stdout.startswith("'ReadOnlySession' object has no attribute 'wait': only the owner"), answer
