"""Account quotas that follow state, not dice.

WaveSpeed limits each account by level: how many video submissions a minute
(over it: HTTP 429) and how many tasks at once (over it: tasks wait in the
queue). Both are pure functions of what the account already did, so a client's
back-off and queueing logic can be tested exactly:

* :func:`retry_after_ms` answers how long until one more submission fits in
  the sliding one-minute window (``0``: it fits now);
* :func:`start_slot_ms` answers when a new job may leave ``created``, given
  the planned finish times of the account's jobs still in flight: a job waits
  until fewer than ``max_concurrent`` others are running.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

WINDOW_MS = 60_000


#: The highest quota that can be set (openapi.yaml says the same): past it, say unlimited.
MAX_LIMIT = 100_000


@dataclass(frozen=True)
class Limits:
    videos_per_minute: int | None  # None: unlimited
    max_concurrent: int | None  # None: unlimited

    def __post_init__(self) -> None:
        for name in ("videos_per_minute", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_LIMIT:
                raise ValueError(f"{name} must be from 1 to {MAX_LIMIT}, or null (unlimited)")


class Level(enum.StrEnum):
    """Account levels and their documented limits (videos/min, concurrent tasks)."""

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    ULTRA = "ultra"

    @property
    def limits(self) -> Limits:
        return LEVEL_LIMITS[self]


LEVEL_LIMITS: dict[Level, Limits] = {
    Level.BRONZE: Limits(videos_per_minute=2, max_concurrent=2),
    Level.SILVER: Limits(videos_per_minute=500, max_concurrent=300),
    Level.GOLD: Limits(videos_per_minute=3000, max_concurrent=3000),
    Level.ULTRA: Limits(videos_per_minute=5000, max_concurrent=10000),
}
UNLIMITED = Limits(videos_per_minute=None, max_concurrent=None)


def retry_after_ms(submitted_ms: Iterable[int], now_ms: int, limits: Limits) -> int:
    """Milliseconds until one more submission fits the per-minute rate (0: now)."""
    if limits.videos_per_minute is None:
        return 0
    recent = sorted(t for t in submitted_ms if now_ms - WINDOW_MS < t <= now_ms)
    excess = len(recent) - limits.videos_per_minute
    if excess < 0:
        return 0
    # The window must shed `excess + 1` submissions; the last of those leaves at:
    return recent[excess] + WINDOW_MS - now_ms


def start_slot_ms(in_flight_finish_ms: Iterable[int], ready_ms: int, limits: Limits) -> int:
    """When a job ready at ``ready_ms`` may start, under the concurrency limit.

    ``in_flight_finish_ms`` are the planned finish times of the account's
    other jobs that have been accepted; jobs finished by ``ready_ms`` do not
    count. Jobs are admitted first come, first served, which is what planning
    each job at submission in arrival order gives.
    """
    if limits.max_concurrent is None:
        return ready_ms
    running = sorted(t for t in in_flight_finish_ms if t > ready_ms)
    if len(running) < limits.max_concurrent:
        return ready_ms
    return running[len(running) - limits.max_concurrent]
