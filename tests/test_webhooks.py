"""Webhooks end to end: a real receiver on loopback, signatures checked independently."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tinytag import TinyTag

from mock_api import ManualClock, MockService, OffsetClock, Settings, create_app
from mock_api.planning import PACES
from mock_api.server import LiveServer
from tests.helpers import AUTH, SUBMIT, job_input
from tests.receiver import Receiver, running_receiver, signed_as_documented

pytestmark = pytest.mark.anyio


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hooks/wavespeed") as state:
        yield state


async def _secret(client: httpx.AsyncClient) -> str:
    response = await client.get("/api/v3/webhook/secret", headers=AUTH)
    assert response.status_code == 200
    secret: str = response.json()["data"]["secret"]
    return secret


async def test_secret_is_stable_per_account_and_prefixed(client: httpx.AsyncClient) -> None:
    first, again = await _secret(client), await _secret(client)
    other = await client.get("/api/v3/webhook/secret", headers={"Authorization": "Bearer other"})
    assert first == again
    assert first.startswith("whsec_")
    assert other.json()["data"]["secret"] != first


async def test_finished_job_is_posted_signed_without_envelope(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService, receiver: Receiver
) -> None:
    secret = await _secret(client)
    submitted = await client.post(
        SUBMIT, params={"webhook": receiver.url}, json=job_input(prompt="hi"), headers=AUTH
    )
    job_id = submitted.json()["data"]["id"]
    assert await service.webhooks.pump() == 0  # not finished: nothing is due
    clock.advance(60)
    assert await service.webhooks.pump() == 1
    [(headers, body)] = receiver.received
    assert signed_as_documented(secret, headers, body)
    assert int(headers["webhook-timestamp"]) == clock.now_ms() // 1000
    payload = json.loads(body)
    assert not {"data", "message"} & payload.keys()  # the bare prediction, no envelope
    assert payload["id"] == job_id
    assert payload["status"] == "completed"
    assert payload["input"]["prompt"] == "hi"
    assert payload["outputs"] == [f"http://testserver/media/outputs/{job_id}/output.mp4"]
    assert payload["has_nsfw_contents"] == [False]
    assert await service.webhooks.pump() == 0  # delivered once


async def test_failed_jobs_are_posted_too_via_the_body_field(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService, receiver: Receiver
) -> None:
    body = {**job_input(), "webhook_url": receiver.url}
    await client.post(SUBMIT, json=body, headers={**AUTH, "X-Mock-Outcome": "fail:1403:nope"})
    clock.advance(60)
    await service.webhooks.pump()
    payload = json.loads(receiver.received[0][1])
    assert (payload["status"], payload["error"], payload["code"]) == ("failed", "nope", 1403)
    assert "webhook_url" not in payload["input"]


async def test_failed_deliveries_are_retried_with_backoff_and_logged(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    submitted = await client.post(
        SUBMIT, params={"webhook": receiver.url}, json=job_input(), headers=AUTH
    )
    job_id = submitted.json()["data"]["id"]
    clock.advance(60)
    assert await service.webhooks.pump() == 1  # 500
    assert await service.webhooks.pump() == 0  # backing off
    # README: retried 4 more times, 1, 2, 4 and 8 s apart on the mock's clock.
    clock.advance(ms=1_000 - 1)
    assert await service.webhooks.pump() == 0
    clock.advance(ms=1)
    assert await service.webhooks.pump() == 1  # 503
    clock.advance(ms=2_000 - 1)
    assert await service.webhooks.pump() == 0
    clock.advance(ms=1)
    assert await service.webhooks.pump() == 1  # 200
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert len(receiver.received) == 3
    assert len(ids) == 1  # the same message id on every attempt
    log = (await client.get("/_mock/webhooks", params={"job_id": job_id})).json()["data"][
        "deliveries"
    ]
    assert log[0]["state"] == "delivered"
    assert [a["status"] for a in log[0]["attempts"]] == [500, 503, 200]
    assert [a["error"] for a in log[0]["attempts"]] == ["HTTP 500", "HTTP 503", ""]


async def test_a_job_deleted_before_it_finished_ends_its_delivery(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService, receiver: Receiver
) -> None:
    # Before: the pump found no finished job and put the delivery back for later, every
    # time, forever: a pending delivery that nothing could ever complete. (And it was due
    # only when the deleted job would have finished.)
    submitted = await client.post(
        SUBMIT, params={"webhook": receiver.url}, json=job_input(), headers=AUTH
    )
    job_id = submitted.json()["data"]["id"]
    deleted = await client.post("/api/v3/predictions/delete", json={"ids": [job_id]}, headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    # At once: not when the deleted job would have finished, nor at the next pump.
    [delivery] = service.webhooks.deliveries(job_id=job_id)
    assert delivery.state.value == "failed"
    assert [(a.status, a.error) for a in delivery.attempts] == [
        (None, f"prediction {job_id} was deleted: nothing to deliver")
    ]
    clock.advance(3600)
    assert await service.webhooks.pump() == 0  # never attempted again
    assert receiver.received == []


async def test_a_dead_receiver_is_given_up_after_the_last_attempt(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService
) -> None:
    dead = "http://127.0.0.1:9/nobody-listens"
    await client.post(SUBMIT, params={"webhook": dead}, json=job_input(), headers=AUTH)
    clock.advance(60)
    first = clock.now_ms()
    # README: retried 4 more times, 1, 2, 4 and 8 s apart on the mock's clock.
    for wait_ms in (1_000, 2_000, 4_000, 8_000):
        assert await service.webhooks.pump() == 1
        clock.advance(ms=wait_ms - 1)
        assert await service.webhooks.pump() == 0  # not yet
        clock.advance(ms=1)
    assert await service.webhooks.pump() == 1  # the fifth and last
    clock.advance(3600)
    assert await service.webhooks.pump() == 0  # given up
    [delivery] = service.webhooks.deliveries()
    assert delivery.state.value == "failed"
    assert [a.at_ms - first for a in delivery.attempts] == [0, 1_000, 3_000, 7_000, 15_000]
    assert all(a.status is None and a.error for a in delivery.attempts)


async def test_a_slow_receiver_never_blocks_the_api(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService, receiver: Receiver
) -> None:
    receiver.delay = 1.0
    await client.post(SUBMIT, params={"webhook": receiver.url}, json=job_input(), headers=AUTH)
    clock.advance(60)
    delivering = asyncio.create_task(service.webhooks.pump())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    assert (await client.get("/api/v3/balance", headers=AUTH)).status_code == 200
    answered_in = time.perf_counter() - started
    assert not delivering.done()  # the API answered while the receiver was still busy
    assert answered_in < receiver.delay
    assert await delivering == 1


async def test_base64_output_with_a_webhook_is_the_documented_400(
    client: httpx.AsyncClient,
) -> None:
    body = {**job_input(), "enable_base64_output": True}
    response = await client.post(
        SUBMIT, params={"webhook": "http://127.0.0.1:9/x"}, json=body, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json()["error"] == (
        "webhook callback does not support base64 output, "
        "please use the normal API to use base64 output"
    )


async def test_base64_output_returns_the_video_inline(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    submitted = await client.post(
        SUBMIT, json={**job_input(left=3, right=4), "enable_base64_output": True}, headers=AUTH
    )
    clock.advance(60)
    result = await client.get(
        f"/api/v3/predictions/{submitted.json()['data']['id']}/result", headers=AUTH
    )
    [output] = result.json()["data"]["outputs"]
    prefix = "data:video/mp4;base64,"
    assert output.startswith(prefix)
    video = base64.b64decode(output[len(prefix) :])
    assert TinyTag.get(file_obj=io.BytesIO(video)).duration == pytest.approx(4.0, abs=0.001)


def test_a_live_server_delivers_by_itself(receiver: Receiver) -> None:
    service = MockService(Settings(pace=PACES["instant"]), OffsetClock())
    with LiveServer(create_app(service=service)) as server:
        headers = {"Authorization": "Bearer live"}
        secret = httpx.get(f"{server.url}/api/v3/webhook/secret", headers=headers).json()["data"][
            "secret"
        ]
        body: dict[str, Any] = {
            "video": f"{server.url}/media/samples/video.mp4?seconds=5",
            "left_audio": f"{server.url}/media/samples/silence.wav?seconds=2",
            "right_audio": f"{server.url}/media/samples/silence.wav?seconds=3",
        }
        response = httpx.post(
            f"{server.url}{SUBMIT}", params={"webhook": receiver.url}, json=body, headers=headers
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
    [(received_headers, received_body)] = receiver.received
    assert signed_as_documented(secret, received_headers, received_body)
    assert json.loads(received_body)["urls"]["get"].startswith(server.url)


async def test_a_webhook_url_httpx_cannot_use_is_a_logged_failure_not_a_crash(
    client: httpx.AsyncClient, clock: ManualClock, service: MockService
) -> None:
    odd = "http://exa\x01mple.com/hook"  # passes the URL pattern; httpx refuses it
    response = await client.post(SUBMIT, params={"webhook": odd}, json=job_input(), headers=AUTH)
    assert response.status_code == 200
    clock.advance(60)
    assert await service.webhooks.pump() == 1
    [delivery] = service.webhooks.deliveries()
    assert delivery.attempts[0].status is None
    assert delivery.attempts[0].error.startswith("InvalidURL")
