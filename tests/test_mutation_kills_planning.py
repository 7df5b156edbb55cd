"""Planning edges that mutation testing (``benchmarks/mutation.py``) found no test for.

The figures are the README's (``serve`` options): ``fast`` is 0.5 s in ``created``, then
0.5 s + 15 ms per second of output; a number is seconds of processing per second of
output; ``--fail-rate``, ``--nsfw-rate`` and ``--outcome-seed`` default to 0.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from decimal import Decimal

import pytest

from mock_api.lifecycle import COMPLETED, Outcome, Status
from mock_api.planning import (
    NSFW,
    PACES,
    Directive,
    OutcomeRates,
    Pace,
    choose_outcome,
    failure,
    job_key,
    plan_job,
)

FAST = PACES["fast"]
FAILED = Outcome(Status.FAILED, code=5000, error="Internal server error.")


def test_the_outcome_seed_reaches_the_nsfw_draw() -> None:
    def flags(seed: int) -> list[bool]:
        rates = OutcomeRates(nsfw_rate=0.5, seed=seed)
        return [choose_outcome(None, rates, f"job-{i}").nsfw for i in range(64)]

    assert flags(1) != flags(2)


def test_the_outcome_seed_reaches_the_failure_draw() -> None:
    def failed(seed: int) -> list[bool]:
        rates = OutcomeRates(fail_rate=0.5, seed=seed)
        return [choose_outcome(None, rates, f"job-{i}").status is Status.FAILED for i in range(64)]

    assert failed(1) != failed(2)


def test_the_default_rates_are_zero_with_seed_zero() -> None:
    assert OutcomeRates() == OutcomeRates(fail_rate=0.0, nsfw_rate=0.0, seed=0)
    flagged = OutcomeRates(nsfw_rate=0.5)
    assert [choose_outcome(None, flagged, f"j{i}").nsfw for i in range(32)] == [
        choose_outcome(None, OutcomeRates(nsfw_rate=0.5, seed=0), f"j{i}").nsfw for i in range(32)
    ]


def test_rates_of_one_fail_or_flag_every_job_and_a_failure_is_5000() -> None:
    assert choose_outcome(None, OutcomeRates(fail_rate=1.0), "k") == FAILED
    assert choose_outcome(None, OutcomeRates(nsfw_rate=1.0), "k") == Outcome(
        Status.COMPLETED, nsfw=True
    )
    assert choose_outcome(None, OutcomeRates(fail_rate=1.0, nsfw_rate=1.0), "k") == FAILED


def test_the_nsfw_outcome_completes_flagged() -> None:
    assert (NSFW.status, NSFW.nsfw, NSFW.code, NSFW.error) == (Status.COMPLETED, True, 0, "")


@pytest.mark.parametrize(("rate", "name"), [(1.0, "fail_rate"), (0.0, "nsfw_rate")])
def test_rates_of_zero_and_one_are_shares(rate: float, name: str) -> None:
    rates = OutcomeRates(**{name: rate})  # type: ignore[arg-type]
    assert getattr(rates, name) == rate


@pytest.mark.parametrize("name", ["fail_rate", "nsfw_rate"])
@pytest.mark.parametrize("rate", [-0.001, 1.001])
def test_rates_outside_zero_to_one_are_refused(name: str, rate: float) -> None:
    with pytest.raises(ValueError, match=f"{name} must be between 0 and 1, not {rate}"):
        OutcomeRates(**{name: rate})  # type: ignore[arg-type]


def test_a_failure_keeps_its_message_or_takes_the_codes() -> None:
    assert failure(1403, "GPU on fire").error == "GPU on fire"
    assert failure(1403, "  GPU on fire  ").error == "GPU on fire"
    assert failure(1200, "   ").error == (
        "Content moderation: the input was flagged by the safety checker."
    )
    assert failure(42).error == "Task failed."  # an undocumented code
    assert failure(42).status is Status.FAILED


def test_the_job_key_is_a_digest_of_the_seed_and_the_inputs() -> None:
    expected = hashlib.sha256(b'7\x00{"prompt":"hi"}').hexdigest()
    assert job_key(7, '{"prompt":"hi"}') == expected
    assert job_key(8, '{"prompt":"hi"}') != expected


def test_named_paces_ignore_case_and_spaces() -> None:
    assert Pace.parse(" Fast ") is FAST
    assert Pace.parse("REALISTIC") is PACES["realistic"]


def test_a_numeric_pace_is_seconds_of_work_per_second_of_output() -> None:
    pace = Pace.parse("2.5")
    assert (pace.name, pace.queue_ms, pace.base_ms, pace.per_output_second_ms) == (
        "2.5x",
        500,
        500,
        (2500, 2500),
    )
    plan = plan_job(created_ms=0, output_seconds=Decimal(10), pace=pace, key="k", outcome=COMPLETED)
    assert (plan.started_ms, plan.finished_ms) == (500, 500 + 500 + 25_000)


@pytest.mark.parametrize("text", ["glacial", "-0.001", "NaN", "-Infinity", "Infinity"])
def test_a_pace_is_a_name_or_a_number_from_zero(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not one of instant, fast, realistic or a number"):
        Pace.parse(text)


def test_processing_time_is_base_plus_output_seconds_times_the_rate() -> None:
    pace = Pace("p", 0, 1_000, (40, 40))
    assert pace.processing_ms(Decimal("2.5"), random.Random(1)) == 1_000 + 100


def test_a_drawn_rate_stays_in_its_range_and_follows_the_seed() -> None:
    pace = Pace("p", 0, 0, (10, 20))
    draws = {pace.processing_ms(Decimal(1), random.Random(seed)) for seed in range(200)}
    assert draws == set(range(10, 21))


@pytest.mark.parametrize("status", [Status.FAILED, Status.TIMEOUT, Status.CANCELLED])
def test_a_job_that_fails_fails_fast(status: Status) -> None:
    unsuccessful = Outcome(status, code=5000, error="x")
    plan = plan_job(
        created_ms=0, output_seconds=Decimal(600), pace=FAST, key="k", outcome=unsuccessful
    )
    assert (plan.started_ms, plan.finished_ms) == (500, 1_000)  # no 15 ms per output second
    flagged = plan_job(created_ms=0, output_seconds=Decimal(10), pace=FAST, key="k", outcome=NSFW)
    assert flagged.finished_ms == 1_000 + 150  # a completed job does the work


def test_a_job_waits_for_its_slot() -> None:
    plan = plan_job(
        created_ms=1_000,
        output_seconds=Decimal(10),
        pace=FAST,
        key="k",
        outcome=COMPLETED,
        not_before_ms=4_000,
    )
    assert (plan.created_ms, plan.started_ms, plan.finished_ms) == (1_000, 4_000, 4_650)
    early = plan_job(
        created_ms=1_000,
        output_seconds=Decimal(10),
        pace=FAST,
        key="k",
        outcome=COMPLETED,
        not_before_ms=1_200,
    )
    assert early.started_ms == 1_500  # the slot was free before the queue time ended


def test_a_directive_overrides_the_pace() -> None:
    directive = Directive(queue_ms=0, processing_ms=0)
    plan = plan_job(
        created_ms=7,
        output_seconds=Decimal(600),
        pace=PACES["realistic"],
        key="k",
        outcome=COMPLETED,
        directive=directive,
    )
    assert (plan.started_ms, plan.finished_ms) == (7, 7)
    only_queue = plan_job(
        created_ms=0,
        output_seconds=Decimal(10),
        pace=FAST,
        key="k",
        outcome=COMPLETED,
        directive=Directive(queue_ms=3_000),
    )
    assert (only_queue.started_ms, only_queue.finished_ms) == (3_000, 3_650)
    only_processing = plan_job(
        created_ms=0,
        output_seconds=Decimal(10),
        pace=FAST,
        key="k",
        outcome=COMPLETED,
        directive=Directive(processing_ms=9_000),
    )
    assert (only_processing.started_ms, only_processing.finished_ms) == (500, 9_500)


def test_a_job_meant_to_stay_stuck_stops_at_never() -> None:
    never = 2**62
    stuck = plan_job(
        created_ms=1_000,
        output_seconds=Decimal(10),
        pace=FAST,
        key="k",
        outcome=COMPLETED,
        directive=Directive(processing_ms=never),
    )
    assert (stuck.started_ms, stuck.finished_ms) == (1_500, never)
    queued = plan_job(
        created_ms=1_000,
        output_seconds=Decimal(10),
        pace=FAST,
        key="k",
        outcome=COMPLETED,
        directive=Directive(queue_ms=never),
    )
    assert (queued.started_ms, queued.finished_ms) == (never, never)


@pytest.mark.parametrize("name", ["queue_ms", "processing_ms"])
def test_a_directive_refuses_negative_times(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be >= 0"):
        Directive(**{name: -1})  # type: ignore[arg-type]
    assert getattr(Directive(**{name: 0}), name) == 0  # type: ignore[arg-type]


def test_paces_rates_and_directives_are_frozen_values() -> None:
    records = ((FAST, "base_ms"), (OutcomeRates(), "seed"), (Directive(), "queue_ms"))
    for record, name in records:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, 1)
    assert hash(Pace.parse("2")) == hash(Pace.parse("2"))
    assert hash(OutcomeRates(seed=3)) == hash(OutcomeRates(seed=3))
    assert hash(Directive(queue_ms=1)) == hash(Directive(queue_ms=1))


def test_an_instant_job_submitted_at_time_zero_is_done_at_time_zero() -> None:
    plan = plan_job(
        created_ms=0,
        output_seconds=Decimal(600),
        pace=PACES["instant"],
        key="k",
        outcome=COMPLETED,
    )
    assert (plan.started_ms, plan.finished_ms) == (0, 0)
