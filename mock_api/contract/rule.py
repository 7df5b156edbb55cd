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

The family (:data:`FAMILY`, one :class:`Tariff` per model and resolution,
written out from the recorded real catalogue rather than read from the fake's
spec): the standard models cost $0.15 per 5 s at 480p ($0.03/s) and twice that
at 720p, the fast ones $0.075 per 5 s ($0.015/s); a one-speaker model bills
its one audio track; the minimum is 5 s and the cap 600 s for all eight (a
newer revision of two sibling pages said 3 s; the recorded real catalogue
says 5 s, and the recorded answer wins).

One reading the docs leave open: compressed audio reads a little longer than
its nominal length (encoder padding). The fake forgives up to 50 ms of each
track before combining and rounding up (its README says so); the plain
reading forgives nothing.
The two readings differ only when a length lands within that band just above
a whole second, so :func:`readings_agree` names the lengths where the rule is
unambiguous, and checks meant for any target stick to those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FAKE_PADDING_MS",
    "FAMILY",
    "MAXIMUM_SECONDS",
    "MINIMUM_SECONDS",
    "ORDERS",
    "OURS",
    "RATE_MICROS_PER_SECOND",
    "Order",
    "Tariff",
    "billed_seconds",
    "cost_micros",
    "explain",
    "readings_agree",
    "spoken_ms",
    "tariff",
    "usd",
]

Order = Literal["meanwhile", "left_right", "right_left"]
ORDERS: tuple[Order, ...] = ("meanwhile", "left_right", "right_left")

RATE_MICROS_PER_SECOND = 15_000  # $0.015
MINIMUM_SECONDS = 5
MAXIMUM_SECONDS = 600
#: Encoder padding the fake forgives per audio track before rounding up.
FAKE_PADDING_MS = 50


@dataclass(frozen=True)
class Tariff:
    """One model's documented price at one resolution, and how many tracks it bills."""

    rate_micros_per_second: int = RATE_MICROS_PER_SECOND
    minimum_seconds: int = MINIMUM_SECONDS
    maximum_seconds: int = MAXIMUM_SECONDS
    #: 2: ``left``/``right`` combined by ``order``; 1: the one track is ``left``
    #: (``right`` and ``order`` play no part).
    tracks: int = 2


#: InfiniteTalk Fast video-to-video multi, the rule above.
OURS = Tariff()
_STANDARD_480 = Tariff(rate_micros_per_second=30_000)
_STANDARD_720 = Tariff(rate_micros_per_second=60_000)
_ONE_480 = Tariff(rate_micros_per_second=30_000, tracks=1)
_ONE_720 = Tariff(rate_micros_per_second=60_000, tracks=1)
_FAST_ONE = Tariff(tracks=1)

#: Every model of the family, by id, then by resolution (``""``: the model has none).
FAMILY: dict[str, dict[str, Tariff]] = {
    "wavespeed-ai/infinitetalk": {"480p": _ONE_480, "720p": _ONE_720},
    "wavespeed-ai/infinitetalk-fast": {"": _FAST_ONE},
    "wavespeed-ai/infinitetalk/multi": {"480p": _STANDARD_480, "720p": _STANDARD_720},
    "wavespeed-ai/infinitetalk/video-to-video": {"480p": _ONE_480, "720p": _ONE_720},
    "wavespeed-ai/infinitetalk/video-to-video-multi": {
        "480p": _STANDARD_480,
        "720p": _STANDARD_720,
    },
    "wavespeed-ai/infinitetalk-fast/multi": {"": OURS},
    "wavespeed-ai/infinitetalk-fast/video-to-video": {"": _FAST_ONE},
    "wavespeed-ai/infinitetalk-fast/video-to-video-multi": {"": OURS},
}


def tariff(model: str, resolution: str | None = None) -> Tariff:
    """The tariff of ``model`` at ``resolution`` (``None``: its default, 480p where it has one)."""
    by_resolution = FAMILY[model]
    return by_resolution[resolution or next(iter(by_resolution))]


def spoken_ms(left_ms: int, right_ms: int, order: Order, *, tracks: int = 2) -> int:
    """How long the people speak: at once (the longer track) or in turn (both); or the one track."""
    if left_ms < 0 or right_ms < 0:
        raise ValueError("durations cannot be negative")
    if tracks == 1:
        return left_ms
    return max(left_ms, right_ms) if order == "meanwhile" else left_ms + right_ms


def billed_seconds(
    left_ms: int, right_ms: int, order: Order, *, padding_ms: int = 0, tariff: Tariff = OURS
) -> int:
    """Whole seconds charged; up to ``padding_ms`` of each track is forgiven before rounding up.

    A track cannot carry more padding than its own length, so each is trimmed
    by at most that much (never below zero) before the two are combined.
    """
    left = max(left_ms - padding_ms, 0) if left_ms >= 0 else left_ms
    right = max(right_ms - padding_ms, 0) if right_ms >= 0 else right_ms
    length = spoken_ms(left, right, order, tracks=tariff.tracks)
    whole = -(-length // 1000)  # ceiling division on integers
    return min(max(whole, tariff.minimum_seconds), tariff.maximum_seconds)


def cost_micros(
    left_ms: int, right_ms: int, order: Order, *, padding_ms: int = 0, tariff: Tariff = OURS
) -> int:
    """The charge in micro-dollars: billed seconds times the rate ($0.015 for ours)."""
    billed = billed_seconds(left_ms, right_ms, order, padding_ms=padding_ms, tariff=tariff)
    return billed * tariff.rate_micros_per_second


def readings_agree(left_ms: int, right_ms: int, order: Order, *, tariff: Tariff = OURS) -> bool:
    """Do the plain reading and the fake's padding-forgiving reading bill the same?"""
    plain = billed_seconds(left_ms, right_ms, order, tariff=tariff)
    forgiving = billed_seconds(left_ms, right_ms, order, padding_ms=FAKE_PADDING_MS, tariff=tariff)
    return plain == forgiving


def explain(
    left_ms: int, right_ms: int, order: Order, *, padding_ms: int = 0, tariff: Tariff = OURS
) -> str:
    """The rule applied, in one line a person can check by hand."""
    if tariff.tracks == 1:
        how, label = "audio", "one track"
    else:
        how, label = ("max(left, right)" if order == "meanwhile" else "left + right"), order
    spoken = spoken_ms(left_ms, right_ms, order, tracks=tariff.tracks)
    billed = billed_seconds(left_ms, right_ms, order, padding_ms=padding_ms, tariff=tariff)
    rate = tariff.rate_micros_per_second
    return (
        f"{label}: {how} = {spoken / 1000:.3f} s -> billed {billed} s "
        f"(rounded up, {tariff.minimum_seconds}..{tariff.maximum_seconds} s) x {usd(rate)} "
        f"= {usd(billed * rate)}"
    )


def usd(micros: int) -> str:
    """``$0.075``, ``$1.20``, ``-$0.09``: dollars from micro-dollars, exact, at least cents."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{digits}"
