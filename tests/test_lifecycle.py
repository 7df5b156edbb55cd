"""The pure cores of a job's life: clock, lifecycle, planning."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_api.clock import ManualClock, SystemClock, iso_ms
from mock_api.errors import ValidationFailed
from mock_api.http import outcome_from_header
from mock_api.lifecycle import ALLOWED_NEXT, COMPLETED, Outcome, Plan, Status, status_at
from mock_api.planning import PACES, OutcomeRates, Pace, choose_outcome, plan_job


def test_manual_clock_only_moves_forward() -> None:
    clock = ManualClock(1_000)
    assert clock.advance(1.5) == 2_500
    assert clock.advance(ms=10) == 2_510
    clock.set(3_000)
    with pytest.raises(ValueError, match="cannot move the clock back"):
        clock.set(2_999)
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)


def test_system_clock_is_close_to_now() -> None:
    import time

    assert abs(SystemClock().now_ms() - time.time() * 1000) < 1000


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_680_352_496_789, "2023-04-01T12:34:56.789Z"),
        (ManualClock.DEFAULT_START_MS + 7, "2026-01-01T00:00:00.007Z"),
    ],
)
def test_iso_ms(ms: int, text: str) -> None:
    assert iso_ms(ms) == text


def test_status_walks_the_plan() -> None:
    plan = Plan(created_ms=100, started_ms=200, finished_ms=300, outcome=COMPLETED)
    assert [status_at(plan, t) for t in (100, 199, 200, 299, 300, 10**12)] == [
        Status.CREATED,
        Status.CREATED,
        Status.PROCESSING,
        Status.PROCESSING,
        Status.COMPLETED,
        Status.COMPLETED,
    ]


plans = st.builds(
    lambda c, q, p, fail: Plan(
        c, c + q, c + q + p, Outcome(Status.FAILED, code=5000, error="x") if fail else COMPLETED
    ),
    st.integers(0, 10**12),
    st.integers(0, 10**6),
    st.integers(0, 10**7),
    st.booleans(),
)


@given(plans, st.lists(st.integers(0, 10**7), min_size=2, max_size=20))
def test_status_never_moves_backwards(plan: Plan, steps: list[int]) -> None:
    now = plan.created_ms
    seen = status_at(plan, now)
    for step in steps:
        now += step
        status = status_at(plan, now)
        assert status in ALLOWED_NEXT[seen]
        seen = status


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Outcome(Status.PROCESSING),
        lambda: Outcome(Status.FAILED),
        lambda: Outcome(Status.COMPLETED, error="x"),
        lambda: Outcome(Status.FAILED, nsfw=True, error="x"),
        lambda: Plan(10, 5, 20, COMPLETED),
    ],
)
def test_impossible_records_are_refused(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each constructor says a different thing
        bad()


def test_fast_pace_shows_each_state_and_finishes_600s_in_about_10s() -> None:
    plan = plan_job(
        created_ms=0, output_seconds=Decimal(600), pace=PACES["fast"], key="k", outcome=COMPLETED
    )
    assert plan.started_ms == 500  # visible in created
    assert plan.finished_ms - plan.started_ms > 0  # visible in processing
    assert 9_000 <= plan.finished_ms <= 10_500


def test_instant_pace_finishes_at_submission() -> None:
    plan = plan_job(
        created_ms=7, output_seconds=Decimal(600), pace=PACES["instant"], key="k", outcome=COMPLETED
    )
    assert plan.finished_ms == 7


def test_realistic_pace_takes_10_to_30s_per_output_second_and_depends_on_the_key() -> None:
    pace = PACES["realistic"]
    spans = {
        plan_job(
            created_ms=0, output_seconds=Decimal(10), pace=pace, key=str(k), outcome=COMPLETED
        ).inference_ms
        for k in range(50)
    }
    # README: 5 s, then 10-30 s per second of output.
    assert all(5_000 + 100_000 <= s <= 5_000 + 300_000 for s in spans)
    assert len(spans) > 10
    again = plan_job(
        created_ms=0, output_seconds=Decimal(10), pace=pace, key="3", outcome=COMPLETED
    )
    assert (
        again.inference_ms
        == plan_job(
            created_ms=0, output_seconds=Decimal(10), pace=pace, key="3", outcome=COMPLETED
        ).inference_ms
    )


@pytest.mark.parametrize(("text", "per_second"), [("2.5", 2500), ("0", 0)])
def test_numeric_pace(text: str, per_second: int) -> None:
    assert Pace.parse(text).per_output_second_ms == (per_second, per_second)


@pytest.mark.parametrize("text", ["glacial", "-1", "nan", "inf"])
def test_bad_pace(text: str) -> None:
    with pytest.raises(ValueError, match="pace"):
        Pace.parse(text)


@pytest.mark.parametrize(
    ("header", "outcome"),
    [
        ("complete", COMPLETED),
        ("nsfw", Outcome(Status.COMPLETED, nsfw=True)),
        ("fail", Outcome(Status.FAILED, code=5000, error="Internal server error.")),
        (
            "fail:1200",
            Outcome(
                Status.FAILED,
                code=1200,
                error="Content moderation: the input was flagged by the safety checker.",
            ),
        ),
        ("fail:1403:GPU: on fire", Outcome(Status.FAILED, code=1403, error="GPU: on fire")),
        ("FAIL:42", Outcome(Status.FAILED, code=42, error="Task failed.")),
    ],
)
def test_outcome_from_header(header: str, outcome: Outcome) -> None:
    assert outcome_from_header(header) == outcome


@pytest.mark.parametrize("header", ["", "nsfw:1", "fail:0", "fail:-3", "maybe"])
def test_parse_outcome_refuses(header: str) -> None:
    with pytest.raises(ValidationFailed, match="X-Mock-Outcome"):
        outcome_from_header(header)


def test_rates_are_deterministic_shares() -> None:
    rates = OutcomeRates(fail_rate=0.25, nsfw_rate=0.5, seed=9)
    outcomes = [choose_outcome(None, rates, f"job-{i}") for i in range(2000)]
    assert outcomes == [choose_outcome(None, rates, f"job-{i}") for i in range(2000)]
    failed = sum(o.status is Status.FAILED for o in outcomes)
    flagged = sum(o.nsfw for o in outcomes)
    assert 400 <= failed <= 600  # 25 % of 2000
    assert 650 <= flagged <= 850  # 50 % of the 75 % that did not fail
    other_seed = [
        choose_outcome(None, OutcomeRates(0.25, 0.5, seed=10), f"job-{i}") for i in range(2000)
    ]
    assert other_seed != outcomes


def test_header_beats_rates() -> None:
    forced = Outcome(Status.COMPLETED, nsfw=True)
    assert choose_outcome(forced, OutcomeRates(fail_rate=1.0), "k") is forced
    assert choose_outcome(None, OutcomeRates(), "k") == COMPLETED


@pytest.mark.parametrize("rate", [-0.1, 1.1])
def test_rates_must_be_shares(rate: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        OutcomeRates(fail_rate=rate)


def test_offset_clock_flows_jumps_freezes_and_resumes() -> None:
    import time

    from mock_api.clock import OffsetClock

    clock = OffsetClock()
    start = clock.now_ms()
    assert abs(start - time.time() * 1000) < 1000
    assert clock.advance(60) >= start + 60_000
    frozen = clock.freeze()
    time.sleep(0.02)
    assert clock.now_ms() == frozen
    assert clock.frozen
    assert clock.advance(ms=5) == frozen + 5
    resumed = clock.resume()
    assert resumed >= frozen + 5
    assert not clock.frozen
    with pytest.raises(ValueError, match="cannot move the clock back"):
        clock.set(resumed - 10_000)
    assert clock.set(resumed + 10_000) >= resumed + 10_000
