"""The MDX subset: each accepted shape gives the same table as the equivalent cube query."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from tests.engine.cube_fixtures import assert_same, oracle, query, snowflake
from tiercube._server.engine.cubes import CubeStore, to_cube_query
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.cubes import CubeQuery, LevelDefinition, MdxQuery, SetHierarchy
from tiercube._wire.filters import And, Compare, IsIn
from tiercube.errors import NotFoundError, QueryError

Tables = tuple[TableStore, CubeStore]


@pytest.fixture
def star() -> Tables:
    tables, cubes = snowflake()
    cubes.set_hierarchy("sales", "Geography", SetHierarchy([LevelDefinition("Country", "country"), LevelDefinition("Brand", "brand")]))
    return tables, cubes


def mdx(schema: Tables, text: str) -> pa.Table:
    _, cubes = schema
    return cubes.query_mdx(MdxQuery(text), limits=QueryLimits(30, 1000))


def parsed(schema: Tables, text: str) -> CubeQuery:
    return to_cube_query(text, schema[1].cube)[1]


def test_pivot_table_shape_matches_the_cube_query(star: Tables) -> None:
    result = mdx(star, """
        SELECT {[Measures].[qty.SUM], [Measures].[contributors.COUNT]} ON COLUMNS,
               NON EMPTY CrossJoin([region].[region].Members, [category].[category].Members) ON ROWS
        FROM [sales]""")
    assert result.column_names == ["region", "category", "qty.SUM", "contributors.COUNT"]
    assert_same(result, oracle(star[0], """
        SELECT region, category, sum(qty), count(*) FROM sales LEFT JOIN products USING (product)
        GROUP BY ALL ORDER BY region NULLS LAST, category NULLS LAST"""))


def test_measures_on_rows_and_levels_on_columns(star: Tables) -> None:
    query_ = parsed(star, "SELECT [day].[day].Members ON COLUMNS, {[Measures].[price.SUM]} ON ROWS FROM [sales]")
    assert query_ == CubeQuery(measures=["price.SUM"], levels=["day"])
    # Levels on ROWS come first, then those on COLUMNS.
    both = parsed(star, "SELECT [region].[region].Members ON 0, [Geography].[Country].Members ON 1 FROM [sales]")
    assert both.levels == ["Country", "region"] and both.measures == ["contributors.COUNT"]


def test_member_lists_and_slicers_become_filters(star: Tables) -> None:
    query_ = parsed(star, """
        SELECT {[Measures].[qty.SUM]} ON COLUMNS,
               {[region].[region].[EU], [region].[region].&[US]} ON ROWS
        FROM [sales] WHERE ([Geography].[Geography].[Country].[FR], [category].[fruit])""")
    assert query_.levels == ["region"]
    # [category].[fruit]: a one-level hierarchy's member may skip the level.
    assert query_.filter == And([IsIn("region", ["EU", "US"]), Compare("Country", "==", "FR"), Compare("category", "==", "fruit")])
    assert_same(mdx(star, """
        SELECT {[Measures].[qty.SUM]} ON COLUMNS, {[region].[region].[EU], [region].[region].[US]} ON ROWS
        FROM [sales] WHERE [Geography].[Country].[FR]"""),
        oracle(star[0], """SELECT region, sum(qty) FROM sales LEFT JOIN products USING (product) LEFT JOIN brands USING (brand)
                          WHERE region IN ('EU', 'US') AND country = 'FR' GROUP BY region ORDER BY region"""))


def test_star_operator_hierarchize_axis_numbers_and_bi_tool_extras(star: Tables) -> None:
    text = """
        SELECT NON EMPTY Hierarchize({[Measures].[qty.SUM]}) DIMENSION PROPERTIES PARENT_UNIQUE_NAME ON AXIS(0),
               NON EMPTY [region].[region].Members * [Geography].[Country].AllMembers ON AXIS(1)
        FROM [sales] CELL PROPERTIES VALUE, FORMAT_STRING"""
    tables, cubes = star
    expected = query(tables, cubes, measures=["qty.SUM"], levels=["region", "Country"])
    assert mdx(star, text).equals(expected)


def test_a_slicer_measure_is_used_when_no_axis_has_one(star: Tables) -> None:
    query_ = parsed(star, "SELECT [region].[region].Members ON ROWS FROM [sales] WHERE [Measures].[price.MEAN]")
    assert query_.measures == ["price.MEAN"]
    assert parsed(star, "SELECT FROM [sales]") == CubeQuery(measures=["contributors.COUNT"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT TopCount([region].[region].Members, 3) ON ROWS FROM [sales]", "MDX function TopCount is not supported"),
        ("SELECT [region].[region].Children ON ROWS FROM [sales]", "MDX function Children is not supported"),
        ("WITH SET [s] AS [region].[region].Members SELECT FROM [sales]", "WITH SET .named sets. is not supported"),
        ("SELECT [nope].[x].Members ON ROWS FROM [sales]", "no hierarchy 'nope'; its hierarchies are region"),
        ("SELECT [region].[nope].Members ON ROWS FROM [sales]", "does not name a level of hierarchy 'region'"),
        ("SELECT {[Measures].[nope]} ON COLUMNS FROM [sales]", "not a measure of cube 'sales'"),
        ("SELECT {[Measures].[qty.SUM]} ON COLUMNS", "no FROM"),
        ("SELECT {[Measures].[qty.SUM]} ON PAGES FROM [sales]", "expected COLUMNS or ROWS"),
        ("SELECT {[Measures].[qty.SUM]} ON 2 FROM [sales]", "only axes 0"),
        ("SELECT {[Measures].[qty.SUM] ON COLUMNS FROM [sales]", "expected }"),
        ("SELECT {[region].[region].[EU], [Measures].[qty.SUM]} ON COLUMNS FROM [sales]", "members of one level, or only measures"),
        ("SELECT [region].[region].Members ON 0, [region].[region].Members ON 1 FROM [sales]", "appears on two axes"),
        ("SELECT ; FROM [sales]", "unexpected character ';' at position 7"),
        ("SELECT FROM [sales] ORDER", "unexpected 'ORDER'"),
    ],
)
def test_unsupported_or_wrong_mdx_is_named(star: Tables, text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")):
        mdx(star, text)


def test_unknown_cube(star: Tables) -> None:
    with pytest.raises(NotFoundError, match="no cube named 'other'"):
        mdx(star, "SELECT FROM [other]")


def test_members_of_typed_levels_are_cast(star: Tables) -> None:
    result = mdx(star, "SELECT {[Measures].[qty.SUM]} ON 0, [day].[day].Members ON 1 FROM [sales] WHERE [day].[day].[2026-01-05]")
    assert result.to_pylist() == [{"day": date(2026, 1, 5), "qty.SUM": 3}]
