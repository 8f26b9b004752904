"""What sessions, tables, cubes and measures show in a notebook (``_repr_html_``), against real servers.

The HTML is parsed back, as a browser would read it: the facts are in its
text, only our own tags are in its markup (hostile names stay text), and a
closed session or a stopped server is shown, never raised. What a display
costs in requests is in test_round_trips.py.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED
from tests.rendered import OUR_TAGS, Rendered
from tests.tiers import SALES_TYPES, Tiers, all_tiers
from tiercube._wire.tiers import GROUPS, Group

def shown(obj: object) -> Rendered:
    """``obj``'s notebook display, parsed; its markup is ours alone."""
    markup = getattr(obj, "_repr_html_")()
    assert isinstance(markup, str)
    rendered = Rendered(markup)
    for tag, attributes in rendered.tags:
        assert tag in OUR_TAGS, (tag, markup)
        assert attributes == ([("class", "tiercube")] if tag == "div" else []), (tag, attributes)
    return rendered


def groups_line(label: str, groups: list[Group]) -> str:
    return f"{label}: " + (", ".join(group.value for group in groups) or "none")


# Each tier by its attribute of ``Tiers``, and the user its server authenticated.
USERS = {
    "owner": "owner", "local": "admin", "remote": "admin", "no_security_local": "admin",
    "no_security": "admin", "read_only": "user", "minimal": "user",
}
TABLE_CLASSES = {
    "owner": "LocalTable", "local": "LocalTable", "remote": "CloudTable", "no_security_local": "LocalTable",
    "no_security": "CloudTable", "read_only": "ReadOnlyTable",
}


@pytest.fixture(scope="module")
def tiers(tmp_path_factory: pytest.TempPathFactory) -> Generator[Tiers]:
    with all_tiers(tmp_path_factory.mktemp("tiers")) as sessions:
        yield sessions


def session_of(tiers: Tiers, name: str) -> tiercube.Session | tiercube.AnySession:
    session: tiercube.Session | tiercube.AnySession = getattr(tiers, name)
    return session


@pytest.mark.parametrize("name", list(USERS))
def test_each_tier_shows_its_class_user_groups_and_what_it_may_read(tiers: Tiers, name: str) -> None:
    session = session_of(tiers, name)
    kind = type(session).__name__
    granted = GROUPS[session.capabilities.tier]
    lines = shown(session).lines
    assert lines[0] == kind
    assert f"server: {session.url} as {USERS[name]}" in lines
    assert groups_line("can", [g for g in Group if g in granted]) in lines
    assert groups_line("cannot", [g for g in Group if g not in granted]) in lines
    assert f"why {session.capabilities.tier}: conditions a to f" in lines
    assert [str(condition) for condition in session.capabilities.conditions] == lines[5:11]
    if Group.READ_MODEL in granted:
        assert "table | rows | columns (* marks a key)" in lines
        assert "sales | 4 | id*, region, qty, price" in lines
    else:  # a query-only session lists the cubes' names, all it may read
        assert "cubes: sales" in lines
        assert not any(line.startswith("table |") for line in lines)


@pytest.mark.parametrize("name", list(TABLE_CLASSES))
def test_each_tiers_table_shows_its_class_abilities_rows_and_columns(tiers: Tiers, name: str) -> None:
    session = session_of(tiers, name)
    assert not isinstance(session, tiercube.MinimalSession)
    table = session.tables["sales"]
    kind = TABLE_CLASSES[name]
    assert type(table).__name__ == kind
    lines = shown(table).lines
    assert lines[0] == f"{kind} sales"
    can = {"ReadOnlyTable": "query", "CloudTable": "query, append, drop, join, load (cloud storage)"}
    assert lines[1] == "can: " + can.get(kind, "query, append, drop, join, load (files, Arrow tables, frames, cloud storage)")
    assert lines[2:] == [
        "rows: 4", "column | type | key",
        *(f"{column} | {data_type}" + (" | key" if column == "id" else " |") for column, data_type in SALES_TYPES.items()),
    ]


@pytest.mark.parametrize("name", list(USERS))
def test_each_tiers_cube_shows_what_the_tier_may_read_of_it(tiers: Tiers, name: str) -> None:
    session = session_of(tiers, name)
    cube = session.cubes["sales"]
    kind = type(cube).__name__
    text = shown(cube).text
    assert text.startswith(f"{kind} sales\ncan: query")
    if isinstance(cube, tiercube.ReadOnlyCube):
        assert "fact table: sales" in text
        assert "region | region | sales.region | string" in text
        assert "id | id | sales.id | int64" in text
        assert "qty.SUM | sum(sales.qty)" in text
        assert "contributors.COUNT | row_count()" in text
        assert ("change hierarchies and measures" in text) == isinstance(cube, tiercube.EditableCube)
    else:  # nothing of the structure: this tier may not read it
        assert kind == "QueryCube" and name == "minimal"
        assert "not read its structure" in text
        assert "qty.SUM" not in text and "region" not in text


@dataclass
class Shop:
    session: tiercube.LocalSession
    table: tiercube.LocalTable
    cube: tiercube.EditableCube


