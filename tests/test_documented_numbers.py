"""The documented numbers, written out here, never read from the product.

Each figure below is copied from the product page
(``shared/seed/infinitetalk-fast-video-to-video-multi.txt``), the notes on the real API
(``shared/reference/wavespeed-api.md``) or, for the choices the docs leave open, the
README: a test that imported the product's constant as its expected value would pass
whatever the constant said. ``benchmarks/mutation.py`` holds these tests to account:
change a number in a core module and one of them fails.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mock_api.billing import BillingPolicy, Order, format_usd, quote
from mock_api.lifecycle import COMPLETED, Status
from mock_api.planning import PACES, TASK_MESSAGES, failure, plan_job
from mock_api.quotas import Level, Limits
from mock_api.settings import Settings
from mock_api.webhooks import sign, verify

# -- billing: the product page's "Pricing" table and "Billing Rules" ------------------


@pytest.mark.parametrize(
    ("seconds", "usd"),
    [("5", "0.075"), ("10", "0.15"), ("30", "0.45"), ("60", "0.90"), ("600", "9.00")],
    ids=["5s-min", "10s", "30s", "60s", "600s-max"],
)
def test_the_pricing_table(seconds: str, usd: str) -> None:
    for order in Order:
        priced = quote(Decimal(seconds), Decimal(0), order)
        assert priced.billed_seconds == int(seconds)
        assert priced.cost_micros == int(Decimal(usd) * 1_000_000)
        assert priced.cost_usd == Decimal(usd)


def test_the_rate_is_fifteen_thousandths_of_a_dollar_a_second() -> None:
    assert BillingPolicy().rate_micros_per_second == 15_000  # $0.015
    for seconds in range(5, 601):
        assert quote(Decimal(seconds), Decimal(0), Order.MEANWHILE).cost_micros == seconds * 15_000


@pytest.mark.parametrize("spoken", ["0", "0.001", "1", "4", "4.999", "5"])
def test_the_minimum_charge_is_five_seconds(spoken: str) -> None:
    priced = quote(Decimal(spoken), Decimal(0), Order.MEANWHILE)
    assert (priced.billed_seconds, priced.cost_micros) == (5, 75_000)
    assert BillingPolicy().minimum_seconds == 5


@pytest.mark.parametrize("spoken", ["600", "600.05", "600.051", "601", "1200", "86400"])
def test_the_maximum_is_600_seconds_billed_at_the_cap(spoken: str) -> None:
    priced = quote(Decimal(spoken), Decimal(0), Order.MEANWHILE)
    assert (priced.billed_seconds, priced.cost_micros, priced.rejected) == (600, 9_000_000, False)
    assert priced.output_seconds == Decimal("600.000")
    assert BillingPolicy().maximum_seconds == 600


def test_just_under_the_maximum_is_not_capped() -> None:
    priced = quote(Decimal("599.06"), Decimal(0), Order.MEANWHILE)
    assert (priced.billed_seconds, priced.cost_micros) == (600, 9_000_000)
    assert priced.output_seconds == Decimal("599.060")
    below = quote(Decimal("598.9"), Decimal(0), Order.MEANWHILE)
    assert (below.billed_seconds, below.cost_micros) == (599, 8_985_000)


@pytest.mark.parametrize(
    ("order", "billed", "usd"),
    [("meanwhile", 8, "0.12"), ("left_right", 10, "0.15"), ("right_left", 10, "0.15")],
)
def test_the_readme_worked_examples(order: str, billed: int, usd: str) -> None:
    # left 7.3 s, right 2.0 s: max for meanwhile, the sum otherwise, rounded up.
    priced = quote(Decimal("7.3"), Decimal("2.0"), Order(order))
    assert (priced.billed_seconds, priced.cost_usd) == (billed, Decimal(usd))


@pytest.mark.parametrize(
    ("left", "right", "meanwhile", "sequential"),
    [
        ("7", "7", 7, 14),  # equal tracks: max is either, the sum doubles
        ("10", "3", 10, 13),
        ("3", "10", 10, 13),  # the right track the longer
        ("0", "9", 9, 9),
    ],
)
def test_duration_is_the_max_or_the_sum(
    left: str, right: str, meanwhile: int, sequential: int
) -> None:
    assert quote(Decimal(left), Decimal(right), Order.MEANWHILE).billed_seconds == meanwhile
    for order in (Order.LEFT_RIGHT, Order.RIGHT_LEFT):
        assert quote(Decimal(left), Decimal(right), order).billed_seconds == sequential


@pytest.mark.parametrize(
    ("seconds", "billed"),
    [
        ("7.001", 7),  # within the 50 ms padding tolerance: a 7 s MP3 reads about 7.04 s
        ("7.05", 7),  # the tolerance itself
        ("7.051", 8),  # past it, any fraction is a whole second more
        ("7.5", 8),
        ("7.999", 8),
        ("8", 8),
        ("8.04", 8),
        ("8.0501", 9),
    ],
)
def test_rounding_is_up_to_whole_seconds_after_50ms_of_padding(seconds: str, billed: int) -> None:
    assert quote(Decimal(seconds), Decimal(0), Order.MEANWHILE).billed_seconds == billed


def test_the_padding_tolerance_is_per_track_before_combining() -> None:
    assert BillingPolicy().padding_tolerance == Decimal("0.050")
    # Two 5 s MP3s reading 5.04 s each: 10 s in turn, not 11 (10.08 rounded up).
    assert quote(Decimal("5.04"), Decimal("5.04"), Order.LEFT_RIGHT).billed_seconds == 10
    assert quote(Decimal("5.04"), Decimal("5.04"), Order.MEANWHILE).billed_seconds == 5


def test_money_is_written_with_at_least_cents() -> None:
    assert [format_usd(m) for m in (75_000, 150_000, 9_000_000, 15_000)] == [
        "$0.075",
        "$0.15",
        "$9.00",
        "$0.015",
    ]


def test_new_accounts_start_with_100_dollars() -> None:
    assert Settings().initial_balance_micros == 100_000_000


# -- the lifecycle the docs list: created -> processing -> completed | failed ----------


def test_the_documented_statuses() -> None:
    assert [s.value for s in Status] == [
        "created",
        "processing",
        "completed",
        "failed",
        "timeout",
        "cancelled",
    ]


# -- task codes (inside ``data``) ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (1200, "Content moderation: the input was flagged by the safety checker."),
        (1400, "Missing required parameter."),
        (1401, "Invalid parameter."),
        (1402, "Failed to download media from the provided URL."),
        (1403, "Task failed."),
        (1405, "Task failed."),
        (5000, "Internal server error."),
        (5003, "Service temporarily unavailable."),
        (5004, "Task timed out."),
    ],
)
def test_task_codes_and_their_messages(code: int, message: str) -> None:
    assert TASK_MESSAGES[code] == message
    assert failure(code).error == message
    assert failure(code).code == code


def test_a_failure_defaults_to_5000_and_codes_run_from_1_to_99999() -> None:
    assert (failure().code, failure().error) == (5000, "Internal server error.")
    assert failure(1).code == 1
    assert failure(99_999).code == 99_999
    for bad in (0, 100_000):
        with pytest.raises(ValueError, match="not a number from 1 to 99999"):
            failure(bad)


# -- paces: "realistic" is the real model's 10-30 s of work per second of output ---------


def test_the_paces() -> None:
    instant, fast, realistic = PACES["instant"], PACES["fast"], PACES["realistic"]
    assert (instant.queue_ms, instant.base_ms, instant.per_output_second_ms) == (0, 0, (0, 0))
    assert (fast.queue_ms, fast.base_ms, fast.per_output_second_ms) == (500, 500, (15, 15))
    assert (realistic.queue_ms, realistic.base_ms) == (2_000, 5_000)
    assert realistic.per_output_second_ms == (10_000, 30_000)


def test_a_600_second_job_takes_ten_seconds_at_the_fast_pace() -> None:
    plan = plan_job(
        created_ms=0,
        output_seconds=Decimal(600),
        pace=PACES["fast"],
        key="k",
        outcome=COMPLETED,
    )
    assert (plan.started_ms, plan.finished_ms) == (500, 500 + 500 + 600 * 15)


# -- quotas: the account levels (images/min, videos/min, concurrent tasks) --------------


@pytest.mark.parametrize(
    ("level", "per_minute", "concurrent"),
    [("bronze", 2, 2), ("silver", 500, 300), ("gold", 3000, 3000), ("ultra", 5000, 10000)],
)
def test_the_account_levels(level: str, per_minute: int, concurrent: int) -> None:
    assert Level(level).limits == Limits(videos_per_minute=per_minute, max_concurrent=concurrent)


# -- webhooks: "v3,<hex HMAC-SHA256>" of "{id}.{timestamp}.{body}", 300 s tolerance -------


def test_the_signature_format() -> None:
    # From `printf 'msg_1.1700000000.{}' | openssl dgst -sha256 -hmac secret`.
    assert sign("whsec_secret", "msg_1", 1_700_000_000, b"{}") == (
        "v3,039a08ac9c573c1fcf9142d2a15bb47b8921bcf8aaa45f6f9639a19122a0d052"
    )


@pytest.mark.parametrize("skew", [-300, 300])
def test_timestamps_300_seconds_off_are_accepted(skew: int) -> None:
    body = b"{}"
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "1000",
        "webhook-signature": sign("whsec_k", "m", 1000, body),
    }
    verify("whsec_k", headers, body, now=1000 + skew)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_more_than_300_seconds_off_are_refused(skew: int) -> None:
    body = b"{}"
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "1000",
        "webhook-signature": sign("whsec_k", "m", 1000, body),
    }
    with pytest.raises(ValueError, match="more than 300 s from now"):
        verify("whsec_k", headers, body, now=1000 + skew)
