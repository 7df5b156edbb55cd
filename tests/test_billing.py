"""The billing rule: the product page's table and every clause, as data, plus properties."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_api.billing import (
    BillingPolicy,
    Order,
    OverMaximum,
    format_usd,
    micros_to_usd,
    quote,
    usd_to_micros,
)

CASES = json.loads((Path(__file__).parent.parent / "fixtures" / "billing_cases.json").read_text())[
    "cases"
]


def _policy(overrides: dict[str, Any]) -> BillingPolicy:
    fields: dict[str, Any] = dict(overrides)
    if "padding_tolerance" in fields:
        fields["padding_tolerance"] = Decimal(fields["padding_tolerance"])
    if "over_maximum" in fields:
        fields["over_maximum"] = OverMaximum(fields["over_maximum"])
    return BillingPolicy(**fields)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_billing_case(case: dict[str, Any]) -> None:
    q = quote(
        Decimal(case["left"]),
        Decimal(case["right"]),
        Order(case["order"]),
        _policy(case.get("policy", {})),
    )
    assert q.billed_seconds == case["billed"]
    assert q.cost_usd == Decimal(case["cost"])
    assert q.rejected is case.get("rejected", False)
    if "output" in case:
        assert q.output_seconds == Decimal(case["output"])
    assert str(q.billed_seconds) in q.rule


durations = st.decimals(min_value=0, max_value=1200, places=3)
orders = st.sampled_from(list(Order))


@given(durations, durations, orders)
def test_cost_is_rate_times_whole_seconds_within_bounds(
    left: Decimal, right: Decimal, order: Order
) -> None:
    q = quote(left, right, order)
    assert 5 <= q.billed_seconds <= 600
    assert q.cost_micros == q.billed_seconds * 15_000
    assert isinstance(q.cost_micros, int)


@given(durations, durations, durations)
def test_monotonic_in_each_track(left: Decimal, right: Decimal, extra: Decimal) -> None:
    for order in Order:
        base = quote(left, right, order).cost_micros
        assert quote(left + extra, right, order).cost_micros >= base
        assert quote(left, right + extra, order).cost_micros >= base


@given(durations, durations)
def test_meanwhile_never_costs_more_and_sequential_orders_agree(
    left: Decimal, right: Decimal
) -> None:
    meanwhile = quote(left, right, Order.MEANWHILE).cost_micros
    left_right = quote(left, right, Order.LEFT_RIGHT).cost_micros
    assert meanwhile <= left_right
    assert left_right == quote(left, right, Order.RIGHT_LEFT).cost_micros


@given(durations, durations, orders)
def test_output_is_the_spoken_duration_capped(left: Decimal, right: Decimal, order: Order) -> None:
    q = quote(left, right, order)
    spoken = left + right if order is not Order.MEANWHILE else max(left, right)
    assert q.output_seconds == min(spoken, Decimal(600))


@given(st.integers(min_value=0, max_value=600), orders)
def test_exact_whole_seconds_bill_exactly(seconds: int, order: Order) -> None:
    # a track read at its nominal length plus typical MP3 padding bills its nominal seconds
    q = quote(Decimal(seconds) + Decimal("0.04"), Decimal(0), order)
    assert q.billed_seconds == min(max(seconds, 5), 600)


def test_reject_policy_charges_nothing_over_the_cap() -> None:
    policy = BillingPolicy(over_maximum=OverMaximum.REJECT)
    q = quote(Decimal("601"), Decimal(0), Order.MEANWHILE, policy)
    assert (q.rejected, q.cost_micros, q.billed_seconds) == (True, 0, 0)
    assert "600 s maximum" in q.rule


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (75_000, "$0.075"),
        (9_000_000, "$9.00"),
        (150_000, "$0.15"),
        (1, "$0.000001"),
        (0, "$0.00"),
        (-75_000, "-$0.075"),
        (123_456_789, "$123.456789"),
    ],
)
def test_format_usd(micros: int, text: str) -> None:
    assert format_usd(micros) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_micros_round_trip_exactly(micros: int) -> None:
    assert usd_to_micros(micros_to_usd(micros)) == micros


def test_usd_to_micros_refuses_sub_micro_amounts() -> None:
    with pytest.raises(ValueError, match="finer than a micro-dollar"):
        usd_to_micros("0.0000001")


@pytest.mark.parametrize(
    "fields",
    [
        {"minimum_seconds": 0},
        {"minimum_seconds": 601},
        {"padding_tolerance": Decimal(1)},
        {"rate_micros_per_second": -1},
    ],
)
def test_policy_refuses_nonsense(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        BillingPolicy(**fields)
