"""The official Python SDK (PyPI ``wavespeed`` 2.0.5), unmodified, against a live fake.

The SDK speaks ``requests`` to a real socket, so the fake runs in this process
on a loopback port (:class:`~mock_api.server.LiveServer`) with an
:class:`~mock_api.clock.OffsetClock`: time flows by itself while ``run()``
blocks, and the test can still reach the service to queue outcomes and read
the request journal. The only thing pointed at the fake is ``base_url``.

Jobs finish at once (``instant`` pace) unless a test queues a
:class:`~mock_api.planning.Directive` with timings; the SDK polls every 50 ms
instead of its default second, and every call has a 10 s cap, so a broken
fake fails a test rather than hanging it.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import wavespeed
import wavespeed.api
import wavespeed.config
from wavespeed import Client

from mock_api import (
    MODEL_ID,
    PACES,
    Directive,
    MockService,
    OffsetClock,
    Outcome,
    Settings,
    Status,
    create_app,
)
from mock_api.journal import JournalEntry
from mock_api.media import silence_wav, write_png
from mock_api.server import LiveServer

KEY = "sdk-python-key"
POLL = 0.05  # seconds between the SDK's polls (its default is 1 s)
CAP = 10.0  # seconds: the SDK's own overall timeout, so nothing here can hang
SLOW = Directive(queue_ms=300, processing_ms=300)  # long enough to be polled through


@dataclass
class Fake:
    server: LiveServer
    service: MockService
    clock: OffsetClock
    allow_violations: bool = False

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, key: str = KEY) -> Client:
        return Client(api_key=key, base_url=self.url)

    def audio(self, seconds: float | str) -> str:
        return f"{self.url}/media/samples/silence.wav?seconds={seconds}"

    def video(self, seconds: float | str = 10) -> str:
        return f"{self.url}/media/samples/video.mp4?seconds={seconds}"

    def job(self, left: float | str = 5, right: float | str = 5, **extra: Any) -> dict[str, Any]:
        return {
            "video": self.video(),
            "left_audio": self.audio(left),
            "right_audio": self.audio(right),
            **extra,
        }

    def get(self, url: str, key: str = KEY) -> httpx.Response:
        return httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=CAP)

    def balance(self, key: str = KEY) -> Decimal:
        response = self.get(f"{self.url}/api/v3/balance", key)
        assert response.status_code == 200, response.text
        return Decimal(str(response.json()["data"]["balance"]))

    def sdk_requests(self, method: str, path: str) -> list[JournalEntry]:
        """What the SDK sent, in order (our own httpx calls are left out)."""
        return [
            entry
            for entry in self.service.journal.entries(method=method, path=path)
            if entry.headers.get("x-client-name") == "wavespeed-python"
        ]

    def polled_statuses(self, job_id: str) -> list[str]:
        polls = self.sdk_requests("GET", f"/api/v3/predictions/{job_id}/result")
        return [entry.response_json["data"]["status"] for entry in polls]


@pytest.fixture(scope="module")
def live() -> Iterator[Fake]:
    clock = OffsetClock()
    service = MockService(Settings(pace=PACES["instant"], random_seed=2005), clock)
    with LiveServer(create_app(service=service)) as server:
        yield Fake(server, service, clock)


@pytest.fixture
def fake(live: Fake, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fake]:
    monkeypatch.delenv("WAVESPEED_CLIENT_NAME", raising=False)  # it would rename the SDK
    live.service.reset()
    live.allow_violations = False
    yield live
    if not live.allow_violations:
        broken = [entry.describe() for entry in live.service.journal.violations()]
        assert not broken, f"the SDK sent requests the spec forbids: {broken}"


def job_id_of(output_url: str) -> str:
    """``…/media/outputs/<id>/output.mp4`` → ``<id>``."""
    return output_url.rstrip("/").split("/")[-2]


def assert_is_mp4(data: bytes, seconds: Decimal) -> None:
    """An independent decoder (PyAV/FFmpeg) opens it, finds H.264 and the job's length."""
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration == int(seconds * 1_000_000)  # microseconds
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert next(container.decode(stream)) is not None


