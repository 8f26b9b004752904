"""The explorer's server side, over raw HTTP: signing in, the cookie, CSRF, sessions that end, assets, events.

The browser tests (``test_explorer.py``) drive the page; these hold the
server to what the page relies on and to what an attacker could try
without it: a forged or stale cookie, a request from another site, a
path out of the assets directory. Each test has a server of its own, in
this process (``tests/in_process.py``), but for the two that need a real
one: a TLS connection, and an event stream read while it is open.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tests.in_process import InProcessServer, in_process
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths

STATED = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


@pytest.fixture
def server() -> Generator[InProcessServer]:
    """A secured server of the test's own, holding a sales table of two rows and its cube."""
    with in_process(SECURED) as served, owner(served) as client:
        columns = [{"name": "id", "data_type": "int64"}, {"name": "region", "data_type": "string"}, {"name": "qty", "data_type": "int64"}]
        check(client.post(paths.TABLES, json={"name": "sales", "columns": columns, "keys": ["id"]}))
        check(client.post(paths.TABLE_APPEND.format(table="sales"), json={"rows": [[1, "EU", 3], [2, "US", 5]]}))
        check(client.post(paths.CUBES, json={"fact_table": "sales", "name": "sales"}))
        yield served


@pytest.fixture
def session() -> Generator[tiercube.Session]:
    """The same, in a server process of its own."""
    with tiercube.Session.start(SECURED) as started:
        sales = started.create_table("sales", data_types={"id": "int64", "region": "string", "qty": "int64"}, keys=["id"])
        sales.append((1, "EU", 3), (2, "US", 5))
        started.create_cube(sales)
        yield started


def owner(server: InProcessServer) -> httpx.Client:
    """A client of ``server`` that the owner's token authenticates."""
    return server.client(headers={**STATED, **server.owner})


def check(answer: httpx.Response) -> httpx.Response:
    assert answer.is_success, (answer.request.method, answer.request.url, answer.status_code, answer.text)
    return answer


def row_count(server: InProcessServer) -> int:
    with owner(server) as client:
        count: int = check(client.get(paths.TABLE.format(table="sales"))).json()["row_count"]
        return count


def append(client: httpx.Client, *row: object) -> None:
    check(client.post(paths.TABLE_APPEND.format(table="sales"), json={"rows": [list(row)]}))


@contextmanager
def signed_in(server: InProcessServer, user: tiercube.BasicAuthentication = ADMIN) -> Generator[httpx.Client]:
    """A client holding the explorer's cookie for ``user``, as a browser would after the sign-in page."""
    with signing_in(server.client(headers=STATED), user) as client:
        yield client


@contextmanager
def signing_in(browser: httpx.Client, user: tiercube.BasicAuthentication) -> Generator[httpx.Client]:
    """``browser``, signed in as ``user``."""
    with browser as client:
        answer = client.post(paths.SIGN_IN, json={"username": user.username, "password": user.password})
        assert answer.status_code == 204, answer.text
        yield client


def grant(client: httpx.Client) -> dict[str, Any]:
    answer = client.get(paths.EXPLORER_GRANT)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_signing_in_sets_a_cookie_the_page_cannot_read_and_other_sites_do_not_send(server: InProcessServer) -> None:
    with server.client() as client:
        answer = client.post(paths.SIGN_IN, json={"username": ADMIN.username, "password": ADMIN.password})
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f"{paths.EXPLORER_COOKIE}=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back


def test_over_tls_the_cookie_is_secure(tmp_path: Path) -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    chain, key = tmp_path / "server.pem", tmp_path / "key.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(chain))
    certificate.private_key_pem.write_to_path(str(key))
    config = tiercube.SessionConfig(users=SECURED.users, tls=tiercube.TlsConfig(certificate=str(chain), key=str(key)))
    with tiercube.Session.start(config) as started, authority.cert_pem.tempfile() as ca:
        with httpx.Client(base_url=started.url, verify=ssl.create_default_context(cafile=ca)) as client:
            answer = client.post(paths.SIGN_IN, json={"username": USER.username, "password": USER.password})
    assert answer.status_code == 204
    assert "; secure" in answer.headers["set-cookie"].lower()