@pytest.fixture(scope="module")
def shop(owner: tiercube.Session) -> Generator[Shop]:
    """Through an admin's connection to the module's owner: a table, a cube with a hierarchy and measures."""
    with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
        frame = pa.table({"id": [1, 2, 3], "region": ["EU", "US", "EU"], "country": ["FR", "US", "DE"], "qty": [3, 4, 5]})
        table = session.read_arrow(frame, table_name="display_sales", keys=["id"])
        cube = session.create_cube(table)
        h = cube.hierarchies
        del h["region"], h["country"]
        h["geography"] = ["region", "country"]
        m = cube.measures
        m["double"] = m["qty.SUM"] * 2
        m["share of region"] = m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "country")
        yield Shop(session, table, cube)


def test_a_session_lists_its_tables_with_row_counts_and_keys(shop: Shop) -> None:
    lines = shown(shop.session).lines
    assert lines[:2] == ["LocalSession", f"server: {shop.session.url} as admin"]
    assert "display_sales | 3 | id*, region, country, qty" in lines


def test_a_cube_shows_levels_top_down_and_each_measures_expression(shop: Shop) -> None:
    lines = shown(shop.cube).lines
    geography = [line for line in lines if line.startswith("geography |")]
    assert geography == ["geography | region | display_sales.region | string", "geography | country | display_sales.country | string"]
    assert "double | qty.SUM * 2" in lines
    assert "share of region | qty.SUM / parent_value(qty.SUM, 'country')" in lines
    assert "measures: 5" in lines


def test_a_measure_and_the_measures_show_their_expressions(shop: Shop) -> None:
    measure = shop.cube.measures["share of region"]
    assert shown(measure).lines == ["Measure share of region", "expression: qty.SUM / parent_value(qty.SUM, 'country')"]
    assert repr(measure) == "<Measure 'share of region' = qty.SUM / parent_value(qty.SUM, 'country')>"
    lines = shown(shop.cube.measures).lines
    assert lines[:2] == ["Measures of display_sales", "measure | expression"]
    assert "double | qty.SUM * 2" in lines


def test_expressions_read_as_the_python_that_builds_them(shop: Shop) -> None:
    m = shop.cube.measures
    europe = tiercube.level("region") == "EU"
    expression = tiercube.where(m["qty.SUM"] > 3, (m["qty.SUM"] - m["double"]) / 2, tiercube.filtered(m["double"], europe))
    assert repr(expression) == (
        "MeasureExpression(where(qty.SUM > 3, (qty.SUM - double) / 2, filtered(double, region == 'EU')))"
    )
    assert repr(m["qty.SUM"] - (m["double"] - tiercube.agg.sum("qty", table="display_sales"))) == (
        "MeasureExpression(qty.SUM - (double - sum(display_sales.qty)))"
    )
    assert repr(m["share of region"] * -1) == "MeasureExpression([share of region] * (-1))"


HOSTILE = "<script>alert('x')</script>"


def test_hostile_names_show_as_text(shop: Shop) -> None:
    name = "<img src=x onerror=alert(1)>"
    table = shop.session.read_arrow(pa.table({"id": [1], HOSTILE: ["a"], "n": [2]}), table_name=name, keys=["id"])
    cube = shop.session.create_cube(table)
    cube.measures['"><b>m'] = cube.measures["n.SUM"] + 1
    cube.hierarchies["<td>"] = {"<th>": HOSTILE}
    for obj in (shop.session, table, cube, cube.measures, cube.measures['"><b>m']):
        text = shown(obj).text  # shown() fails on any tag or attribute that is not ours
        assert name in text or '"><b>m' in text
    cube_text = shown(cube).text
    assert f"<td> | <th> | {name}.{HOSTILE} | string" in cube_text
    assert '"><b>m | n.SUM + 1' in cube_text
    assert f"{HOSTILE} | string |" in shown(table).text


def test_a_closed_session_and_its_objects_show_that_they_are_closed() -> None:
    with tiercube.Session.start(SECURED) as owner:
        table = owner.read_arrow(pa.table({"id": [1], "region": ["EU"], "qty": [3]}), table_name="t", keys=["id"])
        known = owner.create_cube(table)  # knows its structure from the answer that created it
        unknown = owner.cubes["t"]
        measure = known.measures["qty.SUM"]
        local = tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession)
    try:
        for obj in (owner, table, known, unknown, owner.tables, owner.cubes):
            assert "(closed)" in repr(obj)
        for closed in (owner, table, known, unknown, known.measures):
            assert "state: <closed>: this session's connection is closed" in shown(closed).lines
        assert shown(measure).lines[1] == "expression: sum(t.qty)"  # a measure knows its expression

        # The server is gone, this connection is open: each object shows what it knows, and why not the rest.
        assert shown(local).lines[:2] == ["LocalSession", f"server: {owner.url} as admin"]
        for stranded in (local, local.tables["t"], local.cubes["t"], local.cubes["t"].measures):
            assert shown(stranded).lines[-1].startswith("unavailable: ServerUnavailableError: cannot reach")
        for mapping in (local.tables, local.cubes, local.cubes["t"].levels):
            assert "(unavailable: ServerUnavailableError: cannot reach" in repr(mapping)
    finally:
        local.close()
    assert shown(local).lines[-1] == "state: <closed>: this session's connection is closed"
