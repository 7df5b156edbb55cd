"""Parity snapshots: recorded sanitised, compared path by path, and the fake held to them.

Without the internet: a second instance of the fake stands in for the "real"
service (recorded by URL, as a team would record the real one), and drifted
variants of it (``tests/drifts.py``) must be told apart from it, each by the
path that changed and both values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mock_api import Settings, create_app
from mock_api.cli import main
from mock_api.parity.diff import compare, matches
from mock_api.parity.runner import check_snapshots, open_target, record_snapshots, report
from mock_api.parity.sanitise import Sanitiser
from mock_api.planning import Pace
from mock_api.server import LiveServer
from tests.drifts import Drift, catalogue

ROOT = Path(__file__).parent.parent
SNAPSHOTS = ROOT / "fixtures" / "parity"
KEY, SECOND = "parity-test-key", "parity-test-key-2"
PACE = Pace("parity", queue_ms=30, base_ms=30, per_output_second_ms=(1, 1))


@pytest.fixture
def second_fake() -> Iterator[str]:
    """Another instance of the fake, on loopback: the "real" service of these tests."""
    app = create_app(Settings(random_seed=11, pace=PACE, api_keys=frozenset({KEY, SECOND})))
    with LiveServer(app) as server:
        yield server.url


def test_the_committed_snapshots_hold_the_fake(tmp_path: Path) -> None:
    """CI's parity check: the fake in-process against fixtures/parity, no unaccepted change."""
    result = CliRunner().invoke(main, ["parity", "check", "--snapshots", str(SNAPSHOTS)])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output
    assert "validated against the real service: 1 of 12 scenarios (catalogue)" in result.output


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


def test_recording_writes_no_key_secret_or_signature(second_fake: str, tmp_path: Path) -> None:
    target = open_target(second_fake, KEY)
    try:
        record_snapshots(target, tmp_path, budget_micros=0, say=lambda line: None)
    finally:
        target.close()
    text = "\n".join(path.read_text() for path in tmp_path.glob("*.json"))
    assert len(list(tmp_path.glob("*.json"))) == 12
    assert KEY not in text
    assert "whsec_" not in text
    assert not re.search(r"v3,[0-9a-f]{64}", text)  # a webhook signature
    assert not re.search(r"\b[0-9a-f]{32}\b", text)  # ids are placeholders
    recorded = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    flows = json.dumps([(r["exchanges"], r["timeline"]) for r in recorded])
    assert "127.0.0.1" not in flows  # so are the URLs' origins
    webhook = json.loads((tmp_path / "webhook.json").read_text())
    [delivery] = webhook["timeline"]["deliveries"]
    assert delivery["headers"]["webhook-signature"] == "<signature>"
    # Placeholders keep which values were the same: the id submitted is the id polled.
    submitted = next(e for e in webhook["exchanges"] if e["step"] == "submit")
    assert submitted["response"]["json"]["data"]["id"] == "<prediction:1>"
    assert delivery["json"]["id"] == "<prediction:1>"


def test_a_second_recording_of_the_same_flow_compares_equal(
    second_fake: str, tmp_path: Path
) -> None:
    target = open_target(second_fake, KEY)
    try:
        record_snapshots(target, tmp_path, budget_micros=0, say=lambda line: None)
        results = check_snapshots(target, tmp_path)
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


def test_recording_a_paid_target_is_refused_over_budget(tmp_path: Path) -> None:
    app = create_app(Settings(random_seed=3, api_keys=frozenset({KEY})))

    async def hide_spec(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/openapi.yaml":
            scope = {**scope, "path": "/nowhere"}
        await app(scope, receive, send)

    with LiveServer(hide_spec) as server:
        result = CliRunner().invoke(
            main,
            [
                "parity",
                "record",
                "--base-url",
                server.url,
                "--api-key",
                KEY,
                "--snapshots",
                str(tmp_path),
                "--budget",
                "0.1",
            ],
        )
    assert result.exit_code == 1
    assert "recording 12 scenarios could cost $0.525" in result.output
    assert "this run could spend up to $0.525 on a paid endpoint, over the budget of $0.10" in (
        result.output
    )
    assert "$0.12  parity: over-minimum-left-right: 1 x $0.12" in result.output
    assert "Pass --budget 0.525 (or set WAVESPEED_BUDGET)" in result.output
    assert "or record fewer with --only" in result.output
    assert list(tmp_path.glob("*.json")) == []


#: Drifts that change what the scenarios show (a charge, a field, a header, the
#: error shapes, an upload, a webhook): each must be named by a path with both values.
NAMED = {
    "status-succeeded": "response.json.data.status",
    "unknown-job-500": "exchanges[3].response.status",
    "webhook-enveloped": "timeline.deliveries[0].json",
}


def _drifts() -> list[Drift]:
    return [d for d in catalogue(KEY, SECOND) if d.name in NAMED]


@pytest.mark.no_cover
@pytest.mark.parametrize("drift", _drifts(), ids=lambda d: d.name)
def test_a_drifted_service_is_named_path_by_path(drift: Drift, tmp_path: Path) -> None:
    app = create_app(Settings(random_seed=11, pace=PACE, api_keys=frozenset({KEY, SECOND})))
    with LiveServer(app) as honest:
        target = open_target(honest.url, KEY)
        try:
            record_snapshots(target, tmp_path, budget_micros=0, say=lambda line: None)
        finally:
            target.close()
    drifted = create_app(Settings(random_seed=11, pace=PACE, api_keys=frozenset({KEY, SECOND})))
    with LiveServer(drift.wrap(drifted)) as server:
        target = open_target(server.url, KEY)
        try:
            results = check_snapshots(target, tmp_path)
        finally:
            target.close()
    failures = [d for r in results for d in r.failures]
    assert failures, f"{drift.name} ({drift.change}) was not told apart"
    assert any(NAMED[drift.name] in d.path for d in failures), [d.path for d in failures]
    lines = report(results, "a drifted fake")
    assert any(" ! " in line for line in lines)


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
