"""The poll answer :func:`mock_api.views.prediction_answer` keeps: always the JSON the
prediction of that moment renders to, never a stale one."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from starlette.responses import JSONResponse

from mock_api import ManualClock, MockService, views
from mock_api.urls import Urls
from tests.helpers import AUTH, SUBMIT, job_input

pytestmark = pytest.mark.anyio


async def _submit(client: httpx.AsyncClient) -> str:
    answer = await client.post(SUBMIT, json=job_input(), headers=AUTH)
    assert answer.status_code == 200, answer.text
    job_id: str = answer.json()["data"]["id"]
    return job_id


def _fresh(service: MockService, job_id: str, urls: Urls) -> bytes:
    """What the answer is, made without the kept ones."""
    job = service.any_job(job_id)
    assert job is not None
    content = views.envelope(views.prediction(job, service.clock.now_ms(), urls))
    return bytes(JSONResponse(content).body)


async def test_each_poll_answers_the_moments_prediction(
    client: httpx.AsyncClient, service: MockService, clock: ManualClock
) -> None:
    job_id = await _submit(client)
    seen = []
    for step_ms in (0, 0, 600, 0, 60_000, 0):  # created, processing, completed; each twice
        clock.advance(ms=step_ms)
        answer = await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == _fresh(service, job_id, Urls("http://testserver"))
        seen.append(answer.json()["data"]["status"])
    assert seen == ["created"] * 2 + ["processing"] * 2 + ["completed"] * 2


async def test_an_answer_names_the_base_url_the_request_used(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job_id = await _submit(client)
    clock.advance(60)
    for base in ("http://testserver", "http://127.0.0.1:8000", "http://testserver"):
        answer = await client.get(f"{base}/api/v3/predictions/{job_id}/result", headers=AUTH)
        data = answer.json()["data"]
        assert data["urls"]["get"] == f"{base}/api/v3/predictions/{job_id}/result"
        assert data["outputs"] == [f"{base}/media/outputs/{job_id}/output.mp4"]


async def test_a_record_read_anew_is_answered_anew(
    client: httpx.AsyncClient, service: MockService
) -> None:
    job_id = await _submit(client)
    job = service.any_job(job_id)
    assert job is not None
    urls = Urls("http://testserver")
    now = service.clock.now_ms()
    first = views.prediction_answer(job, now, urls)
    assert views.prediction_answer(job, now, urls) is first  # kept
    # Another object for the same id (another worker wrote it, the store was reset):
    changed = dataclasses.replace(job, input={**job.input, "order": "right_left"})
    again = json.loads(views.prediction_answer(changed, now, urls))
    assert again["data"]["input"]["order"] == "right_left"


async def test_at_most_1024_answers_are_kept(
    client: httpx.AsyncClient, service: MockService
) -> None:
    job_id = await _submit(client)
    job = service.any_job(job_id)
    assert job is not None
    now = service.clock.now_ms()
    for n in range(1100):
        views.prediction_answer(dataclasses.replace(job, id=f"{n:032x}"), now, Urls("http://a"))
        assert len(views._answers) <= 1024
    # A kept one is still answered right after the memo started again.
    assert b'"id":"0000000000000000000000000000044b"' in views.prediction_answer(
        dataclasses.replace(job, id=f"{1099:032x}"), now, Urls("http://a")
    )


async def test_an_answer_over_64_kib_is_made_at_each_poll(
    client: httpx.AsyncClient, service: MockService
) -> None:
    # A job whose inputs are that large (a long prompt): 1,024 of them would be 64 MiB.
    job = service.any_job(await _submit(client))
    assert job is not None
    large = dataclasses.replace(job, input={**job.input, "prompt": "x" * (64 * 1024)})
    urls = Urls("http://testserver")
    answer = views.prediction_answer(large, service.clock.now_ms(), urls)
    assert len(answer) > 64 * 1024
    assert views._answers.get(job.id, (None,))[0] is not large  # not kept
    assert views.prediction_answer(large, service.clock.now_ms(), urls) == answer
