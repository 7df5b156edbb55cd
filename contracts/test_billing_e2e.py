"""Billing end to end: WAVs of exact length in, the balance's move out.

Each job is checked by :func:`~mock_api.contract.charges.check_charge`: the
balance read just after the submission, while the job is still unfinished,
already shows the charge (taken at acceptance); after the job ends it has
moved by exactly the documented rule's amount (nothing for a failed job: the
refund is exact), and it does not move again later (charged once, refunded
once); a completed job's output video decodes and lasts as long as the speech.

On the fake (free), hypothesis generates the lengths (0.5-40 s, to the
millisecond) and the order, on top of the paid run's cases as explicit
examples; the failure leg forces a failure and expects the balance back
where it started. On a paid endpoint only the ``PAID`` cases run: the
cheapest lengths that still tell the rule's clauses apart. The failure leg
needs a target that can be told to fail a job, so it is the fake's alone.

The encoder-padding band (a track a few ms past a whole second) has its own
check, held to the contract's reading: up to 50 ms forgiven per track, before
the tracks are combined (``mock_api/contract/rule.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mock_api.contract.budget import PlannedSpend, Spender, priced
from mock_api.contract.charges import BillingCase, check_charge
from mock_api.contract.rule import (
    MAXIMUM_SECONDS,
    ORDERS,
    RATE_MICROS_PER_SECOND,
    readings_agree,
)
from mock_api.contract.session import ContractSession
from mock_api.contract.target import Target, TargetKind

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

#: Inside the padding band, one per order: each tells the contract's reading from a
#: neighbour (no tolerance, 100 ms, or 50 ms taken once off the sum).
BAND_CASES = (
    BillingCase(6030, 2000, "meanwhile", band=True),  # 30 ms over: 6 s (plain reading: 7 s)
    BillingCase(6070, 2000, "meanwhile", band=True),  # 70 ms over: 7 s (100 ms forgiven: 6 s)
    BillingCase(4030, 3040, "left_right", band=True),  # 3980 + 2990: 7 s (once off the sum: 8 s)
    BillingCase(3040, 4030, "right_left", band=True),  # the same, the other way round: 7 s
    BillingCase(2000, 6050, "meanwhile", band=True),  # exactly 50 ms over: still 6 s
)
BAND_PLAN = priced(
    "billing in the padding band",
    [(case.left_ms, case.right_ms, case.order) for case in BAND_CASES],
    "tracks a few ms past whole seconds, one per order and each edge of the 50 ms band",
)

#: Over the cap: 605 s of speech. Billed at the cap, or refused (task code 1401) by a
#: target started with --over-max reject. Optional on a paid endpoint: it costs $9.00.
OVER_CAP = BillingCase(605_000, 1000, "meanwhile")
OVER_CAP_PLAN = PlannedSpend(
    "billing over the 600 s cap",
    1,
    MAXIMUM_SECONDS * RATE_MICROS_PER_SECOND,
    "605 s of audio: the cap's price",
    optional=True,
)
#: Task code for an invalid parameter: the documented answer to a job over the maximum.
OVER_MAXIMUM_CODE = 1401

cases = (
    st.tuples(st.integers(500, 40_000), st.integers(500, 40_000), st.sampled_from(ORDERS))
    .filter(lambda drawn: readings_agree(*drawn))
    .map(lambda drawn: BillingCase(*drawn))
)
#: A whole second plus 1..60 ms: inside the band, its edge, and just past it.
band_lengths = st.builds(lambda s, ms: s * 1000 + ms, st.integers(1, 9), st.integers(1, 60))
band_cases = st.builds(
    lambda left, right, order: BillingCase(left, right, order, band=True),
    band_lengths,
    band_lengths,
    st.sampled_from(ORDERS),
)


def _generated(
    run: Callable[[BillingCase], None],
    max_examples: int,
    drawn: st.SearchStrategy[BillingCase] = cases,
    explicit: tuple[BillingCase, ...] = PAID_CASES,
) -> Callable[[], None]:
    """``run`` under hypothesis: seeded, bounded, with the explicit cases first."""
    test = given(drawn)(run)
    for case in explicit:
        test = example(case)(test)
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None)(test)


def _charge(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    video_url: str,
    spender: Spender,
    *,
    label: str = PAID_PLAN.label,
    outcome: str = "complete",
    unproven: list[str] | None = None,
) -> Callable[[BillingCase], None]:
    """One case's check: ``outcome`` forced where the target can be told; the jobs a
    target chose to fail anyway go to ``unproven`` (their refunds are still checked)."""

    def run(case: BillingCase) -> None:
        result = check_charge(
            target,
            client=api,
            cdn=cdn,
            video_url=video_url,
            case=case,
            outcome=outcome if target.can_force_outcomes else None,
            spender=spender,
            label=label,
        )
        if unproven is not None and result.status != "completed":
            unproven.append(f"{case}: {result.final.get('code')} {result.final.get('error')}")

    return run


@pytest.mark.spends(PAID_PLAN)
def test_charge_is_the_documented_rule(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a completed job moves the balance by exactly the documented rule's amount, at acceptance"""
    unproven: list[str] = []
    run = _charge(target, api, cdn, video_url, spender, unproven=unproven)
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


