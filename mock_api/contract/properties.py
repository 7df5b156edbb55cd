"""The billing rule's properties, as checks over any price function.

Why this exists: "monotonic in each duration", "meanwhile never costs more
than taking turns" and the rest are properties of the *documented* rule, so
they hold for any correct implementation of it: the fake's pure
:func:`mock_api.billing.quote`, the rule in :mod:`mock_api.contract.rule`, or a
function that asks a real service. Each check takes a :data:`Pricer` (two
lengths in milliseconds and an order, to micro-dollars) and raises
:class:`RuleViolation` naming the property and the inputs that broke it.

Every model of the family is checked the same way: the checks that depend on
a model's price take its :class:`~mock_api.contract.rule.Tariff` (rate,
minimum, cap, one track or two; our model's by default). A one-track model is
priced with its track as ``left`` (``right`` and ``order`` play no part), so
the two-track checks (orders compared) hold for it trivially.
"""

from __future__ import annotations

from collections.abc import Callable

from mock_api.contract.rule import (
    OURS,
    Order,
    Tariff,
    cost_micros,
    explain,
    spoken_ms,
    usd,
)

__all__ = [
    "Pricer",
    "RuleViolation",
    "check_agrees_with_rule",
    "check_bounds",
    "check_exact_micros",
    "check_meanwhile_not_dearer",
    "check_monotonic",
    "check_sequential_orders_agree",
]

Pricer = Callable[[int, int, Order], int]


class RuleViolation(AssertionError):
    """A price broke a property of the documented rule."""

    def __init__(self, prop: str, detail: str) -> None:
        self.property = prop
        super().__init__(f"billing rule broken: {prop}\n  {detail}")


def _at(left: int, right: int, order: Order) -> str:
    return f"left {left} ms, right {right} ms, {order}"


def check_agrees_with_rule(
    price: Pricer,
    left: int,
    right: int,
    order: Order,
    *,
    padding_ms: int = 0,
    tariff: Tariff = OURS,
) -> None:
    """The price is exactly the rule's: max, sum or one track, rounded up, bounded, at the rate."""
    got = price(left, right, order)
    want = cost_micros(left, right, order, padding_ms=padding_ms, tariff=tariff)
    if got != want:
        raise RuleViolation(
            "the charge is the documented rule's amount",
            f"{_at(left, right, order)}: charged {usd(got)}, the rule says {usd(want)} "
            f"({explain(left, right, order, padding_ms=padding_ms, tariff=tariff)})",
        )


def check_exact_micros(
    price: Pricer, left: int, right: int, order: Order, *, tariff: Tariff = OURS
) -> None:
    """Integer micro-dollars, a whole number of seconds at the rate."""
    got = price(left, right, order)
    rate = tariff.rate_micros_per_second
    if not isinstance(got, int) or got % rate:
        raise RuleViolation(
            f"the charge is {usd(rate)} x whole billed seconds, in integer micro-dollars",
            f"{_at(left, right, order)}: charged {got!r} micro-dollars",
        )


def check_bounds(
    price: Pricer, left: int, right: int, order: Order, *, tariff: Tariff = OURS
) -> None:
    """At least the minimum, at most the 600 s cap; exactly those at the extremes."""
    got = price(left, right, order)
    rate, low, high = tariff.rate_micros_per_second, tariff.minimum_seconds, tariff.maximum_seconds
    floor, cap = low * rate, high * rate
    spoken = spoken_ms(left, right, order, tracks=tariff.tracks)
    if not floor <= got <= cap:
        raise RuleViolation(
            f"the charge is between the minimum {usd(floor)} and the cap {usd(cap)}",
            f"{_at(left, right, order)}: charged {usd(got)}",
        )
    if spoken <= low * 1000 and got != floor:
        raise RuleViolation(
            f"speech of at most {low} s bills the minimum",
            f"{_at(left, right, order)}: {spoken} ms charged {usd(got)}, not {usd(floor)}",
        )
    if spoken >= (high + 1) * 1000 and got != cap:
        raise RuleViolation(
            f"speech over {high} s bills the cap",
            f"{_at(left, right, order)}: {spoken} ms charged {usd(got)}, not {usd(cap)}",
        )


def check_monotonic(price: Pricer, left: int, right: int, extra: int, order: Order) -> None:
    """Longer audio on either side never costs less."""
    base = price(left, right, order)
    for side, (l2, r2) in (("left", (left + extra, right)), ("right", (left, right + extra))):
        longer = price(l2, r2, order)
        if longer < base:
            raise RuleViolation(
                "the charge never falls when a track gets longer",
                f"{_at(left, right, order)} costs {usd(base)}, but {extra} ms more on the "
                f"{side} ({_at(l2, r2, order)}) costs {usd(longer)}",
            )


def check_meanwhile_not_dearer(price: Pricer, left: int, right: int) -> None:
    """Speaking at once never costs more than speaking in turn."""
    together = price(left, right, "meanwhile")
    for order in ("left_right", "right_left"):
        in_turn = price(left, right, order)
        if together > in_turn:
            raise RuleViolation(
                "meanwhile never costs more than a sequential order",
                f"{_at(left, right, 'meanwhile')} costs {usd(together)}, "
                f"{order} costs {usd(in_turn)}",
            )


def check_sequential_orders_agree(price: Pricer, left: int, right: int) -> None:
    """Who speaks first does not change the price."""
    first, second = price(left, right, "left_right"), price(left, right, "right_left")
    if first != second:
        raise RuleViolation(
            "left_right costs the same as right_left",
            f"left {left} ms, right {right} ms: left_right {usd(first)}, right_left {usd(second)}",
        )
