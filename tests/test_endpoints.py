"""The owner's custom endpoints, called over HTTP by other users through the real server."""

from __future__ import annotations

import asyncio
from typing import Literal, assert_type

import httpx

import tiercube
from tests.conftest import ADMIN, USER


def test_custom_endpoint_answers_with_the_owners_function(fresh_owner: tiercube.Session) -> None:
    table = fresh_owner.create_table("scores", data_types={"name": "string", "score": "int64"})
    table.append(("ann", 3), ("bob", 5))
    seen: list[tiercube.EndpointRequest] = []

    @fresh_owner.endpoint("best")
    def best(request: tiercube.EndpointRequest) -> dict[str, object]:
        seen.append(request)
        rows = table.query().to_pylist()
        best_row = max(rows, key=lambda row: int(row["score"]))
        return {"best": best_row["name"], "asked_by": request.user, "limit": request.query.get("limit")}

    @fresh_owner.endpoint("echo", method="POST")
    def echo(request: tiercube.EndpointRequest) -> object:
        assert_type(request.method, Literal["GET", "POST", "PUT", "DELETE"])
        return request.json()

    @fresh_owner.endpoint("sum", method="POST")
    def add(request: tiercube.EndpointRequest) -> int:
        return sum(request.json(dict[str, list[int]])["a"])

    answer = httpx.get(f"{fresh_owner.url}/api/custom/best", params={"limit": "1"}, auth=(USER.username, USER.password))
    assert answer.status_code == 200
    assert answer.json() == {"best": "bob", "asked_by": "user", "limit": "1"}
    assert seen[0].roles == ("ROLE_USER",)

    posted = httpx.post(f"{fresh_owner.url}/api/custom/echo", json={"a": [1, 2]}, auth=(ADMIN.username, ADMIN.password))
    assert posted.json() == {"a": [1, 2]}
    added = httpx.post(f"{fresh_owner.url}/api/custom/sum", json={"a": [1, 2]}, auth=(ADMIN.username, ADMIN.password))
    assert added.json() == 3
    refused = httpx.post(f"{fresh_owner.url}/api/custom/sum", json={"a": ["x"]}, auth=(ADMIN.username, ADMIN.password))
    assert refused.status_code == 500 and "raised msgspec.ValidationError: Expected `int`, got `str`" in refused.json()["message"]


def test_an_async_endpoint_is_awaited(fresh_owner: tiercube.Session) -> None:
    """``async def`` handlers type-check as handlers; each call runs to its end, its await included."""

    @fresh_owner.endpoint("later")
    async def later(request: tiercube.EndpointRequest) -> dict[str, object]:
        await asyncio.sleep(0.01)
        return {"asked_by": request.user, "tables": list(fresh_owner.tables)}

    answer = httpx.get(f"{fresh_owner.url}/api/custom/later", auth=(USER.username, USER.password))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"asked_by": "user", "tables": list(fresh_owner.tables)}


def test_custom_endpoints_need_authentication_and_exist(fresh_owner: tiercube.Session) -> None:
    @fresh_owner.endpoint("fails")
    def fails(request: tiercube.EndpointRequest) -> object:
        raise ValueError("no data for this quarter")

    assert httpx.get(f"{fresh_owner.url}/api/custom/fails").status_code == 401
    missing = httpx.get(f"{fresh_owner.url}/api/custom/nothing", auth=(USER.username, USER.password))
    assert missing.status_code == 404 and "nothing" in missing.json()["message"]
    failed = httpx.get(f"{fresh_owner.url}/api/custom/fails", auth=(USER.username, USER.password))
    assert failed.status_code == 500
    assert failed.json() == {
        "code": "endpoint_failed", "message": "the endpoint 'fails' raised ValueError: no data for this quarter", "details": {}
    }


def test_only_the_owner_may_declare_endpoints(fresh_owner: tiercube.Session) -> None:
    admin = tiercube.connect(fresh_owner.url, authentication=ADMIN)
    assert not hasattr(admin, "endpoint")
    # Even an admin talking to the server directly cannot register a forward target.
    answer = httpx.put(
        f"{fresh_owner.url}/api/v1/owner/endpoints",
        json={"route": "x", "method": "GET", "forward_url": "http://127.0.0.1:9/"},
        auth=(ADMIN.username, ADMIN.password),
    )
    assert answer.status_code == 403
    assert httpx.get(f"{fresh_owner.url}/api/custom/x", auth=(ADMIN.username, ADMIN.password)).status_code == 404
