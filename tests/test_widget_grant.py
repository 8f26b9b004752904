"""A notebook widget's grant: read and query its one cube, for an hour, never the owner's powers.

``cube.explore()`` once put a session in the frame's address whose grant was
the owner's whole ``Session``: with it a caller loaded a file from the
server's disk without share proof and registered a custom endpoint, whose
next call POSTed the owner's bearer token to the caller's listener. Each of
those is refused here over raw HTTP, with the server's state compared around
the refusals, and the owner's token is shown never to leave the server.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest

import tiercube
from tests.conftest import ADMIN, USER
from tests.in_process import InProcessServer, in_process
from tests.test_authorization import basic
from tiercube._server.browser_sessions import BrowserSessions
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube._wire.messages import Caller

STATED = {paths.CLIENT_VERSION_HEADER: __version__, paths.CLIENT_PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


@pytest.fixture(scope="module")
def server() -> Generator[InProcessServer]:
    users = [
        tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
        tiercube.UserConfig(name=USER.username, password=USER.password, roles=["ROLE_USER"]),
    ]
    with in_process(tiercube.SessionConfig(users=users)) as served, served.client(headers=served.owner) as owner:
        for name in ("sales", "other"):
            columns = [{"name": "id", "data_type": "int64"}, {"name": "qty", "data_type": "int64"}]
            assert owner.post(paths.TABLES, json={"name": name, "columns": columns, "keys": ["id"]}).is_success
            assert owner.post(f"/api/v1/tables/{name}/append", json={"rows": [[1, 5]]}).is_success
            assert owner.post(paths.CUBES, json={"fact_table": name, "name": name}).is_success
        yield served


def widget(server: InProcessServer, headers: dict[str, str], cube: str = "sales") -> httpx.Client:
    with server.client(headers=headers) as opener:
        made = opener.post(paths.EXPLORER_SESSIONS, json={"cube": cube})
    assert made.is_success, made.text
    assert made.json()["expires_in"] == 3600
    return server.client(headers={**STATED, paths.EXPLORER_TOKEN_HEADER: made.json()["token"]})


def state(server: InProcessServer) -> dict[str, object]:
    with server.client(headers=server.owner) as owner:
        return {
            "tables": owner.get(paths.TABLES).json(),
            "cubes": {name: owner.get(f"/api/v1/cubes/{name}").json() for name in owner.get(paths.QUERY_CUBES).json()},
            "users": owner.get(paths.USERS).json(),
            "tokens": owner.get(paths.TOKENS).json(),
            "endpoint": owner.get("/api/custom/stolen").status_code,
        }


def test_the_owners_widget_reads_and_queries_its_cube_and_nothing_more(server: InProcessServer, tmp_path: Path) -> None:
    csv = tmp_path / "on-the-servers-disk.csv"
    csv.write_text("id,qty\n9,9\n")
    before = state(server)
    with widget(server, server.owner) as frame:
        granted = frame.get(paths.EXPLORER_GRANT).json()
        assert granted["tier"] == "ReadOnlySession" and set(granted["groups"]) == {"QUERY", "READ_MODEL"}
        assert frame.post("/api/query/cubes/sales/query", json={"measures": ["qty.SUM"], "levels": []}).is_success
        assert frame.get("/api/v1/cubes/sales").is_success and frame.get("/api/v1/tables/sales").is_success
        assert frame.get(paths.QUERY_CUBES).json() == ["sales"]
        proof = {paths.SHARE_PROOF_HEADER: server.nonce}  # even with the share proof in hand
        refused = [
            frame.post(paths.READ, headers=proof, json={"table": "stolen", "source": {"type": "csv", "path": str(csv)}}),
            frame.put(paths.OWNER_ENDPOINTS, json={"route": "stolen", "method": "GET", "forward_url": "http://127.0.0.1:9/"}),
            frame.post(paths.TABLES, json={"name": "made", "columns": [{"name": "id", "data_type": "int64"}]}),
            frame.post("/api/v1/tables/sales/append", json={"rows": [[2, 2]]}),
            frame.post(paths.USERS, json={"name": "mallory", "password": "pw", "roles": ["ROLE_ADMIN"]}),
            frame.post(paths.TOKENS, json={"user": ADMIN.username, "tier": "RemoteSession", "expires_in": 60}),
            frame.post("/api/query/cubes/other/query", json={"measures": ["qty.SUM"], "levels": []}),
            frame.get("/api/v1/tables/other"),
            frame.post(paths.EXPLORER_SESSIONS, json={"cube": "sales"}),  # a new hour from the old one
        ]
        assert [answer.status_code for answer in refused] == [403] * len(refused), [answer.text for answer in refused]
        assert str(csv) not in "".join(answer.text for answer in refused)
        assert frame.post(paths.SIGN_OUT).status_code == 204
        assert frame.get(paths.EXPLORER_GRANT).status_code == 401
    assert state(server) == before


def test_a_users_widget_is_no_wider_than_the_user_and_a_tokens_ends_with_it(server: InProcessServer) -> None:
    with widget(server, {**STATED, **basic(USER.username, USER.password)}) as frame:
        assert frame.get(paths.EXPLORER_GRANT).json()["tier"] == "ReadOnlySession"
        assert frame.post("/api/v1/tables/sales/append", json={"rows": [[2, 2]]}).status_code == 403
    with server.client(headers=server.owner) as owner:
        issued = owner.post(paths.TOKENS, json={"user": USER.username, "tier": "MinimalSession", "expires_in": 600}).json()
        with widget(server, {**STATED, "Authorization": f"Bearer {issued['token']}"}) as frame:
            assert frame.get(paths.EXPLORER_GRANT).json()["tier"] == "MinimalSession"
            assert frame.get("/api/v1/cubes/sales").status_code == 403
            assert owner.delete(f"{paths.TOKENS}/{issued['info']['id']}").status_code == 204
            assert frame.get(paths.EXPLORER_GRANT).status_code == 401
        limited = owner.post(paths.TOKENS, json={"user": USER.username, "tier": "ReadOnlySession", "expires_in": 600, "cubes": ["other"]})
        with server.client(headers={**STATED, "Authorization": f"Bearer {limited.json()['token']}"}) as holder:
            assert holder.post(paths.EXPLORER_SESSIONS, json={"cube": "sales"}).status_code == 403


def test_a_widgets_session_ends_after_its_lifetime_whatever_its_use() -> None:
    sessions = BrowserSessions()
    opened = sessions.open(Caller(username="owner", roles=["ROLE_ADMIN"]), None, lifetime=0.3)
    for _ in range(3):
        assert sessions.find(opened.token) is opened
        time.sleep(0.1)
    time.sleep(0.1)
    assert sessions.find(opened.token) is None


class _Listener(http.server.ThreadingHTTPServer):
    """Stands for whatever a custom endpoint forwards to: it records the headers it is sent."""

    seen: list[dict[str, str]]


def test_the_owners_token_never_leaves_the_server(server: InProcessServer) -> None:
    """A custom endpoint's listener gets a token derived from the owner's, which is no credential."""

    class Recording(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            listener.seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    listener = _Listener(("127.0.0.1", 0), Recording)
    listener.seen = []
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        with server.client(headers=server.owner) as owner:
            registration = {"route": "recorded", "method": "GET", "forward_url": f"http://127.0.0.1:{listener.server_address[1]}/"}
            assert owner.put(paths.OWNER_ENDPOINTS, json=registration).is_success
        with server.client(headers={**STATED}) as caller:
            assert caller.get("/api/custom/recorded", auth=(USER.username, USER.password)).is_success
        [headers] = listener.seen
        sent = headers[paths.FORWARD_TOKEN_HEADER]
        assert sent == paths.forward_token(server.token) and server.token not in str(headers)
        with server.client(headers={"Authorization": f"Bearer {sent}"}) as replayed:
            assert replayed.get(paths.USERS).status_code == 401
    finally:
        listener.shutdown()
        listener.server_close()
