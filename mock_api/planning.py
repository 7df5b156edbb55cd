"""Deciding, once and for all, how a submitted job will live and end.

Pure functions of their inputs: the pace, the job's seed and inputs, the
outcome rules. The service calls :func:`plan_job` at submission and stores the
:class:`~mock_api.lifecycle.Plan`; nothing about the job is decided later.

Determinism: everything random about a job is drawn from a
``random.Random`` seeded with the job's *key* (its seed and a digest of its
inputs, media bytes included), so the same seed with the same inputs gives the
same timings, flags and output bytes, on any machine.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import Decimal

from mock_api.lifecycle import COMPLETED, NEVER_MS, Outcome, Plan, Status


@dataclass(frozen=True)
class Pace:
    """How long jobs take, in milliseconds of the fake's clock.

    ``created`` lasts ``queue_ms``; ``processing`` lasts ``base_ms`` plus, per
    second of output, a figure drawn from ``per_output_second_ms`` (inclusive
    range) by the job's seed.
    """

    name: str
    queue_ms: int
    base_ms: int
    per_output_second_ms: tuple[int, int]

    PRESETS_HELP = (
        "instant (finished at once: CI), fast (default: a 600 s job takes about 10 s), "
        "realistic (10-30 s of processing per second of output, like the real model), "
        "or a number: seconds of processing per second of output"
    )

    @classmethod
    def parse(cls, text: str) -> Pace:
        preset = PACES.get(text.strip().lower())
        if preset is not None:
            return preset
        try:
            factor = Decimal(text)
        except ArithmeticError:
            factor = Decimal(-1)
        if not factor.is_finite() or factor < 0:
            raise ValueError(f"pace {text!r} is not one of {', '.join(PACES)} or a number >= 0")
        per_second = int(factor * 1000)
        return cls(f"{factor}x", 500, 500, (per_second, per_second))

    def processing_ms(self, output_seconds: Decimal, rng: random.Random) -> int:
        low, high = self.per_output_second_ms
        per_second = low if low == high else rng.randint(low, high)
        return self.base_ms + int(output_seconds * per_second)


PACES: dict[str, Pace] = {
    "instant": Pace("instant", 0, 0, (0, 0)),
    "fast": Pace("fast", 500, 500, (15, 15)),
    "realistic": Pace("realistic", 2_000, 5_000, (10_000, 30_000)),
}


@dataclass(frozen=True)
class OutcomeRates:
    """Shares of jobs that fail or come back NSFW-flagged, drawn from a seed."""

    fail_rate: float = 0.0
    nsfw_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fail_rate", "nsfw_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")


TASK_MESSAGES: dict[int, str] = {
    1200: "Content moderation: the input was flagged by the safety checker.",
    1400: "Missing required parameter.",
    1401: "Invalid parameter.",
    1402: "Failed to download media from the provided URL.",
    1403: "Task failed.",
    1405: "Task failed.",
    5000: "Internal server error.",
    5003: "Service temporarily unavailable.",
    5004: "Task timed out.",
}
DEFAULT_FAILURE_CODE = 5000

#: The largest task code a failure may carry.
MAX_TASK_CODE = 99_999


def failure(code: int = DEFAULT_FAILURE_CODE, message: str | None = None) -> Outcome:
    """A failed outcome with ``code`` and ``message`` (or the code's usual message).

    Raises ValueError for a code outside 1..99999.
    """
    if not 1 <= code <= MAX_TASK_CODE:
        raise ValueError(f"task code {code} is not a number from 1 to {MAX_TASK_CODE}")
    text = (message or "").strip() or TASK_MESSAGES.get(code, "Task failed.")
    return Outcome(Status.FAILED, code=code, error=text)


NSFW = Outcome(Status.COMPLETED, nsfw=True)


def job_key(seed: int, canonical_input: str) -> str:
    """The identity of a job's randomness: its seed and everything it was given."""
    return hashlib.sha256(f"{seed}\x00{canonical_input}".encode()).hexdigest()


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_outcome(forced: Outcome | None, rates: OutcomeRates, key: str) -> Outcome:
    """The header wins; otherwise the seeded rates decide, else the job completes."""
    if forced is not None:
        return forced
    if _unit(rates.seed, key, "fail") < rates.fail_rate:
        return Outcome(
            Status.FAILED, code=DEFAULT_FAILURE_CODE, error=TASK_MESSAGES[DEFAULT_FAILURE_CODE]
        )
    if _unit(rates.seed, key, "nsfw") < rates.nsfw_rate:
        return Outcome(Status.COMPLETED, nsfw=True)
    return COMPLETED


@dataclass(frozen=True)
class Directive:
    """What a test wants for one job, overriding the dice and the pace.

    Comes from the ``X-Mock-Outcome`` header or from the queue a test fills
    (:meth:`mock_api.service.MockService.queue_directive`); ``None`` fields
    leave that part of the plan to the settings.
    """

    outcome: Outcome | None = None
    queue_ms: int | None = None  # time in ``created``
    processing_ms: int | None = None  # time in ``processing``

    def __post_init__(self) -> None:
        for name in ("queue_ms", "processing_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")


def plan_job(
    *,
    created_ms: int,
    output_seconds: Decimal,
    pace: Pace,
    key: str,
    outcome: Outcome,
    directive: Directive | None = None,
    not_before_ms: int = 0,
) -> Plan:
    """When the job starts and finishes. A job that fails on its inputs fails fast.

    ``not_before_ms`` holds the job in ``created`` until a concurrency slot frees.
    """
    rng = random.Random(key)  # noqa: S311 - simulation, not security
    directive = directive or Directive()
    queue = pace.queue_ms if directive.queue_ms is None else directive.queue_ms
    started = min(max(created_ms + queue, not_before_ms), NEVER_MS)
    if directive.processing_ms is not None:
        processing = directive.processing_ms
    else:
        work_seconds = output_seconds if outcome.status is Status.COMPLETED else Decimal(0)
        processing = pace.processing_ms(work_seconds, rng)
    finished = min(started + processing, NEVER_MS)
    return Plan(created_ms=created_ms, started_ms=started, finished_ms=finished, outcome=outcome)
