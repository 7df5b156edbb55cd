"""Requests are checked exactly as openapi.yaml says, and the 400 names the field and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers import AUTH, SUBMIT, job_input

pytestmark = pytest.mark.anyio

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent.parent / "fixtures" / "invalid_submissions.yaml").read_text()
)


def _request(case: dict[str, Any]) -> dict[str, Any]:
    if "raw" in case:
        return {
            "content": case["raw"].encode(),
            "headers": {**AUTH, "Content-Type": "application/json"},
        }
    if "body" in case:
        return {"json": case["body"], "headers": AUTH}
    body = {**job_input(), **case.get("change", {})}
    body.pop(case.get("drop", ""), None)
    return {"json": body, "headers": AUTH}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_invalid_submission_is_400_naming_field_and_reason(
    client: httpx.AsyncClient, case: dict[str, Any]
) -> None:
    response = await client.post(SUBMIT, **_request(case))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert body["data"] is None
    assert body["message"] == body["error"]
    assert body["message"].startswith(f'field "{case["field"]}" {case["reason"]}')
    assert {
        "field": case["field"],
        "reason": body["details"][0]["reason"],
        "location": "body",
    } in body["details"]
    assert case["reason"] in body["details"][0]["reason"]
    service = client._transport.app.state.service  # type: ignore[attr-defined]
    assert service.store.jobs.jobs() == []  # a refused request loses nothing and creates nothing


async def test_every_violation_is_listed(client: httpx.AsyncClient) -> None:
    response = await client.post(SUBMIT, json={"order": "x", "seed": -9}, headers=AUTH)
    fields = [d["field"] for d in response.json()["details"]]
    assert fields == ["left_audio", "order", "right_audio", "seed", "video"]
    # Each named in full: "(and 4 more)" after an enum's list read as four more values.
    assert response.json()["message"] == (
        'field "left_audio" is required; field "order" must be one of meanwhile, left_right, '
        'right_left; field "right_audio" is required; field "seed" must be >= -1; '
        'field "video" is required'
    )


async def test_unknown_fields_are_accepted_and_ignored(client: httpx.AsyncClient) -> None:
    response = await client.post(SUBMIT, json={**job_input(), "resolution": "720p"}, headers=AUTH)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"size": 10}, "filename", "is required"),
        ({"filename": "a.wav"}, "size", "is required"),
        ({"filename": "a.wav", "size": -1}, "size", "must be >= 0"),
        ({"filename": "", "size": 1}, "filename", "must not be empty"),
        ({"filename": "a.wav", "size": "10"}, "size", "must be an integer"),
    ],
)
async def test_upload_ticket_validation(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, reason: str
) -> None:
    response = await client.post("/api/v3/media/uploads", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["message"] == f'field "{field}" {reason}'


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", 'query "seconds" is required'),
        ("?seconds=abc", 'query "seconds" must be a number'),
        ("?seconds=0", 'query "seconds" must be > 0'),
        ("?seconds=1201", 'query "seconds" must be <= 1200'),
        ("?seconds=nan", 'query "seconds" must be a finite number'),
        ("?seconds=1&sample_rate=44100", 'query "sample_rate" must be one of 8000, 16000'),
        ("?seconds=1&sample_rate=x", 'query "sample_rate" must be an integer'),
    ],
)
async def test_sample_query_validation(client: httpx.AsyncClient, query: str, message: str) -> None:
    response = await client.get(f"/media/samples/silence.wav{query}")
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
