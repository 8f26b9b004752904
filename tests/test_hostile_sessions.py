"""Explorer sessions and server statistics, as a hostile signed-in user uses them, over raw HTTP.

A user may hold only so many explorer sessions, and opening more ends that
user's own oldest, never another user's (SECURITY.md, promise 10); the
engine's statistics, whose sizes grow with rows a restricted user cannot
see, are shown only to callers that manage security (promise 5).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

import tiercube
from tests.conftest import ADMIN
from tests.tiers import raw
from tiercube._server.browser_sessions import PER_USER
from tiercube._version import PROTOCOL_VERSION
from tiercube._wire import paths

ALICE = tiercube.BasicAuthentication("alice", "alice-password")
MALLORY = tiercube.BasicAuthentication("mallory", "mallory-password")
EU = tiercube.BasicAuthentication("eu", "eu-password")


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    users = [
        tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
        tiercube.UserConfig(name=ALICE.username, password=ALICE.password, roles=["ROLE_USER"]),
        tiercube.UserConfig(name=MALLORY.username, password=MALLORY.password, roles=["ROLE_USER"]),
        tiercube.UserConfig(name=EU.username, password=EU.password, roles=["EUROPE"]),
    ]
    with tiercube.Session.start(tiercube.SessionConfig(users=users, max_failed_logins_per_minute=10_000)) as session:
        sales = session.create_table("sales", data_types={"id": "int64", "region": "string", "qty": "int64"}, keys=["id"])
        sales.append((1, "EU", 3), (2, "US", 4))
        session.create_cube(sales)
        session.security.restrict("EUROPE", sales["region"] == "EU")
        yield session


def embed_token(url: str, auth: tiercube.BasicAuthentication) -> str:
    response = raw(url, "POST", paths.EXPLORER_SESSIONS, auth=auth, body={"cube": "sales"})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def session_works(url: str, token: str) -> bool:
    response = raw(url, "GET", paths.EXPLORER_GRANT, auth=None, headers={paths.EXPLORER_TOKEN_HEADER: token})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def test_a_user_opening_many_explorer_sessions_ends_only_their_own(owner: tiercube.Session) -> None:
    """A ReadOnly user opened 10,080 explorer sessions in 10 s and signed every other user out."""
    alice = embed_token(owner.url, ALICE)
    notebook = embed_token(owner.url, ADMIN)
    mallory = [embed_token(owner.url, MALLORY) for _ in range(PER_USER + 20)]
    assert session_works(owner.url, alice) and session_works(owner.url, notebook)
    assert [session_works(owner.url, token) for token in mallory[:20]] == [False] * 20  # her own oldest ended
    assert all(session_works(owner.url, token) for token in mallory[20:])
    assert owner.tables["sales"].query().num_rows == 2


def test_a_session_in_use_is_not_the_one_that_ends(owner: tiercube.Session) -> None:
    kept = embed_token(owner.url, MALLORY)
    for _ in range(PER_USER + 5):
        embed_token(owner.url, MALLORY)
        assert session_works(owner.url, kept)  # used between, so never her least recently used


def stats(url: str, auth: tiercube.BasicAuthentication) -> dict[str, object]:
    response = raw(url, "GET", paths.STATS, auth=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_stats_details_are_for_callers_that_manage_security(owner: tiercube.Session) -> None:
    """A restricted user read how many hidden rows exist from kept answer and grouping byte counts."""
    for auth in (EU, ALICE):
        seen = stats(owner.url, auth)
        assert seen["user"] == auth.username and seen["tier"] == "ReadOnlySession"
        assert seen["restricted"] is (auth is EU)
        assert (seen["aggregates"], seen["kept_answers"], seen["kept_answer_bytes"], seen["cluster"]) == (None, None, None, None)
    cube = owner.cubes["sales"]
    before = stats(owner.url, EU)
    owner.tables["sales"].append(*((i, "US", i) for i in range(3, 1003)))  # rows EU cannot see
    cube.query("qty.SUM", levels=["region"])
    assert stats(owner.url, EU) == before
    admin = stats(owner.url, ADMIN)
    assert admin["user"] == ADMIN.username and admin["tier"] == "RemoteSession" and admin["restricted"] is False
    assert isinstance(admin["aggregates"], dict) and isinstance(admin["kept_answers"], int)
    # A user of another wire protocol (MinimalSession) may only query.
    assert raw(owner.url, "GET", paths.STATS, auth=ALICE, protocol=PROTOCOL_VERSION + 1).status_code == 403
    owner.tables["sales"].drop(owner.tables["sales"]["id"] >= 3)
