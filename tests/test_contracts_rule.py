"""The billing rule as properties, on the fake's pure ``quote`` and on the rule itself.

The properties are those of the *documented* rule (``mock_api/contract/properties.py``),
so they would hold for any correct implementation; here they are held by
hypothesis against :func:`mock_api.billing.quote` (the fake's core, which
forgives 50 ms of encoder padding per track, as its README says) and against
``mock_api.contract.rule`` (so the independent restatement is itself checked). The
same rule judges real charges in ``contracts/test_billing_e2e.py``.

These check this project's own code, not a target, so they live here rather
than in ``contracts/``: ``verify`` and a by-URL run count only checks of the
target.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_api import billing
from mock_api.contract import properties
from mock_api.contract.properties import Pricer
from mock_api.contract.rule import FAKE_PADDING_MS, ORDERS, Order, cost_micros, readings_agree


def fake_price(left_ms: int, right_ms: int, order: Order) -> int:
    """The fake's pure rule, asked in milliseconds."""
    left, right = Decimal(left_ms) / 1000, Decimal(right_ms) / 1000
    return billing.quote(left, right, billing.Order(order)).cost_micros


def documented_price(left_ms: int, right_ms: int, order: Order) -> int:
    return cost_micros(left_ms, right_ms, order, padding_ms=FAKE_PADDING_MS)


PRICERS: dict[str, Pricer] = {"fake quote": fake_price, "documented rule": documented_price}

# Short lengths (where the minimum and rounding live) as often as long ones (the cap).
lengths = st.one_of(st.integers(0, 12_000), st.integers(0, 1_250_000))
orders = st.sampled_from(ORDERS)
bounded = settings(max_examples=300, derandomize=True, database=None, deadline=None)


@bounded
@given(lengths, lengths, orders)
def test_fake_quote_is_the_documented_rule(left: int, right: int, order: Order) -> None:
    """the fake's quote is the documented rule, to the micro-dollar"""
    properties.check_agrees_with_rule(fake_price, left, right, order, padding_ms=FAKE_PADDING_MS)
    if readings_agree(left, right, order):
        properties.check_agrees_with_rule(fake_price, left, right, order)


@pytest.mark.parametrize("pricer", PRICERS.values(), ids=PRICERS.keys())
@bounded
@given(lengths, lengths, orders)
def test_whole_seconds_within_minimum_and_cap(
    pricer: Pricer, left: int, right: int, order: Order
) -> None:
    """$0.015 per whole second in integer micro-dollars, 5 s minimum, 600 s cap"""
    properties.check_exact_micros(pricer, left, right, order)
    properties.check_bounds(pricer, left, right, order)


@pytest.mark.parametrize("pricer", PRICERS.values(), ids=PRICERS.keys())
@bounded
@given(lengths, lengths, st.integers(0, 30_000), orders)
def test_monotonic_in_each_track(
    pricer: Pricer, left: int, right: int, extra: int, order: Order
) -> None:
    """longer audio on either side never costs less"""
    properties.check_monotonic(pricer, left, right, extra, order)


@pytest.mark.parametrize("pricer", PRICERS.values(), ids=PRICERS.keys())
@bounded
@given(lengths, lengths)
def test_orders_compare_as_documented(pricer: Pricer, left: int, right: int) -> None:
    """meanwhile never costs more than taking turns; left_right == right_left"""
    properties.check_meanwhile_not_dearer(pricer, left, right)
    properties.check_sequential_orders_agree(pricer, left, right)