@pytest.mark.spends(BAND_PLAN)
def test_charge_inside_the_padding_band(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """tracks a few ms past whole seconds bill up to 50 ms forgiven per track, in every order"""
    run = _charge(target, api, cdn, video_url, spender, label=BAND_PLAN.label)
    if target.free:
        _generated(run, max_examples=4, drawn=band_cases, explicit=BAND_CASES)()
    else:
        for case in BAND_CASES:
            run(case)


@pytest.mark.spends(OVER_CAP_PLAN)
def test_charge_over_the_cap(
    target: Target,
    api: httpx.Client,
    cdn: httpx.Client,
    video_url: str,
    spender: Spender,
    contract_session: ContractSession,
) -> None:
    """speech over 600 s bills the cap's price (or is refused with task code 1401, free)"""
    reason = contract_session.unfunded_reason(OVER_CAP_PLAN)
    if reason:
        pytest.skip(reason)
    result = check_charge(
        target,
        client=api,
        cdn=cdn,
        video_url=video_url,
        case=OVER_CAP,
        outcome=None,
        spender=spender,
        label=OVER_CAP_PLAN.label,
    )
    final = result.final
    if result.status == "failed":
        assert final.get("code") == OVER_MAXIMUM_CODE, (
            f"a job over the {MAXIMUM_SECONDS} s maximum failed, but not with task code "
            f"{OVER_MAXIMUM_CODE} (invalid parameter): {final}"
        )
    else:
        assert result.status == "completed", final


@pytest.mark.spends(priced("billing at acceptance", [(1000, 2000, "meanwhile")], "5 s minimum"))
def test_charge_is_taken_at_acceptance(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """the balance shows the charge while the job is still created or processing"""
    outcome = "complete" if target.can_force_outcomes else None
    prompt = None
    if target.kind is TargetKind.FAKE:
        # A fast pace may finish the job before the balance is read: a scenario rule
        # gives this one job 0.3 s in each state, so its charge is seen early (the
        # balance is read one request after the submission's answer).
        prompt = f"contract-acceptance-{secrets.token_hex(6)}"
        rule = {
            "id": prompt,
            "then": "complete",
            "match": {"prompt_contains": prompt},
            "queue_seconds": 0.3,
            "processing_seconds": 0.3,
            "times": 1,
        }
        answer = target.client(auth=False).post("/_mock/scenarios", json=rule)
        assert answer.status_code == 200, answer.text
        outcome = None
    result = check_charge(
        target,
        client=api,
        cdn=cdn,
        video_url=video_url,
        case=BillingCase(1000, 2000, "meanwhile"),
        outcome=outcome,
        spender=spender,
        label="billing at acceptance",
        prompt=prompt,
    )
    if result.charged_at_acceptance_micros is None:
        pytest.skip(
            "the job had finished before its balance could be read, so when the charge was "
            "taken is unobservable here: run against a slower pace"
        )


def test_failed_job_costs_nothing(
    target: Target, api: httpx.Client, cdn: httpx.Client, video_url: str, spender: Spender
) -> None:
    """a job that fails is refunded exactly, once, and leaves the balance where it started"""
    if not target.can_force_outcomes:
        pytest.skip("only the fake can be told to fail a job (directives, X-Mock-Outcome)")

    _generated(_charge(target, api, cdn, video_url, spender, outcome="fail"), max_examples=3)()
