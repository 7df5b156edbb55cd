"""The harness is safe to point at anything: each promise of ``verify`` and the by-URL suite.

Every target here is a server on a loopback port in this process (a correct
fake, or one wrapped to misbehave in one way, see ``tests/stand_ins.py``);
the suite runs in a subprocess, as a user would start it.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mock_api import Settings, billing, create_app
from mock_api.contract.budget import priced
from mock_api.contract.invariants import Poller
from mock_api.contract.jobs import submit, upload_silence, upload_video
from mock_api.contract.options import TargetOptions
from mock_api.contract.session import ContractSession
from mock_api.contract.target import (
    JOB_BASE_SECONDS,
    SECONDS_PER_OUTPUT_SECOND,
    OriginAuth,
    Target,
    TargetKind,
    connect,
    describe_body,
    in_process,
)
from mock_api.media import silence_wav
from mock_api.server import LiveServer
from tests.live import free_port
from tests.stand_ins import fake_with_urls_elsewhere, stateless, stops_after
from tests.test_contracts_by_url import BRISK, KEY, clean_env, run, serving, submissions
from tests.test_verify import verify

# the key goes only to the target's own origin


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("http://127.0.0.1:8000/api/v3/balance", True),
        ("http://127.0.0.1:8001/api/v3/balance", False),  # another port
        ("https://127.0.0.1:8000/api/v3/balance", False),  # another scheme
        ("http://localhost:8000/api/v3/balance", False),  # another host name
    ],
)
def test_the_key_is_attached_only_on_the_base_urls_origin(url: str, same: bool) -> None:
    auth = OriginAuth("http://127.0.0.1:8000", "secret")
    request = httpx.Request("GET", url, headers={"Authorization": "Bearer planted"})
    sent = next(auth.auth_flow(request))
    assert sent.headers.get("Authorization") == ("Bearer secret" if same else None)


def test_default_ports_are_the_same_origin() -> None:
    auth = OriginAuth("https://api.example.test", "secret")
    request = httpx.Request("GET", "https://api.example.test:443/api/v3/balance")
    assert next(auth.auth_flow(request)).headers["Authorization"] == "Bearer secret"


def test_urls_the_target_hands_out_on_another_origin_never_receive_the_key() -> None:
    """urls.get, outputs and upload URLs name a second loopback server (which serves them
    without a key, as a CDN would): it never sees the key. (Its host is allowed for
    uploads, as a real object store's would be.)"""
    with fake_with_urls_elsewhere() as (url, elsewhere, service):
        store = httpx.URL(str(service.settings.public_url))
        result = run(
            "contracts",
            "-k",
            "completed_job",
            *("--wavespeed-base-url", url, "--wavespeed-api-key", KEY),
            *("--wavespeed-allow-upload-host", f"{store.host}:{store.port}"),
            env=clean_env(),
        )
        main_requests = service.journal.entries()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    seen = elsewhere.seen
    paths = {path.split("/")[2] if path.startswith("/media/") else path for _m, path, _a in seen}
    # The upload PUTs, the urls.get read and the output download all went to the second host...
    assert any(method == "PUT" and "/upload-tickets/" in path for method, path, _a in seen), seen
    assert any(path.endswith("/result") for _m, path, _a in seen), paths
    assert any(path.startswith("/media/outputs/") for _m, path, _a in seen), paths
    # ...without the key, which the target's own origin did get.
    assert [entry for entry in seen if entry[2] is not None] == []
    assert any(entry.path == "/api/v3/balance" for entry in main_requests)
    assert result.returncode == 0, result.stdout[-3000:]


# a target that stops answering mid-run


def test_a_target_that_stops_mid_run_still_gets_every_result_and_the_reason() -> None:
    # The first check's job runs to its end; the server goes away once the second's is in.
    with stops_after(submissions=2) as (url, stopper):
        result = verify(url, "-k", "lifecycle", "--poll-interval", "0.02")
    out = result.stdout
    assert stopper.submitted == 2
    assert "Traceback" not in out + result.stderr, out + result.stderr[-3000:]
    assert out.startswith(f"wavespeed-mock verify: 4 checks against the fake, by URL ({url})\n")
    assert "  PASS  lifecycle · a job run to its end keeps every lifecycle invariant" in out
    assert "  FAIL  lifecycle" in out
    assert "STOPPED after " in out
    assert re.search(rf"the target stopped answering: cannot reach \w+ {url}/\S+: ", out), out
    assert f"cannot reach GET {url}/api/v3/balance: connection refused" in out
    assert "spent: unknown" in out
    assert "pytest said" not in out
    assert result.returncode == 2  # pytest's "interrupted": the run stopped early
    assert out.rstrip().endswith("verify: FAILED (exit status 2)")


# unreachable first, then the budget in verify's own words


def test_an_unreachable_target_is_reported_as_such_before_any_budget() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = verify(url)
    out = result.stdout
    assert result.returncode == 4, out + result.stderr[-2000:]
    assert out.splitlines()[:2] == [  # the first line says why, the next what to do
        f"wavespeed-mock verify: NOT RUN: cannot reach {url}: connection refused",
        "Nothing answers there: is the server running, and is --base-url right? "
        "(`wavespeed-mock serve` listens on http://127.0.0.1:8000 unless told otherwise.)",
    ]
    assert "budget" not in out


def test_connection_errors_in_a_check_name_the_url() -> None:
    with serving() as (url, _service):
        target = connect(url, KEY)
    try:
        with pytest.raises(httpx.ConnectError) as caught:
            target.client().get("/api/v3/balance")
    finally:
        target.close()
    assert str(caught.value) == f"cannot reach GET {url}/api/v3/balance: connection refused"


# reports: binary bodies, repeated exchanges, Hypothesis's bookkeeping, -k


def test_binary_bodies_are_summarised_never_dumped() -> None:
    # Silence is zeros, which decode as text: the content type must decide.
    wav = silence_wav(Decimal(1), sample_rate=16000)
    text = describe_body(wav, "audio/wav")
    digest = hashlib.sha256(wav).hexdigest()
    assert text == f"(audio/wav, {len(wav)} bytes, sha256 {digest}, starts {wav[:16]!r})"
    assert describe_body(b"\x00\x01\xff", None).startswith("(unknown type, 3 bytes, sha256 ")
    assert describe_body(b'{"code": 200}', "application/json") == '{"code": 200}'


def test_identical_exchanges_in_a_row_are_collapsed() -> None:
    with serving() as (url, _service):
        target = connect(url, KEY)
        try:
            api = target.client()
            for _ in range(5):
                api.get("/api/v3/predictions/0123456789abcdef0123456789abcdef/result")
            api.get("/media/samples/silence.wav", params={"seconds": 1})
        finally:
            target.close()
    first, second = list(target.exchanges)
    assert first.repeated == 5
    assert "(x 5, identical)" in first.describe()
    assert second.response_body.startswith("(audio/wav, ")
    assert "sha256 " in second.describe()


def test_hypothesis_bookkeeping_is_not_in_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    real = billing.quote

    def one_second_too_many(*args: Any, **kwargs: Any) -> billing.Quote:
        q = real(*args, **kwargs)
        rate = billing.BillingPolicy().rate_micros_per_second
        return q.__class__(**{**q.__dict__, "cost_micros": q.cost_micros + rate})

    monkeypatch.setattr(billing, "quote", one_second_too_many)
    with serving() as (url, _service):
        result = verify(url, "-k", "charge_is_the_documented_rule", "--poll-interval", "0.02")
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert "FAILED billing e2e · a completed job moves the balance" in out
    for noise in ("Falsifying", "Failing explicit example", "run(case=", "reproduce_failure"):
        assert noise not in out, out


def test_k_matching_nothing_says_so_and_fails() -> None:
    with serving() as (url, _service):
        result = verify(url, "-k", "no_such_check")
    out = result.stdout
    assert result.returncode == 5, out
    assert out.startswith("wavespeed-mock verify: no checks match -k 'no_such_check' (")
    assert "pytest said" not in out


# checks of this project's own code are not checks of the target


def test_a_run_by_url_counts_only_checks_of_the_target() -> None:
    with serving() as (url, service):
        result = verify(url, "-k", "quote or properties or lifecycle")
        sent = submissions(service)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "billing rule ·" not in result.stdout
    # lifecycle's four and the catalogue's two quote checks; the rule's properties are
    # this project's own code, not the target's, and are not counted.
    assert result.stdout.startswith("wavespeed-mock verify: 6 checks against ")
    # By URL the fake is told how each job ends with X-Mock-Outcome.
    assert {"complete", "fail", "nsfw"} <= set(sent)


# the stateful-links check needs a server that keeps jobs


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("canned", "distinct ids"),
        ("echo", "an id no submission was given, answered 200"),
    ],
)
def test_a_stateless_server_cannot_pass_the_links_check(kind: str, reason: str) -> None:
    app = create_app(Settings(random_seed=7, pace=BRISK, api_keys=frozenset({KEY})))
    with LiveServer(stateless(kind, app)) as server:
        result = run(
            "contracts/test_schema.py",
            "-k",
            "stateful",
            *("--wavespeed-base-url", server.url, "--wavespeed-api-key", KEY),
            env=clean_env(),
        )
    assert result.returncode == 1, result.stdout[-3000:]
    assert reason in result.stdout, result.stdout[-3000:]


