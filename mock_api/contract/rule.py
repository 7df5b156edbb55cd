"""The documented billing rule, restated apart from the fake.

Why this exists: the contract suite judges charges (the fake's and the real
service's) against the rule as WaveSpeed documents it. Deriving the expected
amount from :mod:`mock_api.billing` would copy any bug there into the
expectation, so this is a second, deliberately different implementation:
integer milliseconds and integer micro-dollars, no ``Decimal``, no shared code.

The rule, from the product page of InfiniteTalk Fast video-to-video multi:

* spoken length: ``max(left, right)`` for ``meanwhile``, ``left + right`` for
  ``left_right`` and ``right_left``;
* billed: the spoken length rounded **up** to whole seconds, at least 5 s and
  at most 600 s;
* cost: $0.015 per billed second.

One reading the docs leave open: compressed audio reads a little longer than
its nominal length (encoder padding). The fake forgives up to 50 ms of each
track before combining and rounding up (its README says so); the plain
reading forgives nothing.
The two readings differ only when a length lands within that band just above
a whole second, so :func:`readings_agree` names the lengths where the rule is
unambiguous, and checks meant for any target stick to those.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "FAKE_PADDING_MS",
    "MAXIMUM_SECONDS",
    "MINIMUM_SECONDS",
    "ORDERS",
    "RATE_MICROS_PER_SECOND",
    "Order",
    "billed_seconds",
    "cost_micros",
    "explain",
    "readings_agree",
    "spoken_ms",
    "usd",
]

Order = Literal["meanwhile", "left_right", "right_left"]
ORDERS: tuple[Order, ...] = ("meanwhile", "left_right", "right_left")

RATE_MICROS_PER_SECOND = 15_000  # $0.015
MINIMUM_SECONDS = 5
MAXIMUM_SECONDS = 600
#: Encoder padding the fake forgives per audio track before rounding up.
FAKE_PADDING_MS = 50


def spoken_ms(left_ms: int, right_ms: int, order: Order) -> int:
    """How long the people speak: at once (the longer track) or in turn (both)."""
    if left_ms < 0 or right_ms < 0:
        raise ValueError("durations cannot be negative")
    return max(left_ms, right_ms) if order == "meanwhile" else left_ms + right_ms


def billed_seconds(left_ms: int, right_ms: int, order: Order, *, padding_ms: int = 0) -> int:
    """Whole seconds charged; up to ``padding_ms`` of each track is forgiven before rounding up.

    A track cannot carry more padding than its own length, so each is trimmed
    by at most that much (never below zero) before the two are combined.
    """
    left = max(left_ms - padding_ms, 0) if left_ms >= 0 else left_ms
    right = max(right_ms - padding_ms, 0) if right_ms >= 0 else right_ms
    length = spoken_ms(left, right, order)
    whole = -(-length // 1000)  # ceiling division on integers
    return min(max(whole, MINIMUM_SECONDS), MAXIMUM_SECONDS)


def cost_micros(left_ms: int, right_ms: int, order: Order, *, padding_ms: int = 0) -> int:
    """The charge in micro-dollars: billed seconds times $0.015."""
    return billed_seconds(left_ms, right_ms, order, padding_ms=padding_ms) * RATE_MICROS_PER_SECOND


def readings_agree(left_ms: int, right_ms: int, order: Order) -> bool:
    """Do the plain reading and the fake's padding-forgiving reading bill the same?"""
    plain = billed_seconds(left_ms, right_ms, order)
    return plain == billed_seconds(left_ms, right_ms, order, padding_ms=FAKE_PADDING_MS)


def explain(left_ms: int, right_ms: int, order: Order, *, padding_ms: int = 0) -> str:
    """The rule applied, in one line a person can check by hand."""
    how = "max(left, right)" if order == "meanwhile" else "left + right"
    spoken = spoken_ms(left_ms, right_ms, order)
    billed = billed_seconds(left_ms, right_ms, order, padding_ms=padding_ms)
    cost = billed * RATE_MICROS_PER_SECOND
    return (
        f"{order}: {how} = {spoken / 1000:.3f} s -> billed {billed} s "
        f"(rounded up, {MINIMUM_SECONDS}..{MAXIMUM_SECONDS} s) x $0.015 = {usd(cost)}"
    )


def usd(micros: int) -> str:
    """``$0.075``, ``$1.20``, ``-$0.09``: dollars from micro-dollars, exact, at least cents."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{digits}"
