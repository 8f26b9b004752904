"""The explorer signs browsers in through a real OpenID Connect provider: node's oidc-provider on loopback.

Authorization code with PKCE, ``state`` and ``nonce``, the client secret at
the token endpoint (a confidential client) or none (a public one). Over raw
HTTP, a test walks the provider's own login form as a browser would and
then tampers with what comes back: another state, none, a used code, the
cookie of another browser, an ID token whose signature was changed (by the
provider's token endpoint, see ``tests/oidc/provider.js``), an account
without roles. Each is a 401 that says why and opens no session. In
Chromium, a user signs in with the provider, reaches the explorer with the
view the link asked for, and signs out.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Page

import tiercube
from tests.browser import browser, page
from tests.in_process import InProcessServer, in_process
from tests.test_oidc import AUDIENCE, SECRET, STATED, Provider, free_port, installed, signing_key
from tiercube._wire import paths

__all__ = ["browser", "installed", "page"]  # fixtures: pytest finds them by the names the tests ask for

ACCOUNTS = {"alice": {"roles": ["analysts"]}, "chief": {"roles": ["admins"]}, "nobody": {}}
# The provider allows these redirect URIs at any port of 127.0.0.1 (native clients): the in-process
# server's address has none, a real server's a port of its own.
CALLBACK = "http://127.0.0.1/explorer/sign-in"
INTERACTIVE: list[dict[str, Any]] = [
    {"client_id": "explorer", "client_secret": SECRET, "redirect_uri": CALLBACK},
    {"client_id": "explorer-public", "redirect_uri": CALLBACK},
    {"client_id": "explorer-tampered", "client_secret": SECRET, "redirect_uri": CALLBACK, "tamper_id_token": True},
]


@pytest.fixture(scope="module")
def provider(installed: None) -> Generator[Provider]:
    started = Provider(free_port())
    started.start(signing_key("first"), interactive=INTERACTIVE, accounts=ACCOUNTS)
    yield started
    started.stop()


def config(provider: Provider, client_id: str = "explorer", secret: str | None = SECRET) -> tiercube.SessionConfig:
    settings = tiercube.OidcConfig(
        issuer=provider.issuer, client_id=client_id, client_secret=secret, audience=AUDIENCE, role_mapping={"admins": ["ROLE_ADMIN"]},
        name="Test provider",
    )  # fmt: skip
    return tiercube.SessionConfig(oidc=settings)


@contextmanager
def browser_of(server: InProcessServer) -> Generator[httpx.Client]:
    """A client of the server that keeps cookies, as one browser does."""
    with server.client(headers=STATED) as client:
        yield client


def through_provider(browser: httpx.Client, login: str, view: str = "cube=sales") -> str:
    """Start a sign-in at the server, sign in at the provider's form as ``login``: the server's path the provider sends back to."""
    started = browser.get(paths.SIGN_IN, params={"with": "oidc", "view": view})
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    with httpx.Client() as at_provider:  # the same browser, at the provider: its own cookies there
        answer = at_provider.get(location)
        for _ in range(10):
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
                if location.startswith(CALLBACK):
                    split = urlsplit(location)
                    return f"{split.path}?{split.query}"
                answer = at_provider.get(location)
            else:  # the provider's login form, then its consent form
                form = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
                prompt = re.search(r'name="prompt" value="(\w+)"', answer.text)
                assert form is not None and prompt is not None, answer.text
                filled = {"login": login, "password": "any"} if prompt[1] == "login" else {}
                answer = at_provider.post(urljoin(str(answer.url), form[1]), data={"prompt": prompt[1], **filled})
    raise AssertionError(f"the provider did not send the browser back: {answer.status_code} {answer.text[:300]}")


def with_query(path: str, **changed: str | None) -> str:
    """``path`` with some of its query's parameters changed (None: left out)."""
    split = urlsplit(path)
    query = {name: values[0] for name, values in parse_qs(split.query).items()}
    for name, value in changed.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"{split.path}?{urlencode(query)}"


def signed_in_as(browser: httpx.Client) -> str | None:
    """Who the browser's explorer cookie signs in, or None when it signs in no one."""
    answer = browser.get(paths.EXPLORER_GRANT)
    if answer.status_code == 401:
        return None
    assert answer.is_success, answer.text
    user: str = answer.json()["user"]
    return user


def refused(browser: httpx.Client, path: str, why: str) -> None:
    answer = browser.get(path)
    assert answer.status_code == 401 and why in answer.json()["message"], answer.text
    assert paths.EXPLORER_COOKIE not in answer.headers.get("set-cookie", "")
    assert signed_in_as(browser) is None


