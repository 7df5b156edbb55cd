"""The official Python SDK (PyPI ``wavespeed`` 2.0.5) against injected faults and quotas.

WaveSpeed's reference says the SDK retries a result poll that answers 429, 500,
502, 503 or 504 (up to ``max_connection_retries`` times, ``retry_interval`` x
attempt apart), and never retries the submission POST. These tests hold the
SDK, unmodified, to that through the fake on a loopback port
(:class:`~mock_api.server.LiveServer`, an :class:`~mock_api.clock.OffsetClock`,
``instant`` pace): faults go in through ``POST /_mock/faults`` and what the SDK
really sent is read back from ``GET /_mock/journal``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from wavespeed import Client

from mock_api import MODEL_ID, PACES, MockService, OffsetClock, Settings, create_app
from mock_api.server import LiveServer

KEY = "sdk-recovery-key"
POLL = 0.05  # seconds between the SDK's polls (its default is 1 s)
RETRY = 0.01  # the SDK's retry_interval: waits of 0.01, 0.02, ... s (its default is 1 s)
CAP = 10.0  # the SDK's overall timeout, so nothing here can hang
RESULT_GLOB = "/api/v3/predictions/*/result"
SUBMIT_PATH = f"/api/v3/{MODEL_ID}"


class Fake:
    """The live server, reached only through HTTP."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=CAP)

    @property
    def url(self) -> str:
        return self.server.url

    def control(
        self, method: str, route: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        response = self.http.request(method, f"/_mock{route}", json=body, params=params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def add_fault(self, rule: dict[str, Any]) -> None:
        self.control("POST", "/faults", rule)

    def faults(self) -> dict[str, dict[str, Any]]:
        return {rule["id"]: rule for rule in self.control("GET", "/faults")["faults"]}

    def journal(self, method: str, path: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control(
            "GET", "/journal", params={"method": method, "path": path}
        )["entries"]
        return entries

    def jobs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", "/jobs", params={"api_key": KEY})["jobs"]
        return found

    def balance(self) -> Decimal:
        response = self.http.get("/api/v3/balance", headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code == 200, response.text
        return Decimal(str(response.json()["data"]["balance"]))

    def sdk(self) -> Client:
        return Client(
            api_key=KEY,
            base_url=self.url,
            retry_interval=RETRY,
            max_connection_retries=5,
        )

    def job(self) -> dict[str, str]:
        media = f"{self.url}/media/samples"
        return {
            "video": f"{media}/video.mp4?seconds=10",
            "left_audio": f"{media}/silence.wav?seconds=4",
            "right_audio": f"{media}/silence.wav?seconds=6",
        }


@pytest.fixture(scope="module")
def live() -> Iterator[Fake]:
    service = MockService(Settings(pace=PACES["instant"], random_seed=17), OffsetClock())
    with LiveServer(create_app(service=service)) as server:
        fake = Fake(server)
        try:
            yield fake
        finally:
            fake.http.close()


@pytest.fixture
def fake(live: Fake, monkeypatch: pytest.MonkeyPatch) -> Fake:
    monkeypatch.delenv("WAVESPEED_CLIENT_NAME", raising=False)
    live.control("POST", "/reset")
    return live


def busy_polls(status: int, rule_id: str, times: int) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id,
        "kind": "status",
        "status": status,
        "method": "GET",
        "path": RESULT_GLOB,
        "times": times,
    }
    if status == 429:
        rule["retry_after"] = 1
    return rule


def test_run_rides_out_429s_and_503s_on_its_polls(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_fault(busy_polls(429, "busy", times=2))
    fake.add_fault(busy_polls(503, "down", times=2))

    result = fake.sdk().run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    [output] = result["outputs"]
    assert output.startswith(f"{fake.url}/media/outputs/")
    assert httpx.get(output, timeout=CAP).status_code == 200
    [job] = fake.jobs()
    assert job["status"] == "completed"
    polls = fake.journal("GET", "/api/v3/predictions/")
    assert [p["status"] for p in polls] == [429, 429, 503, 503, 200]
    assert {p["path"] for p in polls} == {f"/api/v3/predictions/{job['id']}/result"}
    assert polls[0]["response"]["message"] == "injected fault 'busy': HTTP 429"
    assert polls[-1]["response"]["data"]["outputs"] == [output]
    assert [(r["matched"], r["applied"]) for r in fake.faults().values()] == [(2, 2), (2, 2)]
    said = capsys.readouterr().out
    for attempt, status in enumerate([429, 429, 503, 503], start=1):
        assert f"Server error (HTTP {status}) getting result on attempt {attempt}/6" in said


@pytest.mark.parametrize("status", [500, 502, 504])
def test_run_rides_out_other_5xx_on_its_polls(fake: Fake, status: int) -> None:
    fake.add_fault(busy_polls(status, "flaky", times=3))

    result = fake.sdk().run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    assert len(result["outputs"]) == 1
    polls = fake.journal("GET", "/api/v3/predictions/")
    assert [p["status"] for p in polls] == [status] * 3 + [200]


def test_more_failed_polls_than_retries_raise_and_the_job_lives_on(fake: Fake) -> None:
    fake.add_fault(busy_polls(503, "down", times=6))  # one try plus five retries, all 503
    client = fake.sdk()

    with pytest.raises(RuntimeError, match=r"HTTP 503: .*injected fault 'down'"):
        client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    polls = fake.journal("GET", "/api/v3/predictions/")
    assert [p["status"] for p in polls] == [503] * 6
    assert len(fake.journal("POST", SUBMIT_PATH)) == 1  # no new task for a failed wait
    [job] = fake.jobs()
    data = client.get_result(job["id"])["data"]  # the fault is used up: the job is there
    assert data["status"] == "completed"
    assert len(data["outputs"]) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_faulted_submission_is_not_retried(fake: Fake, status: int) -> None:
    fake.add_fault(
        {
            "id": "refuse",
            "kind": "status",
            "status": status,
            "retry_after": 1,
            "method": "POST",
            "path": "/api/v3/wavespeed-ai/*",
            "times": 1,
        }
    )
    client = fake.sdk()

    with pytest.raises(RuntimeError, match=rf"^Failed to submit prediction: HTTP {status}: "):
        client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP, max_retries=3)

    assert [e["status"] for e in fake.journal("POST", SUBMIT_PATH)] == [status]
    assert fake.journal("GET", "/api/v3/predictions/") == []
    assert fake.jobs() == []
    assert fake.balance() == Decimal(100)
    # The fault was the only obstacle: the next run goes through.
    assert len(client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)["outputs"]) == 1


def test_the_bronze_rate_limit_on_submission_is_not_retried(fake: Fake) -> None:
    fake.control("PUT", "/limits", {"api_key": KEY, "level": "bronze"})
    client = fake.sdk()
    for _ in range(2):
        client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    with pytest.raises(RuntimeError, match=r"HTTP 429: .*rate limit: 2 video submissions"):
        client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP, max_retries=3)

    assert [e["status"] for e in fake.journal("POST", SUBMIT_PATH)] == [200, 200, 429]
    assert len(fake.jobs()) == 2
    assert fake.balance() == Decimal(100) - 2 * Decimal("0.09")  # 6 s each at $0.015/s


def test_a_poll_cut_mid_answer_is_not_retried_by_the_sdk(fake: Fake) -> None:
    """What the reference does not say: a ``drop`` fault is fatal to ``run()``.

    The SDK retries ``requests`` connection errors and timeouts only; an answer
    whose body is cut short raises ``ChunkedEncodingError`` (an ``OSError``),
    which it lets through at once. A client that wants to survive it needs its
    own retry around the poll.
    """
    fake.add_fault({"id": "cut", "kind": "drop", "method": "GET", "path": RESULT_GLOB, "times": 1})

    with pytest.raises(OSError, match="IncompleteRead"):
        fake.sdk().run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    assert len(fake.journal("GET", "/api/v3/predictions/")) == 1
    assert fake.faults()["cut"]["applied"] == 1
