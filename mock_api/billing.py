"""The billing rule of the InfiniteTalk family, as pure functions.

No I/O and no clock: :func:`quote` maps two audio durations, a speaking order
and a :class:`BillingPolicy` to a :class:`Quote` (the two-speaker models), and
:func:`quote_single` one audio duration (the one-speaker models), so the rule
can be tested exhaustively with properties and reused by the server, the CLI
and the contract suite alike. Which model has which rate and minimum is data,
in :mod:`mock_api.models`; this module only applies a policy.

The rule, from the product page and the family's other pages:

* the spoken duration is ``max(left, right)`` for ``meanwhile`` and
  ``left + right`` for ``left_right`` / ``right_left``; a one-speaker model's
  is its one audio track;
* it is rounded **up** to whole seconds, after forgiving encoder padding: each
  audio track may read up to ``padding_tolerance`` longer than its nominal
  length (a 5.000 s MP3 reads about 5.04 s), so each track is trimmed by the
  tolerance (never below zero) before the tracks are combined;
* at least ``minimum_seconds`` (5 s; newer sibling pages say 3 s) are billed;
* at most ``maximum_seconds`` (600 s): what happens above it is not
  documented, so by default the job is billed at the cap and its output cut to
  600 s (:attr:`OverMaximum.BILL_AT_CAP`); :attr:`OverMaximum.REJECT` makes such
  jobs fail with task code 1401 and charges nothing;
* the price is the policy's rate per billed second ($0.015 for our model;
  see :mod:`mock_api.models` for the family's).

Money is integer micro-dollars (``1 USD == 1_000_000``) everywhere; it is
turned into text only at the edges, by :func:`format_usd`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any

MICROS_PER_USD = 1_000_000
MILLISECOND = Decimal("0.001")


class Order(enum.StrEnum):
    """Who speaks when, as the ``order`` input names it."""

    MEANWHILE = "meanwhile"  # both speak at once: the longer track sets the length
    LEFT_RIGHT = "left_right"  # left speaks, then right: the tracks add up
    RIGHT_LEFT = "right_left"  # right speaks, then left: the tracks add up

    @property
    def sequential(self) -> bool:
        return self is not Order.MEANWHILE


class OverMaximum(enum.StrEnum):
    """What to do with a job whose spoken duration is over the maximum."""

    BILL_AT_CAP = "bill-at-cap"  # bill the maximum, cut the output to the maximum
    REJECT = "reject"  # fail the job with task code 1401, charge nothing


@dataclass(frozen=True)
class BillingPolicy:
    rate_micros_per_second: int = 15_000  # $0.015
    minimum_seconds: int = 5
    maximum_seconds: int = 600
    padding_tolerance: Decimal = Decimal("0.050")  # per audio track, in seconds
    over_maximum: OverMaximum = OverMaximum.BILL_AT_CAP

    def __post_init__(self) -> None:
        if self.rate_micros_per_second < 0:
            raise ValueError("rate_micros_per_second must be >= 0")
        if not 0 < self.minimum_seconds <= self.maximum_seconds:
            raise ValueError("minimum_seconds must be in 1..maximum_seconds")
        if not Decimal(0) <= self.padding_tolerance < Decimal(1):
            raise ValueError("padding_tolerance must be in [0, 1) seconds")


@dataclass(frozen=True)
class Quote:
    """What a job costs and how long its output is, with the reasoning."""

    order: Order
    left_seconds: Decimal
    right_seconds: Decimal
    spoken_seconds: Decimal  # max or sum of the tracks, as read from the media
    billed_seconds: int  # whole seconds charged (0 when rejected)
    cost_micros: int  # billed_seconds x rate (0 when rejected)
    output_seconds: Decimal  # length of the output video: spoken, capped at the maximum
    rejected: bool  # over the maximum under OverMaximum.REJECT
    rule: str  # one line a person can check by hand
    #: How many audio tracks were priced: 2, or 1 for a one-speaker model (its track
    #: is ``left_seconds``, ``right_seconds`` is 0 and ``order`` plays no part).
    tracks: int = 2

    @property
    def cost_usd(self) -> Decimal:
        return micros_to_usd(self.cost_micros)

    def as_dict(self) -> dict[str, Any]:
        """The quote's one JSON form, everywhere it is shown or stored.

        Exact decimals travel as text; money as integer micro-dollars and as USD text.
        """
        return {
            "order": self.order.value,
            "left_seconds": str(self.left_seconds),
            "right_seconds": str(self.right_seconds),
            "spoken_seconds": str(self.spoken_seconds),
            "billed_seconds": self.billed_seconds,
            "cost_micros": self.cost_micros,
            "cost_usd": str(self.cost_usd),
            "output_seconds": str(self.output_seconds),
            "rejected": self.rejected,
            "rule": self.rule,
            "tracks": self.tracks,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quote:
        """Read back :meth:`as_dict`'s form (``cost_usd`` follows from ``cost_micros``)."""
        return cls(
            order=Order(data["order"]),
            left_seconds=Decimal(data["left_seconds"]),
            right_seconds=Decimal(data["right_seconds"]),
            spoken_seconds=Decimal(data["spoken_seconds"]),
            billed_seconds=int(data["billed_seconds"]),
            cost_micros=int(data["cost_micros"]),
            output_seconds=Decimal(data["output_seconds"]),
            rejected=bool(data["rejected"]),
            rule=str(data["rule"]),
            tracks=int(data.get("tracks", 2)),  # stored before the family came: two tracks
        )