def test_run_polls_to_completion_and_the_output_downloads_as_an_mp4(fake: Fake) -> None:
    fake.service.queue_directive(SLOW)

    result = fake.client().run(
        MODEL_ID, fake.job(left=4, right=6.5), poll_interval=POLL, timeout=CAP
    )

    assert list(result) == ["outputs"]
    [output] = result["outputs"]
    assert output.startswith(f"{fake.url}/media/outputs/")
    job_id = job_id_of(output)
    seen = fake.polled_statuses(job_id)
    assert len(seen) >= 2, seen  # it really polled, and stopped at the end
    assert seen[-1] == "completed"
    assert seen == sorted(seen, key=["created", "processing", "completed"].index)
    [submit] = fake.sdk_requests("POST", f"/api/v3/{MODEL_ID}")
    assert submit.headers["x-client-version"] == "2.0.5"
    assert submit.request_json == fake.job(left=4, right=6.5)  # the input, as given

    download = httpx.get(output, timeout=CAP)  # media URLs need no key, like a CDN
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert_is_mp4(download.content, Decimal("6.5"))  # meanwhile: max(4, 6.5)


def test_upload_uses_the_ticket_flow_and_its_url_is_a_billable_job_input(
    fake: Fake, tmp_path: Path
) -> None:
    left = tmp_path / "left.wav"
    sample = httpx.get(fake.audio(7.3), timeout=CAP)
    left.write_bytes(sample.content)
    right = tmp_path / "right speaker.wav"
    right.write_bytes(silence_wav(Decimal(2)))
    client = fake.client()

    left_url = client.upload(str(left))  # a path
    with right.open("rb") as stream:  # and an open file
        right_url = client.upload(stream)

    tickets = fake.sdk_requests("POST", "/api/v3/media/uploads")
    wav_type = mimetypes.guess_type("x.wav")[0]  # what the SDK guesses on this machine
    assert [t.request_json for t in tickets] == [
        {"filename": "left.wav", "size": left.stat().st_size, "content_type": wav_type},
        {"filename": "right speaker.wav", "size": right.stat().st_size, "content_type": wav_type},
    ]
    puts = fake.service.journal.entries(method="PUT", path="/media/upload-tickets/")
    assert [p.status for p in puts] == [200, 200]
    assert "x-client-name" not in puts[0].headers  # only the ticket's headers: no key sent
    for url, path in ((left_url, left), (right_url, right)):
        assert url.startswith(f"{fake.url}/media/files/")
        assert httpx.get(url, timeout=CAP).content == path.read_bytes()

    job = {"video": fake.video(), "left_audio": left_url, "right_audio": right_url}
    result = client.run(MODEL_ID, {**job, "order": "left_right"}, poll_interval=POLL, timeout=CAP)

    [output] = result["outputs"]
    assert_is_mp4(httpx.get(output, timeout=CAP).content, Decimal("9.3"))
    # left_right: 7.3 + 2.0 = 9.3 s, rounded up to 10 s at $0.015/s = $0.15
    assert fake.balance() == Decimal("99.85")


def test_a_failed_job_raises_with_our_message_and_is_refunded(fake: Fake) -> None:
    fake.service.queue_directive(
        Directive(outcome=Outcome(Status.FAILED, code=1403, error="GPU fell over"))
    )
    client = fake.client()

    with pytest.raises(RuntimeError, match="GPU fell over") as caught:
        client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    message = str(caught.value)
    assert message.startswith("Prediction failed (task_id: ")
    job_id = message.split("task_id: ", 1)[1].split(")", 1)[0]
    data = client.get_result(job_id)["data"]
    assert (data["status"], data["code"], data["error"]) == ("failed", 1403, "GPU fell over")
    assert data["outputs"] == []
    assert fake.balance() == Decimal(100)  # charged at submission, refunded on failure


