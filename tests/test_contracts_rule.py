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
from mock_api.billing import BillingPolicy
from mock_api.contract import properties
from mock_api.contract.properties import Pricer
from mock_api.contract.rule import (
    FAKE_PADDING_MS,
    FAMILY,
    ORDERS,
    Order,
    cost_micros,
    readings_agree,
    tariff,
)
from mock_api.models import MODELS, MODELS_BY_ID


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


# The whole family: every model at every resolution, the fake's registry against the
# rule restated from the pages (mock_api/contract/rule.py's FAMILY, written apart from it).
PRICED = [(model, resolution) for model, tariffs in FAMILY.items() for resolution in tariffs]


def family_price(model_id: str, resolution: str) -> Pricer:
    """The fake's price of one model at one resolution, asked in milliseconds."""
    model = MODELS_BY_ID[model_id]

    def price(left_ms: int, right_ms: int, order: Order) -> int:
        seconds = dict(zip(model.audio_inputs, (left_ms, right_ms), strict=False))
        durations = {name: Decimal(ms) / 1000 for name, ms in seconds.items()}
        quoted = model.quote(
            durations, BillingPolicy(), order=billing.Order(order), resolution=resolution or None
        )
        return quoted.cost_micros

    return price


def test_the_rule_and_the_registry_name_the_same_models_and_resolutions() -> None:
    assert {m.id: list(m.pricing.resolutions) or [""] for m in MODELS} == {
        model: list(tariffs) for model, tariffs in FAMILY.items()
    }
    for model in MODELS:
        assert len(model.audio_inputs) == tariff(model.id).tracks


# Fewer examples per model than above: eleven tariffs share the budget.
per_model = settings(max_examples=80, derandomize=True, database=None, deadline=None)
by_priced = pytest.mark.parametrize(
    ("model", "resolution"), PRICED, ids=[f"{m}@{r}" for m, r in PRICED]
)


@by_priced
@per_model
@given(lengths, lengths, orders)
def test_every_model_charges_its_documented_rule(
    model: str, resolution: str, left: int, right: int, order: Order
) -> None:
    """rate by resolution, the model's minimum, one track or two, to the micro-dollar"""
    price, rule = family_price(model, resolution), tariff(model, resolution)
    if rule.tracks == 1:
        right, order = 0, "meanwhile"  # a one-track model's track is `left`
    properties.check_agrees_with_rule(
        price, left, right, order, padding_ms=FAKE_PADDING_MS, tariff=rule
    )
    if readings_agree(left, right, order, tariff=rule):
        properties.check_agrees_with_rule(price, left, right, order, tariff=rule)
    for pricer in (
        price,
        lambda lm, rm, o: cost_micros(lm, rm, o, padding_ms=FAKE_PADDING_MS, tariff=rule),
    ):
        properties.check_exact_micros(pricer, left, right, order, tariff=rule)
        properties.check_bounds(pricer, left, right, order, tariff=rule)


@by_priced
@per_model
@given(lengths, lengths, st.integers(0, 30_000), orders)
def test_every_model_is_monotonic_and_its_orders_compare_as_documented(
    model: str, resolution: str, left: int, right: int, extra: int, order: Order
) -> None:
    price = family_price(model, resolution)
    properties.check_monotonic(price, left, right, extra, order)
    properties.check_meanwhile_not_dearer(price, left, right)
    properties.check_sequential_orders_agree(price, left, right)


def test_a_one_track_model_ignores_the_second_track_and_the_order() -> None:
    price = family_price("wavespeed-ai/infinitetalk", "720p")
    assert price(3500, 0, "meanwhile") == price(3500, 9000, "left_right") == 5 * 60_000
    assert price(6200, 0, "meanwhile") == price(6200, 9000, "right_left") == 7 * 60_000
    assert price(1000, 0, "meanwhile") == 5 * 60_000  # the 5 s minimum


def test_a_wrong_rate_or_minimum_is_caught_per_model() -> None:
    """The per-model checks fail a price that uses another model's rate or minimum."""
    rule = tariff("wavespeed-ai/infinitetalk/multi", "720p")
    at_480 = family_price("wavespeed-ai/infinitetalk/multi", "480p")
    with pytest.raises(properties.RuleViolation, match="documented rule's amount"):
        properties.check_agrees_with_rule(at_480, 7000, 1000, "meanwhile", tariff=rule)
    # A fake that kept a page revision's 3 s minimum, against the recorded 5 s.
    model = MODELS_BY_ID["wavespeed-ai/infinitetalk"]
    three_s = BillingPolicy(rate_micros_per_second=30_000, minimum_seconds=3)

    def three_s_floor(left_ms: int, right_ms: int, order: Order) -> int:
        return billing.quote_single(Decimal(left_ms) / 1000, three_s).cost_micros

    assert model.quote({}, BillingPolicy()).cost_micros == 150_000
    with pytest.raises(properties.RuleViolation):
        properties.check_bounds(
            three_s_floor, 1000, 0, "meanwhile", tariff=tariff("wavespeed-ai/infinitetalk")
        )