def test_the_page_is_granted_what_the_api_grants_its_user(server: InProcessServer) -> None:
    with signed_in(server) as admin, signed_in(server, USER) as user:
        admin_grant, user_grant = grant(admin), grant(user)
    assert admin_grant["user"] == ADMIN.username and admin_grant["tier"] == "RemoteSession"
    assert "EDIT" in admin_grant["groups"] and "SHARED_FILES" not in admin_grant["groups"]  # a browser has no share proof
    assert user_grant["tier"] == "ReadOnlySession" and user_grant["groups"] == ["QUERY", "READ_MODEL"]
    assert isinstance(admin_grant["csrf"], str) and admin_grant["csrf"] != user_grant["csrf"]


def test_a_cookie_without_the_csrf_token_changes_nothing(server: InProcessServer) -> None:
    """Another site's page can make the browser send the cookie, but cannot read the token."""
    with signed_in(server) as admin:
        token = str(grant(admin)["csrf"])
        append = paths.TABLE_APPEND.format(table="sales")
        refused = admin.post(append, json={"rows": [[3, "ASIA", 1]]})
        forged = admin.post(append, json={"rows": [[3, "ASIA", 1]]}, headers={paths.CSRF_HEADER: "x" * len(token)})
        assert (refused.status_code, forged.status_code) == (403, 403)
        assert "CSRF" in refused.json()["message"]
        assert row_count(server) == 2
        allowed = admin.post(append, json={"rows": [[3, "ASIA", 1]]}, headers={paths.CSRF_HEADER: token})
        assert allowed.status_code == 200, allowed.text
        assert row_count(server) == 3


def test_signing_in_from_another_site_is_refused(server: InProcessServer) -> None:
    with server.client() as client:
        answer = client.post(
            paths.SIGN_IN, json={"username": ADMIN.username, "password": ADMIN.password}, headers={"origin": "https://evil.example"}
        )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_a_wrong_password_is_refused_and_counted(server: InProcessServer) -> None:
    with server.client() as client:
        answer = client.post(paths.SIGN_IN, json={"username": ADMIN.username, "password": "nope"})
        unknown = client.post(paths.SIGN_IN, json={"username": "mallory", "password": "nope"})
        malformed = client.post(paths.SIGN_IN, content=b'{"username": 1}')
    assert (answer.status_code, unknown.status_code, malformed.status_code) == (401, 401, 400)
    assert answer.json()["message"] == unknown.json()["message"]  # no hint whether the user exists
    assert "set-cookie" not in answer.headers
    assert "www-authenticate" not in answer.headers  # a browser would pop up its own password dialog


def test_sessions_end_on_sign_out_password_change_and_deletion(server: InProcessServer) -> None:
    carol = tiercube.BasicAuthentication("carol", "carol-password")
    with owner(server) as security:
        check(security.post(paths.USERS, json={"name": "carol", "password": carol.password, "roles": ["ROLE_USER"]}))
        with signed_in(server) as admin, signed_in(server, carol) as first, signed_in(server, carol) as second:
            token = str(grant(admin)["csrf"])
            assert admin.post(paths.SIGN_OUT, headers={paths.CSRF_HEADER: token}).status_code == 204
            assert admin.get(paths.EXPLORER_GRANT).status_code == 401
            assert grant(first)["user"] == "carol"
            check(security.patch(paths.USER.format(user="carol"), json={"password": "changed"}))
            assert first.get(paths.EXPLORER_GRANT).status_code == 401
            with signed_in(server, tiercube.BasicAuthentication("carol", "changed")) as third:
                assert grant(third)["user"] == "carol"
                check(security.delete(paths.USER.format(user="carol")))
                assert third.get(paths.EXPLORER_GRANT).status_code == 401
            assert second.get(paths.EXPLORER_GRANT).status_code == 401


def test_a_browser_without_a_session_is_sent_to_sign_in(server: InProcessServer) -> None:
    with server.client() as client:
        browser = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})
        program = client.get("/")
    with server.client() as client:
        client.cookies.set(paths.EXPLORER_COOKIE, "no-such-session")
        stale = client.get("/", headers={"accept": "text/html"})
    assert browser.status_code == 303 and browser.headers["location"] == paths.SIGN_IN
    assert program.status_code == 401
    assert stale.status_code == 303


def test_pages_keep_to_themselves(server: InProcessServer) -> None:
    with signed_in(server) as admin:
        page = admin.get("/")
        embed = admin.get(paths.EXPLORER_EMBED)
        sign_in = admin.get(paths.SIGN_IN)
    assert page.status_code == 200 and "<perspective-viewer" in page.text
    assert f'content="{__version__}"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in embed.headers["content-security-policy"]  # framed only by the page a widget names
    assert "frame-ancestors 'none'" in sign_in.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["../pages.py", "..%2Fpages.py", "%2e%2e/%2e%2e/routing.py", "explorer.html", "vendor/../../pages.py", "missing.js", "a%00b"])
