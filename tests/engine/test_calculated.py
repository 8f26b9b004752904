"""Calculated columns and date hierarchies: checked when set, computed over whole columns, equal to duckdb.

Calendar parts and truncations of a column declared as a zoned timestamp follow
the column's own zone across both daylight-saving changes, as duckdb's
``date_trunc`` does with ``TimeZone`` set. Decimals and times of day, the other
column types with parameters, are inputs and levels too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.engine.cube_fixtures import assert_same, oracle, query, rows, snowflake
from tiercube._server.engine.cubes import CubeStore
from tiercube._server.engine.held import HeldRows
from tiercube._server.engine.tables import QueryLimits, TableStore
from tiercube._wire.calculated import Call, Cast, Field, FilterValue, RowExpr, RowLiteral
from tiercube._wire.column_types import Decimal, Time, Timestamp
from tiercube._wire.cubes import Aggregate, CreateCube, CubeQuery, LevelDefinition, SetHierarchy, SetMeasure
from tiercube._wire.filters import Compare, IsIn
from tiercube._wire.messages import Column, CreateTable
from tiercube.errors import InvalidRequestError

Tables = tuple[TableStore, CubeStore]


@pytest.fixture
def star() -> Tables:
    return snowflake()


def call(function: Any, *arguments: RowExpr) -> Call:
    return Call(function, list(arguments))


def level(schema: Tables, hierarchy: str, *definitions: tuple[str, RowExpr]) -> None:
    schema[1].set_hierarchy("sales", hierarchy, SetHierarchy([LevelDefinition(name, "", expression=e) for name, e in definitions]))


def measure(schema: Tables, name: str, column: str | RowExpr, function: Any = "sum") -> None:
    schema[1].set_measure("sales", name, SetMeasure(Aggregate(function, column)))


REVENUE = call("multiply", Field("qty"), Field("price"))


# Aggregate inputs -------------------------------------------------------------


def test_a_calculated_column_is_an_aggregate_input(star: Tables) -> None:
    tables, cubes = star
    measure(star, "revenue", REVENUE)
    measure(star, "discounted", call("if_else", call("greater", Field("qty"), RowLiteral(2)), call("multiply", Field("price"), RowLiteral(0.5)), Field("price")))
    assert_same(
        query(tables, cubes, measures=["revenue", "discounted"], levels=["region"], include_totals=True),
        oracle(tables, """SELECT region, sum(qty * price), sum(CASE WHEN qty > 2 THEN price * 0.5 ELSE price END) FROM sales
                          GROUP BY ROLLUP(region) ORDER BY region NULLS LAST, GROUPING(region)"""),
    )


def test_a_calculated_column_over_a_joined_table_counts_once_per_fact_row(star: Tables) -> None:
    tables, cubes = star
    measure(star, "double weight", call("multiply", Field("weight"), RowLiteral(2)))
    measure(star, "brand letters", call("length", Field("brand")), "mean")
    assert_same(
        query(tables, cubes, measures=["double weight", "brand letters"], levels=["region"]),
        oracle(tables, """SELECT region, sum(weight * 2), avg(length(brand)) FROM sales LEFT JOIN products USING (product)
                          GROUP BY region ORDER BY region NULLS LAST"""),
    )


def test_calculated_columns_are_checked_when_the_measure_is_set(star: Tables) -> None:
    with pytest.raises(InvalidRequestError, match="no column 'qtty'"):
        measure(star, "m", call("multiply", Field("qtty"), Field("price")))
    with pytest.raises(InvalidRequestError, match=r"measure 'm'.*multiply needs numbers, not string; convert with .cast"):
        measure(star, "m", call("multiply", Field("region"), RowLiteral(2)))
    with pytest.raises(InvalidRequestError, match="reads the columns of one table, but 'weight' is in 'products'"):
        measure(star, "m", call("multiply", Field("qty"), Field("weight")))
    with pytest.raises(InvalidRequestError, match="sum needs a numeric column but the calculated column is bool"):
        measure(star, "m", call("greater", Field("qty"), RowLiteral(2)))
    with pytest.raises(InvalidRequestError, match="date_trunc of a date takes one of year, quarter, month, week, day, not 'hour'"):
        level(star, "h", ("hour", call("date_trunc", Field("day"), RowLiteral("hour"))))
    with pytest.raises(InvalidRequestError, match="hour needs a timestamp, not date"):
        level(star, "h", ("hour", call("hour", Field("day"))))
    with pytest.raises(InvalidRequestError, match="null in every row"):
        level(star, "h", ("nothing", call("if_else", call("greater", Field("qty"), RowLiteral(1)), RowLiteral(None), RowLiteral(None))))
    with pytest.raises(InvalidRequestError, match="cannot combine a date with a int64"):
        measure(star, "m", call("if_else", call("greater", Field("qty"), RowLiteral(1)), Field("day"), Field("qty")), "count")


# Levels -----------------------------------------------------------------------


def test_calculated_levels_group_filter_and_total(star: Tables) -> None:
    tables, cubes = star
    level(star, "size", ("big", FilterValue(Compare("price", ">", 1.5, "sales"))))
    level(star, "shape", ("initial", call("upper", call("substring", Field("product"), RowLiteral(0), RowLiteral(1)))))
    level(star, "bucket", ("revenue band", call("round", call("divide", REVENUE, RowLiteral(4)), RowLiteral(0))))
    result = query(tables, cubes, measures=["qty.SUM", "contributors.COUNT"], levels=["big", "initial", "revenue band"],
                   filter=IsIn("initial", ["A", "P"]), include_totals=True)
    assert_same(result, oracle(tables, """
        SELECT price > 1.5 AS big, upper(product[1:1]) AS initial, round(qty * price / 4) AS band, sum(qty), count(*)
        FROM sales WHERE upper(product[1:1]) IN ('A', 'P') GROUP BY ROLLUP(big, initial, band)
        ORDER BY big NULLS LAST, GROUPING(big), initial NULLS LAST, GROUPING(initial), band NULLS LAST, GROUPING(band)"""))


def test_a_date_hierarchy_matches_date_trunc(star: Tables) -> None:
    tables, cubes = star
    units = ("year", "quarter", "month", "week")
    level(star, "calendar", *((unit, call("date_trunc", Field("day"), RowLiteral(unit))) for unit in units))
    result = query(tables, cubes, measures=["qty.SUM"], levels=list(units), include_totals=True, filter=Compare("month", ">=", "2026-02-01"))
    assert result["month"].type == pa.date32()
    truncated = ", ".join(f"CAST(date_trunc('{unit}', day) AS DATE) AS {unit}" for unit in units)
    order = ", ".join(f"{unit} NULLS LAST, GROUPING({unit})" for unit in units)
    assert_same(result, oracle(tables, f"""
        SELECT {', '.join(units)}, sum(qty) FROM (SELECT {truncated}, qty FROM sales)
        WHERE month >= DATE '2026-02-01' GROUP BY ROLLUP({', '.join(units)}) ORDER BY {order}"""))


def test_calendar_parts_and_casts(star: Tables) -> None:
    tables, cubes = star
    parts = ("year", "quarter", "month", "week", "day", "day_of_week", "day_of_year")
    level(star, "parts", *((f"{part} of day", call(part, Field("day"))) for part in parts))
    level(star, "text", ("day as text", Cast(Field("day"), "string")))
    got = query(tables, cubes, measures=["contributors.COUNT"], levels=[f"{p} of day" for p in parts] + ["day as text"])
    sql_parts = "year(day), quarter(day), month(day), weekofyear(day), day(day), isodow(day), dayofyear(day), CAST(day AS VARCHAR)"
    assert_same(got, oracle(tables, f"SELECT {sql_parts}, count(*) FROM sales GROUP BY ALL ORDER BY ALL NULLS LAST"))


def test_hierarchy_levels_follow_appends_upserts_and_drops(star: Tables) -> None:
    tables, cubes = star
    level(star, "calendar", ("year", call("date_trunc", Field("day"), RowLiteral("year"))), ("month", call("date_trunc", Field("day"), RowLiteral("month"))))
    before = rows(query(tables, cubes, measures=["qty.SUM"], levels=["year"]))
    tables.append("sales", [[9, "EU", "apple", "2028-02-29", 10, 1.0]])
    after = rows(query(tables, cubes, measures=["qty.SUM"], levels=["year"]))
    assert after == [*before, (dt.date(2028, 1, 1), 10)]
    tables.drop("sales", Compare("id", "==", 9))
    assert rows(query(tables, cubes, measures=["qty.SUM"], levels=["year"])) == before


# Zoned timestamps ---------------------------------------------------------------

PARIS = "Europe/Paris"
# Both daylight-saving changes of 2024 in Paris, a leap day, and the turn of the year, in UTC.
MOMENTS = [
    dt.datetime(2024, 3, 31, 0, 0) + dt.timedelta(minutes=m) for m in range(-90, 240, 25)
] + [dt.datetime(2024, 10, 26, 23, 0) + dt.timedelta(minutes=m) for m in range(0, 300, 35)] + [
    dt.datetime(2024, 2, 28, 23, 30), dt.datetime(2024, 2, 29, 22, 59), dt.datetime(2023, 12, 31, 23, 30),
]


def events(instants: list[dt.datetime]) -> Tables:
    tables = TableStore()
    cubes = CubeStore(tables)
    tables.create(CreateTable("events", [Column("at", Timestamp("us", PARIS)), Column("n", "int64")]))
    at = pa.array(instants, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=PARIS))
    tables.get("events").rows = HeldRows(pa.table({"at": at, "n": list(range(len(instants)))}))
    cubes.create_cube(CreateCube("events", mode="manual"))
    cubes.set_measure("events", "n", SetMeasure(Aggregate("sum", "n")))
    return tables, cubes


@settings(max_examples=examples(25))
@given(instants=st.lists(st.sampled_from(MOMENTS), min_size=1, max_size=12), unit=st.sampled_from(["year", "month", "week", "day", "hour"]))
def test_zoned_truncation_follows_the_zone_across_daylight_saving(instants: list[dt.datetime], unit: str) -> None:
    tables, cubes = events(instants)
    cubes.set_hierarchy("events", "time", SetHierarchy([LevelDefinition("t", "", expression=call("date_trunc", Field("at"), RowLiteral(unit)))]))
    cubes.set_hierarchy("events", "parts", SetHierarchy([LevelDefinition("hour of day", "", expression=call("hour", Field("at")))]))
    result = cubes.query("events", CubeQuery(["n"], ["t", "hour of day"]), limits=QueryLimits(10, 1000))
    assert result["t"].type == pa.timestamp("us", tz=PARIS)  # the zone is kept
    connection = duckdb.connect()
    connection.execute(f"SET TimeZone = '{PARIS}'")
    connection.register("events", tables.get("events").rows.gathered())
    expected = connection.sql(f"""SELECT date_trunc('{unit}', "at") AS t, hour("at") AS h, sum(n) FROM events GROUP BY ALL ORDER BY ALL""").fetchall()
    got = [tuple(row.values()) for row in result.to_pylist()]
    if unit != "hour":
        assert got == expected
        return
    # The hour the clocks go back (2:00 to 2:59 twice) is two hours here, each its own instant;
    # duckdb truncates the wall-clock time and makes them one. Every other hour agrees.
    repeated = [row for row in got if row[0].month == 10 and row[1] == 2]
    assert [row for row in got if row not in repeated] == [row for row in expected if not (row[0].month == 10 and row[1] == 2)]
    assert len({row[0].timestamp() for row in repeated}) == len(repeated)
    assert all(row[0].minute == 0 for row in repeated)


# Decimals and times of day -------------------------------------------------------


def test_decimals_and_times_of_day_are_calculated_inputs_and_levels() -> None:
    tables = TableStore()
    cubes = CubeStore(tables)
    columns = [Column("id", "int64"), Column("price", Decimal(12, 2)), Column("qty", "int64"), Column("opens", Time("s"))]
    tables.create(CreateTable("shop", columns, keys=["id"]))
    # Over 4,096 rows (a block of the engine's columns), with nulls, ties and zero quantities.
    tables.append("shop", [
        [i, f"{(i * 37) % 1000 / 100:.2f}" if i % 7 else None, i % 5, f"{8 + i % 4:02d}:{(i * 15) % 60:02d}:00"] for i in range(5000)
    ])
    cubes.create_cube(CreateCube("shop", mode="manual"))
    cubes.set_hierarchy("shop", "opens", SetHierarchy([LevelDefinition("opens", "opens")]))
    cubes.set_hierarchy("shop", "pricey", SetHierarchy([LevelDefinition("pricey", "", expression=call("greater", Field("price"), RowLiteral(5)))]))
    cubes.set_measure("shop", "revenue", SetMeasure(Aggregate("sum", call("multiply", Field("qty"), Field("price")))))
    cubes.set_measure("shop", "price", SetMeasure(Aggregate("sum", "price")))
    result = cubes.query("shop", CubeQuery(["revenue", "price"], ["opens", "pricey"], include_totals=True), limits=QueryLimits(30, 100_000))
    assert result["opens"].type == pa.time32("s") and pa.types.is_decimal(result["price"].type)  # sums of decimals stay exact
    connection = duckdb.connect()
    connection.register("shop", tables.get("shop").rows.gathered())
    assert_same(result, [tuple(row) for row in connection.sql("""
        SELECT opens, price > 5, sum(qty * price)::DOUBLE, sum(price) FROM shop
        GROUP BY ROLLUP(opens, price > 5) ORDER BY opens NULLS LAST, GROUPING(opens), 2 NULLS LAST, GROUPING(price > 5)""").fetchall()])
