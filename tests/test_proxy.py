"""``serve --proxy-to``: the API forwarded with the client's key, validated, recorded sanitised.

A second instance of the fake on loopback plays the real service; a drifted
variant of it (``tests/drifts.py``) plays a service that changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.server import LiveServer
from tests.drifts import catalogue

KEY = "proxy-test-key"
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"


@pytest.fixture
def upstream() -> Iterator[tuple[str, MockService]]:
    service = MockService(Settings(random_seed=5, api_keys=frozenset({KEY})))
    with LiveServer(create_app(service=service)) as server:
        yield server.url, service


@contextmanager
def _proxy(
    upstream_url: str, record: Path | None = None
) -> Iterator[tuple[httpx.Client, MockService]]:
    """The fake proxying to ``upstream_url``, served (its lifespan closes its upstream client)."""
    settings = Settings(proxy_to=upstream_url, record_dir=str(record) if record else None)
    service = MockService(settings, ManualClock())
    with (
        LiveServer(create_app(service=service)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        yield client, service


def test_the_api_is_forwarded_with_the_clients_key_and_answered_unchanged(
    upstream: tuple[str, MockService],
) -> None:
    url, real = upstream
    with _proxy(url) as (client, local):
        balance = client.get("/api/v3/balance", headers={"Authorization": f"Bearer {KEY}"})
        assert balance.json()["data"]["balance"] == 100
        refused = client.get("/api/v3/balance", headers={"Authorization": "Bearer nobody"})
        assert refused.status_code == 401  # the upstream's answer: only KEY is its account
        samples = f"{url}/media/samples"
        body = {
            "video": f"{samples}/video.mp4?seconds=2",
            "left_audio": f"{samples}/silence.wav?seconds=1",
            "right_audio": f"{samples}/silence.wav?seconds=2",
        }
        job = client.post(SUBMIT, json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert job.status_code == 200, job.text
        assert real.store.jobs.job(job.json()["data"]["id"]) is not None  # made upstream
        assert local.store.jobs.job(job.json()["data"]["id"]) is None  # not here
        # The control API and the sample media are still the fake's own.
        assert client.get("/_mock/clock").status_code == 200
        assert client.get("/media/samples/silence.wav?seconds=1").status_code == 200
        journal = client.get("/_mock/journal").json()["data"]["entries"]
        assert [e["path"] for e in journal if e["path"].startswith("/api/")] == [
            "/api/v3/balance",
            "/api/v3/balance",
            SUBMIT,
        ]
        assert all(e["violations"] == [] for e in journal)


def test_a_drifted_answer_is_a_violation_in_the_journal_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [drift] = [d for d in catalogue(KEY, KEY) if d.name == "balance-as-text"]
    upstream_app = create_app(Settings(random_seed=5, api_keys=frozenset({KEY})))
    with (
        LiveServer(drift.wrap(upstream_app)) as server,
        _proxy(server.url) as (client, _),
        caplog.at_level("WARNING", logger="wavespeed_mock.proxy"),
    ):
        answer = client.get("/api/v3/balance", headers={"Authorization": f"Bearer {KEY}"})
        assert answer.status_code == 200
        invalid = client.get("/_mock/journal", params={"invalid": "true"}).json()["data"]
    [entry] = invalid["entries"]
    assert entry["path"] == "/api/v3/balance"
    assert any(v["location"] == "response" and "balance" in v["field"] for v in entry["violations"])
    assert "GET /api/v3/balance -> 200 breaks openapi.yaml: data.balance" in caplog.text
    # The JSON log's event says what the line says (tests/test_logs_agree.py).
    [logged, *_] = [r for r in caplog.records if getattr(r, "event", None) == "proxy_violation"]
    fields = getattr(logged, "fields", {})
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/api/v3/balance", 200)
    assert f"{fields['field']} {fields['reason']} ({fields['location']})" in logged.getMessage()


def test_a_request_that_breaks_the_spec_is_forwarded_and_noted(
    upstream: tuple[str, MockService],
) -> None:
    with _proxy(upstream[0]) as (client, _):
        answer = client.post(
            SUBMIT, json={"order": "sideways"}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert answer.status_code == 400  # the upstream's own refusal, passed on
        [entry] = client.get("/_mock/journal", params={"invalid": "true"}).json()["data"]["entries"]
    fields = {(v["field"], v["location"]) for v in entry["violations"]}
    assert ("order", "request") in fields
    assert ("video", "request") in fields


def test_recording_writes_each_exchange_sanitised(
    upstream: tuple[str, MockService], tmp_path: Path
) -> None:
    url, _ = upstream
    auth = {"Authorization": f"Bearer {KEY}"}
    with _proxy(url, record=tmp_path) as (client, _):
        secret = client.get("/api/v3/webhook/secret", headers=auth).json()["data"]["secret"]
        samples = f"{url}/media/samples"
        body = {
            "video": f"{samples}/video.mp4?seconds=2",
            "left_audio": f"{samples}/silence.wav?seconds=1",
            "right_audio": f"{samples}/silence.wav?seconds=2",
        }
        job_id = client.post(SUBMIT, json=body, headers=auth).json()["data"]["id"]
        client.get(f"/api/v3/predictions/{job_id}/result", headers=auth)
        client.post(
            "/api/v3/media/upload/binary",
            files={"file": ("a.wav", b"RIFF" + bytes(40))},
            headers=auth,
        )
    text = (tmp_path / "exchanges.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4
    for raw in (KEY, secret, job_id, url.removeprefix("http://")):
        assert raw not in text
    submitted, polled = lines[1], lines[2]
    assert submitted["response"]["json"]["data"]["id"] == "<prediction:1>"
    assert polled["request"]["path"] == "<base>/api/v3/predictions/<prediction:1>/result"
    assert lines[0]["response"]["json"]["data"]["secret"] == "<secret>"
    assert set(lines[3]["request"]["body"]) == {"bytes", "sha256"}  # media by size and digest


def test_an_upstream_that_does_not_answer_is_a_502(tmp_path: Path) -> None:
    with _proxy("http://127.0.0.1:9") as (client, _):
        answer = client.get("/api/v3/balance", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 502
    assert answer.json()["message"].startswith("the upstream did not answer: ConnectError")


def test_recording_needs_a_proxy() -> None:
    with pytest.raises(ValueError, match="needs --proxy-to"):
        Settings(record_dir="/tmp/x")


def test_a_large_json_body_is_recorded_by_size_and_digest(
    upstream: tuple[str, MockService], tmp_path: Path
) -> None:
    """A recording cannot be made to grow by what a client sends (30 MB bodies were kept)."""
    big = json.dumps({"prompt": "a" * 200_000})
    with _proxy(upstream[0], record=tmp_path) as (client, _):
        client.post(
            SUBMIT,
            content=big,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
    [line] = (tmp_path / "exchanges.jsonl").read_text().splitlines()
    assert len(line) < 2_000
    assert json.loads(line)["request"]["body"]["bytes"] == len(big)


def test_a_key_in_the_query_is_never_recorded(
    upstream: tuple[str, MockService], tmp_path: Path
) -> None:
    with _proxy(upstream[0], record=tmp_path) as (client, _):
        client.get(
            f"/api/v3/balance?api_key={KEY}&token={KEY}&page=2",
            headers={"Authorization": f"Bearer {KEY}"},
        )
    text = (tmp_path / "exchanges.jsonl").read_text()
    assert KEY not in text
    path = json.loads(text)["request"]["path"]
    assert path == "<base>/api/v3/balance?api_key=<secret>&token=<secret>&page=2"


def test_proxied_answers_carry_one_date_and_server(upstream: tuple[str, MockService]) -> None:
    with _proxy(upstream[0]) as (client, _):
        answer = client.get("/api/v3/balance", headers={"Authorization": f"Bearer {KEY}"})
    assert len(answer.headers.get_list("date")) == 1
    assert len(answer.headers.get_list("server")) == 1


def test_a_record_folder_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mock_api.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--proxy-to",
            "http://127.0.0.1:9",
            "--record",
            str(blocker / "x"),
        ],
    )
    assert result.exit_code == 2
    assert f"--record {blocker / 'x'}: Not a directory" in result.output
