"""Saved views: kept in the data directory across any stop, and shared by role.

A ``tiercube serve --data-dir`` process is stopped, killed with SIGKILL right
after a save was acknowledged, and started again: every user's views come back,
a deleted one stays deleted.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, SECURED_TOML, USER, write_config
from tests.durable import SNAPSHOTS_ONLY_AT_STOP, Served
from tests.test_explorer_server import STATED
from tiercube import BasicAuthentication
from tiercube._wire import paths


@pytest.fixture
def served(tmp_path: Path) -> Generator[Served]:
    server = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    yield server
    server.close()


def save(url: str, who: BasicAuthentication, name: str, fragment: str, shared_with: list[str] | None = None) -> None:
    body: dict[str, Any] = {"fragment": fragment, "shared_with": shared_with or []}
    answer = httpx.put(url + paths.EXPLORER_VIEW.format(view=name), json=body, auth=(who.username, who.password), headers=STATED, timeout=30)
    assert answer.status_code == 200, answer.text


def listed(url: str, who: BasicAuthentication) -> list[tuple[str, str, str, list[str]]]:
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
