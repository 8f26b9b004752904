"""Saved views: kept in the data directory across any stop, shared by role, and read from Python.

A ``tiercube serve --data-dir`` process is stopped, killed with SIGKILL right
after a save was acknowledged, and started again: every user's views come back,
a deleted one stays deleted. Over a real secured server, ``session.views``
saves a view, another user of the role it is shared with opens and runs it (on
its own rows only), a user of another role is refused it; without security
nobody keeps views.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, SECURED_TOML, USER, write_config
from tests.durable import SNAPSHOTS_ONLY_AT_STOP, Served
from tests.test_explorer_server import STATED
from tiercube._wire import paths


@pytest.fixture
def served(tmp_path: Path) -> Generator[Served]:
    server = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    yield server
    server.close()


def save(url: str, who: tiercube.BasicAuthentication, name: str, fragment: str, shared_with: list[str] | None = None) -> None:
    body: dict[str, Any] = {"fragment": fragment, "shared_with": shared_with or []}
    answer = httpx.put(url + paths.EXPLORER_VIEW.format(view=name), json=body, auth=(who.username, who.password), headers=STATED, timeout=30)
    assert answer.status_code == 200, answer.text


def listed(url: str, who: tiercube.BasicAuthentication) -> list[tuple[str, str, str, list[str]]]:
    answer = httpx.get(url + paths.EXPLORER_VIEWS, auth=(who.username, who.password), headers=STATED, timeout=30)
    assert answer.status_code == 200, answer.text
    return [(view["name"], view["owner"], view["fragment"], view["shared_with"]) for view in answer.json()["views"]]


def test_saved_views_survive_a_clean_stop_and_a_sigkill(served: Served) -> None:
    url = served.start()
    save(url, ADMIN, "by region", "cube=sales&rows=region&measures=qty.SUM", ["ROLE_USER"])
    save(url, ADMIN, "gone", "cube=sales&rows=product")
    save(url, USER, "mine", "cube=sales&columns=region&measures=qty.SUM")
    assert httpx.delete(url + paths.EXPLORER_VIEW.format(view="gone"), auth=(ADMIN.username, ADMIN.password), headers=STATED).status_code == 204
    before = {who.username: listed(url, who) for who in (ADMIN, USER)}
    assert served.stop() == 0  # a clean stop: the views are in its last snapshot
    url = served.start()
    assert {who.username: listed(url, who) for who in (ADMIN, USER)} == before
    # Acknowledged, then killed at once: the save was in the log before it was answered.
    save(url, ADMIN, "by region", "cube=sales&rows=region&measures=qty.SUM&totals=1", ["EUROPE", "ROLE_USER"])
    save(url, USER, "after the snapshot", "cube=sales&rows=region")
    after = {who.username: listed(url, who) for who in (ADMIN, USER)}
    served.kill()
    url = served.start()
    assert {who.username: listed(url, who) for who in (ADMIN, USER)} == after
    assert after["user"] == [
        ("after the snapshot", "user", "cube=sales&rows=region", []),
        ("mine", "user", "cube=sales&columns=region&measures=qty.SUM", []),
        ("by region", "admin", "cube=sales&rows=region&measures=qty.SUM&totals=1", ["EUROPE", "ROLE_USER"]),
    ]


def test_a_deleted_user_s_views_go_with_it_even_when_the_name_comes_back(served: Served) -> None:
    url = served.start()
    carol = tiercube.BasicAuthentication("carol", "carol-password")
    with tiercube.connect(url, authentication=ADMIN, require=tiercube.capabilities.SECURITY) as admin:
        admin.security.create_user("carol", password=carol.password)
        save(url, carol, "hers", "cube=sales&rows=region", ["ROLE_USER"])
        assert ("hers", "carol", "cube=sales&rows=region", ["ROLE_USER"]) in listed(url, USER)
        admin.security.delete_user("carol")
        admin.security.create_user("carol", password=carol.password)  # another person, the same name
    assert listed(url, carol) == []
    assert all(owner != "carol" for _, owner, _, _ in listed(url, USER))
    save(url, carol, "new", "cube=sales&columns=region")
    served.kill()  # what the log replays: the former carol's view stays hers, and gone
    url = served.start()
    assert listed(url, carol) == [("new", "carol", "cube=sales&columns=region", [])]
    assert all(owner != "carol" for _, owner, _, _ in listed(url, USER))


EU = tiercube.BasicAuthentication("eu", "eu-password")
EU_TOO = tiercube.BasicAuthentication("eu2", "eu2-password")
ASIA = tiercube.BasicAuthentication("asia", "asia-password")


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    """A secured server: two users of role EUROPE (restricted to Europe's rows), one of role ASIA."""
    users = [tiercube.UserConfig(name=who.username, password=who.password, roles=[role]) for who, role in ((EU, "EUROPE"), (EU_TOO, "EUROPE"), (ASIA, "ASIA"))]
    with tiercube.Session.start(tiercube.SessionConfig(users=[*SECURED.users, *users])) as session:
        sales = session.create_table("sales", data_types={"id": "int64", "region": "string", "country": "string", "qty": "int64"}, keys=["id"])
        places = [("Europe", "France"), ("Europe", "Spain"), ("Asia", "Japan"), ("Americas", "USA")]
        sales.append(*[(i, *places[i % 4], i + 1) for i in range(40)])
        session.create_cube(sales)
        session.security.restrict("EUROPE", sales["region"] == "Europe")
        yield session


def as_user(owner: tiercube.Session, who: tiercube.BasicAuthentication) -> tiercube.ReadOnlySession:
    return tiercube.connect(owner.url, authentication=who, require=tiercube.ReadOnlySession)


def sorted_rows(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted((tuple(row.values()) for row in table.to_pylist()), key=repr)


BY_COUNTRY = tiercube.ViewDefinition("sales", ["qty.SUM"], rows=["region", "country"], members={"country": ["France", "Spain", "Japan"]}, totals=True)


def test_a_view_saved_from_python_opens_for_its_role_and_is_refused_to_another(owner: tiercube.Session) -> None:
    with as_user(owner, EU) as eu, as_user(owner, EU_TOO) as colleague, as_user(owner, ASIA) as asia:
        saved = eu.views.save("q3", BY_COUNTRY, shared_with=["EUROPE"])
        assert (saved.name, saved.owner, saved.shared_with) == ("q3", "eu", ("EUROPE",))
        assert list(eu.views) == ["q3"] and eu.views["q3"].definition == BY_COUNTRY
        # The other user of role EUROPE opens it under its owner's name, and runs it: Europe's rows only.
        shared = colleague.views["eu/q3"]
        assert shared.definition == BY_COUNTRY and shared.link == f"{owner.url}/#{BY_COUNTRY.fragment}"
        expected = owner.cubes["sales"].query(
            "qty.SUM", levels=["region", "country"], filter=tiercube.level("country").isin("France", "Spain") & (tiercube.level("region") == "Europe"),
            include_totals=True,
        )
        assert sorted_rows(shared.query()) == sorted_rows(expected)
        # The owner (who sees every row) gets Japan too, from the same view.
        assert "Japan" in owner.views.save("mine", BY_COUNTRY).query()["country"].to_pylist()
        # Role ASIA was not given it: not listed, not found, not its to share or delete.
        assert "eu/q3" not in asia.views
        with pytest.raises(tiercube.NotFoundError, match="q3"):
            asia.views["eu/q3"]
        with pytest.raises(tiercube.PermissionDeniedError, match="only its owner shares it"):
            shared.share("ASIA")
        with pytest.raises(tiercube.NotFoundError, match="its owner's to delete"):
            shared.delete()
        # Shared with ASIA by its owner, it opens there too; deleted, it is gone for everyone.
        assert eu.views["q3"].share("ASIA").shared_with == ("ASIA", "EUROPE")
        assert asia.views["eu/q3"].query().num_rows > 0
        del eu.views["q3"]
        assert "eu/q3" not in colleague.views and len(eu.views) == 0


def test_definitions_read_what_the_explorer_writes() -> None:
    fragment = (
        'cube=sales&rows=region%2Ccountry&columns=day&measures=qty.SUM%2Cprice.MEAN&plugin=Y+Line&totals=1'
        '&filters={"region":{"members":["Europe",null]},"day":{"from":"2024-01-01","to":null}}&expanded=[["Europe"]]&sort=-qty.SUM'
    )
    view = tiercube.ViewDefinition.of_fragment(fragment)
    assert (view.cube, view.rows, view.columns, view.measures) == ("sales", ("region", "country"), ("day",), ("qty.SUM", "price.MEAN"))
    assert (view.members, view.ranges, view.totals, view.chart, view.expanded, view.sort) == (
        {"region": ("Europe", None)}, {"day": ("2024-01-01", None)}, True, "line", (("Europe",),), "-qty.SUM",
    )
    assert tiercube.ViewDefinition.of_fragment(view.fragment) == view
    assert repr(view) == "<ViewDefinition sales: qty.SUM, price.MEAN by region, country x day, where region in ['Europe', None] and day in [2024-01-01, None], with totals (line)>"
    # A fragment anyone wrote: what is not as the explorer writes it is left out, nothing raises.
    odd = tiercube.ViewDefinition.of_fragment("cube=sales&measures=qty.SUM&filters=[1]&expanded={&plugin=Pie")
    assert (odd.members, odd.ranges, odd.expanded, odd.chart) == ({}, {}, (), "grid")


def test_without_security_nobody_keeps_views() -> None:
    with tiercube.Session.start() as owner, tiercube.connect(owner.url) as anyone:
        assert isinstance(anyone, tiercube.ReadOnlySession)
        with pytest.raises(tiercube.PermissionDeniedError, match="nobody signs in"):
            anyone.views.save("mine", BY_COUNTRY)
        with pytest.raises(tiercube.PermissionDeniedError, match="keep the view's link instead"):
            len(anyone.views)
