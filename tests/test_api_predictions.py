"""A job's whole life through the HTTP API, on a manual clock."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tinytag import TinyTag

from mock_api import Directive, ManualClock, MockService, Outcome, Settings, Status
from mock_api.billing import BillingPolicy, OverMaximum
from mock_api.planning import PACES
from tests.helpers import AUTH, SUBMIT, MakeClient, job_input, silence, video

pytestmark = pytest.mark.anyio

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def submit(
    client: httpx.AsyncClient, body: dict[str, object], **headers: str
) -> dict[str, Any]:
    response = await client.post(SUBMIT, json=body, headers={**AUTH, **headers})
    assert response.status_code == 200, response.text
    envelope: dict[str, Any] = response.json()
    assert (envelope["code"], envelope["message"]) == (200, "success")
    data: dict[str, Any] = envelope["data"]
    return data


async def result(client: httpx.AsyncClient, job_id: str, path: str = "/result") -> dict[str, Any]:
    response = await client.get(f"/api/v3/predictions/{job_id}{path}", headers=AUTH)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def balance(client: httpx.AsyncClient) -> Decimal:
    response = await client.get("/api/v3/balance", headers=AUTH)
    assert response.status_code == 200
    return Decimal(response.text.split('"balance":')[1].split(",")[0])


async def test_job_walks_created_processing_completed(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job = await submit(client, job_input(left=3, right=7, order="left_right"))
    assert re.fullmatch(r"[0-9a-f]{32}", job["id"])
    assert job["model"] == "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
    assert job["status"] == "created"
    assert (job["outputs"], job["has_nsfw_contents"], job["error"], job["timings"]) == (
        [],
        [],
        "",
        {},
    )
    assert ISO_MS.match(job["created_at"])
    assert job["urls"]["get"] == f"http://testserver/api/v3/predictions/{job['id']}/result"

    fast = PACES["fast"]
    clock.advance(ms=fast.queue_ms)
    processing = await result(client, job["id"])
    assert processing["status"] == "processing"
    assert processing["outputs"] == []

    clock.advance(ms=fast.base_ms + 10 * 15)  # 10 s of output at 15 ms per second
    done = await result(client, job["id"])
    assert done["status"] == "completed"
    assert done["has_nsfw_contents"] == [False]
    assert done["timings"] == {"inference": fast.base_ms + 150}
    assert done["created_at"] == job["created_at"]
    assert done == await result(client, job["id"], path="")  # both paths, same answer

    output = await client.get(done["outputs"][0])
    assert output.status_code == 200
    assert output.headers["content-type"] == "video/mp4"
    tag = TinyTag.get(file_obj=io.BytesIO(output.content))
    assert tag.duration == pytest.approx(10.0, abs=0.001)


async def test_finished_job_never_changes(client: httpx.AsyncClient, clock: ManualClock) -> None:
    job = await submit(client, job_input())
    clock.advance(30)
    first = await result(client, job["id"])
    clock.advance(86_400)
    assert await result(client, job["id"]) == first


async def test_charge_matches_the_rule_and_balance_is_exact(client: httpx.AsyncClient) -> None:
    before = await balance(client)
    assert before == Decimal(100)
    await submit(client, job_input(left="7.3", right="2", order="left_right"))  # 9.3 s -> 10 s
    await submit(client, job_input(left="3", right="1"))  # 3 s -> minimum 5 s
    assert await balance(client) == Decimal("100") - Decimal("0.15") - Decimal("0.075")
    response = await client.get("/api/v3/balance", headers=AUTH)
    assert '"balance":99.775' in response.text.replace(" ", "")


async def test_forced_failure_is_refunded_when_it_fails(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job = await submit(
        client, job_input(left=10, right=1), **{"X-Mock-Outcome": "fail:1403:GPU fell over"}
    )
    assert await balance(client) == Decimal("99.85")
    clock.advance(60)
    failed = await result(client, job["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "GPU fell over"
    assert failed["code"] == 1403
    assert (failed["outputs"], failed["has_nsfw_contents"]) == ([], [])
    assert await balance(client) == Decimal(100)
    assert (await client.get(f"/media/outputs/{job['id']}/output.mp4")).status_code == 404


async def test_nsfw_job_completes_with_its_output_flagged(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job = await submit(client, job_input(), **{"X-Mock-Outcome": "nsfw"})
    clock.advance(60)
    done = await result(client, job["id"])
    assert done["status"] == "completed"
    assert done["has_nsfw_contents"] == [True]
    assert len(done["outputs"]) == 1


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("explode", "is not complete, nsfw, or fail"),
        ("fail:abc", "task code 'abc' is not a number"),
    ],
)
async def test_bad_outcome_header_is_a_400_naming_it(
    client: httpx.AsyncClient, header: str, reason: str
) -> None:
    response = await client.post(
        SUBMIT, json=job_input(), headers={**AUTH, "X-Mock-Outcome": header}
    )
    assert response.status_code == 400
    assert "X-Mock-Outcome" in response.json()["message"]
    assert reason in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "input_name", "reason"),
    [
        (
            {"left_audio": "https://example.com/left.mp3"},
            "left_audio",
            "remote fetching is disabled",
        ),
        (
            {"right_audio": "http://testserver/media/files/" + "0" * 32 + "/x.wav"},
            "right_audio",
            "no uploaded file",
        ),
        ({"right_audio": video(3)}, "right_audio", "expected audio"),
        ({"video": silence(3)}, "video", "expected video"),
        ({"video": "http://testserver/somewhere/else.mp4"}, "video", "serves no media"),
    ],
)
async def test_unreadable_media_fails_the_job_with_1402_and_costs_nothing(
    client: httpx.AsyncClient,
    clock: ManualClock,
    change: dict[str, str],
    input_name: str,
    reason: str,
) -> None:
    job = await submit(client, {**job_input(), **change})
    clock.advance(60)
    failed = await result(client, job["id"])
    assert failed["status"] == "failed"
    assert failed["code"] == 1402
    assert failed["error"].startswith(f"{input_name}: ")
    assert reason in failed["error"]
    assert await balance(client) == Decimal(100)


async def test_video_over_600s_fails_with_1401(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job = await submit(client, {**job_input(), "video": video(601)})
    clock.advance(60)
    failed = await result(client, job["id"])
    assert (failed["status"], failed["code"]) == ("failed", 1401)
    assert "600 s" in failed["error"]
    assert await balance(client) == Decimal(100)


async def test_audio_over_600s_is_billed_at_the_cap_with_a_600s_output(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    job = await submit(client, job_input(left=400, right=300, order="right_left"))
    assert await balance(client) == Decimal(91)
    clock.advance(3600)
    done = await result(client, job["id"])
    output = await client.get(done["outputs"][0])
    assert TinyTag.get(file_obj=io.BytesIO(output.content)).duration == pytest.approx(
        600, abs=0.001
    )


async def test_audio_over_600s_fails_under_the_reject_policy(
    make_client: MakeClient, clock: ManualClock
) -> None:
    settings = Settings(billing=BillingPolicy(over_maximum=OverMaximum.REJECT))
    async with make_client(settings) as client:
        job = await submit(client, job_input(left=400, right=300, order="left_right"))
        clock.advance(60)
        failed = await result(client, job["id"])
        assert (failed["status"], failed["code"]) == ("failed", 1401)
        assert "rejected" in failed["error"]
        assert await balance(client) == Decimal(100)


async def test_insufficient_balance_is_402_and_creates_no_job(make_client: MakeClient) -> None:
    async with make_client(Settings(initial_balance_micros=100_000)) as client:  # $0.10
        response = await client.post(SUBMIT, json=job_input(left=10, right=1), headers=AUTH)
        assert response.status_code == 402
        body = response.json()
        assert body["message"] == "insufficient balance: the job costs $0.15, the balance is $0.10"
        assert body["data"] is None
        service = client._transport.app.state.service  # type: ignore[attr-defined]
        assert service.store.jobs.jobs() == []
        assert await balance(client) == Decimal("0.1")


async def test_another_accounts_job_is_404(client: httpx.AsyncClient) -> None:
    job = await submit(client, job_input())
    other = {"Authorization": "Bearer someone-else"}
    for path in ("/result", ""):
        response = await client.get(f"/api/v3/predictions/{job['id']}{path}", headers=other)
        assert response.status_code == 404
        assert response.json()["message"] == f"prediction {job['id']} not found"


async def test_unknown_job_is_404_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/predictions/pred_abc123/result", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "message": "prediction pred_abc123 not found",
        "error": "prediction pred_abc123 not found",
        "error_code": "not_found",
        "data": None,
    }


async def test_same_seed_same_inputs_same_plan_and_bytes(
    make_client: MakeClient, clock: ManualClock
) -> None:
    realistic = Settings(pace=PACES["realistic"])
    async with make_client(realistic) as first, make_client(realistic) as second:
        body = job_input(left=4, right=6, order="left_right", seed=42)
        a, b = await submit(first, body), await submit(second, body)
        other = await submit(first, {**body, "seed": 43})
        clock.advance(3600)
        a, b, other = (
            await result(first, a["id"]),
            await result(second, b["id"]),
            await result(first, other["id"]),
        )
        assert a["timings"] == b["timings"]
        assert a["timings"] != other["timings"]
        out_a = (await first.get(a["outputs"][0])).content
        out_b = (await second.get(b["outputs"][0])).content
        assert out_a == out_b


async def test_seed_minus_one_picks_a_seed(client: httpx.AsyncClient, service: MockService) -> None:
    job = await submit(client, job_input(seed=-1))
    stored = service.store.jobs.job(job["id"])
    assert stored is not None
    assert 0 <= stored.seed <= 2**31 - 1
    assert stored.input["seed"] == stored.seed


async def test_instant_pace_finishes_at_once(make_client: MakeClient) -> None:
    async with make_client(Settings(pace=PACES["instant"])) as client:
        job = await submit(client, job_input())
        assert job["status"] == "completed"


async def test_sync_mode_answers_the_finished_job(make_client: MakeClient) -> None:
    async with make_client(Settings(pace=PACES["instant"])) as client:
        job = await submit(client, {**job_input(), "enable_sync_mode": True})
        assert job["status"] == "completed"
        assert len(job["outputs"]) == 1


async def test_queued_directives_apply_to_the_next_jobs_in_order(
    client: httpx.AsyncClient, service: MockService, clock: ManualClock
) -> None:
    service.queue_directive(
        Directive(outcome=Outcome(Status.COMPLETED, nsfw=True), processing_ms=42_000)
    )
    service.queue_directive(Directive(queue_ms=0, processing_ms=0), count=2)
    slow = await submit(client, job_input())
    instant = [await submit(client, job_input()) for _ in range(2)]
    normal = await submit(client, job_input())
    assert [j["status"] for j in instant] == ["completed", "completed"]
    clock.advance(40)
    assert (await result(client, slow["id"]))["status"] == "processing"
    assert (await result(client, normal["id"]))["status"] == "completed"
    clock.advance(3)
    done = await result(client, slow["id"])
    assert (done["status"], done["has_nsfw_contents"], done["timings"]) == (
        "completed",
        [True],
        {"inference": 42_000},
    )
