"""Parity snapshots: recorded sanitised, compared path by path, and the fake held to them.

Without the internet: a second instance of the fake stands in for the "real"
service (recorded by URL, as a team would record the real one), and drifted
variants of it (``tests/drifts.py``) must be told apart from it, each by the
path that changed and both values.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from mock_api import Settings, create_app
from mock_api.cli import main
from mock_api.clock import OffsetClock
from mock_api.parity.diff import compare, matches
from mock_api.parity.runner import check_snapshots, open_target, record_snapshots, report
from mock_api.parity.sanitise import Sanitiser
from mock_api.planning import Pace
from mock_api.server import LiveServer
from tests.drifts import Drift, catalogue
from tests.once import once_per_run

#: Recording and comparing by URL wait on real jobs and webhook retries: mostly idle.
pytestmark = pytest.mark.waits

ROOT = Path(__file__).parent.parent
SNAPSHOTS = ROOT / "fixtures" / "parity"
KEY, SECOND = "parity-test-key", "parity-test-key-2"
#: Each state of a job lasts 300 ms: a poll every 50 ms sees each, even on a loaded machine
#: (a poll that missed one would record another timeline), and the balance read just after
#: a submission comes before the job ends (what tells a charge at acceptance from one at
#: completion).
PACE = Pace("parity", queue_ms=300, base_ms=300, per_output_second_ms=(1, 1))


def _parity(*args: str) -> Result:
    return CliRunner().invoke(main, ["parity", *args])


def _fake() -> Any:
    """The fake as a team would serve it (an offset clock the control API can move)."""
    return create_app(
        Settings(random_seed=11, pace=PACE, api_keys=frozenset({KEY, SECOND})), clock=OffsetClock()
    )


@pytest.fixture
def second_fake() -> Iterator[str]:
    """Another instance of the fake, on loopback: the "real" service of these tests."""
    with LiveServer(_fake()) as server:
        yield server.url


def test_the_committed_snapshots_hold_the_fake(tmp_path: Path) -> None:
    """CI's parity check: the fake in-process against fixtures/parity, no unaccepted change."""
    result = CliRunner().invoke(main, ["parity", "check", "--snapshots", str(SNAPSHOTS)])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output
    assert "validated against the real service: 1 of 23 scenarios (catalogue)" in result.output
    assert "22 match, 0 differ, 1 with accepted differences" in result.output


def test_the_catalogue_snapshot_is_the_recorded_real_answer() -> None:
    real = json.loads((ROOT / "fixtures" / "real-catalog-infinitetalk.json").read_text())
    snapshot = json.loads((SNAPSHOTS / "catalogue.json").read_text())
    assert snapshot["recorded"]["validated_against_real"] is True
    entries = snapshot["exchanges"][0]["response"]["json"]["data"]
    by_id = {m["model_id"]: m for m in real["models"]}
    assert sorted(by_id) == [e["model_id"] for e in entries]
    for entry in entries:
        model = by_id[entry["model_id"]]
        for field in ("name", "type", "description", "base_price", "formula"):
            assert entry[field] == model[field]
        [schema] = entry["api_schema"]["api_schemas"]
        assert schema["request_schema"] == model["request_schema"]
    others = [json.loads(p.read_text()) for p in SNAPSHOTS.glob("*.json") if p.stem != "catalogue"]
    assert all(s["recorded"]["validated_against_real"] is False for s in others)


def _record_by_url(folder: Path) -> None:
    with LiveServer(_fake()) as server:
        target = open_target(server.url, KEY, second_api_key=SECOND)
        try:
            record_snapshots(target, folder, budget_micros=0, say=lambda line: None)
        finally:
            target.close()


