"""The cube classes are generic in their measure and level names, ``str`` by default.

A bare ``QueryCube``, ``ReadOnlyCube`` or ``EditableCube`` takes any name, as it always
did; ``ReadOnlyCube[SalesMeasure, SalesLevel]`` takes only those ``Literal`` names (or
the measure and level objects), so a misspelt one is an error in every checker. The
session's own cube is one without a cast: the names are only taken, so the classes are
contravariant in them. Narrow it through a function's return type, as the generated model
does: pyright, basedpyright and ty narrow an annotated variable to the type of the value
assigned (``sales: ReadOnlyCube[SalesMeasure, SalesLevel] = session.cubes["sales"]`` is
the bare cube to them), so there it would take any name again. The test at the bottom runs the valid uses against real
sessions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias, assert_type

import pyarrow as pa

import tiercube
from tests.tiers import Tiers

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING

SalesMeasure: TypeAlias = Literal["qty.SUM", "price.MEAN"]
SalesLevel: TypeAlias = Literal["region"]


def bare_cubes_take_any_name(session: tiercube.Session, measure: str, level: str) -> pa.Table:
    cube = session.cubes["sales"]
    assert_type(cube, tiercube.EditableCube)
    assert_type(cube, tiercube.EditableCube[str, str])
    return cube.query(measure, levels=[level])


def read_only_sales(session: tiercube.ReadOnlySession) -> tiercube.ReadOnlyCube[SalesMeasure, SalesLevel]:
    return session.cubes["sales"]


def editable_sales(session: tiercube.Session) -> tiercube.EditableCube[SalesMeasure, SalesLevel]:
    return session.cubes["sales"]


def minimal_sales(session: tiercube.MinimalSession) -> tiercube.QueryCube[SalesMeasure, SalesLevel]:
    return session.cubes["sales"]


def narrowed_cubes_take_only_their_names(session: tiercube.ReadOnlySession, measure: str) -> pa.Table:
    sales = read_only_sales(session)
    result = sales.query("qty.SUM", sales.measures["price.MEAN"], levels=[sales.levels["region"]], include_totals=True)
    assert sales.query("price.MEAN", levels="region").num_rows > 0
    if TYPE_CHECKING_INVALID_USAGE:
        sales.query("qty.SMU")  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        sales.query("qty.SUM", levels=["regoin"])  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
        sales.query("qty.SUM", levels="regoin")  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
        sales.query(measure)  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
    return result


def editable_cubes_are_narrowed_alike(session: tiercube.Session) -> pa.Table:
    sales = editable_sales(session)
    if TYPE_CHECKING_INVALID_USAGE:
        sales.query("qty.SMU", levels="region")  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-argument-type]
    return sales.query("qty.SUM", levels="region")


def a_minimal_cube_narrows_but_gains_no_structure(session: tiercube.MinimalSession) -> pa.Table:
    sales = minimal_sales(session)
    if TYPE_CHECKING_INVALID_USAGE:
        _structured: tiercube.ReadOnlyCube[SalesMeasure, SalesLevel] = session.cubes["sales"]  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]  # pyrefly: ignore[bad-assignment]  # ty: ignore[invalid-assignment]
    return sales.query("qty.SUM", levels=["region"])


def narrowing_is_one_way(sales: tiercube.QueryCube[SalesMeasure, SalesLevel]) -> None:
    """A cube typed for a model's names does not take any ``str`` again."""
    if TYPE_CHECKING_INVALID_USAGE:
        _anything: tiercube.QueryCube = sales  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]  # pyrefly: ignore[bad-assignment]  # ty: ignore[invalid-assignment]


def test_narrowed_and_bare_cubes_query_alike(tiers: Tiers) -> None:
    bare = bare_cubes_take_any_name(tiers.owner, "qty.SUM", "region")
    assert bare.equals(editable_cubes_are_narrowed_alike(tiers.owner))
    assert bare.equals(a_minimal_cube_narrows_but_gains_no_structure(tiers.minimal))
    totals = narrowed_cubes_take_only_their_names(tiers.read_only, "qty.SUM")
    assert totals.column_names == ["region", "qty.SUM", "price.MEAN"]
