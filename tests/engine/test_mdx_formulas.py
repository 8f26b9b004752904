"""MDX calculated members (``WITH MEMBER``): each answers as the same measure set with ``cube.measures`` does."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest

from tests.engine.cube_fixtures import create
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._server.engine.visibility import EVERYTHING, RolePlan, RowPlan
from tiercube._wire.calculated import Call, Field, RowLiteral
from tiercube._wire.cubes import (
    Aggregate,
    Arithmetic,
    At,
    Constant,
    CreateCube,
    CubeQuery,
    Cumulative,
    LevelDefinition,
    MdxQuery,
    MeasureExpr,
    MeasureRef,
    Rank,
    SetHierarchy,
    SetMeasure,
    Shift,
    Window,
)
from tiercube._wire.filters import Compare
from tiercube.errors import InvalidRequestError, QueryError

LIMITS = QueryLimits(30, 100_000)
REVENUE = MeasureRef("revenue")


@pytest.fixture(scope="module")
def cubes() -> CubeStore:
    """Sales over two years of days (a leap year among them), in three regions, with a calendar."""
    tables = TableStore()
    store = CubeStore(tables)
    first = date(2023, 11, 20)
    rows = [[i, ("EU", "US", "ASIA")[i % 3], first + timedelta(days=i * 5 % 500), i % 7 + 1, 1.0 + i % 11] for i in range(900)]
    create(tables, "sales", [("id", "int64"), ("region", "string"), ("day", "date"), ("qty", "int64"), ("price", "float64")], rows)
    store.create_cube(CreateCube("sales", mode="manual"))
    units = [("Year", "year"), ("Quarter", "quarter"), ("Month", "month")]
    calendar = [LevelDefinition(name, "", expression=Call("date_trunc", [Field("day"), RowLiteral(unit)])) for name, unit in units]
    store.set_hierarchy("sales", "calendar", SetHierarchy([*calendar, LevelDefinition("Day", "day")]))
    store.set_hierarchy("sales", "region", SetHierarchy([LevelDefinition("region", "region")]))
    store.set_measure("sales", "revenue", SetMeasure(Aggregate("sum", Call("multiply", [Field("qty"), Field("price")]))))
    store.set_measure("sales", "qty.SUM", SetMeasure(Aggregate("sum", "qty")))
    return store


def mdx(cubes: CubeStore, text: str) -> pa.Table:
    return cubes.query_mdx(MdxQuery(text), limits=LIMITS)


def expected(cubes: CubeStore, measures: dict[str, MeasureExpr], levels: list[str]) -> pa.Table:
    """The same measures set on the cube (then taken away again), queried with ``cube.query``."""
    for name, expression in measures.items():
        cubes.set_measure("sales", name, SetMeasure(expression))
    try:
        return cubes.query("sales", CubeQuery(["revenue", *measures], levels), limits=LIMITS)
    finally:
        for name in reversed(measures):
            cubes.delete_measure("sales", name)


@pytest.mark.parametrize(
    ("formulas", "measures", "levels"),
    [
        (
            "MEMBER [Measures].[previous] AS ([Measures].[revenue], [calendar].[Month].CurrentMember.PrevMember) "
            "MEMBER [Measures].[growth] AS [Measures].[revenue] / [Measures].[previous] - 1",
            {"previous": Shift(REVENUE, "Month", -1),
             "growth": Arithmetic("-", Arithmetic("/", REVENUE, MeasureRef("previous")), Constant(1))},
            ["Month"],
        ),
        (
            "MEMBER [Measures].[ytd] AS Sum(YTD(), [Measures].[revenue])",
            {"ytd": Cumulative(REVENUE, "Month", "Year")},
            ["Month"],
        ),
        (
            "MEMBER [Measures].[qtd] AS Aggregate(PeriodsToDate([calendar].[Quarter], [calendar].[Day].CurrentMember), [Measures].[revenue])",
            {"qtd": Cumulative(REVENUE, "Day", "Quarter")},
            ["region", "Day"],
        ),
        (
            "MEMBER [Measures].[rolling] AS Sum(LastPeriods(3, [calendar].[Month].CurrentMember), [Measures].[revenue])",
            {"rolling": Cumulative(REVENUE, "Month", window=Window(members=3))},
            ["Month"],
        ),
        (
            "MEMBER [Measures].[rank] AS Rank([region].[region].CurrentMember, [region].[region].Members, [Measures].[revenue])",
            {"rank": Rank(REVENUE, "region")},
            ["Month", "region"],
        ),
        (
            "MEMBER [Measures].[rank in year] AS Rank([calendar].[Month].CurrentMember, [calendar].[Month].CurrentMember.Siblings, "
            "[Measures].[qty.SUM] * 2)",
            {"rank in year": Rank(Arithmetic("*", MeasureRef("qty.SUM"), Constant(2)), "Month", within="Quarter")},
            ["Month"],
        ),
        (
            "MEMBER [Measures].[share of EU] AS [Measures].[revenue] / ([Measures].[revenue], [region].[region].[EU]) * 100",
            {"share of EU": Arithmetic("*", Arithmetic("/", REVENUE, At(REVENUE, {"region": "EU"})), Constant(100))},
            ["Month", "region"],
        ),
        (
            "MEMBER [Measures].[two back] AS -([Calendar].[calendar].[Month].CurrentMember.Lag(2), [Measures].[revenue]) + 0.5",
            {"two back": Arithmetic("+", Arithmetic("-", Constant(0), Shift(REVENUE, "Month", -2)), Constant(0.5))},
            ["Month"],
        ),
    ],
)
def test_calculated_members_answer_as_the_same_measures_on_the_cube(
    cubes: CubeStore, formulas: str, measures: dict[str, MeasureExpr], levels: list[str]
) -> None:
    rows = " * ".join(f"[{_hierarchy(level)}].[{level}].Members" for level in levels)
    columns = ", ".join(f"[Measures].[{name}]" for name in ["revenue", *measures])
    answer = mdx(cubes, f"WITH {formulas} SELECT {{{columns}}} ON COLUMNS, {rows} ON ROWS FROM [sales]")
    assert answer.equals(expected(cubes, measures, levels))
    assert not set(measures) & {m.name for m in cubes.cube("sales").measures}  # nothing was stored


def _hierarchy(level: str) -> str:
    return "region" if level == "region" else "calendar"


def test_a_restricted_reader_gets_her_own_rows_through_a_calculated_member(cubes: CubeStore) -> None:
    text = ("WITH MEMBER [Measures].[ytd] AS Sum(YTD([calendar].[Month].CurrentMember), [Measures].[revenue]) "
            "SELECT {[Measures].[ytd]} ON 0, [calendar].[Month].Members ON 1 FROM [sales]")
    everyone = cubes.answer_mdx(MdxQuery(text), EVERYTHING, limits=LIMITS).table
    assert everyone.num_rows > 12
    restricted = cubes.answer_mdx(MdxQuery(text), _OnlyEurope(), limits=LIMITS).table
    europe = mdx(cubes, text.replace("FROM [sales]", "FROM [sales] WHERE [region].[region].[EU]"))
    assert restricted.equals(europe) and not restricted.equals(everyone)


class _OnlyEurope:
    """A reader restricted to the EU's rows, as a role's restriction makes one (``restrictions._Restricted``)."""

    restricted = True

    def rows(self, table: str) -> RowPlan | None:
        condition = Compare("region", "==", "EU")
        return RowPlan((RolePlan.of(table, {"region": "string"}, condition, ()),))


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("WITH MEMBER [Measures].[x] AS Sum([calendar].[Month].Members, [Measures].[revenue])", QueryError, "not supported inside Sum"),
        ("WITH MEMBER [Measures].[x] AS [calendar].[Month].CurrentMember.PrevMember", QueryError, "a member alone has no value"),
        ("WITH MEMBER [Measures].[x] AS TopCount([Measures].[revenue])", QueryError, "MDX function TopCount is not supported"),
        ("WITH MEMBER [Measures].[x] AS ([Measures].[revenue], [calendar].[Month].CurrentMember.Parent)", QueryError, "MDX function Parent"),
        ("WITH MEMBER [Measures].[x] AS Sum(YTD([region].[region].CurrentMember), [Measures].[revenue])", QueryError, "needs a date hierarchy"),
        ("WITH MEMBER [Measures].[x] AS Sum(YTD(), [Measures].[revenue])", QueryError, r"YTD\(\) needs a level of a date hierarchy on an axis"),
        ("WITH MEMBER [Measures].[x] AS [Measures].[nope] + 1", QueryError, "not a measure of cube 'sales' nor of WITH"),
        ("WITH MEMBER [Measures].[revenue] AS 1", QueryError, "has a measure of that name"),
        ("WITH SET [s] AS [region].[region].Members", QueryError, "named sets"),
        ("WITH MEMBER [region].[x] AS 1", QueryError, r"a calculated member is a measure here"),
        ("WITH MEMBER [Measures].[x] AS [Measures].[revenue] +", QueryError, "unexpected"),
        ("WITH MEMBER [Measures].[x] AS Rank([region].[region].CurrentMember, [region].[region].Members)", QueryError, "the measure to rank by"),
        ("WITH MEMBER [Measures].[x] AS ([Measures].[revenue], [region].[region].[EU]) * [Measures].[region text]", QueryError, "nor of WITH"),
    ],
)
def test_unsupported_or_wrong_formulas_are_named(cubes: CubeStore, text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        mdx(cubes, f"{text} SELECT {{[Measures].[qty.SUM]}} ON 0 FROM [sales]")


def test_a_formula_of_the_wrong_kind_is_refused_as_a_measure_would_be(cubes: CubeStore) -> None:
    cubes.set_measure("sales", "first day", SetMeasure(Aggregate("min", "day")))
    try:
        with pytest.raises(InvalidRequestError, match="MDX calculated member 'x'|measure 'x'"):
            mdx(cubes, "WITH MEMBER [Measures].[x] AS [Measures].[first day] * 2 SELECT {[Measures].[x]} ON 0 FROM [sales]")
    finally:
        cubes.delete_measure("sales", "first day")
