"""The typed data model: a misspelt measure, level, column, table or cube is an error in every checker.

``sales_model.py`` beside this file is what ``tiercube model`` writes for the
sales session of ``tests.tiers.make_sales``; the test below writes it again
from a live session and holds the two equal, so the file checked here is the
generator's output, not a hand-written imitation.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, assert_type

import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tests.tiers import make_sales
from typecheck import sales_model

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING

GENERATED = Path(__file__).with_name("sales_model.py")
WRITTEN_AT = "http://127.0.0.1:9090"
"""The address the checked-in module names (the test's server has another)."""


def query_by_names(session: tiercube.ReadOnlySession) -> pa.Table:
    sales = sales_model.sales_cube(session)
    result = sales.query("qty.SUM", "price.MEAN", levels=["region"], include_totals=True)
    assert_type(result, pa.Table)
    cube = session.cubes["sales"]
    assert sales.query(cube.measures["qty.SUM"], levels=cube.levels["region"]).equals(sales.query("qty.SUM", levels="region"))
    assert_type(sales_model.tables(session)["sales"], tiercube.ReadOnlyTable)
    assert_type(sales_model.sales_table(session)["region"], tiercube.Column)
    assert_type(sales_model.cubes(session)["sales"], tiercube.QueryCube)
    if TYPE_CHECKING_INVALID_USAGE:
        sales.query("qty.SMU")  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        sales.query("qty.SUM", levels=["regoin"])  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
        sales.query("qty.SUM", levels="regoin")  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
        sales_model.cubes(session)["slaes"]  # type: ignore[index]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-index]  # ty: ignore[invalid-argument-type]
        sales_model.tables(session)["slaes"]  # type: ignore[index]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-index]  # ty: ignore[invalid-argument-type]
        sales_model.sales_table(session)["regin"]  # type: ignore[index]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-index]  # ty: ignore[invalid-argument-type]
    return result


def a_minimal_session_has_cubes_but_no_tables(session: tiercube.MinimalSession) -> None:
    """The cube views need only query; the table views, and writing the model, the read-model tier."""
    assert_type(sales_model.sales_cube(session), sales_model.SalesCube)
    if TYPE_CHECKING_INVALID_USAGE:
        session.model()  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        sales_model.sales_table(session)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    """A session of its own: the typecheck/ fixture's sessions gain tables while other files run."""
    with tiercube.Session.start(SECURED) as session:
        make_sales(session)
        yield session


def test_the_checked_file_is_what_the_generator_writes(owner: tiercube.Session) -> None:
    with tiercube.connect(owner.url, authentication=USER, require=tiercube.ReadOnlySession) as read_only:
        written = read_only.model()
    assert written.replace(owner.url, WRITTEN_AT) == GENERATED.read_text()
    assert owner.model() == written  # the owner reads the same model


def test_the_command_writes_the_same_module(owner: tiercube.Session) -> None:
    command = [sys.executable, "-m", "tiercube", "model", owner.url, "--user", ADMIN.username]
    written = subprocess.run(command, input=ADMIN.password, capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    assert written.stdout.replace(owner.url, WRITTEN_AT) == GENERATED.read_text()


def test_the_typed_views_are_the_sessions_own_objects(owner: tiercube.Session) -> None:
    with tiercube.connect(owner.url, authentication=USER, require=tiercube.ReadOnlySession) as read_only:
        result = query_by_names(read_only)
        assert result.column_names == ["region", "qty.SUM", "price.MEAN"]
        sales_model.check(read_only)
    with tiercube.connect(owner.url, authentication=USER, require=tiercube.MinimalSession) as minimal:
        a_minimal_session_has_cubes_but_no_tables(minimal)


def test_check_names_what_the_server_no_longer_has(owner: tiercube.Session) -> None:
    del owner.cubes["sales"].measures["price.MEAN"]
    try:
        with pytest.raises(tiercube.NotFoundError, match=r"cube 'sales' has no measure 'price.MEAN' .*write it again"):
            sales_model.check(owner)
    finally:
        owner.cubes["sales"].measures["price.MEAN"] = tiercube.agg.mean("price")