@pytest.fixture(scope="module")
def server(provider: Provider) -> Generator[InProcessServer]:
    with in_process(config(provider)) as served:
        yield served


def test_a_browser_signs_in_through_the_provider_and_out(server: InProcessServer) -> None:
    with browser_of(server) as browser:
        assert 'content="Test provider"' in browser.get(paths.SIGN_IN).text  # the page offers the provider
        back = through_provider(browser, "alice")
        answer = browser.get(back)
        assert answer.status_code == 200 and 'name="tiercube-signed-in" content="#cube=sales"' in answer.text
        grant = browser.get(paths.EXPLORER_GRANT).json()
        assert grant["user"] == "alice" and grant["tier"] == "ReadOnlySession"  # "analysts" is no admin role
        assert browser.post(paths.SIGN_OUT, headers={paths.CSRF_HEADER: grant["csrf"]}).status_code == 204
        assert signed_in_as(browser) is None
    with browser_of(server) as browser:
        browser.get(through_provider(browser, "chief"))
        assert browser.get(paths.EXPLORER_GRANT).json()["tier"] == "RemoteSession"  # "admins" maps to ROLE_ADMIN


def test_a_wrong_or_missing_state_is_refused(server: InProcessServer) -> None:
    with browser_of(server) as browser:
        back = through_provider(browser, "alice")
        refused(browser, with_query(back, state="made-up"), "this sign-in is unknown, expired or finished already")
        refused(browser, with_query(back, state=None), "this sign-in is unknown, expired or finished already")
        assert browser.get(back).is_success and signed_in_as(browser) == "alice"  # the sign-in's own state still works


def test_a_code_works_once(server: InProcessServer) -> None:
    with browser_of(server) as browser:
        back = through_provider(browser, "alice")
        assert browser.get(back).is_success
        browser.cookies.clear()
        refused(browser, back, "this sign-in is unknown, expired or finished already")  # its state was used
        # The same code under the state of a new sign-in of this browser: the provider will not exchange it twice.
        fresh = through_provider(browser, "alice")
        refused(browser, with_query(fresh, code=parse_qs(urlsplit(back).query)["code"][0]), "the provider did not exchange the code (invalid_grant")


def test_another_browsers_sign_in_is_refused(server: InProcessServer) -> None:
    with browser_of(server) as attacker, browser_of(server) as victim:
        back = through_provider(attacker, "chief")
        refused(victim, back, "this sign-in was started by another browser")


def test_an_account_without_roles_is_refused(server: InProcessServer) -> None:
    with browser_of(server) as browser:
        refused(browser, through_provider(browser, "nobody"), "the ID token has no 'roles' claim")


def test_a_tampered_id_token_is_refused(provider: Provider) -> None:
    with in_process(config(provider, "explorer-tampered")) as server, browser_of(server) as browser:
        refused(browser, through_provider(browser, "chief"), "the ID token was not accepted: Signature verification failed")


def test_the_client_secret_is_sent_and_a_public_client_uses_pkce_alone(provider: Provider) -> None:
    with in_process(config(provider, "explorer", "a-wrong-secret")) as server, browser_of(server) as browser:
        refused(browser, through_provider(browser, "alice"), "the provider did not exchange the code (invalid_client")
    with in_process(config(provider, "explorer-public", None)) as server, browser_of(server) as browser:
        assert browser.get(through_provider(browser, "alice")).is_success and signed_in_as(browser) == "alice"


def test_chromium_signs_in_with_the_provider_and_out(page: Page, provider: Provider) -> None:
    with tiercube.Session.start(config(provider)) as owner:
        table = owner.create_table("sales", data_types={"region": "string", "qty": "int64"})
        table.append(("Europe", 3), ("Asia", 4))
        owner.create_cube(table)
        page.goto(f"{owner.url}/#cube=sales")
        page.wait_for_url(re.compile(r".*/explorer/sign-in#cube=sales$"))
        page.get_by_role("link", name="Sign in with Test provider").click()
        page.locator("input[name=login]").fill("chief")
        page.locator("input[name=password]").fill("any")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()  # the provider's consent
        page.wait_for_url(f"{owner.url}/#cube=sales")
        page.locator("#who").filter(has_text="chief").wait_for()
        assert page.locator("#cube").input_value() == "sales"
        cookies = {cookie.get("name"): cookie.get("value") for cookie in page.context.cookies()}
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r".*/explorer/sign-in$"))
        with httpx.Client(base_url=owner.url, headers=STATED, cookies={paths.EXPLORER_COOKIE: cookies[paths.EXPLORER_COOKIE] or ""}) as client:
            assert client.get(paths.EXPLORER_GRANT).status_code == 401  # the session ended with the sign-out
