"""Tokens over raw HTTP and through the client: what each grants, and when it grants nothing.

The authorization matrix (``test_authorization.py``) sends every route with a
token of every tier; here are the rest of the promises: a token grants the
narrower of its tier and what its user is granted now, ends at once when
revoked, when it expires and when its user goes (a user created again under
the same name does not get it back), any change to its text makes it worthless,
a token limited to tables or cubes reaches only those, the server keeps only
a digest, and a data directory keeps tokens across a restart.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED_TOML, USER, write_config
from tests.durable import SNAPSHOTS_ONLY_AT_STOP, Served
from tests.in_process import InProcessServer, in_process
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths

STATED = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


def users() -> list[tiercube.UserConfig]:
    return [
        tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
        tiercube.UserConfig(name=USER.username, password=USER.password, roles=["ROLE_USER"]),
    ]


@pytest.fixture(scope="module")
def server() -> Generator[InProcessServer]:
    with in_process(tiercube.SessionConfig(users=users())) as served:
        with served.client(headers=served.owner) as owner:
            for name in ("sales", "secret"):
                columns = [{"name": "id", "data_type": "int64"}, {"name": "qty", "data_type": "int64"}]
                assert owner.post(paths.TABLES, json={"name": name, "columns": columns, "keys": ["id"]}).is_success
                assert owner.post(f"/api/v1/tables/{name}/append", json={"rows": [[1, 5], [2, 7]]}).is_success
                assert owner.post(paths.CUBES, json={"fact_table": name, "name": name}).is_success
        yield served


def issue(server: InProcessServer, user: str, tier: str, **more: object) -> str:
    body = {"user": user, "tier": tier, "expires_in": 3600, **more}
    with server.client(headers=server.owner) as owner:
        answer = owner.post(paths.TOKENS, json=body)
    assert answer.is_success, answer.text
    token: str = answer.json()["token"]
    return token


def as_token(server: InProcessServer, token: str) -> httpx.Client:
    return server.client(headers={**STATED, "Authorization": f"Bearer {token}"})


def grant_of(server: InProcessServer, token: str) -> httpx.Response:
    with as_token(server, token) as client:
        return client.get(paths.EXPLORER_GRANT)


def test_a_token_grants_the_narrower_of_its_tier_and_its_users_grant(server: InProcessServer) -> None:
    assert grant_of(server, issue(server, ADMIN.username, "ReadOnlySession")).json()["tier"] == "ReadOnlySession"
    assert grant_of(server, issue(server, ADMIN.username, "RemoteSession")).json()["tier"] == "RemoteSession"
    # The user is no admin: a RemoteSession token gives what the user gets.
    assert grant_of(server, issue(server, USER.username, "RemoteSession")).json()["tier"] == "ReadOnlySession"
    with as_token(server, issue(server, ADMIN.username, "ReadOnlySession")) as reader:
        refused = reader.post(paths.TABLES, json={"name": "nope", "columns": [{"name": "id", "data_type": "int64"}]})
        assert refused.status_code == 403 and "it grants at most ReadOnlySession" in refused.text


def test_a_token_follows_its_users_roles_on_every_request(server: InProcessServer) -> None:
    with server.client(headers=server.owner) as owner:
        assert owner.post(paths.USERS, json={"name": "demoted", "password": "pw", "roles": ["ROLE_ADMIN"]}).is_success
        token = issue(server, "demoted", "RemoteSession")
        assert grant_of(server, token).json()["tier"] == "RemoteSession"
        assert owner.patch("/api/v1/security/users/demoted", json={"roles": ["ROLE_USER"]}).is_success
        assert grant_of(server, token).json()["tier"] == "ReadOnlySession"
        assert owner.delete("/api/v1/security/users/demoted").is_success


def test_revoked_expired_and_tampered_tokens_grant_nothing(server: InProcessServer) -> None:
    token = issue(server, ADMIN.username, "RemoteSession")
    prefix, tier, token_id, secret = token.split(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for forged in (f"{prefix}.LocalSession.{token_id}.{secret}", f"{prefix}.{tier}.{token_id}.{flipped}", f"{prefix}.{tier}.{'0' * 16}.{secret}"):
        answer = grant_of(server, forged)
        assert answer.status_code == 401 and "revoked, or this server never issued it" in answer.text, forged
    assert grant_of(server, token).is_success
    with server.client(headers=server.owner) as owner:
        assert token_id in [t["id"] for t in owner.get(paths.TOKENS).json()]
        assert owner.delete(f"{paths.TOKENS}/{token_id}").status_code == 204
        assert token_id not in [t["id"] for t in owner.get(paths.TOKENS).json()]
        assert owner.delete(f"{paths.TOKENS}/{token_id}").status_code == 404
    assert grant_of(server, token).status_code == 401
    short = issue(server, ADMIN.username, "ReadOnlySession", expires_in=0.5)
    assert grant_of(server, short).is_success
    time.sleep(0.6)
    expired = grant_of(server, short)
    assert expired.status_code == 401 and "the token expired at" in expired.text


def test_a_deleted_users_tokens_do_not_come_back_with_a_new_user_of_that_name(server: InProcessServer) -> None:
    with server.client(headers=server.owner) as owner:
        assert owner.post(paths.USERS, json={"name": "leaver", "password": "pw", "roles": ["ROLE_ADMIN"]}).is_success
        token = issue(server, "leaver", "RemoteSession")
        assert owner.delete("/api/v1/security/users/leaver").is_success
        gone = grant_of(server, token)
        assert gone.status_code == 401 and "no longer exists" in gone.text
        assert owner.post(paths.USERS, json={"name": "leaver", "password": "pw2", "roles": ["ROLE_ADMIN"]}).is_success
        assert grant_of(server, token).status_code == 401
        assert token.split(".")[2] not in [t["id"] for t in owner.get(paths.TOKENS).json()]
        assert owner.delete("/api/v1/security/users/leaver").is_success


def test_a_token_limited_to_a_cube_and_a_table_reaches_those_only(server: InProcessServer) -> None:
    token = issue(server, ADMIN.username, "ReadOnlySession", tables=["sales"], cubes=["sales"])
    query = {"measures": ["qty.SUM"], "levels": []}
    with as_token(server, token) as limited:
        assert [t["name"] for t in limited.get(paths.TABLES).json()] == ["sales"]
        assert limited.get(paths.QUERY_CUBES).json() == ["sales"]
        assert limited.post("/api/v1/tables/sales/query", json={}).is_success
        assert limited.post("/api/query/cubes/sales/query", json=query).is_success
        mdx = {"mdx": "SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]"}
        assert limited.post(paths.QUERY_MDX, json=mdx).is_success
        refused = [
            limited.get("/api/v1/tables/secret"),
            limited.post("/api/v1/tables/secret/query", json={}),
            limited.get("/api/v1/tables/nonexistent"),  # the same answer as for a table that exists
            limited.get("/api/v1/cubes/secret"),
            limited.post("/api/query/cubes/secret/query", json=query),
            limited.post(paths.QUERY_MDX, json={"mdx": "SELECT [Measures].[qty.SUM] ON COLUMNS FROM [secret]"}),
            limited.get(paths.STATS),
            limited.get("/api/custom/anything"),
        ]
        assert [answer.status_code for answer in refused] == [403] * len(refused), [a.text for a in refused]
        events = limited.get(paths.EXPLORER_EVENTS, params={"once": "1"})
        assert '"sales"' in events.text and '"secret"' not in events.text


def test_what_a_token_may_be_is_checked_when_it_is_issued(server: InProcessServer) -> None:
    with server.client(headers=server.owner) as owner:
        scoped_editor = owner.post(paths.TOKENS, json={"user": ADMIN.username, "tier": "RemoteSession", "expires_in": 60, "tables": ["sales"]})
        assert scoped_editor.status_code == 400 and "grants at most ReadOnlySession" in scoped_editor.text
        assert owner.post(paths.TOKENS, json={"user": ADMIN.username, "tier": "Session", "expires_in": 60}).status_code == 400
        assert owner.post(paths.TOKENS, json={"user": ADMIN.username, "tier": "ReadOnlySession", "expires_in": 10**9}).status_code == 400
        assert owner.post(paths.TOKENS, json={"user": ADMIN.username, "tier": "ReadOnlySession", "expires_in": -1}).status_code == 400
        assert owner.post(paths.TOKENS, json={"user": "nobody", "tier": "ReadOnlySession", "expires_in": 60}).status_code == 404
    # A token that may manage security still issues no tokens: they would outlive its revocation.
    with as_token(server, issue(server, ADMIN.username, "RemoteSession")) as remote:
        refused = remote.post(paths.TOKENS, json={"user": ADMIN.username, "tier": "RemoteSession", "expires_in": 60})
        assert refused.status_code == 403 and "a token cannot issue tokens" in refused.text


def test_without_security_a_token_grants_what_anyone_gets() -> None:
    with in_process(tiercube.SessionConfig()) as open_server, open_server.client(headers=open_server.owner) as owner:
        assert owner.post(paths.USERS, json={"name": "someone", "password": "pw", "roles": ["ROLE_ADMIN"]}).is_success
        token = issue(open_server, "someone", "RemoteSession")
        granted = grant_of(open_server, token).json()
        assert granted["tier"] == "ReadOnlySession" and granted["user"] is None


def test_the_client_api() -> None:
    """``create_token``, ``tokens`` and ``revoke_token`` from a session that manages security, over a real socket."""
    with tiercube.Session.start(tiercube.SessionConfig(users=users())) as owner:
        owner.create_table("sales", data_types={"id": "int64"}, keys=["id"]).append((1,))
        with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.RemoteSession) as admin:
            token = admin.security.create_token(USER.username, tier=tiercube.ReadOnlySession, expires_in=60)
            assert USER.username == token.user and token.id in admin.security.tokens
            assert 55 < (token.expires_at.timestamp() - time.time()) <= 60
            assert str(token) not in repr(token) and str(token) not in repr(admin.security.tokens)
            with tiercube.connect(owner.url, authentication=tiercube.TokenAuthentication(token)) as reader:
                assert type(reader) is tiercube.ReadOnlySession
                assert list(reader.tables) == ["sales"]
                admin.security.revoke_token(token)
                # Immediate: the next request of a session already open is refused.
                with pytest.raises(tiercube.AuthenticationError, match="revoked"):
                    list(reader.tables)
            with pytest.raises(tiercube.AuthenticationError):
                tiercube.connect(owner.url, authentication=tiercube.TokenAuthentication(str(token)))
            # An admin's read-only token: the report says why d does not hold, and what the token caps.
            admins = tiercube.TokenAuthentication(admin.security.create_token(ADMIN.username, tier=tiercube.ReadOnlySession))
            with tiercube.connect(owner.url, authentication=admins) as capped:
                report = str(capped.capabilities)
                assert "a ReadOnlySession token loads no local files" in report and "the token grants at most ReadOnlySession" in report
            # The owner's class is a SessionCore to the checkers (the tier classes cannot be named where
            # Token is defined without a cycle): the run-time check refuses it.
            with pytest.raises(TypeError, match="a token's tier is a tier class"):
                admin.security.create_token(USER.username, tier=tiercube.Session)
            with pytest.raises(ValueError, match="not a tiercube token"):
                tiercube.TokenAuthentication("Bearer abc")


def test_tokens_are_kept_hashed_and_survive_a_restart(tmp_path: Path) -> None:
    served = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    try:
        url = served.start()
        with tiercube.connect(url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
            kept = admin.security.create_token(USER.username, tier=tiercube.ReadOnlySession)
            revoked = admin.security.create_token(USER.username, tier=tiercube.ReadOnlySession)
            admin.security.revoke_token(revoked.id)
        served.kill()  # nothing snapshotted: the log alone keeps them
        stored = b"".join(path.read_bytes() for path in (tmp_path / "data").rglob("*") if path.is_file())
        assert str(kept).encode() not in stored and kept.text.split(".")[3].encode() not in stored
        url = served.start()
        with tiercube.connect(url, authentication=tiercube.TokenAuthentication(kept), require=tiercube.ReadOnlySession) as reader:
            assert reader.capabilities.user == USER.username
        with pytest.raises(tiercube.AuthenticationError):
            tiercube.connect(url, authentication=tiercube.TokenAuthentication(revoked))
        assert served.stop() == 0  # a snapshot this time: it keeps the token too
        url = served.start()
        with tiercube.connect(url, authentication=tiercube.TokenAuthentication(kept), require=tiercube.ReadOnlySession):
            pass
        with pytest.raises(tiercube.AuthenticationError):
            tiercube.connect(url, authentication=tiercube.TokenAuthentication(revoked))
    finally:
        served.close()
