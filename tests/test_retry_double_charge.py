"""A client that posts again on its timeout makes two jobs and pays twice, as on the service.

The official Go SDK aborts a request after its 10 s client timeout and posts the
same submission again (up to six times); WaveSpeed's CLI, through the JS SDK,
does the same. A sync-mode submission whose job outlives that timeout is
therefore made, and charged, once per attempt on the real service. The
``slow-answer`` fault reproduces it on demand: the request is served whole,
then its answer is held. This is the check a client's retry logic should pass
(README: testing a client's retries).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mock_api import PACES, MockService, Settings, create_app
from mock_api.server import LiveServer
from tests.helpers import SUBMIT as MODEL_PATH

KEY = "retry-key"


@pytest.fixture
def server() -> Iterator[LiveServer]:
    service = MockService(Settings(pace=PACES["instant"], random_seed=9))
    with LiveServer(create_app(service=service)) as live:
        yield live


def _go_sdk_like_submit(url: str, body: dict[str, object], *, timeout: float) -> httpx.Response:
    """Post; on a timeout, post the same body again (the Go SDK's connection retries)."""
    with httpx.Client(timeout=timeout) as client:
        for _ in range(6):
            try:
                return client.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"})
            except httpx.TimeoutException:
                continue
    raise AssertionError("every attempt timed out")


def test_a_slow_sync_answer_posted_again_makes_two_jobs_and_two_charges(
    server: LiveServer,
) -> None:
    fault = {
        "id": "slow-sync",
        "kind": "slow-answer",
        "method": "POST",
        "path": "/api/v3/wavespeed-ai/*",
        "latency_ms": 1500,
        "times": 1,
    }
    assert httpx.post(f"{server.url}/_mock/faults", json=fault).status_code == 200
    samples = f"{server.url}/media/samples"
    body = {
        "video": f"{samples}/video.mp4?seconds=3",
        "left_audio": f"{samples}/silence.wav?seconds=6",
        "right_audio": f"{samples}/silence.wav?seconds=2",
        "enable_sync_mode": True,
    }
    answer = _go_sdk_like_submit(server.url + MODEL_PATH, body, timeout=0.5)
    assert answer.status_code == 200
    assert answer.json()["data"]["status"] == "completed"

    jobs = httpx.get(f"{server.url}/_mock/jobs").json()["data"]["jobs"]
    assert len(jobs) == 2  # the first attempt's job was made although nobody read it
    ledger = httpx.get(f"{server.url}/_mock/ledger", params={"api_key": KEY}).json()["data"]
    balance = httpx.get(
        f"{server.url}/api/v3/balance", headers={"Authorization": f"Bearer {KEY}"}
    ).json()["data"]["balance"]
    assert balance == 100 - 2 * 0.09  # 6 s at $0.015, twice
    charges = [e for e in ledger["entries"] if e["kind"] == "charge"]
    assert len(charges) == 2