@pytest.fixture
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every scenario recorded from a fake by URL with two keys, as a team would record
    the real service: once per test run (the recording takes ~14 s), shared read-only."""
    return once_per_run(tmp_path_factory, "parity-recorded-by-url", _record_by_url)


def test_recording_writes_no_key_secret_or_signature(recorded: Path) -> None:
    tmp_path = recorded
    text = "\n".join(path.read_text() for path in tmp_path.glob("*.json"))
    assert len(list(tmp_path.glob("*.json"))) == 23
    assert KEY not in text
    assert SECOND not in text
    assert "whsec_" not in text
    assert not re.search(r"v3,[0-9a-f]{64}", text)  # a webhook signature
    assert not re.search(r"\b[0-9a-f]{32}\b", text)  # ids are placeholders
    snapshots = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    flows = json.dumps([(s["exchanges"], s["timeline"]) for s in snapshots])
    assert "127.0.0.1" not in flows  # so are the URLs' origins
    webhook = json.loads((tmp_path / "webhook.json").read_text())
    # The receiver refused the first delivery: it came again, under the same id, and
    # both verify as documented.
    refused, accepted = webhook["timeline"]["deliveries"]
    assert (refused["answered"], accepted["answered"]) == (500, 200)
    for delivery in (refused, accepted):
        assert delivery["headers"]["webhook-signature"] == "<signature>"
        assert delivery["headers"]["webhook-id"] == "<webhook:1>"
        assert delivery["verified_as_documented"] is True
    # Placeholders keep which values were the same: the id submitted is the id polled.
    submitted = next(e for e in webhook["exchanges"] if e["step"] == "submit")
    assert submitted["response"]["json"]["data"]["id"] == "<prediction:1>"
    assert accepted["json"]["id"] == "<prediction:1>"


def test_the_timelines_say_what_a_client_saw(recorded: Path) -> None:
    """The documented numbers, as recorded from a fake by URL: the charge at acceptance,
    the refund, the cap, the padding band, the 402 and the 429, the outputs' lengths."""
    tmp_path = recorded

    def timeline(name: str) -> dict[str, Any]:
        return dict(json.loads((tmp_path / f"{name}.json").read_text())["timeline"])

    minimum = timeline("minimum-left-right")  # 1 s then 2 s: 3 s spoken, 5 s billed
    assert minimum["statuses"] == ["created", "processing", "completed"]
    assert minimum["charged_at_acceptance_micros"] == minimum["balance_moved_micros"] == 75_000
    assert minimum["outputs"] == [{"plays": True, "lasts_ms": 3_000}]
    failed = timeline("failed-job-refunded")
    assert (failed["charged_at_acceptance_micros"], failed["balance_moved_micros"]) == (75_000, 0)
    assert timeline("over-the-cap")["balance_moved_micros"] == 9_000_000  # 600 s x $0.015
    band = [job["balance_moved_micros"] for job in timeline("padding-band")["jobs"]]
    assert band == [75_000, 90_000, 75_000]  # 5.03 s: 5 s; 5.07 s: 6 s; 2.98 + 1.99: 5 s
    refused = timeline("not-enough-balance")
    assert refused == {"submitted": 402, "balance_moved_micros": 0, "jobs_created": 0}
    limited = json.loads((tmp_path / "rate-limit.json").read_text())["exchanges"]
    assert [e["response"]["status"] for e in limited] == [200, 429, 200]
    assert limited[1]["response"]["headers"]["retry-after"] == "60"
    family = [job["balance_moved_micros"] for job in timeline("family")["jobs"]]
    assert family == [75_000, 150_000, 300_000]  # fast; standard 480p; standard 720p
    assert timeline("two-accounts")["second_account_moved_micros"] == 0
    assert timeline("sync")["answered"] == ["completed", None]


def test_another_instance_compares_equal_to_a_recording(second_fake: str, recorded: Path) -> None:
    """Two instances, two recordings of the same flows, on different ports and moments:
    equal, placeholder for placeholder."""
    target = open_target(second_fake, KEY, second_api_key=SECOND)
    try:
        results = check_snapshots(target, recorded)
    finally:
        target.close()
    assert [(r.name, r.verdict) for r in results if r.verdict != "matches"] == []


def test_the_sanitiser_numbers_values_by_first_sight() -> None:
    sanitiser = Sanitiser(("sk-secret",))
    ids = ["a" * 32, "b" * 32]
    shown = sanitiser.json(
        {
            "id": ids[0],
            "urls": {"get": f"https://api.example/api/v3/predictions/{ids[0]}/result"},
            "outputs": [f"http://127.0.0.1:9/media/outputs/{ids[1]}/output.mp4"],
            "created_at": "2026-12-07T06:00:00.123Z",
            "secret": "whsec_abc",
            "note": "Bearer sk-secret was sent",
            "balance": 99.5,
        }
    )
    assert shown == {
        "id": "<prediction:1>",
        "urls": {"get": "<base>/api/v3/predictions/<prediction:1>/result"},
        "outputs": ["<base>/media/outputs/<prediction:2>/output.mp4"],
        "created_at": "<time:1>",
        "secret": "<secret>",
        "note": "Bearer <secret> was sent",
        "balance": "<balance:1>",
    }


