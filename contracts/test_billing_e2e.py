"""Billing end to end: WAVs of exact length in, the balance's move out.

On the fake (free), hypothesis generates the lengths (0.5-40 s, to the
millisecond) and the order, on top of the paid run's cases as explicit
examples; the failure leg forces a failure and expects the balance back
where it started. On a paid endpoint only :data:`PAID_CASES` run: the
cheapest lengths that still tell the rule's clauses apart. The failure leg
needs a target that can be told to fail a job, so it is the fake's alone.

Lengths inside the encoder-padding band, where the docs' plain reading and
the fake's forgiving one differ (see ``mock_api/contract/rule.py``), are not drawn.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mock_api.contract.budget import Spender, priced
from mock_api.contract.charges import BillingCase, check_charge
from mock_api.contract.rule import ORDERS, readings_agree
from mock_api.contract.target import Target

#: The cheapest cases that tell the rule's clauses apart, used on paid targets.
PAID_CASES = (
    BillingCase(1000, 2000, "meanwhile"),  # under the minimum: billed 5 s
    BillingCase(5200, 3000, "meanwhile"),  # the longer track, rounded up: 6 s
    BillingCase(2600, 3300, "left_right"),  # both in turn, 5.9 s: 6 s (max() would bill 5 s)
    BillingCase(3300, 2600, "right_left"),  # the same lengths the other way round: 6 s
)
PAID_PLAN = priced(
    "billing end to end",
    [(case.left_ms, case.right_ms, case.order) for case in PAID_CASES],
    "the cheapest lengths that prove the minimum, rounding up, max() and the sum",
)

cases = (
    st.tuples(st.integers(500, 40_000), st.integers(500, 40_000), st.sampled_from(ORDERS))
    .filter(lambda drawn: readings_agree(*drawn))
    .map(lambda drawn: BillingCase(*drawn))
)


def _generated(run: Callable[[BillingCase], None], max_examples: int) -> Callable[[], None]:
    """``run`` under hypothesis: seeded, bounded, with the paid cases first."""
    test = given(cases)(run)
    for case in PAID_CASES:
        test = example(case)(test)
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None)(test)


@pytest.mark.spends(PAID_PLAN)
def test_charge_is_the_documented_rule(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a completed job moves the balance by exactly the documented rule's amount"""
    unproven: list[str] = []

    def run(case: BillingCase) -> None:
        result = check_charge(
            target,
            client=api,
            cdn=cdn,
            video_url=video_url,
            case=case,
            outcome="complete" if target.can_force_outcomes else None,
            spender=spender,
        )
        if result.status != "completed":  # only a target that chose to fail it gets here
            unproven.append(f"{case}: {result.final.get('code')} {result.final.get('error')}")

    if target.free:
        _generated(run, max_examples=4)()
    else:
        for case in PAID_CASES:
            run(case)
    if unproven:
        pytest.skip(
            "the target failed these jobs, so their charge is unproven (their refunds were "
            "checked); pass --wavespeed-video with a real video of two people: "
            + "; ".join(unproven)
        )


def test_failed_job_costs_nothing(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a job that fails leaves the balance where it started"""
    if not target.can_force_outcomes:
        pytest.skip("only the fake can be told to fail a job (directives, X-Mock-Outcome)")

    def run(case: BillingCase) -> None:
        check_charge(
            target,
            client=api,
            cdn=cdn,
            video_url=video_url,
            case=case,
            outcome="fail",
            spender=spender,
        )

    _generated(run, max_examples=3)()
