"""``wavespeed-mock verify``: the suite against a server, as a readable report.

The runs go through a subprocess (``python -m mock_api.cli verify``), as a user
would start them, against fakes on loopback ports in this process; one of
them is broken on purpose and must be reported as such.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.responses import JSONResponse

from mock_api import views
from mock_api.cli import main
from mock_api.planning import Pace
from mock_api.routes import predictions as prediction_routes
from tests.live import free_port
from tests.test_contracts_by_url import KEY, ROOT, clean_env, serving


def verify(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_api.cli",
            "verify",
            "--base-url",
            url,
            "--api-key",
            KEY,
            *args,
        ],
        cwd=ROOT.parent,  # anywhere: verify finds the suite through the installed package
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# Untraced (no_cover): what runs in this process is the fake answering a whole suite's
# requests, which the in-process tests cover route by route; tracing it only costs time.
@pytest.mark.slow
@pytest.mark.no_cover
def test_verify_passes_a_paid_looking_fake_within_budget_and_says_what_it_spent() -> None:
    with serving(paid_looking=True) as (url, service):
        result = verify(url, "--budget", "5.5", "--poll-interval", "0.02")
        outcomes = [e.headers.get("x-mock-outcome") for e in service.journal.entries()]
        samples = service.journal.entries(path="/media/samples/")
    out = result.stdout
    assert result.returncode == 0, out[-6000:] + result.stderr[-2000:]
    first = out.splitlines()[0]
    assert re.fullmatch(
        rf"wavespeed-mock verify: \d+ checks against a server by URL \({url}\)", first
    )
    assert "  PASS  lifecycle · a job run to its end keeps every lifecycle invariant" in out
    assert "  SKIP  schema · conforms to openapi.yaml: GET /media/samples/silence.wav" in out
    assert "the /media/ routes are the fake's stand-ins" in out
    assert f"target: a server by URL ({url})" in out
    assert "budget: $5.50; planned at most $" in out
    # The family's billing: one job a model fits the budget, every clause does not, and
    # the report says so (a cheaper subset when the budget is short).
    assert "  PASS  family · one job a model, no resolution given" in out
    assert "  SKIP  family · under the minimum, at 480p and 720p" in out
    assert "family billing, every clause could cost $" in out
    assert "spent: $" in out
    assert "(balance $100.00 -> $" in out
    assert out.rstrip().endswith("verify: all checks passed")
    # A paid run never steers the target, and never asks for the fake's own routes.
    assert set(outcomes) == {None}
    assert samples == []


def test_verify_reports_a_broken_fake_with_the_offending_exchange(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = views.prediction

    def outputs_while_processing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        body = real(*args, **kwargs)
        if body["status"] == "processing":
            body["outputs"], body["has_nsfw_contents"] = ["http://x/early.mp4"], [False]
        return body

    def answer(job: Any, now_ms: int, urls: Any) -> bytes:  # a poll's JSON, as the route sends
        return bytes(JSONResponse(views.envelope(outputs_while_processing(job, now_ms, urls))).body)

    monkeypatch.setattr(prediction_routes, "prediction", outputs_while_processing)
    monkeypatch.setattr(prediction_routes, "prediction_answer", answer)
    # Half a second of processing, so the polls (every 20 ms) see the job in it.
    with serving(pace=Pace("visible", 50, 500, (0, 0))) as (url, _service):
        select = "completed_job or without_a_valid_key"
        result = verify(url, "-k", select, "--poll-interval", "0.02")
    out = result.stdout
    assert result.returncode == 1, out[-4000:]
    assert out.startswith(f"wavespeed-mock verify: 2 checks against the fake, by URL ({url})\n")
    assert "  FAIL  lifecycle · a job run to its end keeps every lifecycle invariant" in out
    assert "  PASS  account · no key, a malformed Authorization" in out
    assert "2 checks in" in out
    assert "1 passed, 1 failed, 0 skipped" in out
    assert "budget: not needed (the fake" in out
    report = out.split("FAILED lifecycle · a job run to its end", 1)[1]
    assert "invariant broken: outputs are non-empty exactly when the job is completed" in report
    assert "status 'processing' with 1 output(s)" in report
    assert "last HTTP exchanges:" in report
    assert "request:  GET " in report
    assert "response: 200" in report
    assert out.rstrip().endswith("verify: FAILED (exit status 1)")


def test_verify_refuses_a_paid_target_over_budget_and_says_why() -> None:
    with serving(paid_looking=True) as (url, service):
        result = verify(url, "-k", "lifecycle")
        journal = service.journal.entries(path="/api/v3/wavespeed-ai/")
    assert result.returncode == 4
    assert journal == []  # refused before the first submission
    assert "NOT RUN" in result.stdout
    assert "refusing to start: this run could spend up to $0.15" in result.stdout
    # verify's own flag, not the pytest option it passes on
    assert "Pass --budget 0.15 (or set WAVESPEED_BUDGET)" in result.stdout
    assert "--wavespeed-budget" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "--api-key", "k"], "Missing option '--base-url'"),
        (["verify", "--base-url", "http://x", "--api-key", "k", "--budget", "lots"], "--budget"),
    ],
)
def test_verify_refuses_bad_options_before_running_anything(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env={"WAVESPEED_BASE_URL": "", "WAVESPEED_API_KEY": ""})
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("told", [False, True])
def test_verify_leaves_no_hypothesis_directory_where_it_is_run(tmp_path: Path, told: bool) -> None:
    # Before: every verify wrote Hypothesis's cache to ./.hypothesis of whatever
    # directory it was started in.
    workdir, home, chosen = tmp_path / "work", tmp_path / "home", tmp_path / "chosen"
    workdir.mkdir()
    env = {k: v for k, v in clean_env(HOME=str(home)).items() if k != "XDG_CACHE_HOME"}
    if told:
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(chosen)
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_api.cli",
            "verify",
            "--api-key",
            KEY,
            "--base-url",
            unreachable,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 4, result.stdout + result.stderr  # unreachable, as meant
    assert list(workdir.iterdir()) == []
    where = chosen if told else home / ".cache" / "wavespeed-mock" / "hypothesis"
    assert (where / "constants").is_dir()


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # pytest writes a plugin's import error to stderr: the report once ended on an
        # empty "pytest said:" heading, the words having gone past it to the terminal.
        (
            "ERROR: Error importing plugin \"x\": No module named 'x'\n",
            "pytest said, stopping the run (usage error):\n"
            "ERROR: Error importing plugin \"x\": No module named 'x'\n",
        ),
        (
            "",
            "pytest said nothing, stopping the run (usage error). To see its own output, run "
            "the suite with pytest: python -m pytest ",
        ),
    ],
    ids=["on-stderr", "nothing"],
)
def test_verify_never_ends_on_an_empty_pytest_said(
    monkeypatch: pytest.MonkeyPatch, said: str, expected: str
) -> None:
    import io

    from mock_api import verify as verify_module

    def stopping(args: list[str], plugins: list[object]) -> int:
        sys.stderr.write(said)
        return int(pytest.ExitCode.USAGE_ERROR)

    monkeypatch.setattr(pytest, "main", stopping)
    out = io.StringIO()
    assert verify_module.run("http://127.0.0.1:9", "k", out=out) == 4
    report = out.getvalue()
    assert expected in report, report
    assert not report.rstrip().endswith("pytest said:")


@pytest.mark.parametrize(
    ("base_url", "webhook_url", "said"),
    [
        (
            "127.0.0.1:8732",
            None,
            "--base-url '127.0.0.1:8732' is not an http(s) URL: it has no scheme; did you mean "
            "--base-url http://127.0.0.1:8732?",
        ),
        (
            "ftp://127.0.0.1:8732",
            None,
            "--base-url 'ftp://127.0.0.1:8732' is not an http(s) URL: it must start with "
            "http:// or https://",
        ),
        ("http://", None, "--base-url 'http://' is not an http(s) URL: it names no host"),
        ("", None, "--base-url '' is not an http(s) URL: it is empty"),
        (
            "http://127.0.0.1:8732",
            "localhost:9000/hook",
            "--webhook-url 'localhost:9000/hook' is not an http(s) URL: it has no scheme; did "
            "you mean --webhook-url http://localhost:9000/hook?",
        ),
    ],
    ids=["no-scheme", "ftp", "no-host", "empty", "webhook-no-scheme"],
)
def test_verify_says_first_that_a_url_is_no_url_in_its_own_option_s_name(
    monkeypatch: pytest.MonkeyPatch, base_url: str, webhook_url: str | None, said: str
) -> None:
    # Before: "wavespeed-mock verify: 127.0.0.1:8732", "0 checks ... FAILED (exit status
    # 4)", and only at the end "ERROR: --wavespeed-base-url '127.0.0.1:8732' is not an
    # http(s) URL", in the pytest option's name.
    import io

    from mock_api import verify as verify_module

    def started(args: list[str], plugins: list[object]) -> int:
        raise AssertionError(f"pytest started: {args}")

    monkeypatch.setattr(pytest, "main", started)
    out = io.StringIO()
    assert verify_module.run(base_url, "k", webhook_url=webhook_url, out=out) == 4
    assert out.getvalue().splitlines() == [
        f"wavespeed-mock verify: NOT RUN: {said}",
        "",
        "verify: FAILED (exit status 4)",
    ]


def test_verify_against_a_file_server_says_first_what_it_is(tmp_path: Path) -> None:
    # Before: "NOT RUN against URL", then a budget plan for a "paid endpoint" of $3.705,
    # and the reason last, in a parenthesis.
    from tests.test_contracts_recognise import file_server

    with file_server(tmp_path) as (url, seen):
        result = verify(url)
    out = result.stdout
    assert result.returncode == 4, out + result.stderr
    first, advice = out.splitlines()[:2]
    assert first.startswith(
        f"wavespeed-mock verify: NOT RUN: {url} is not a WaveSpeed API: GET /api/v3/balance "
        "answered 404 with HTML (Server: SimpleHTTP/0.6 Python/"
    ), first
    assert advice == (
        "Is --base-url right? The real service is https://api.wavespeed.ai; `wavespeed-mock "
        "serve` listens on http://127.0.0.1:8000 unless told otherwise."
    )
    assert "budget" not in out
    assert seen == ["GET /openapi.yaml", "GET /api/v3/balance"]


def test_the_report_groups_why_checks_skipped_each_with_its_fix() -> None:
    import io

    from mock_api.verify import CheckResult, VerifyReporter

    reporter = VerifyReporter(io.StringIO(), base_url="http://127.0.0.1:8000")
    second = "no second API key, so ... pass a second account's key (verify: --second-api-key KEY)"
    reporter.results = [
        CheckResult("account · isolation", "skipped", 0.0, second),
        CheckResult("history · filters", "skipped", 0.0, f"{second}\nmore words"),
        CheckResult("schema · media", "skipped", 0.0, "the /media/ routes are the fake's"),
        CheckResult("lifecycle · a job", "passed", 0.1),
    ]
    report = reporter.render(1)
    assert "4 checks in " in report
    assert (
        f"1 passed, 0 failed, 3 skipped\nskipped, and why:\n  2 x {second}\n"
        "  1 x the /media/ routes are the fake's\n"
    ) in report


@pytest.mark.parametrize(("waited", "said"), [(4.9, False), (5.0, True)])
def test_a_slow_fake_by_url_is_told_how_to_be_fast(waited: float, said: bool) -> None:
    from mock_api.contract.options import TargetOptions
    from mock_api.contract.session import ContractSession
    from mock_api.contract.target import Target, TargetKind

    state = ContractSession(TargetOptions(base_url="http://127.0.0.1:9", api_key="k"))
    target = Target(
        TargetKind.FAKE, "http://127.0.0.1:9", "k", wait=lambda s: None, poll_interval=1
    )
    target.job_wait_seconds = waited
    state.target = target
    state.description = target.describe()
    state.close()  # the closing balance read fails (nothing listens): that is reported
    advice = [line for line in state.summary() if line.startswith("slow: ")]
    expected = (
        f"slow: {waited:.1f} s of this run went on waiting for the fake's jobs to run at its "
        "pace; `wavespeed-mock serve --pace instant` finishes each at once, and every check "
        "runs the same"
    )
    assert advice == ([expected] if said else [])


def test_a_target_counts_the_seconds_its_pollers_wait_for_jobs() -> None:
    import time

    import httpx

    from mock_api.contract.target import Target, TargetKind

    target = Target(TargetKind.FAKE, "http://x", "k", wait=time.sleep, poll_interval=0.5)
    with httpx.Client() as client:
        poller = target.poller(client)
        poller.wait(0.02)
        poller.wait(0.03)
    counted = target.job_wait_seconds
    assert 0.05 <= counted < 1
    target.wait(0.01)  # a wait of another kind (a webhook's, say) is not a job's
    assert target.job_wait_seconds == counted
