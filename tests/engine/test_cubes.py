"""Cube queries checked against duckdb on the same data: aggregates, joins, filters, totals, measures."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.engine.cube_fixtures import assert_same, create, oracle, query, rows, snowflake
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.cubes import (
    Aggregate,
    AggregateFunction,
    AllOf,
    Arithmetic,
    Constant,
    CreateCube,
    CubeQuery,
    Filtered,
    Join,
    LevelDefinition,
    LevelFilter,
    MeasureComparison,
    MeasureExpr,
    MeasureRef,
    NotCondition,
    ParentValue,
    SetHierarchy,
    SetMeasure,
    Where,
)
from tiercube._wire.filters import And, Compare, Filter, IsIn, IsNull, Not, Or
from tiercube.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QueryError,
    QueryTimeoutError,
    ResultTooLargeError,
)

Tables = tuple[TableStore, CubeStore]


@pytest.fixture
def star() -> Tables:
    return snowflake()


def measure(schema: Tables, name: str, expression: MeasureExpr) -> None:
    _, cubes = schema
    cubes.set_measure("sales", name, SetMeasure(expression))


# Structure ---------------------------------------------------------------


def test_auto_mode_builds_hierarchies_from_every_table_and_measures_from_the_fact(star: Tables) -> None:
    info = star[1].cube("sales")
    levels = {h.name: [(lv.name, lv.table, lv.column, lv.data_type) for lv in h.levels] for h in info.hierarchies}
    # The join target column products.product repeats sales.product: no second level for it.
    assert levels == {
        "region": [("region", "sales", "region", "string")],
        "product": [("product", "sales", "product", "string")],
        "day": [("day", "sales", "day", "date")],
        "category": [("category", "products", "category", "string")],
        "brand": [("brand", "products", "brand", "string")],
        "country": [("country", "brands", "country", "string")],
    }
    assert [m.name for m in info.measures] == [
        "id.SUM", "id.MEAN", "qty.SUM", "qty.MEAN", "price.SUM", "price.MEAN", "contributors.COUNT",
    ]


def test_manual_and_no_measures_modes() -> None:
    manual = snowflake(mode="manual")[1].cube("sales")
    assert manual.hierarchies == [] and [m.name for m in manual.measures] == ["contributors.COUNT"]
    bare = snowflake(mode="no_measures")[1].cube("sales")
    assert bare.measures == [] and len(bare.hierarchies) == 6


def test_cube_names_are_unique_and_default_to_the_fact_table(star: Tables) -> None:
    _, cubes = star
    with pytest.raises(ConflictError, match="already exists"):
        cubes.create_cube(CreateCube("sales"))
    assert cubes.create_cube(CreateCube("sales", name="other")).name == "other"
    assert cubes.names() == ["sales", "other"]
    cubes.delete_cube("other")
    with pytest.raises(NotFoundError, match="no cube named 'other'"):
        cubes.cube("other")
    with pytest.raises(NotFoundError, match="no table named 'nope'"):
        cubes.create_cube(CreateCube("nope"))


# Aggregates over fact levels -----------------------------------------------


def test_fact_aggregates_with_nulls_match_duckdb(star: Tables) -> None:
    tables, cubes = star
    functions: tuple[AggregateFunction, ...] = ("min", "max", "count", "distinct_count")
    for function in functions:
        measure(star, f"qty.{function}", Aggregate(function, "qty"))
    result = query(
        tables, cubes,
        measures=["qty.SUM", "qty.MEAN", "price.SUM", "contributors.COUNT", "qty.min", "qty.max", "qty.count", "qty.distinct_count"],
        levels=["region"],
    )
    assert result["region"].type == pa.string()
    assert_same(result, oracle(tables, """
        SELECT region, sum(qty), avg(qty), sum(price), count(*), min(qty), max(qty), count(qty), count(DISTINCT qty)
        FROM sales GROUP BY region ORDER BY region NULLS LAST"""))


def test_two_levels_and_no_levels(star: Tables) -> None:
    tables, cubes = star
    assert_same(
        query(tables, cubes, measures=["qty.SUM", "price.MEAN"], levels=["product", "region"]),
        oracle(tables, "SELECT product, region, sum(qty), avg(price) FROM sales GROUP BY ALL ORDER BY ALL NULLS LAST"),
    )
    assert_same(query(tables, cubes, measures=["qty.SUM", "contributors.COUNT"]), oracle(tables, "SELECT sum(qty), count(*) FROM sales"))


def test_date_levels_keep_their_type(star: Tables) -> None:
    tables, cubes = star
    result = query(tables, cubes, measures=["qty.SUM"], levels=["day"])
    assert result["day"].type == pa.date32()
    assert_same(result, oracle(tables, "SELECT day, sum(qty) FROM sales GROUP BY day ORDER BY day"))


# Joins ---------------------------------------------------------------------


def test_star_join_level_includes_unmatched_rows_as_null(star: Tables) -> None:
    tables, cubes = star
    assert_same(
        query(tables, cubes, measures=["qty.SUM", "contributors.COUNT"], levels=["category", "region"]),
        oracle(tables, """SELECT category, region, sum(qty), count(*) FROM sales LEFT JOIN products USING (product)
                          GROUP BY ALL ORDER BY category NULLS LAST, region NULLS LAST"""),
    )


def test_snowflake_level_two_joins_away(star: Tables) -> None:
    tables, cubes = star
    assert_same(
        query(tables, cubes, measures=["price.SUM"], levels=["country"]),
        oracle(tables, """SELECT country, sum(price) FROM sales LEFT JOIN products USING (product)
                          LEFT JOIN brands USING (brand) GROUP BY country ORDER BY country NULLS LAST"""),
    )


def test_aggregates_of_dimension_columns_count_once_per_fact_row(star: Tables) -> None:
    tables, cubes = star
    functions: tuple[AggregateFunction, ...] = ("sum", "mean", "min", "max", "count")
    for function in functions:
        measure(star, f"weight.{function}", Aggregate(function, "weight"))
    measure(star, "categories", Aggregate("distinct_count", "category"))
    measure(star, "first brand", Aggregate("min", "brand"))
    assert_same(
        query(tables, cubes, measures=["weight.sum", "weight.mean", "weight.min", "weight.max", "weight.count", "categories", "first brand"],
              levels=["region"]),
        oracle(tables, """SELECT region, sum(weight), avg(weight), min(weight), max(weight), count(weight),
                          count(DISTINCT category), min(brand)
                          FROM sales LEFT JOIN products USING (product) GROUP BY region ORDER BY region NULLS LAST"""),
    )


def test_last_target_row_wins_when_the_mapped_columns_repeat() -> None:
    tables = TableStore()
    cubes = CubeStore(tables)
    create(tables, "facts", [("k", "string"), ("v", "int64")], [["a", 1], ["b", 2], ["a", 3]])
    create(tables, "dims", [("k", "string"), ("label", "string")], [["a", "old"], ["b", "bee"], ["a", "new"]])
    cubes.join("facts", Join("dims", {"k": "k"}))
    cubes.create_cube(CreateCube("facts"))
    result = cubes.query("facts", CubeQuery(["v.SUM"], ["label"]), limits=QueryLimits(10, 10))
    assert rows(result) == [("bee", 2), ("new", 4)]


def test_join_errors_are_specific() -> None:
    tables = TableStore()
    cubes = CubeStore(tables)
    create(tables, "a", [("k", "string"), ("n", "int64")], [])
    create(tables, "b", [("k", "string"), ("n", "float64")], [], keys=["k"])
    create(tables, "c", [("k", "string")], [])
    with pytest.raises(InvalidRequestError, match=r"a\.n \(int64\) to b\.n \(float64\): the types differ"):
        cubes.join("a", Join("b", {"n": "n"}))
    with pytest.raises(InvalidRequestError, match="'x', which is not a column of 'a'"):
        cubes.join("a", Join("b", {"x": "k"}))
    with pytest.raises(InvalidRequestError, match="has no key columns"):
        cubes.join("a", Join("c"))
    assert cubes.join("a", Join("b")).mapping == {"k": "k"}  # the target's keys by default
    with pytest.raises(InvalidRequestError, match="cycle"):
        cubes.join("b", Join("a", {"k": "k"}))
    cubes.join("a", Join("c", {"k": "k"}))
    with pytest.raises(ConflictError, match="two paths"):
        cubes.join("b", Join("c", {"k": "k"}))
    with pytest.raises(NotFoundError):
        cubes.join("a", Join("missing", {"k": "k"}))


def test_ambiguous_columns_are_reported_and_table_picks_one() -> None:
    tables = TableStore()
    cubes = CubeStore(tables)
    create(tables, "f", [("k", "string"), ("name", "string"), ("v", "int64")], [["a", "fact-name", 1]])
    create(tables, "d", [("k", "string"), ("name", "string")], [["a", "dim-name"]], keys=["k"])
    cubes.join("f", Join("d"))
    info = cubes.create_cube(CreateCube("f"))
    assert [h.name for h in info.hierarchies] == ["k", "name", "d.name"]
    with pytest.raises(InvalidRequestError, match="exists in tables 'f', 'd'; say which with table="):
        cubes.set_measure("f", "m", SetMeasure(Aggregate("count", "name")))
    cubes.set_measure("f", "m", SetMeasure(Aggregate("min", "name", table="d")))
    result = cubes.query("f", CubeQuery(["m"], ["name", "d.name"]), limits=QueryLimits(10, 10))
    assert rows(result) == [("fact-name", "dim-name", "dim-name")]


# Filters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "sql"),
    [
        (Compare("region", "==", "EU"), "region = 'EU'"),
        (Compare("region", "!=", "EU"), "region <> 'EU'"),
        (IsIn("product", ["apple", "kiwi"]), "product IN ('apple', 'kiwi')"),
        (And([Compare("day", ">=", "2026-02-01"), Compare("day", "<", "2026-03-10")]), "day >= DATE '2026-02-01' AND day < DATE '2026-03-10'"),
        (Or([Compare("category", "==", "stone"), IsNull("category")]), "category = 'stone' OR category IS NULL"),
        (Not(Compare("country", "==", "FR")), "NOT country = 'FR'"),
    ],
)
def test_level_filters_match_duckdb(star: Tables, condition: Filter, sql: str) -> None:
    tables, cubes = star
    result = query(tables, cubes, measures=["qty.SUM", "contributors.COUNT"], levels=["region"], filter=condition)
    assert_same(result, oracle(tables, f"""
        SELECT region, sum(qty), count(*) FROM sales LEFT JOIN products USING (product) LEFT JOIN brands USING (brand)
        WHERE {sql} GROUP BY region ORDER BY region NULLS LAST"""))


def test_filter_errors_name_the_level(star: Tables) -> None:
    tables, cubes = star
    with pytest.raises(QueryError, match="filters on 'nope', which is not a level"):
        query(tables, cubes, measures=["qty.SUM"], filter=Compare("nope", "==", 1))
    with pytest.raises(QueryError, match="not a date"):
        query(tables, cubes, measures=["qty.SUM"], filter=Compare("day", "==", "yesterday"))


# Totals --------------------------------------------------------------------


def test_totals_match_a_duckdb_rollup(star: Tables) -> None:
    tables, cubes = star
    result = query(tables, cubes, measures=["qty.SUM", "contributors.COUNT"], levels=["category", "region"], include_totals=True)
    assert_same(result, oracle(tables, """
        SELECT category, region, sum(qty), count(*) FROM sales LEFT JOIN products USING (product)
        GROUP BY ROLLUP (category, region)
        ORDER BY category NULLS LAST, GROUPING(category), region NULLS LAST, GROUPING(region)"""))
    assert rows(result)[-1] == (None, None, 22, 8)  # the grand total comes last


# Measure algebra -----------------------------------------------------------


def test_arithmetic_constants_and_division_by_zero(star: Tables) -> None:
    tables, cubes = star
    measure(star, "revenue-ish", Arithmetic("*", MeasureRef("qty.SUM"), MeasureRef("price.SUM")))
    measure(star, "plus one", Arithmetic("+", MeasureRef("qty.SUM"), Constant(1)))
    measure(star, "minus half", Arithmetic("-", MeasureRef("qty.SUM"), Constant(0.5)))
    measure(star, "ratio", Arithmetic("/", MeasureRef("qty.SUM"), MeasureRef("price.SUM")))
    measure(star, "per zero", Arithmetic("/", MeasureRef("qty.SUM"), Constant(0)))
    result = query(tables, cubes, measures=["revenue-ish", "plus one", "minus half", "ratio", "per zero"], levels=["product"])
    assert result["plus one"].type == pa.int64() and result["ratio"].type == pa.float64()
    assert_same(result, oracle(tables, """
        SELECT product, sum(qty) * sum(price), sum(qty) + 1, sum(qty) - 0.5,
               CASE WHEN sum(price) = 0 THEN NULL ELSE sum(qty) / sum(price) END, NULL::DOUBLE
        FROM sales GROUP BY product ORDER BY product"""))


def test_where_on_measures_and_levels(star: Tables) -> None:
    tables, cubes = star
    measure(star, "big or EU", Where(
        AllOf([MeasureComparison(MeasureRef("qty.SUM"), ">", Constant(2)), NotCondition(LevelFilter(Compare("region", "==", "US")))]),
        MeasureRef("qty.SUM"),
        Constant(-1),
    ))
    measure(star, "only when positive", Where(MeasureComparison(MeasureRef("price.SUM"), ">", Constant(0)), MeasureRef("price.SUM")))
    result = query(tables, cubes, measures=["big or EU", "only when positive"], levels=["region"])
    assert_same(result, oracle(tables, """
        SELECT region,
               CASE WHEN sum(qty) > 2 AND NOT coalesce(region = 'US', false) THEN sum(qty) ELSE -1 END,
               CASE WHEN sum(price) > 0 THEN sum(price) END
        FROM sales GROUP BY region ORDER BY region NULLS LAST"""))


def test_filtered_measures_match_duckdb_filter_clauses(star: Tables) -> None:
    tables, cubes = star
    measure(star, "fruit qty", Filtered(MeasureRef("qty.SUM"), Compare("category", "==", "fruit")))
    measure(star, "fruit early rows", Filtered(
        Filtered(MeasureRef("contributors.COUNT"), Compare("category", "==", "fruit")), Compare("day", "<", "2026-02-02")
    ))
    measure(star, "fruit share", Arithmetic("/", MeasureRef("fruit qty"), MeasureRef("qty.SUM")))
    result = query(tables, cubes, measures=["fruit qty", "fruit early rows", "fruit share"], levels=["region"], include_totals=True)
    assert_same(result, oracle(tables, """
        SELECT region, sum(qty) FILTER (category = 'fruit'),
               count(*) FILTER (category = 'fruit' AND day < DATE '2026-02-02'),
               sum(qty) FILTER (category = 'fruit') / nullif(sum(qty), 0)
        FROM sales LEFT JOIN products USING (product)
        GROUP BY ROLLUP (region) ORDER BY region NULLS LAST, GROUPING(region)"""))


def test_share_of_parent_in_a_multi_level_hierarchy() -> None:
    tables, cubes = snowflake()
    cubes.set_hierarchy("sales", "geo", SetHierarchy([LevelDefinition("Category", "category"), LevelDefinition("Product", "product")]))
    cubes.set_measure("sales", "share", SetMeasure(Arithmetic("/", MeasureRef("qty.SUM"), ParentValue(MeasureRef("qty.SUM"), "Product"))))
    cubes.set_measure("sales", "top share", SetMeasure(Arithmetic("/", MeasureRef("qty.SUM"), ParentValue(MeasureRef("qty.SUM"), "Category"))))
    result = cubes.query("sales", CubeQuery(["qty.SUM", "share", "top share"], ["Category", "Product"], include_totals=True),
                         limits=QueryLimits(10, 100))
    assert_same(result, oracle(tables, """
        WITH cells AS (SELECT category, product, sum(qty) AS q FROM sales LEFT JOIN products USING (product) GROUP BY ALL)
        SELECT c, p, q, s, t FROM (
            SELECT category AS c, product AS p, q, q / sum(q) OVER (PARTITION BY category) AS s, q / sum(q) OVER () AS t,
                   0 AS depth FROM cells
            UNION ALL SELECT category, NULL, sum(q), 1.0, sum(q) / (SELECT sum(q) FROM cells), 1 FROM cells GROUP BY category
            UNION ALL SELECT NULL, NULL, sum(q), 1.0, 1.0, 2 FROM cells)
        -- a rolled-up level sorts after a null member
        ORDER BY c NULLS LAST, depth = 2, p NULLS LAST, depth >= 1"""))


def test_measure_validation_errors(star: Tables) -> None:
    cubes = star[1]
    with pytest.raises(InvalidRequestError, match="no column 'nope' in cube tables"):
        measure(star, "m", Aggregate("sum", "nope"))
    with pytest.raises(InvalidRequestError, match="sum needs a numeric column but sales.region is string"):
        measure(star, "m", Aggregate("sum", "region"))
    with pytest.raises(InvalidRequestError, match="refers to measure 'ghost'"):
        measure(star, "m", MeasureRef("ghost"))
    with pytest.raises(InvalidRequestError, match="parent of 'nope'"):
        measure(star, "m", ParentValue(MeasureRef("qty.SUM"), "nope"))
    measure(star, "a", MeasureRef("qty.SUM"))
    measure(star, "b", MeasureRef("a"))
    with pytest.raises(InvalidRequestError, match="'a' would depend on itself: a -> b -> a"):
        measure(star, "a", MeasureRef("b"))
    with pytest.raises(ConflictError, match="used by measure\\(s\\) 'b'"):
        cubes.delete_measure("sales", "a")
    cubes.delete_measure("sales", "b")
    cubes.delete_measure("sales", "a")
    assert "a" not in [m.name for m in cubes.cube("sales").measures]


def test_overflow_is_a_query_error(star: Tables) -> None:
    tables, cubes = star
    measure(star, "huge", Arithmetic("*", Constant(2**62), Constant(4)))
    with pytest.raises(QueryError, match="overflow"):
        query(tables, cubes, measures=["huge"])


# Hierarchies ---------------------------------------------------------------


def test_hierarchy_edits(star: Tables) -> None:
    _, cubes = star
    info = cubes.set_hierarchy("sales", "time", SetHierarchy([LevelDefinition("Day", "day"), LevelDefinition("Id", "id")]))
    assert [lv.name for lv in info.levels] == ["Day", "Id"]
    with pytest.raises(ConflictError, match="already has a level named 'region'"):
        cubes.set_hierarchy("sales", "other", SetHierarchy([LevelDefinition("region", "region")]))
    measure(star, "EU qty", Filtered(MeasureRef("qty.SUM"), Compare("region", "==", "EU")))
    with pytest.raises(ConflictError, match="used by measure"):
        cubes.delete_hierarchy("sales", "region")
    cubes.delete_hierarchy("sales", "time")
    with pytest.raises(NotFoundError):
        cubes.delete_hierarchy("sales", "time")


# Data changes, limits, empty results ---------------------------------------


def test_appends_and_drops_are_visible_in_the_next_query(star: Tables) -> None:
    tables, cubes = star
    before = query(tables, cubes, measures=["qty.SUM"], levels=["region"])
    tables.append("sales", [[9, "MARS", "zucchini", "2026-05-05", 100, 1.0]])  # a new dictionary chunk
    after = query(tables, cubes, measures=["qty.SUM"], levels=["region"])
    assert ("MARS", 100) in rows(after) and ("MARS", 100) not in rows(before)
    tables.drop("sales", Compare("region", "==", "EU"))
    assert_same(query(tables, cubes, measures=["qty.SUM"], levels=["region"]),
                oracle(tables, "SELECT region, sum(qty) FROM sales GROUP BY region ORDER BY region NULLS LAST"))
    tables.append("products", [["zucchini", "veg", "acme", 1.0]])
    assert ("veg", 100) in rows(query(tables, cubes, measures=["qty.SUM"], levels=["category"]))


def test_empty_results_keep_the_schema(star: Tables) -> None:
    tables, cubes = star
    types: dict[str, pa.DataType] = {"region": pa.string(), "day": pa.date32(), "qty.SUM": pa.int64(), "price.MEAN": pa.float64()}
    expected = pa.schema(types)
    nothing = query(tables, cubes, measures=["qty.SUM", "price.MEAN"], levels=["region", "day"], filter=Compare("region", "==", "MOON"),
                    include_totals=True)
    assert nothing.num_rows == 0 and nothing.schema == expected
    tables.drop("sales", None)
    assert query(tables, cubes, measures=["qty.SUM", "price.MEAN"], levels=["region", "day"]).schema == expected
    grand = query(tables, cubes, measures=["qty.SUM", "contributors.COUNT"], include_totals=True)
    assert grand.num_rows == 0 and grand.column_names == ["qty.SUM", "contributors.COUNT"]


def test_result_size_and_timeout_limits(star: Tables) -> None:
    _, cubes = star
    with pytest.raises(ResultTooLargeError, match="would return 8 rows, more than the limit of 3"):
        cubes.query("sales", CubeQuery(["qty.SUM"], ["day"]), limits=QueryLimits(10, 3))
    with pytest.raises(ResultTooLargeError, match="limit of 2"):
        cubes.query("sales", CubeQuery(["qty.SUM"], ["day"], max_rows=2), limits=QueryLimits(10, 100))
    with pytest.raises(QueryTimeoutError, match="timeout"):
        cubes.query("sales", CubeQuery(["qty.SUM"], ["day"]), limits=QueryLimits(0, 100))


def test_unknown_names_in_queries(star: Tables) -> None:
    tables, cubes = star
    with pytest.raises(QueryError, match=r"has no level 'nope' \(levels: region, product"):
        query(tables, cubes, measures=["qty.SUM"], levels=["nope"])
    with pytest.raises(QueryError, match="no measure 'nope'"):
        query(tables, cubes, measures=["nope"])
    with pytest.raises(QueryError, match="more than once"):
        query(tables, cubes, measures=["qty.SUM"], levels=["region", "region"])


def test_tables_in_use_cannot_be_deleted(star: Tables) -> None:
    tables, cubes = star
    assert cubes.tables_in_use("brands") == ["sales"] and cubes.tables_in_use("sales") == ["sales"]
    with pytest.raises(ConflictError, match="used by cube\\(s\\) 'sales'"):
        cubes.delete_table("brands")
    assert "brands" in tables.names()
    cubes.delete_cube("sales")
    cubes.delete_table("brands")
    assert "brands" not in tables.names() and cubes.joins.edges_from("products") == []