# per-job waits follow from the target's answers


def _one_job(target: Target, length_ms: int) -> str:
    api, cdn = target.client(), target.client(auth=False)
    video = upload_video(api, cdn)
    left = upload_silence(api, cdn, length_ms, "left")
    right = upload_silence(api, cdn, length_ms, "right")
    body = {"video": video, "left_audio": left, "right_audio": right, "order": "meanwhile"}
    return str(submit(api, body)["id"])


def test_in_process_a_jobs_wait_is_bounded_by_the_fakes_own_plan() -> None:
    target = in_process()
    try:
        job_id = _one_job(target, 5000)
        assert target.service is not None
        plan = target.service.any_job(job_id).plan  # type: ignore[union-attr]
        planned = (plan.finished_ms - plan.created_ms) / 1000
        assert target.job_timeout(job_id) == planned * 1.5 + 10
        history = Poller(target.client(), target.wait, 0.25, target.timeout).follow(job_id)
        assert history[-1]["status"] == "completed"
    finally:
        target.close()


def test_by_url_the_fake_says_how_long_each_job_may_take() -> None:
    with serving() as (url, service):
        target = connect(url, KEY)
        try:
            job_id = _one_job(target, 5000)
            plan = service.any_job(job_id).plan  # type: ignore[union-attr]
            planned = (plan.finished_ms - plan.created_ms) / 1000
            assert target.job_timeout(job_id) == pytest.approx(planned * 1.5 + 10)
        finally:
            target.close()


