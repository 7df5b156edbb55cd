"""The life of a job, decided once and read off a clock.

A job's :class:`Plan` is fixed when it is submitted: when it starts
processing, when it finishes, and how it ends. Its :class:`Status` at any
moment is :func:`status_at` of that plan and the time, a pure function, so a
job can never move backwards and a finished job can never change, whatever
order requests arrive in or however many server processes answer them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    CREATED = "created"  # accepted and queued; the model has not started
    PROCESSING = "processing"  # the model is running; no outputs yet
    COMPLETED = "completed"  # terminal: outputs and NSFW flags are final
    FAILED = "failed"  # terminal: error and task code are final; the charge is refunded
    # Not in the docs, but the official SDKs treat them as terminal failures;
    # scenarios can end jobs this way to test that clients do too.
    TIMEOUT = "timeout"  # terminal: the task ran out of time; refunded
    CANCELLED = "cancelled"  # terminal: the task was cancelled; refunded

    @property
    def terminal(self) -> bool:
        return self not in (Status.CREATED, Status.PROCESSING)

    @property
    def refunded(self) -> bool:
        """Terminal without outputs: the charge goes back."""
        return self.terminal and self is not Status.COMPLETED


#: A moment that never comes: the plan of a job meant to stay stuck.
NEVER_MS = 2**62


# Which status may follow which between two reads of the same job; the
# contract checks hold the fake and the real service to it.
ALLOWED_NEXT: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset(Status),
    Status.PROCESSING: frozenset(Status) - {Status.CREATED},
    **{status: frozenset({status}) for status in Status if status.terminal},
}


@dataclass(frozen=True)
class Outcome:
    """How a job ends. ``code``/``error`` only matter for failures."""

    status: Status
    nsfw: bool = False
    code: int = 0
    error: str = ""

    def __post_init__(self) -> None:
        if not self.status.terminal:
            raise ValueError("an outcome is a terminal status")
        if self.status.refunded != bool(self.error):
            raise ValueError("an unsuccessful outcome needs an error message, and only it")
        if self.status.refunded and self.nsfw:
            raise ValueError("an unsuccessful job has no outputs to flag")


COMPLETED = Outcome(Status.COMPLETED)


@dataclass(frozen=True)
class Plan:
    created_ms: int
    started_ms: int  # leaves ``created``
    finished_ms: int  # reaches its outcome
    outcome: Outcome

    def __post_init__(self) -> None:
        if not self.created_ms <= self.started_ms <= self.finished_ms:
            raise ValueError("a plan's moments must not go backwards")

    @property
    def inference_ms(self) -> int:
        return self.finished_ms - self.started_ms


def status_at(plan: Plan, now_ms: int) -> Status:
    if now_ms < plan.started_ms:
        return Status.CREATED
    if now_ms < plan.finished_ms:
        return Status.PROCESSING
    return plan.outcome.status
