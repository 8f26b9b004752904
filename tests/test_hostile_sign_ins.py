"""Failed sign-ins as an attacker sends them, over raw HTTP (SECURITY.md, promise 6).

The throttle counts failures per user and per address; the address is the
connection's, or what a proxy listed in ``trusted_proxies`` forwarded.
Each test checks who is refused, that everyone else is not, and that the
server is alive and its data unchanged.
"""

from __future__ import annotations

import httpx
import pytest

import tiercube
from tests.conftest import ADMIN
from tests.tiers import raw
from tiercube._server.authentication import ACROSS
from tiercube._server.connections import PARSERS
from tiercube._server.main import PARSER_VARIABLE

LIMIT = 3
ALICE = tiercube.BasicAuthentication("alice", "alice-password")
BOB = tiercube.BasicAuthentication("bob", "bob-password")
USERS = [
    tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
    tiercube.UserConfig(name=ALICE.username, password=ALICE.password, roles=["ROLE_USER"]),
    tiercube.UserConfig(name=BOB.username, password=BOB.password, roles=["ROLE_USER"]),
]


def status(url: str, auth: tiercube.BasicAuthentication, forwarded: str | None = None) -> int:
    headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
    return raw(url, "GET", "/api/v1/tables", auth=auth, headers=headers).status_code


def wrong(user: str) -> tiercube.BasicAuthentication:
    return tiercube.BasicAuthentication(user, "guess")


def state(owner: tiercube.Session) -> object:
    return owner.tables.schema, sorted(owner.cubes)


def test_a_wrong_password_for_one_user_never_locks_out_another() -> None:
    """Behind a reverse proxy every client shares one address: ten wrong passwords once locked out every user."""
    with tiercube.Session.start(tiercube.SessionConfig(users=USERS, max_failed_logins_per_minute=LIMIT)) as owner:
        before = state(owner)
        assert [status(owner.url, wrong("alice")) for _ in range(LIMIT + 1)] == [401] * LIMIT + [429]
        # Bob, from the same address, signs in for the first time, and gets his own wrong passwords counted.
        assert status(owner.url, BOB) == 200
        assert status(owner.url, wrong("bob")) == 401
        assert status(owner.url, ALICE) == 429  # alice herself waits out the minute from this address
        assert state(owner) == before


def test_one_address_trying_many_users_is_stopped() -> None:
    with tiercube.Session.start(tiercube.SessionConfig(users=USERS, max_failed_logins_per_minute=LIMIT)) as owner:
        statuses = [status(owner.url, wrong(f"user-{i}")) for i in range(LIMIT * ACROSS + 1)]
        assert statuses == [401] * (LIMIT * ACROSS) + [429]
        assert status(owner.url, ALICE) == 429  # from that address, for anyone not verified before


@pytest.mark.parametrize("parser", PARSERS)
def test_forwarded_addresses_count_only_from_a_trusted_proxy(parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a trusted proxy each forwarded client has its own count: rotating the header is no way around it
    for a caller that is not the proxy, and forged failures cannot lock out an address the attacker chooses."""
    monkeypatch.setenv(PARSER_VARIABLE, parser)
    config = tiercube.SessionConfig(users=USERS, max_failed_logins_per_minute=LIMIT, trusted_proxies=["127.0.0.0/8"])
    with tiercube.Session.start(config) as owner:
        before = state(owner)
        # The proxy forwards an attacker at 192.0.2.66 guessing alice's password; it appends what it saw,
        # after whatever the attacker put in the header.
        attacker = [status(owner.url, wrong("alice"), f"198.51.100.{i}, 192.0.2.66") for i in range(LIMIT + 1)]
        assert attacker == [401] * LIMIT + [429]
        # Alice herself, at another address, is not locked out by those failures.
        assert status(owner.url, ALICE, "203.0.113.7") == 200
        # Guesses spread over many addresses stop at ACROSS times the limit, for alice only.
        spread = [status(owner.url, wrong("alice"), f"192.0.2.{i}") for i in range(1, LIMIT * ACROSS)]
        assert spread[-1] == 429 and 401 in spread
        assert status(owner.url, BOB, "192.0.2.250") == 200
        assert state(owner) == before


def test_a_forwarded_for_header_is_not_believed_by_default() -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to: rotating it got 12 of 12 guesses through."""
    with tiercube.Session.start(tiercube.SessionConfig(users=USERS, max_failed_logins_per_minute=LIMIT)) as owner:
        statuses = [status(owner.url, wrong("alice"), f"192.0.2.{i}") for i in range(12)]
        assert statuses == [401] * LIMIT + [429] * (12 - LIMIT)
        # Nor can forged failures lock out another address: the connection's own is what counted.
        assert httpx.get(owner.url + "/versions/rest", timeout=10).status_code == 200


def test_a_trusted_proxy_that_is_not_an_address_is_named_at_start() -> None:
    with pytest.raises(tiercube.InvalidRequestError, match="trusted_proxies: 'proxy.internal' is not an IP address"):
        tiercube.SessionConfig(trusted_proxies=["proxy.internal"])
