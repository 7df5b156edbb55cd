"""Lifecycle edges that mutation testing (``benchmarks/mutation.py``) found no test for."""

from __future__ import annotations

import dataclasses

import pytest

from mock_api.lifecycle import ALLOWED_NEXT, COMPLETED, NEVER_MS, Outcome, Plan, Status, status_at

CREATED, PROCESSING, COMPLETE, FAILED, TIMEOUT, CANCELLED = (
    Status.CREATED,
    Status.PROCESSING,
    Status.COMPLETED,
    Status.FAILED,
    Status.TIMEOUT,
    Status.CANCELLED,
)
EVERY = {CREATED, PROCESSING, COMPLETE, FAILED, TIMEOUT, CANCELLED}


def test_which_status_may_follow_which() -> None:
    # Forward only: created may become anything, processing anything but created, and a
    # finished job never changes.
    assert dict(ALLOWED_NEXT) == {
        CREATED: EVERY,
        PROCESSING: EVERY - {CREATED},
        COMPLETE: {COMPLETE},
        FAILED: {FAILED},
        TIMEOUT: {TIMEOUT},
        CANCELLED: {CANCELLED},
    }


def test_processing_never_goes_back_to_created() -> None:
    assert CREATED not in ALLOWED_NEXT[PROCESSING]


@pytest.mark.parametrize(
    ("status", "terminal", "refunded"),
    [
        (CREATED, False, False),
        (PROCESSING, False, False),
        (COMPLETE, True, False),
        (FAILED, True, True),
        (TIMEOUT, True, True),
        (CANCELLED, True, True),
    ],
)
def test_terminal_and_refunded_statuses(status: Status, terminal: bool, refunded: bool) -> None:
    assert (status.terminal, status.refunded) == (terminal, refunded)


def test_a_completed_outcome_has_task_code_0_and_no_error() -> None:
    # The docs' task codes: 0 is "ok".
    assert (COMPLETED.status, COMPLETED.nsfw, COMPLETED.code, COMPLETED.error) == (
        COMPLETE,
        False,
        0,
        "",
    )


@pytest.mark.parametrize("status", [TIMEOUT, CANCELLED, FAILED])
def test_every_unsuccessful_outcome_needs_its_error(status: Status) -> None:
    assert Outcome(status, code=5004, error="late").error == "late"
    with pytest.raises(ValueError, match="needs an error message, and only it"):
        Outcome(status)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Outcome(CREATED), "an outcome is a terminal status"),
        (lambda: Outcome(PROCESSING), "an outcome is a terminal status"),
        (lambda: Outcome(COMPLETE, error="x"), "needs an error message, and only it"),
        (lambda: Outcome(FAILED, nsfw=True, error="x"), "no outputs to flag"),
        (lambda: Plan(10, 9, 20, COMPLETED), "must not go backwards"),
        (lambda: Plan(10, 20, 19, COMPLETED), "must not go backwards"),
    ],
)
def test_impossible_records_say_why(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_a_flagged_completion_is_an_outcome() -> None:
    assert Outcome(COMPLETE, nsfw=True).nsfw


def test_a_plan_may_take_no_time_at_all() -> None:
    plan = Plan(created_ms=7, started_ms=7, finished_ms=7, outcome=COMPLETED)
    assert plan.inference_ms == 0
    assert status_at(plan, 7) is COMPLETE
    assert status_at(plan, 6) is CREATED


def test_inference_is_the_time_in_processing() -> None:
    assert Plan(100, 250, 1_000, COMPLETED).inference_ms == 750


def test_a_plan_ends_with_its_outcome() -> None:
    failed = Outcome(FAILED, code=1403, error="nope")
    plan = Plan(0, 10, 20, failed)
    assert [status_at(plan, t) for t in (9, 10, 19, 20)] == [
        CREATED,
        PROCESSING,
        PROCESSING,
        FAILED,
    ]


def test_never_is_past_any_clock_and_leaves_room_for_sums() -> None:
    # The clock stops at 2100-01-01 (README, Limits): 4,102,444,800,000 ms. A stuck job's
    # moments stay in a signed 64-bit integer (SQLite's) with a clock value added.
    latest_clock = 4_102_444_800_000
    assert latest_clock < NEVER_MS
    assert NEVER_MS + latest_clock < 2**63
    stuck = Plan(0, 0, NEVER_MS, COMPLETED)
    assert status_at(stuck, latest_clock) is PROCESSING


def test_outcomes_and_plans_are_frozen_values() -> None:
    plan = Plan(0, 1, 2, COMPLETED)
    for record, name in ((COMPLETED, "nsfw"), (plan, "finished_ms")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, 1)
    assert {plan, Plan(0, 1, 2, COMPLETED)} == {plan}
    assert hash(COMPLETED) == hash(Outcome(COMPLETE))
