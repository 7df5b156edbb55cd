"""Every error answer is the one envelope, with the ``error_code`` official clients read."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from mock_api import Settings
from mock_api.errors import ERROR_CODES, error_body, error_code_for
from mock_api.spec import default_spec
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input

pytestmark = pytest.mark.anyio

ERROR_SCHEMA = {
    **default_spec().document["components"]["schemas"]["Error"],
    "components": default_spec().document["components"],
}


def check(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert (body["code"], body["error_code"]) == (status, code)
    assert body["message"] == body["error"]
    return body


def test_the_envelope_names_the_kind_of_failure() -> None:
    assert error_body(404, "gone") == {
        "code": 404,
        "message": "gone",
        "error": "gone",
        "error_code": "not_found",
        "data": None,
    }
    assert error_code_for(418) == "http_418"
    assert len(set(ERROR_CODES.values())) == len(ERROR_CODES)
    documented = ERROR_SCHEMA["properties"]["error_code"]["description"]
    for status in (400, 401, 402, 403, 404, 405, 413, 429, 500):
        assert f"`{ERROR_CODES[status]}` {status}" in documented


async def test_every_kind_of_refusal_carries_its_error_code(make_client: MakeClient) -> None:
    settings = Settings(initial_balance_micros=10_000, control_token="secret")
    async with make_client(settings) as client:
        check(await client.post(SUBMIT, json={}, headers=AUTH), 400, "invalid_request")
        check(await client.get("/api/v3/balance"), 401, "unauthorized")
        check(
            await client.post(SUBMIT, json=job_input(), headers=AUTH), 402, "insufficient_balance"
        )
        check(await client.get("/_mock/clock"), 403, "forbidden")
        check(await client.get("/api/v3/predictions/x/result", headers=AUTH), 404, "not_found")
        check(await client.get("/api/v3/nowhere", headers=AUTH), 404, "not_found")
        check(await client.delete("/api/v3/balance", headers=AUTH), 405, "method_not_allowed")
        ticket = {"filename": "a.mp4", "size": 10**9, "content_type": "video/mp4"}
        response = await client.post("/api/v3/media/uploads", json=ticket, headers=AUTH)
        check(response, 413, "payload_too_large")


async def test_rate_limits_and_injected_faults_carry_it_too(client: httpx.AsyncClient) -> None:
    limits = {"videos_per_minute": 1, "max_concurrent": None}
    assert (await client.put("/_mock/limits", json=limits)).status_code == 200
    await client.post(SUBMIT, json=job_input(), headers=AUTH)
    check(await client.post(SUBMIT, json=job_input(), headers=AUTH), 429, "rate_limited")
    fault = {"id": "boom", "kind": "status", "status": 502, "path": "/api/v3/balance"}
    assert (await client.post("/_mock/faults", json=fault)).status_code == 200
    check(await client.get("/api/v3/balance", headers=AUTH), 502, "bad_gateway")


def test_every_error_code_the_fake_uses_is_the_one_openapi_yaml_lists() -> None:
    # Before: 502, 503 and 504 answered bad_gateway, service_unavailable and
    # gateway_timeout, where the spec said unlisted statuses get http_<status>.
    described = default_spec().document["components"]["schemas"]["Error"]["properties"][
        "error_code"
    ]["description"]
    for status, code in ERROR_CODES.items():
        assert f"`{code}` {status}" in " ".join(described.split()), (status, code)
