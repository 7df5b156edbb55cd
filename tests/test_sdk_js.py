"""The official JS SDK (npm ``wavespeed`` 0.3.2, locked in ``tests/sdk_js``), unmodified.

``tests/sdk_js/driver.mjs`` builds ``new Client(key, {baseUrl})`` on a live
fake and runs seven steps (upload, run, a failing run, runNoThrow on bad
inputs, sync mode, then two family members: ``wavespeed-ai/infinitetalk`` and
``wavespeed-ai/infinitetalk/video-to-video-multi`` at 720p), printing one JSON
line. Node runs once for the module;
each test below judges one part of that line, or of the fake's request
journal, which shows what the SDK actually sent.

Node and the SDK are test requirements: when either is missing the tests
fail, saying how to install them (``bash scripts/check`` does it), rather
than skip.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

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
from mock_api.server import LiveServer

SDK_DIR = Path(__file__).parent / "sdk_js"
DRIVER = SDK_DIR / "driver.mjs"
INSTALL = "npm ci --prefix tests/sdk_js --no-audit --no-fund"
KEY = "sdk-js-key"
NODE_TIMEOUT = 60.0
JOB_ID = re.compile(r"[0-9a-f]{32}")

#: One per submission of the driver, in its order (see driver.mjs).
DIRECTIVES = (
    Directive(queue_ms=300, processing_ms=300),  # run: slow enough to be polled through
    Directive(outcome=Outcome(Status.FAILED, code=1403, error="GPU fell over")),  # failure
    Directive(),  # runNoThrow: fails on its own inputs
    Directive(queue_ms=0, processing_ms=300),  # sync: the answer must wait for the job
)


def missing_requirement() -> str | None:
    """Why the JS SDK cannot run here, with the command that fixes it; ``None`` if it can."""
    how = f"run `{INSTALL}` (bash scripts/check does this)"
    node = shutil.which("node")
    if node is None:
        return f"`node` is not on PATH: install Node.js 18 or newer with npm, then {how}"
    found = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    major = found.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < 18:
        return f"node {found or '(unknown version)'} is too old: the SDK needs Node.js 18+ (fetch)"
    lock = json.loads((SDK_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/wavespeed"]["version"]
    installed = SDK_DIR / "node_modules" / "wavespeed" / "package.json"
    if not installed.is_file():
        return f"the JS SDK (npm wavespeed {pinned}) is not installed: {how}"
    have = json.loads(installed.read_text())["version"]
    if have != pinned:
        return f"npm wavespeed {have} is installed but the lock pins {pinned}: {how}"
    return None


@dataclass
class DriverRun:
    url: str
    service: MockService
    results: dict[str, Any]

    def step(self, name: str) -> Any:
        """A step's return value; a throw where none was expected fails the test."""
        outcome = self.results[name]
        assert not outcome["threw"], f"{name} threw: {outcome['error']}"
        return outcome["value"]

    def sdk_requests(self, method: str, path: str) -> list[JournalEntry]:
        return [
            entry
            for entry in self.service.journal.entries(method=method, path=path)
            if entry.headers.get("x-client-name") == "wavespeed-js"
        ]

    def sample(self, name: str, seconds: float | str) -> bytes:
        response = httpx.get(f"{self.url}/media/samples/{name}?seconds={seconds}", timeout=10)
        return response.content

    def balance(self, key: str = KEY) -> Decimal:
        response = httpx.get(
            f"{self.url}/api/v3/balance", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        return Decimal(str(response.json()["data"]["balance"]))


@pytest.fixture(scope="module")
def driver_run() -> Iterator[DriverRun]:
    problem = missing_requirement()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    service = MockService(Settings(pace=PACES["instant"], random_seed=32), OffsetClock())
    for directive in DIRECTIVES:
        service.queue_directive(directive)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVESPEED_")}
    with LiveServer(create_app(service=service)) as server:
        try:
            done = subprocess.run(
                ["node", str(DRIVER), server.url, KEY],
                capture_output=True,
                text=True,
                timeout=NODE_TIMEOUT,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the JS driver ran over {NODE_TIMEOUT} s; output so far: {exc.stdout!r}")
        lines = done.stdout.strip().splitlines()
        report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        if done.returncode != 0 or not lines:
            pytest.fail(f"the JS driver failed: {report}", pytrace=False)
        results = json.loads(lines[-1])
        yield DriverRun(server.url, service, results)


def test_node_and_the_pinned_js_sdk_are_installed() -> None:
    problem = missing_requirement()
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def test_the_driver_ran_the_pinned_sdk_against_the_fake(driver_run: DriverRun) -> None:
    results = driver_run.results
    assert results["sdkVersion"] == "0.3.2"
    assert results["baseUrl"] == driver_run.url  # the `baseUrl` option is all it took
    requests = driver_run.service.journal.entries()
    sdk = [e for e in requests if e.headers.get("x-client-name") == "wavespeed-js"]
    assert {e.headers["x-client-version"] for e in sdk} == {"0.3.2"}
    broken = [e.describe() for e in driver_run.service.journal.violations()]
    assert not broken, f"the SDK sent requests the spec forbids: {broken}"


def test_upload_uses_the_ticket_flow_and_keeps_the_bytes(driver_run: DriverRun) -> None:
    uploaded = driver_run.step("upload")

    tickets = driver_run.sdk_requests("POST", "/api/v3/media/uploads")
    left, video = driver_run.sample("silence.wav", 7.3), driver_run.sample("video.mp4", 10)
    assert [t.request_json for t in tickets] == [
        {"filename": "left.wav", "size": len(left), "content_type": "audio/x-wav"},
        {"filename": "video.mp4", "size": len(video), "content_type": "video/mp4"},
    ]
    puts = driver_run.service.journal.entries(method="PUT", path="/media/upload-tickets/")
    assert [p.status for p in puts] == [200, 200]
    for url, data in ((uploaded["left_audio"], left), (uploaded["video"], video)):
        assert url.startswith(f"{driver_run.url}/media/files/")
        assert httpx.get(url, timeout=10).content == data


def test_run_polls_to_completion_and_the_output_is_an_mp4(driver_run: DriverRun) -> None:
    run = driver_run.step("run")

    assert run["keys"] == ["outputs"]
    [output] = run["outputs"]
    assert output.startswith(f"{driver_run.url}/media/outputs/")
    assert run["download"]["status"] == 200
    assert run["download"]["contentType"] == "video/mp4"
    assert run["download"]["ftyp"]
    job_id = output.split("/")[-2]
    polls = driver_run.sdk_requests("GET", f"/api/v3/predictions/{job_id}/result")
    seen = [p.response_json["data"]["status"] for p in polls]
    assert len(seen) >= 2, seen
    assert seen[-1] == "completed"
    assert seen == sorted(seen, key=["created", "processing", "completed"].index)
    data = httpx.get(output, timeout=10).content
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration == 9_300_000  # left_right: 7.3 s + 2 s, in microseconds
        assert container.streams.video[0].codec_context.name == "h264"


def test_a_failed_job_throws_with_our_message(driver_run: DriverRun) -> None:
    failure = driver_run.results["failure"]

    assert failure["threw"], "run() returned for a job that failed"
    message = failure["error"]["message"]
    match = re.fullmatch(r"Prediction failed \(task_id: ([0-9a-f]{32})\): GPU fell over", message)
    assert match, message
    job = driver_run.service.store.jobs.job(match[1])
    assert job is not None
    assert job.plan.outcome.code == 1403


def test_run_no_throw_reports_a_job_that_failed_on_its_inputs(driver_run: DriverRun) -> None:
    result = driver_run.step("runNoThrow")

    assert result["outputs"] is None
    detail = result["detail"]
    assert detail["status"] == "failed"
    assert detail["model"] == MODEL_ID
    assert JOB_ID.fullmatch(detail["taskId"])
    error = detail["error"]
    assert error["name"] == "WavespeedPredictionException"
    assert error["taskId"] == detail["taskId"]
    assert error["message"].startswith("Prediction failed: left_audio: expected audio")
    job = driver_run.service.store.jobs.job(detail["taskId"])
    assert job is not None
    assert job.plan.outcome.code == 1402


def test_sync_mode_returns_the_outputs_from_one_request(driver_run: DriverRun) -> None:
    result = driver_run.step("sync")

    [output] = result["outputs"]
    job_id = output.split("/")[-2]
    submits = driver_run.sdk_requests("POST", f"/api/v3/{MODEL_ID}")
    assert submits[-1].request_json["enable_sync_mode"] is True
    assert submits[-1].duration_ms >= 250  # held until the job finished
    assert not driver_run.sdk_requests("GET", f"/api/v3/predictions/{job_id}")


def test_only_completed_jobs_are_paid_for(driver_run: DriverRun) -> None:
    # run: left_right 7.3 + 2 = 9.3 s -> 10 s = $0.15; sync: meanwhile max = 7.3 s -> 8 s = $0.12;
    # the failed job is refunded and the one with unreadable inputs is never charged.
    assert driver_run.balance() == Decimal("99.73")


def _duration_us(url: str) -> int:
    with av.open(io.BytesIO(httpx.get(url, timeout=10).content), mode="r") as container:
        assert container.streams.video[0].codec_context.name == "h264"
        duration = container.duration
        assert duration is not None, f"{url} states no duration"
        return duration


@pytest.mark.parametrize(
    ("step", "model", "body", "micros"),
    [
        (
            "familyImage",
            "wavespeed-ai/infinitetalk",
            {"audio": "silence.wav?seconds=3.4"},
            3_400_000,  # as long as its one audio
        ),
        (
            "familyVideoMulti",
            "wavespeed-ai/infinitetalk/video-to-video-multi",
            {"order": "left_right", "resolution": "720p"},
            10_500_000,  # left_right: 4 s + 6.5 s
        ),
    ],
)
def test_two_family_members_run_through_the_sdk(
    driver_run: DriverRun, step: str, model: str, body: dict[str, str], micros: int
) -> None:
    result = driver_run.step(step)

    [output] = result["outputs"]
    assert _duration_us(output) == micros
    path = f"/api/v3/{model}"
    [submit] = [e for e in driver_run.sdk_requests("POST", path) if e.path == path]
    assert submit.status == 200
    for name, value in body.items():
        assert submit.request_json[name] == value or submit.request_json[name].endswith(value)
    job = driver_run.service.store.jobs.job(output.split("/")[-2])
    assert job is not None
    assert job.model == model


def test_the_family_members_are_charged_their_own_rates(driver_run: DriverRun) -> None:
    # infinitetalk, 480p: 3.4 s -> 4 s, under the 5 s minimum: 5 s at $0.03 = $0.15;
    # video-to-video-multi, 720p: 10.5 s -> 11 s at $0.06 = $0.66.
    assert driver_run.balance(f"{KEY}-family") == Decimal("99.19")