def test_elsewhere_the_wait_follows_the_longest_planned_output() -> None:
    with serving(paid_looking=True) as (url, _service):
        target = connect(url, KEY)
        target.close()
    assert target.kind is TargetKind.REMOTE
    target.max_output_seconds = 6
    assert target.job_timeout("any") == JOB_BASE_SECONDS + SECONDS_PER_OUTPUT_SECOND * 6


def test_the_session_bounds_paid_waits_by_its_plan_and_the_option_overrides_all() -> None:
    plan = [priced("one job", [(5200, 3000, "meanwhile")], "6 s billed")]
    with serving(paid_looking=True) as (url, _service):
        state = ContractSession(TargetOptions(base_url=url, api_key=KEY, budget_micros=10**6))
        target = state.open(plan)
        state.close()
        assert target.job_timeout("any") == JOB_BASE_SECONDS + SECONDS_PER_OUTPUT_SECOND * 6
        options = TargetOptions(base_url=url, api_key=KEY, budget_micros=10**6, timeout=42.0)
        state = ContractSession(options)
        target = state.open(plan)
        state.close()
    assert target.job_timeout("any") == 42.0


def test_a_refused_upload_shows_its_bytes_summarised() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            headers = {"Content-Type": "audio/wav"}
            ticket = {"method": "PUT", "url": "https://api.example/t/1", "headers": headers}
            data = {"ticket_id": "1", "upload": ticket, "download_url": "https://cdn.example/f"}
            return httpx.Response(200, json={"code": 200, "message": "success", "data": data})
        return httpx.Response(400, json={"code": 400, "message": "size differs"})

    transport = httpx.MockTransport(answer)
    with (
        httpx.Client(base_url="https://api.example", transport=transport) as api,
        httpx.Client(transport=transport) as cdn,
        pytest.raises(AssertionError) as caught,
    ):
        upload_silence(api, cdn, 1000, "left")
    text = str(caught.value)
    assert "upload of left-1000ms.wav refused" in text
    assert re.search(r"\(audio/wav, \d+ bytes, sha256 [0-9a-f]{64}, starts b'RIFF", text), text
    assert "\x00" not in text
