"""Billing edges that mutation testing (``benchmarks/mutation.py``) found no test for.

Each test names the rule it holds; the numbers are written out, never read from
:mod:`mock_api.billing`.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from mock_api.billing import (
    BillingPolicy,
    Order,
    OverMaximum,
    Quote,
    format_usd,
    micros_to_usd,
    quote,
    quote_single,
    usd_to_micros,
)

REJECT = BillingPolicy(over_maximum=OverMaximum.REJECT)


def test_the_output_length_rounds_up_to_the_millisecond() -> None:
    # Half-even would give 7.300 s: a video a fraction shorter than its speech.
    assert quote(Decimal("7.3001"), Decimal(0), Order.MEANWHILE).output_seconds == Decimal("7.301")
    assert quote(Decimal("7.3005"), Decimal(0), Order.MEANWHILE).output_seconds == Decimal("7.301")
    assert quote_single(Decimal("2.0001")).output_seconds == Decimal("2.001")


def test_the_rule_line_reads_as_the_readme_shows_it() -> None:
    left_right = quote(Decimal("7.3"), Decimal("2"), Order.LEFT_RIGHT)
    assert left_right.rule == (
        "left + right = 9.300 s; less 0.050 s padding tolerance per track, rounded up = 10 s; "
        "10 s x $0.015/s = $0.15"
    )
    meanwhile = quote(Decimal("7.3"), Decimal("2"), Order.MEANWHILE)
    assert meanwhile.rule == (
        "max(left, right) = 7.300 s; less 0.050 s padding tolerance per track, "
        "rounded up = 8 s; 8 s x $0.015/s = $0.12"
    )


def test_the_rule_line_without_a_padding_tolerance() -> None:
    exact = BillingPolicy(padding_tolerance=Decimal(0))
    q = quote(Decimal("7.3"), Decimal("2"), Order.LEFT_RIGHT, exact)
    assert q.rule == "left + right = 9.300 s, rounded up = 10 s; 10 s x $0.015/s = $0.15"
    # Without the tolerance, a 5.04 s MP3 bills 6 s: the padding is no longer forgiven.
    assert quote(Decimal("5.04"), Decimal(0), Order.MEANWHILE, exact).billed_seconds == 6


def test_the_rule_line_says_when_the_minimum_applies_and_only_then() -> None:
    short = quote(Decimal(2), Decimal(0), Order.MEANWHILE)
    assert short.rule == (
        "max(left, right) = 2.000 s; less 0.050 s padding tolerance per track, "
        "rounded up = 2 s; under the 5 s minimum: billed 5 s; 5 s x $0.015/s = $0.075"
    )
    exactly = quote(Decimal(5), Decimal(0), Order.MEANWHILE)
    assert "minimum" not in exactly.rule
    assert exactly.rule.endswith("rounded up = 5 s; 5 s x $0.015/s = $0.075")


def test_the_rule_line_says_when_the_cap_applies_and_only_then() -> None:
    over = quote(Decimal(700), Decimal(0), Order.MEANWHILE)
    assert over.rule.endswith(
        "rounded up = 700 s; over the 600 s maximum: billed at the cap; 600 s x $0.015/s = $9.00"
    )
    at_cap = quote(Decimal(600), Decimal(0), Order.MEANWHILE)
    assert "maximum" not in at_cap.rule


def test_the_reject_policy_bills_600_seconds_as_usual_and_refuses_601() -> None:
    at_cap = quote(Decimal(600), Decimal(0), Order.MEANWHILE, REJECT)
    assert (at_cap.rejected, at_cap.billed_seconds, at_cap.cost_micros) == (False, 600, 9_000_000)
    short = quote(Decimal(1), Decimal(0), Order.MEANWHILE, REJECT)
    assert (short.rejected, short.billed_seconds, short.cost_micros) == (False, 5, 75_000)
    over = quote(Decimal("600.051"), Decimal(0), Order.MEANWHILE, REJECT)
    assert (over.rejected, over.billed_seconds, over.cost_micros) == (True, 0, 0)
    assert over.output_seconds == Decimal(0)
    assert over.rule == (
        "max(left, right) = 600.051 s; less 0.050 s padding tolerance per track, "
        "rounded up = 601 s; over the 600 s maximum: rejected, nothing charged"
    )


def test_the_padding_is_trimmed_per_track_never_below_zero() -> None:
    # 10.06 s in turn with a silent track bills 11 s: the silent track takes nothing
    # off the other (trimmed below zero it would take 0.05 s, and bill 10 s).
    assert quote(Decimal("10.06"), Decimal(0), Order.LEFT_RIGHT).billed_seconds == 11
    assert quote(Decimal(0), Decimal("10.06"), Order.RIGHT_LEFT).billed_seconds == 11
    # A 0.02 s track adds nothing either, rather than a second.
    assert quote(Decimal(10), Decimal("0.02"), Order.LEFT_RIGHT).billed_seconds == 10


def test_spoken_seconds_are_the_tracks_as_read() -> None:
    q = quote(Decimal("7.3"), Decimal("2"), Order.RIGHT_LEFT)
    assert (q.spoken_seconds, q.output_seconds) == (Decimal("9.3"), Decimal("9.300"))
    assert (q.left_seconds, q.right_seconds, q.tracks) == (Decimal("7.3"), Decimal(2), 2)
    assert quote(Decimal(3), Decimal(8), Order.MEANWHILE).spoken_seconds == Decimal(8)


@pytest.mark.parametrize(("left", "right"), [("-0.001", "1"), ("1", "-0.001")])
def test_negative_durations_are_refused(left: str, right: str) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        quote(Decimal(left), Decimal(right), Order.MEANWHILE)


def test_a_one_speaker_job_bills_its_one_track() -> None:
    q = quote_single(Decimal("7.3"))
    assert (q.billed_seconds, q.cost_micros, q.tracks, q.rejected) == (8, 120_000, 1, False)
    assert (q.left_seconds, q.right_seconds, q.spoken_seconds) == (
        Decimal("7.3"),
        Decimal(0),
        Decimal("7.3"),
    )
    assert q.output_seconds == Decimal("7.300")
    assert q.rule == (
        "audio = 7.300 s; less 0.050 s padding tolerance, rounded up = 8 s; 8 s x $0.015/s = $0.12"
    )
    assert quote_single(Decimal("5.04")).billed_seconds == 5
    assert quote_single(Decimal("10.06")).billed_seconds == 11
    assert quote_single(Decimal(0)).billed_seconds == 5
    assert quote_single(Decimal(900)).billed_seconds == 600
    with pytest.raises(ValueError, match="cannot be negative"):
        quote_single(Decimal("-0.001"))


def test_a_quote_survives_its_json_form() -> None:
    q = quote(Decimal("7.3"), Decimal("2"), Order.LEFT_RIGHT)
    data = q.as_dict()
    assert data == {
        "order": "left_right",
        "left_seconds": "7.3",
        "right_seconds": "2",
        "spoken_seconds": "9.3",
        "billed_seconds": 10,
        "cost_micros": 150_000,
        "cost_usd": "0.15",
        "output_seconds": "9.300",
        "rejected": False,
        "rule": q.rule,
        "tracks": 2,
    }
    assert Quote.from_dict(data) == q
    single = quote_single(Decimal(3))
    assert Quote.from_dict(single.as_dict()) == single


def test_a_quote_stored_before_the_family_came_has_two_tracks() -> None:
    data: dict[str, Any] = quote(Decimal(3), Decimal(4), Order.MEANWHILE).as_dict()
    del data["tracks"]
    assert Quote.from_dict(data).tracks == 2


@pytest.mark.parametrize(
    ("micros", "text"),
    [(10_000_000, "10"), (100_000_000, "100"), (75_000, "0.075"), (1, "0.000001"), (0, "0")],
)
def test_dollars_are_exact_and_plain(micros: int, text: str) -> None:
    assert str(micros_to_usd(micros)) == text


def test_whole_dollars_and_micro_dollars_convert_exactly() -> None:
    assert usd_to_micros("9") == 9_000_000
    assert usd_to_micros(Decimal("0.000001")) == 1
    assert usd_to_micros(3) == 3_000_000


@pytest.mark.parametrize(
    "fields",
    [
        {"rate_micros_per_second": 0},  # a free model
        {"minimum_seconds": 1},
        {"minimum_seconds": 600, "maximum_seconds": 600},
        {"minimum_seconds": 3, "maximum_seconds": 3},
        {"padding_tolerance": Decimal(0)},
        {"padding_tolerance": Decimal("0.999")},
    ],
)
def test_the_policy_takes_its_boundaries(fields: dict[str, Any]) -> None:
    BillingPolicy(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate_micros_per_second": -1}, "rate_micros_per_second must be >= 0"),
        ({"minimum_seconds": 0}, "minimum_seconds must be in 1..maximum_seconds"),
        ({"minimum_seconds": -1}, "minimum_seconds must be in 1..maximum_seconds"),
        ({"minimum_seconds": 6, "maximum_seconds": 5}, "minimum_seconds must be in"),
        ({"padding_tolerance": Decimal("-0.001")}, r"padding_tolerance must be in \[0, 1\)"),
        ({"padding_tolerance": Decimal(1)}, r"padding_tolerance must be in \[0, 1\)"),
        ({"padding_tolerance": Decimal("1.5")}, r"padding_tolerance must be in \[0, 1\)"),
    ],
)
def test_the_policy_refuses_past_its_boundaries(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BillingPolicy(**fields)


def test_a_policy_bills_its_own_rate_minimum_and_maximum() -> None:
    policy = BillingPolicy(rate_micros_per_second=30_000, minimum_seconds=3, maximum_seconds=20)
    assert quote(Decimal(1), Decimal(0), Order.MEANWHILE, policy).cost_micros == 90_000
    capped = quote(Decimal(50), Decimal(0), Order.MEANWHILE, policy)
    assert (capped.billed_seconds, capped.cost_micros) == (20, 600_000)
    assert capped.output_seconds == Decimal("20.000")


def test_a_one_speaker_job_over_the_maximum_is_refused_under_the_reject_policy() -> None:
    over = quote_single(Decimal(601), REJECT)
    assert (over.rejected, over.billed_seconds, over.cost_micros, over.output_seconds) == (
        True,
        0,
        0,
        Decimal(0),
    )
    assert (over.right_seconds, over.tracks) == (Decimal(0), 1)


@pytest.mark.parametrize("usd", ["0.0000001", "-0.0000001", "1.0000005"])
def test_amounts_finer_than_a_micro_dollar_are_refused_either_sign(usd: str) -> None:
    with pytest.raises(ValueError, match="finer than a micro-dollar"):
        usd_to_micros(usd)


def test_the_smallest_debt_keeps_its_sign() -> None:
    assert format_usd(-1) == "-$0.000001"
    assert format_usd(-10_000) == "-$0.01"


def test_quotes_and_policies_are_frozen_values() -> None:
    q = quote(Decimal(7), Decimal(0), Order.MEANWHILE)
    policy = BillingPolicy()
    for record, name in ((q, "cost_micros"), (policy, "rate_micros_per_second")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, 0)
    assert {q, quote(Decimal(7), Decimal(0), Order.MEANWHILE)} == {q}  # hashable values
    assert hash(policy) == hash(BillingPolicy())


def test_silence_rounds_up_to_no_second_then_bills_the_minimum() -> None:
    assert quote_single(Decimal(0)).rule == (
        "audio = 0.000 s; less 0.050 s padding tolerance, rounded up = 0 s; "
        "under the 5 s minimum: billed 5 s; 5 s x $0.015/s = $0.075"
    )
    assert quote(Decimal(0), Decimal(0), Order.LEFT_RIGHT).rule == (
        "left + right = 0.000 s; less 0.050 s padding tolerance per track, rounded up = 0 s; "
        "under the 5 s minimum: billed 5 s; 5 s x $0.015/s = $0.075"
    )