def test_run_no_throw_reports_a_failure_and_a_success(fake: Fake) -> None:
    fake.service.queue_directive(Directive(outcome=Outcome(Status.FAILED, code=5000, error="boom")))
    client = fake.client()

    failed = client.run_no_throw(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)
    done = client.run_no_throw(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    assert failed["status"] == "failed"
    assert failed["outputs"] is None
    assert failed["error"] == f"Prediction failed (task_id: {failed['task_id']}): boom"
    assert client.get_result(failed["task_id"])["data"]["status"] == "failed"
    assert done["status"] == "completed"
    assert done["error"] is None
    assert done["outputs"] == [f"{fake.url}/media/outputs/{done['task_id']}/output.mp4"]


def test_an_nsfw_job_returns_its_output_and_the_flag_is_readable(fake: Fake) -> None:
    fake.service.queue_directive(Directive(outcome=Outcome(Status.COMPLETED, nsfw=True)))
    client = fake.client()

    result = client.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    [output] = result["outputs"]
    data = client.get_result(job_id_of(output))["data"]
    assert data["has_nsfw_contents"] == [True]
    assert data["outputs"] == [output]
    assert httpx.get(output, timeout=CAP).status_code == 200


def test_sync_mode_holds_one_request_until_the_job_is_done(fake: Fake) -> None:
    fake.service.queue_directive(Directive(queue_ms=0, processing_ms=300))
    fake.service.queue_directive(Directive(outcome=Outcome(Status.FAILED, code=1403, error="nope")))
    client = fake.client()

    result = client.run(MODEL_ID, fake.job(), enable_sync_mode=True, timeout=CAP)
    with pytest.raises(RuntimeError, match=r"^Prediction failed \(task_id: [0-9a-f]{32}\): nope$"):
        client.run(MODEL_ID, fake.job(), enable_sync_mode=True, timeout=CAP)

    [output] = result["outputs"]
    assert output.startswith(f"{fake.url}/media/outputs/")
    submits = fake.sdk_requests("POST", f"/api/v3/{MODEL_ID}")
    assert [s.request_json["enable_sync_mode"] for s in submits] == [True, True]
    assert submits[0].duration_ms >= 250  # the answer waited for the job
    assert not fake.sdk_requests("GET", "/api/v3/predictions/")  # no polling at all


def test_a_sync_mode_timeout_is_recognised_and_the_job_can_be_fetched_later(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        fake.service, "settings", replace(fake.service.settings, sync_timeout_seconds=0.2)
    )
    fake.service.queue_directive(Directive(queue_ms=0, processing_ms=60_000))
    client = fake.client()

    pending = client.run_no_throw(MODEL_ID, fake.job(), enable_sync_mode=True, timeout=CAP)

    assert pending["status"] == "processing"  # the SDK read code 5004 as "still running"
    assert pending["outputs"] is None
    assert pending["error"].startswith(f"Sync mode timed out (task_id: {pending['task_id']}): ")
    assert client.get_result(pending["task_id"])["data"]["status"] == "processing"
    fake.clock.advance(60)
    data = client.get_result(pending["task_id"])["data"]
    assert data["status"] == "completed"
    assert len(data["outputs"]) == 1


def test_get_result_returns_the_envelope_and_hides_other_keys_jobs(fake: Fake) -> None:
    fake.service.queue_directive(SLOW)
    client = fake.client()
    result = client.run(MODEL_ID, fake.job(seed=42), poll_interval=POLL, timeout=CAP)
    job_id = job_id_of(result["outputs"][0])

    envelope = client.get_result(job_id)

    assert (envelope["code"], envelope["message"]) == (200, "success")
    data = envelope["data"]
    assert data["id"] == job_id
    assert data["model"] == MODEL_ID
    assert data["status"] == "completed"
    assert data["outputs"] == result["outputs"]
    assert data["has_nsfw_contents"] == [False]
    assert data["urls"]["get"] == f"{fake.url}/api/v3/predictions/{job_id}/result"
    assert data["timings"]["inference"] == 300
    with pytest.raises(RuntimeError, match=r"HTTP 404: .*not found"):
        fake.client("someone-else").get_result(job_id)  # 404 is not retried


def test_a_rejected_submission_surfaces_our_400_message(fake: Fake) -> None:
    fake.allow_violations = True
    job = fake.job()
    del job["right_audio"]

    with pytest.raises(RuntimeError, match=r"HTTP 400: .*right_audio"):
        fake.client().run(MODEL_ID, job, poll_interval=POLL, timeout=CAP)

    assert [e.status for e in fake.service.journal.violations()] == [400]
    assert fake.balance() == Decimal(100)


def test_the_module_level_api_follows_the_configured_base_url(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wavespeed.config.api, "base_url", fake.url)
    monkeypatch.setattr(wavespeed.config.api, "api_key", KEY)
    monkeypatch.setattr(wavespeed.api, "_default_client", None)  # built on first use

    result = wavespeed.run(MODEL_ID, fake.job(), poll_interval=POLL, timeout=CAP)

    assert result["outputs"][0].startswith(f"{fake.url}/media/outputs/")
    assert wavespeed.get_result(job_id_of(result["outputs"][0]))["data"]["status"] == "completed"


def test_the_one_image_model_runs_with_an_uploaded_picture(fake: Fake, tmp_path: Path) -> None:
    """``wavespeed-ai/infinitetalk``: one image (uploaded by the SDK), one audio, 480p."""
    picture = tmp_path / "person.png"
    picture.write_bytes(write_png())
    client = fake.client()
    image_url = client.upload(str(picture))
    model = "wavespeed-ai/infinitetalk"

    result = client.run(
        model, {"image": image_url, "audio": fake.audio(3.4)}, poll_interval=POLL, timeout=CAP
    )

    [output] = result["outputs"]
    assert_is_mp4(httpx.get(output, timeout=CAP).content, Decimal("3.4"))  # as long as the audio
    # 3.4 s rounds up to 4 s, under the 5 s minimum: 5 s at $0.03/s (480p) = $0.15
    assert fake.balance() == Decimal("99.85")
    path = f"/api/v3/{model}"
    [submit] = [e for e in fake.sdk_requests("POST", path) if e.path == path]
    assert submit.status == 200
    detail = client.get_result(job_id_of(output))
    assert detail["data"]["model"] == model


def test_the_standard_video_multi_model_runs_at_720p(fake: Fake) -> None:
    """``wavespeed-ai/infinitetalk/video-to-video-multi`` at 720p: $0.06/s, speech by order."""
    model = "wavespeed-ai/infinitetalk/video-to-video-multi"
    job = fake.job(left=4, right=6.5, order="left_right", resolution="720p")

    result = fake.client().run(model, job, poll_interval=POLL, timeout=CAP)

    [output] = result["outputs"]
    assert_is_mp4(httpx.get(output, timeout=CAP).content, Decimal("10.5"))  # 4 + 6.5
    # 10.5 s rounds up to 11 s at $0.06/s = $0.66
    assert fake.balance() == Decimal("99.34")
    [submit] = fake.sdk_requests("POST", f"/api/v3/{model}")
    assert submit.request_json == job


def test_a_family_model_refuses_ours_inputs_with_a_400_the_sdk_raises(fake: Fake) -> None:
    """Each model has its own schema: a body for ours lacks the one-image model's inputs."""
    fake.allow_violations = True  # the SDK sends what the spec refuses, on purpose
    with pytest.raises(RuntimeError, match="image"):
        fake.client().run("wavespeed-ai/infinitetalk", fake.job(), poll_interval=POLL, timeout=CAP)
    assert fake.balance() == Decimal(100)
