"""mock_api.contract.budget: the plan, the refusal, the runtime guard, and budget parsing."""

from __future__ import annotations

import threading

import pytest

from mock_api.contract.budget import (
    UNPRICEABLE_JOB_MICROS,
    BudgetExceeded,
    PlannedSpend,
    Spender,
    check_budget,
    describe_plan,
    parse_budget,
    plan_total,
    priced,
)

LIFECYCLE = priced("lifecycle", [(1000, 2000, "meanwhile")], "minimum")
BILLING = priced(
    "billing",
    [(1000, 2000, "meanwhile"), (5200, 3000, "meanwhile"), (2600, 3300, "left_right")],
    "cheapest",
)
GENERATED = PlannedSpend("generated", 20, UNPRICEABLE_JOB_MICROS, "unreadable media")


def test_priced_plans_cost_each_job_by_the_documented_rule() -> None:
    assert LIFECYCLE.each_micros == 75_000  # 3 s of speech: the 5 s minimum
    assert (BILLING.jobs, BILLING.each_micros) == (3, 90_000)  # the dearest: 6 s
    assert BILLING.total_micros == 270_000


def test_a_shared_allowance_is_counted_once() -> None:
    assert plan_total([GENERATED, LIFECYCLE, GENERATED]) == 20 * 75_000 + 75_000


def test_two_different_plans_cannot_share_a_label() -> None:
    with pytest.raises(ValueError, match="labelled 'generated'"):
        plan_total([GENERATED, PlannedSpend("generated", 1, 1, "other")])


def test_a_plan_within_budget_starts_and_reports_its_worst_case() -> None:
    assert check_budget([LIFECYCLE, BILLING], 345_000) == 345_000


def test_a_plan_over_budget_is_refused_with_every_line_and_the_amount_to_allow() -> None:
    with pytest.raises(BudgetExceeded) as caught:
        check_budget([LIFECYCLE, BILLING, GENERATED], 0)
    message = str(caught.value)
    assert "could spend up to $1.845" in message
    assert "over the budget of $0.00" in message
    assert "--wavespeed-budget 1.845" in message
    assert message.index("generated") < message.index("billing") < message.index("lifecycle")


def test_describe_plan_shows_count_unit_cost_and_reason() -> None:
    (line,) = describe_plan([BILLING])
    assert line.split() == ["$0.27", "billing:", "3", "x", "$0.09", "(cheapest)"]


@pytest.mark.parametrize(
    ("text", "micros"), [("0", 0), ("1.5", 1_500_000), ("$2", 2_000_000), (" 0.075 ", 75_000)]
)
def test_parse_budget(text: str, micros: int) -> None:
    assert parse_budget(text) == micros


@pytest.mark.parametrize("text", ["-1", "lots", "0.0000001", "nan", "inf"])
def test_parse_budget_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="budget"):
        parse_budget(text)


def test_spender_refuses_what_would_pass_the_limit() -> None:
    spender = Spender(150_000)
    spender.reserve("a", 75_000)
    spender.reserve("a", 75_000)
    with pytest.raises(BudgetExceeded, match=r"past its budget of \$0.15"):
        spender.reserve("a", 1)
    assert (spender.reserved_micros, spender.submissions) == (150_000, 2)


def test_spender_caps_a_label_and_a_free_target_has_no_limit() -> None:
    spender = Spender(None)
    assert [spender.try_reserve("g", 75_000, cap=2) for _ in range(3)] == [True, True, False]
    assert spender.count("g") == 2
    spender.reserve("big", 10**12)  # free: only counted


def test_spender_is_thread_safe() -> None:
    spender = Spender(1000)
    threads = [
        threading.Thread(target=lambda: [spender.try_reserve("t", 1) for _ in range(100)])
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert spender.reserved_micros == 1000
