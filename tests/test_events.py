"""What the fake logs: each refused request with its reason, each job accepted and ended."""

from __future__ import annotations

import json
import logging
import signal
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, Settings, create_app
from mock_api.events import LOGGER, JobLog
from tests.live import ServerProcess

SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"


def _body(base: str, left: int = 3, right: int = 4) -> dict[str, object]:
    media = f"{base}/media/samples"
    return {
        "video": f"{media}/video.mp4?seconds=10",
        "left_audio": f"{media}/silence.wav?seconds={left}",
        "right_audio": f"{media}/silence.wav?seconds={right}",
        "order": "left_right",
    }


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER.name)
    return caplog


@pytest.mark.anyio
async def test_a_refused_request_is_logged_with_its_error_message(
    events: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Settings(random_seed=1), clock=ManualClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post(
            SUBMIT, json={"order": "sideways"}, headers={"Authorization": "Bearer k1"}
        )
        missing = await client.get("/api/v3/balance")
    assert answer.status_code == 400
    refused = [r for r in events.records if getattr(r, "event", None) == "refused"]
    assert len(refused) == 2
    first, second = (getattr(r, "fields", {}) for r in refused)
    assert first["reason"] == answer.json()["message"]
    assert first["status"] == 400
    assert first["account"].startswith("acct_")
    assert len(first["violations"]) == 4  # three missing fields and the order
    assert answer.json()["message"] in refused[0].getMessage()
    assert "body 'order': must be one of" in refused[0].getMessage()
    assert second["reason"] == missing.json()["message"]
    assert (second["status"], second["account"]) == (401, "no key")


@pytest.mark.anyio
async def test_jobs_are_logged_when_accepted_and_when_their_end_passes(
    events: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    app = create_app(Settings(random_seed=1), clock=clock)
    job_log: JobLog = app.state.job_log
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": "Bearer k1"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        ok = (await client.post(SUBMIT, json=_body("http://testserver"), headers=headers)).json()
        failing = await client.post(
            SUBMIT,
            json=_body("http://testserver"),
            headers={**headers, "X-Mock-Outcome": "fail:1403:GPU fell over"},
        )
    ids = [ok["data"]["id"], failing.json()["data"]["id"]]
    accepted = [r for r in events.records if getattr(r, "event", None) == "job_accepted"]
    assert [getattr(r, "fields", {})["job"] for r in accepted] == ids
    fields = getattr(accepted[0], "fields", {})
    assert (fields["billed_seconds"], Decimal(fields["cost_usd"])) == (7, Decimal("0.105"))
    assert "billed 7 s, cost $0.105; will end completed" in accepted[0].getMessage()

    assert job_log.log_ended() == 0  # their ends have not come
    clock.advance(60)
    assert job_log.log_ended() == 2
    assert job_log.log_ended() == 0  # once each
    ended = {
        getattr(r, "fields", {})["job"]: r
        for r in events.records
        if getattr(r, "event", None) == "job_ended"
    }
    assert set(ended) == set(ids)
    assert "completed, billed 7 s, cost $0.105" in ended[ids[0]].getMessage()
    failed = getattr(ended[ids[1]], "fields", {})
    assert (failed["outcome"], failed["code"], failed["refunded"]) == ("failed", 1403, True)
    message = ended[ids[1]].getMessage()
    assert "failed (code 1403: GPU fell over), billed 7 s, cost $0.105, refunded $0.105" in message


@pytest.mark.anyio
async def test_nothing_is_kept_for_logging_when_the_logger_is_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Below info (a test process's default) no job is held for its end line."""
    caplog.set_level(logging.WARNING, logger=LOGGER.name)
    app = create_app(Settings(random_seed=1), clock=ManualClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.post(
            SUBMIT, json=_body("http://testserver"), headers={"Authorization": "Bearer k1"}
        )
    assert app.state.job_log._pending == []


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_prints_refusals_and_job_lines_at_its_default_level(log_format: str) -> None:
    server = ServerProcess(
        "--db", ":memory:", "--log-level", "info", "--log-format", log_format, "--pace", "instant"
    )
    try:
        server.start()
        headers = {"Authorization": "Bearer serve-key"}
        refused = httpx.post(f"{server.url}{SUBMIT}", json={"order": "x"}, headers=headers)
        job = httpx.post(f"{server.url}{SUBMIT}", json=_body(server.url), headers=headers)
        job_id = job.json()["data"]["id"]
        # The end line comes from the server's background loop: wait for it, bounded.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if f"{job_id} ended" in server.output or '"job_ended"' in server.output:
                break
            time.sleep(0.05)
    finally:
        server.stop(signal.SIGTERM)  # graceful; uvicorn then re-raises the signal
        output = server.output
        server.close()
    message = refused.json()["message"]
    if log_format == "text":
        assert f"refused POST {SUBMIT} -> 400 (acct_" in output
        assert message in output
        assert f"job {job_id} accepted (acct_" in output
        assert f"job {job_id} ended (acct_" in output
        assert "completed, billed 7 s, cost $0.105" in output
        return
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    assert by_event["refused"][0]["reason"] == message
    assert by_event["refused"][0]["status"] == 400
    assert by_event["job_accepted"][0]["job"] == job_id
    ended = by_event["job_ended"][0]
    assert (ended["job"], ended["outcome"], ended["billed_seconds"]) == (job_id, "completed", 7)
    assert ended["cost_usd"] == "0.105"
    # uvicorn's own lines are JSON too: the whole output is machine-readable.
    assert all(line.startswith("{") for line in output.splitlines() if line.strip())