def test_accepted_differences_match_by_pattern() -> None:
    assert matches(
        "exchanges[0].response.json.data[*].sort_order",
        "exchanges[0].response.json.data[3].sort_order",
    )
    assert not matches("exchanges[0].x", "exchanges[1].x")
    found = compare({"a": 1, "b": [1]}, {"a": 2, "b": [1, 2]}, {"b*": "grew"})
    assert [(d.path, d.recorded, d.now, d.accepted) for d in found] == [
        ("a", 1, 2, None),
        ("b[1]", "<absent>", 2, "grew"),
    ]


def test_a_scenario_without_a_snapshot_is_not_recorded_and_fails(tmp_path: Path) -> None:
    (tmp_path / "error-shapes.json").write_text((SNAPSHOTS / "error-shapes.json").read_text())
    result = CliRunner().invoke(
        main,
        [
            "parity",
            "check",
            "--snapshots",
            str(tmp_path),
            "--only",
            "error-shapes",
            "--only",
            "upload-ticket",
        ],
    )
    assert result.exit_code == 1, result.output
    assert re.search(r"upload-ticket\s+not recorded", result.output)
    assert re.search(r"error-shapes\s+matches", result.output)


@pytest.fixture
def paid_server() -> Iterator[str]:
    """The fake hiding its ``openapi.yaml``: to parity, a paid server (like the real one)."""
    app = create_app(Settings(random_seed=3, api_keys=frozenset({KEY})))

    async def hide_spec(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/openapi.yaml":
            scope = {**scope, "path": "/nowhere"}
        await app(scope, receive, send)

    with LiveServer(hide_spec) as server:
        yield server.url


def test_recording_a_paid_target_is_refused_over_budget(paid_server: str, tmp_path: Path) -> None:
    result = _parity(
        "record",
        "--base-url",
        paid_server,
        "--api-key",
        KEY,
        "--snapshots",
        str(tmp_path),
        "--budget",
        "0.1",
    )
    assert result.exit_code == 1
    # A server that is not the fake: the fake's own scenarios and the second account's are
    # left out, and the optional 605 s job has no room in $0.10.
    assert "not recording rate-limit: only the fake can be told this" in result.output
    assert "not recording two-accounts: no second account: pass --second-api-key" in result.output
    assert "not recording over-the-cap: optional, and --budget has no room for its $9.00" in (
        result.output
    )
    assert "recording 17 scenarios could cost $1.365" in result.output
    assert "this run could spend up to $1.365 on a paid endpoint, over the budget of $0.10" in (
        result.output
    )
    assert "$0.12  parity: over-minimum-left-right: 1 x $0.12" in result.output
    assert "$0.525  parity: family: 1 x $0.525" in result.output
    assert "Pass --budget 1.365 (or set WAVESPEED_BUDGET)" in result.output
    assert "or choose fewer with --only" in result.output
    assert list(tmp_path.glob("*.json")) == []


def test_checking_a_paid_target_is_refused_over_budget(paid_server: str) -> None:
    """A scheduled check of the real service spends too: priced first, held to --budget."""
    target = ("--base-url", paid_server, "--api-key", KEY, "--snapshots", str(SNAPSHOTS))
    result = _parity("check", *target, "--only", "sync", "--only", "quotes")
    assert result.exit_code == 1, result.output
    assert "checking 2 scenarios could cost $0.075" in result.output
    assert "over the budget of $0.00" in result.output
    free = _parity("check", *target, "--only", "quotes")
    assert "checking 1 scenario could cost $0.00" in free.output
    assert re.search(r"quotes\s+matches", free.output), free.output


#: Drifts that change what the scenarios show, one or two per scenario: each must be
#: named, by the one scenario that shows it, by a path with both values. (All of them:
#: ``scripts/parity_drifts.py``, by hand; the README quotes its figures.)
NAMED = {
    "status-succeeded": ("minimum-meanwhile", "response.json.data.status"),
    "charge-at-completion": ("minimum-meanwhile", "timeline.charged_at_acceptance_micros"),
    "output-truncated": ("minimum-meanwhile", "timeline.outputs[0].plays"),
    "paths-disagree": ("minimum-meanwhile", "response.json.data.timings.inference"),
    "unknown-job-500": ("error-shapes", "exchanges[3].response.status"),
    "no-padding": ("padding-band", "timeline.jobs[0].balance_moved_micros"),
    "double-refund": ("failed-job-refunded", "timeline.balance_moved_micros"),
    "nsfw-flag-lost": ("flagged-output", "response.json.data.has_nsfw_contents[0]"),
    "402-leaves-a-job": ("not-enough-balance", "timeline.jobs_created"),
    "429-retry-after-text": ("rate-limit", "exchanges[1].response.headers.retry-after"),
    "history-lists-others": ("two-accounts", "response.json.data.items"),
    "webhook-enveloped": ("webhook", "timeline.deliveries[0].json"),
    "webhook-signed-body-only": ("webhook", "timeline.deliveries[0].verified_as_documented"),
    "webhook-never-retried": ("webhook", "timeline.deliveries[1]"),
    "sync-5004-at-once": ("sync", "timeline.answered[1]"),
    "family-default-720p": ("family", "timeline.jobs[1].balance_moved_micros"),
    "catalogue-type-filter-ignored": ("catalogue-filters", "response.json.data[0]"),
    "account-balance-in-cents": ("balances", "exchanges[1].response.json.data.balance"),
}


def _drifts() -> list[Drift]:
    return [d for d in catalogue(KEY, SECOND) if d.name in NAMED]


@pytest.mark.no_cover
@pytest.mark.parametrize("drift", _drifts(), ids=lambda d: d.name)
def test_a_drifted_service_is_named_path_by_path(drift: Drift, tmp_path: Path) -> None:
    scenario, path = NAMED[drift.name]
    with LiveServer(_fake()) as honest:
        target = open_target(honest.url, KEY, second_api_key=SECOND)
        try:
            record_snapshots(
                target, tmp_path, budget_micros=0, only=[scenario], say=lambda line: None
            )
        finally:
            target.close()
    with LiveServer(drift.wrap(_fake())) as server:
        target = open_target(server.url, KEY, second_api_key=SECOND)
        try:
            results = check_snapshots(target, tmp_path, only=[scenario])
        finally:
            target.close()
    failures = [d for r in results for d in r.failures]
    assert failures, f"{drift.name} ({drift.change}) was not told apart"
    assert any(path in d.path for d in failures), [d.describe() for d in failures]
    lines = report(results, "a drifted fake")
    assert any(" ! " in line for line in lines)


def test_a_flow_that_breaks_off_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    """A target whose answer a flow cannot go on from: check names where it broke off,
    and record writes nothing for it and says why."""
    app = create_app(Settings(random_seed=3, pace=PACE, api_keys=frozenset({KEY})))

    async def balance_as_html(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/v3/balance":
            body = b"<html>maintenance</html>"
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    with LiveServer(balance_as_html) as server:
        target = open_target(server.url, KEY)
        try:
            [result] = check_snapshots(target, SNAPSHOTS, only=["minimum-meanwhile"])
        finally:
            target.close()
        broke = [d for d in result.failures if d.path == "timeline.broke_off"]
        assert broke, [d.describe() for d in result.failures]
        assert "JSONDecodeError" in str(broke[0].now)
        recorded = _parity(
            "record",
            "--base-url",
            server.url,
            "--api-key",
            KEY,
            "--snapshots",
            str(tmp_path),
            "--only",
            "minimum-meanwhile",
            "--only",
            "quotes",
        )
    assert recorded.exit_code == 1, recorded.output
    assert "could not record minimum-meanwhile: JSONDecodeError" in recorded.output
    assert "recorded quotes: 4 exchanges" in recorded.output
    assert [p.name for p in tmp_path.glob("*.json")] == ["quotes.json"]


def test_a_check_by_url_skips_what_the_target_cannot_do(second_fake: str) -> None:
    """Without a second key the two-accounts scenario is skipped, and the report says why."""
    target = open_target(second_fake, KEY)
    try:
        results = check_snapshots(target, SNAPSHOTS, only=["two-accounts", "balances"])
    finally:
        target.close()
    assert [(r.name, r.verdict) for r in results] == [
        ("balances", "matches"),
        ("two-accounts", "skipped"),
    ]
    assert "no second account: pass --second-api-key" in "\n".join(report(results, "a fake"))


def test_the_report_states_what_the_real_service_validated() -> None:
    target = open_target(None, None)
    try:
        results = check_snapshots(target, SNAPSHOTS, only=["catalogue", "error-shapes"])
    finally:
        target.close()
    lines = report(results, "the fake, in-process")
    assert lines[-2].startswith("validated against the real service: 1 of 2 scenarios (catalogue)")
    assert "recorded 2026-06-23 from the real service" in "\n".join(lines)


def test_a_short_key_is_scrubbed_as_a_word_not_as_a_letter() -> None:
    """A one-letter key once ate that letter out of every word of a recording."""
    sanitiser = Sanitiser(("k",))
    assert sanitiser.text("wavespeed-ai/infinitetalk-fast") == "wavespeed-ai/infinitetalk-fast"
    assert sanitiser.text("upload the file to the mock") == "upload the file to the mock"
    assert sanitiser.text("Bearer k") == "Bearer <secret>"
    assert sanitiser.json({"api_key": "k", "note": "key k used"}) == {
        "api_key": "<secret>",
        "note": "key <secret> used",
    }


def test_two_honest_fakes_with_one_letter_keys_compare_equal(tmp_path: Path) -> None:
    with (
        LiveServer(create_app(Settings(random_seed=1, pace=PACE))) as first,
        LiveServer(create_app(Settings(random_seed=2, pace=PACE))) as second,
    ):
        target = open_target(first.url, "k")
        try:
            record_snapshots(
                target,
                tmp_path,
                budget_micros=0,
                only=["error-shapes", "quotes"],
                say=lambda line: None,
            )
        finally:
            target.close()
        target = open_target(second.url, "q")
        try:
            results = check_snapshots(target, tmp_path, only=["error-shapes", "quotes"])
        finally:
            target.close()
    assert [r.verdict for r in results] == ["matches", "matches"], report(results, "second")


def test_a_fake_whose_clock_was_moved_on_still_verifies_its_webhooks(second_fake: str) -> None:
    """A served fake's clock moved ten minutes on (as the rate-limit scenario moves it):
    its deliveries are stamped by that clock, and are held to it, not to this machine's."""
    moved = httpx.post(f"{second_fake}/_mock/clock", json={"action": "advance", "seconds": 600})
    assert moved.status_code == 200, moved.text
    target = open_target(second_fake, KEY, second_api_key=SECOND)
    try:
        assert abs(target.target.now() - (time.time() + 600)) < 5
        [result] = check_snapshots(target, SNAPSHOTS, only=["webhook"])
    finally:
        target.close()
    assert result.verdict == "matches", [d.describe() for d in result.differences]


def test_the_fake_in_process_compares_equal_to_a_recording_by_url(recorded: Path) -> None:
    """In-process (a clock that stands still between polls) and by URL (a running one),
    the same flows record the same: a job of an earlier scenario made in the same instant
    once crept into the history's window."""
    target = open_target(None, KEY)
    try:
        results = check_snapshots(target, recorded)
    finally:
        target.close()
    assert [(r.name, r.verdict) for r in results if r.verdict != "matches"] == []


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class names it so
        pass


def test_a_server_that_is_no_wavespeed_api_is_named_first(tmp_path: Path) -> None:
    """As verify does: a file server is named as such before anything else is sent."""
    handler = functools.partial(_QuietFiles, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_port}"
        try:
            result = _parity("check", "--base-url", url, "--api-key", KEY)
        finally:
            httpd.shutdown()
    assert result.exit_code == 1, result.output
    first, advice = result.output.splitlines()[:2]
    assert first == (
        f"Error: {url} is not a WaveSpeed API: GET /api/v3/balance answered 404 with HTML "
        f"(Server: SimpleHTTP/0.6 Python/{sys.version.split()[0]})"
    ), result.output
    assert "--base-url" in advice, result.output