def spoken_duration(left: Decimal, right: Decimal, order: Order) -> Decimal:
    """The length of speech in the output: the longer track, or both in turn."""
    return left + right if order.sequential else max(left, right)


def quote(
    left: Decimal, right: Decimal, order: Order, policy: BillingPolicy | None = None
) -> Quote:
    """Price one job from its two audio durations (seconds, exact decimals)."""
    policy = policy or BillingPolicy()
    if left < 0 or right < 0:
        raise ValueError("audio durations cannot be negative")
    # Forgive padding per track, before combining: a sequential order then never
    # bills more than its tracks would alone, and never less than ``meanwhile``.
    zero, tolerance = Decimal(0), policy.padding_tolerance
    trimmed = spoken_duration(max(left - tolerance, zero), max(right - tolerance, zero), order)
    how = "left + right" if order.sequential else "max(left, right)"
    return _priced(
        Quote(
            order=order,
            left_seconds=left,
            right_seconds=right,
            spoken_seconds=spoken_duration(left, right, order),
            billed_seconds=0,
            cost_micros=0,
            output_seconds=Decimal(0),
            rejected=False,
            rule=how,
        ),
        trimmed,
        policy,
        "per track",
    )


def quote_single(audio: Decimal, policy: BillingPolicy | None = None) -> Quote:
    """Price a one-speaker job from its one audio duration: the output lasts as long."""
    policy = policy or BillingPolicy()
    if audio < 0:
        raise ValueError("audio durations cannot be negative")
    trimmed = max(audio - policy.padding_tolerance, Decimal(0))
    return _priced(
        Quote(
            order=Order.MEANWHILE,
            left_seconds=audio,
            right_seconds=Decimal(0),
            spoken_seconds=audio,
            billed_seconds=0,
            cost_micros=0,
            output_seconds=Decimal(0),
            rejected=False,
            rule="audio",
            tracks=1,
        ),
        trimmed,
        policy,
        "",
    )


def _priced(draft: Quote, trimmed: Decimal, policy: BillingPolicy, per: str) -> Quote:
    """``draft`` (durations known, ``rule`` naming how they combine) billed under ``policy``."""
    tolerance = policy.padding_tolerance
    raw = int(trimmed.to_integral_value(ROUND_CEILING))
    maximum = policy.maximum_seconds
    over = raw > maximum
    how = f"{draft.rule} = {_s(draft.spoken_seconds)}"
    if tolerance:
        how += f"; less {_s(tolerance)} padding tolerance{' ' + per if per else ''}"
        how += f", rounded up = {raw} s"
    else:
        how += f", rounded up = {raw} s"

    if over and policy.over_maximum is OverMaximum.REJECT:
        return replace(
            draft,
            rejected=True,
            rule=f"{how}; over the {maximum} s maximum: rejected, nothing charged",
        )

    billed = min(max(raw, policy.minimum_seconds), maximum)
    if over:
        how += f"; over the {maximum} s maximum: billed at the cap"
    elif raw < policy.minimum_seconds:
        how += f"; under the {policy.minimum_seconds} s minimum: billed {billed} s"
    cost = billed * policy.rate_micros_per_second
    how += f"; {billed} s x {format_usd(policy.rate_micros_per_second)}/s = {format_usd(cost)}"
    return replace(
        draft,
        billed_seconds=billed,
        cost_micros=cost,
        output_seconds=min(draft.spoken_seconds, Decimal(maximum)).quantize(
            MILLISECOND, ROUND_CEILING
        ),
        rule=how,
    )


def micros_to_usd(micros: int) -> Decimal:
    """Exact dollars from micro-dollars, normalised (``75000`` -> ``0.075``)."""
    value = Decimal(micros) / MICROS_PER_USD
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


def usd_to_micros(usd: Decimal | str | int) -> int:
    """Micro-dollars from dollars; refuses amounts finer than a micro-dollar."""
    value = Decimal(usd) * MICROS_PER_USD
    if value != value.to_integral_value():
        raise ValueError(f"{usd} USD is finer than a micro-dollar")
    return int(value)


def format_usd(micros: int) -> str:
    """``$0.075``, ``$9.00``: at least cents, more digits only when they exist."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{digits}"


def _s(seconds: Decimal) -> str:
    return f"{seconds.quantize(MILLISECOND)} s"
