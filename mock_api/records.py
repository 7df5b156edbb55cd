"""The records the fake keeps: what storage stores, and nothing it does.

Each is a dataclass (or an enum, or a plain type), defined once here and
imported by the domain that gives it meaning and by the stores that keep it
(:mod:`mock_api.storage`). The records of the pure cores stay with them
(:class:`~mock_api.lifecycle.Plan`, :class:`~mock_api.billing.Quote`,
:class:`~mock_api.quotas.Limits`); storage imports those records and nothing
else of the domain, which ``tests/test_architecture.py`` checks.

Records are frozen where they can be: a job never changes after it is stored,
because everything about its future is already in its plan. A delivery is the
exception, a mutable record its dispatcher updates between attempts; stores
keep copies of it (:func:`copy_delivery`), never the caller's object.

Money: a balance is never stored, only derived from the ledger, so it cannot
drift from the entries that explain it. Entries carry the moment they take
effect; a refund for a job that will fail is written at submission with the
moment of the failure, and counts once the clock reaches it.

Rules (scenario and fault rules) are stored as their JSON definition plus their
counters. Each kind says how it is rebuilt from that (:func:`register_rule_kind`,
called by its rule book), so a store rebuilds a rule with :func:`decode_rule`
without importing the module that defines it.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar

from mock_api.billing import Quote
from mock_api.lifecycle import Plan, Status

MediaKind = Literal["image", "video", "audio", "other"]


@functools.lru_cache(maxsize=4096)  # every request asks; a hash per request was 2% of a GET
def account_id(api_key: str) -> str:
    """The account an API key stands for.

    The key itself is never stored: only this memo of recent keys, in the
    process's memory, holds it.
    """
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:24]


# money


class EntryKind(enum.StrEnum):
    OPENING = "opening"  # the balance a new account starts with
    CHARGE = "charge"  # a job accepted (negative amount)
    REFUND = "refund"  # a charged job that failed (positive amount)
    ADJUSTMENT = "adjustment"  # the control API set the balance


@dataclass(frozen=True)
class LedgerEntry:
    account: str
    at_ms: int  # when it takes effect
    kind: EntryKind
    amount_micros: int  # signed: charges are negative
    job_id: str | None = None
    note: str = ""


# jobs


@dataclass(frozen=True)
class Job:
    id: str
    account: str
    model: str
    input: Mapping[str, Any]  # as submitted, defaults filled in
    seed: int  # the effective seed (never -1)
    plan: Plan
    quote: Quote | None  # None when the inputs could not be priced
    output_ms: int  # length of the output video
    variant: int  # picks the look of the output video


@dataclass(frozen=True)
class JobFilter:
    """Which of an account's jobs a query reads, in the terms of their records.

    Every bound is optional and inclusive, in ms of the fake's clock (a low end
    above its high end matches nothing); ``model`` and ``outcome`` (the plan's
    final status) must be equal when given. What a filter of the API means in
    these terms is its caller's business (:mod:`mock_api.history`).
    """

    created_min: int | None = None
    created_max: int | None = None
    started_min: int | None = None
    started_max: int | None = None
    finished_min: int | None = None
    finished_max: int | None = None
    model: str | None = None
    outcome: Status | None = None

    @property
    def by_creation_only(self) -> bool:
        """Only the creation moment is bounded: an index on it answers alone."""
        return (
            self.started_min is None
            and self.started_max is None
            and self.finished_min is None
            and self.finished_max is None
            and self.model is None
            and self.outcome is None
        )

    def matches(self, job: Job) -> bool:
        plan = job.plan
        return (
            _within(plan.created_ms, self.created_min, self.created_max)
            and _within(plan.started_ms, self.started_min, self.started_max)
            and _within(plan.finished_ms, self.finished_min, self.finished_max)
            and (self.model is None or job.model == self.model)
            and (self.outcome is None or plan.outcome.status is self.outcome)
        )

    def created_between(self, low: int | None, high: int | None) -> JobFilter:
        """This filter, also bounding the creation moment by ``low`` and ``high``."""
        if low is not None and self.created_min is not None:
            low = max(low, self.created_min)
        if high is not None and self.created_max is not None:
            high = min(high, self.created_max)
        return replace(
            self,
            created_min=self.created_min if low is None else low,
            created_max=self.created_max if high is None else high,
        )


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


# files


@dataclass(frozen=True)
class StoredFile:
    id: str
    account: str
    filename: str
    content_type: str
    kind: MediaKind
    data: bytes = field(repr=False)
    created_ms: int


@dataclass(frozen=True)
class UploadTicket:
    id: str
    account: str
    file_id: str
    filename: str
    size: int
    content_type: str
    expires_ms: int


# the clock


@dataclass(frozen=True)
class ClockState:
    """Where an :class:`~mock_api.clock.OffsetClock` stands: ahead of wall time, or stopped.

    The transitions are pure functions of the state and a wall-clock reading,
    so the state can live anywhere (in memory, or in a database several
    processes share) and be updated atomically there.
    """

    offset_ms: int = 0  # how far ahead of wall time the clock runs
    frozen_at_ms: int | None = None  # where it stopped; None while it flows

    def now_ms(self, wall_ms: int) -> int:
        return self.frozen_at_ms if self.frozen_at_ms is not None else wall_ms + self.offset_ms

    def freeze(self, wall_ms: int) -> ClockState:
        if self.frozen_at_ms is not None:
            return self
        return ClockState(self.offset_ms, wall_ms + self.offset_ms)

    def resume(self, wall_ms: int) -> ClockState:
        if self.frozen_at_ms is None:
            return self
        return ClockState(self.frozen_at_ms - wall_ms, None)

    def advance(self, step_ms: int) -> ClockState:
        frozen = None if self.frozen_at_ms is None else self.frozen_at_ms + step_ms
        return ClockState(self.offset_ms + step_ms, frozen)


# webhook deliveries

#: How long a claimed attempt stays claimed (wall seconds): the claim of a process that
#: died mid-attempt lapses after this and the attempt is made again. Far longer than an
#: attempt can take (:data:`mock_api.webhooks.ATTEMPT_SECONDS`).
CLAIM_SECONDS = 60.0


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for the job to finish, or for its next attempt
    DELIVERED = "delivered"  # a 2xx answer was received
    FAILED = "failed"  # every attempt failed


@dataclass(frozen=True)
class Attempt:
    at_ms: int
    status: int | None  # None: no HTTP answer
    error: str  # empty on success
    duration_ms: float


@dataclass
class Delivery:
    id: str  # the webhook-id header
    job_id: str
    account: str
    url: str
    base_url: str  # the base the job was submitted through: URLs in the payload use it
    next_attempt_ms: int  # first: the job's finish
    state: DeliveryState = DeliveryState.PENDING
    attempts: list[Attempt] = field(default_factory=list)
    in_flight: bool = False  # claimed by a dispatcher that is attempting it

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "url": self.url,
            "state": self.state.value,
            "next_attempt_ms": self.next_attempt_ms
            if self.state is DeliveryState.PENDING
            else None,
            "attempts": [
                {
                    "at_ms": a.at_ms,
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 3),
                }
                for a in self.attempts
            ],
        }


def copy_delivery(delivery: Delivery, **changes: Any) -> Delivery:
    """A copy that shares nothing mutable with the original."""
    return replace(delivery, attempts=list(delivery.attempts), **changes)


# rules


class Rule(Protocol):
    """A scenario or fault rule, as stores keep it: an id, its draw, its counters."""

    @property
    def id(self) -> str: ...
    @property
    def times(self) -> int | None: ...
    @property
    def share(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def matched(self) -> int: ...
    @property
    def applied(self) -> int: ...
    def as_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Rule)


def with_counts(rule: R, matched: int, applied: int) -> R:
    changes: dict[str, Any] = {"matched": matched, "applied": applied}
    updated: R = replace(rule, **changes)  # type: ignore[type-var]
    return updated


#: How each kind of rule is read back from its stored JSON form. Each kind
#: registers its own decoder (its book does, on creation), so storage keeps
#: rules as plain JSON and never imports the modules that define them.
_DECODERS: dict[str, Callable[[dict[str, Any]], Rule]] = {}


def register_rule_kind(kind: str, decode: Callable[[dict[str, Any]], Rule]) -> None:
    """Say how rules of ``kind`` are rebuilt from :func:`rule_definition`'s form."""
    known = _DECODERS.setdefault(kind, decode)
    if known is not decode:
        raise ValueError(f"rule kind {kind!r} is registered already")


def decode_rule(kind: str, definition: dict[str, Any]) -> Rule:
    """A stored rule rebuilt by its kind's decoder; ValueError for a kind nobody registered."""
    try:
        decode = _DECODERS[kind]
    except KeyError:
        raise ValueError(f"no rule kind {kind!r} is registered") from None
    return decode(definition)


def rule_definition(rule: Rule) -> dict[str, Any]:
    """A rule as the control API takes it: its JSON form without the counters."""
    return {k: v for k, v in rule.as_dict().items() if k not in ("matched", "applied")}