def test_assets_stay_in_their_directory(server: InProcessServer, path: str) -> None:
    with server.client() as client:
        answer = client.get(f"/explorer/assets/{path}")
    assert answer.status_code == 404, (path, answer.status_code)


def test_assets_are_served_with_their_types_and_revalidated(server: InProcessServer) -> None:
    with server.client() as client:
        script = client.get("/explorer/assets/view.js")  # the module that loads the viewer
        wasm = client.get("/explorer/assets/vendor/perspective/wasm/perspective-server.wasm")
        again = client.get("/explorer/assets/view.js", headers={"if-none-match": script.headers["etag"]})
    assert script.headers["content-type"].startswith("text/javascript") and "perspective" in script.text
    assert wasm.headers["content-type"] == "application/wasm" and wasm.content[:4] == b"\0asm"
    assert again.status_code == 304 and again.content == b""


def test_events_tell_when_a_cube_s_data_changes(server: InProcessServer) -> None:
    with signed_in(server, USER) as user, owner(server) as changes:
        first = user.get(paths.EXPLORER_EVENTS, params={"once": "1"})
        append(changes, 9, "EU", 1)
        second = user.get(paths.EXPLORER_EVENTS, params={"once": "1"})
    assert first.headers["content-type"].startswith("text/event-stream")
    before = json.loads(first.text.removeprefix("data: "))["cubes"]
    after = json.loads(second.text.removeprefix("data: "))["cubes"]
    assert set(before) == set(after) == {"sales"} and before["sales"] != after["sales"]


def test_a_stream_of_events_follows_changes_as_they_happen(session: tiercube.Session) -> None:
    """A real server: the stream is read while it is open, which a client without a socket cannot do."""
    seen: list[dict[str, str]] = []
    browser = httpx.Client(base_url=session.url, headers=STATED)
    with signing_in(browser, USER) as user, user.stream("GET", paths.EXPLORER_EVENTS, timeout=30) as stream:
        lines = stream.iter_lines()
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line.removeprefix("data: "))["cubes"])
                if len(seen) == 1:
                    session.tables["sales"].append((10, "US", 2))
                else:
                    break
    assert len(seen) == 2 and seen[0]["sales"] != seen[1]["sales"]


def test_an_embedded_explorer_gets_a_session_of_the_caller_s_own(server: InProcessServer) -> None:
    with server.client() as client:
        made = client.post(paths.EXPLORER_SESSIONS, auth=(USER.username, USER.password), json={"cube": "sales"}).json()
    assert made["path"] == paths.EXPLORER_EMBED and isinstance(made["token"], str)
    with server.client(headers={**STATED, paths.EXPLORER_TOKEN_HEADER: made["token"]}) as embedded:
        seen = grant(embedded)
        assert seen["user"] == USER.username and seen["tier"] == "ReadOnlySession" and seen["csrf"] is None
        # The token is its own proof (no other site can make a browser send it): no CSRF token needed,
        # and the user's tier still applies.
        assert embedded.post(paths.TABLE_APPEND.format(table="sales"), json={"rows": [[4, "EU", 1]]}).status_code == 403
        assert embedded.post(paths.QUERY_CUBE.format(cube="sales"), json={"measures": ["qty.SUM"]}).status_code == 200
    with server.client(headers={paths.EXPLORER_TOKEN_HEADER: "forged"}) as forged:
        assert forged.get(paths.EXPLORER_GRANT).status_code == 401


def test_without_security_the_explorer_is_open_and_read_only() -> None:
    with in_process(tiercube.SessionConfig()) as open_server, owner(open_server) as changes, open_server.client(headers=STATED) as browser:
        check(changes.post(paths.TABLES, json={"name": "t", "columns": [{"name": "x", "data_type": "int64"}]}))
        page = browser.get("/", headers={"accept": "text/html"})
        seen = grant(browser)
        signed = browser.post(paths.SIGN_IN, json={"username": "anyone", "password": "anything"})
        made = browser.post(paths.EXPLORER_SESSIONS, json={"cube": "t"}).json()
    assert page.status_code == 200
    assert seen["user"] is None and seen["tier"] == "ReadOnlySession" and seen["security"] is False
    assert signed.status_code == 204 and "set-cookie" not in signed.headers
    assert made["token"] is None
