"""Prediction history: which of an account's jobs a page shows, as a pure function.

``POST /api/v3/predictions`` lists an account's predictions a page at a time.
:func:`select` maps the account's jobs, a :class:`HistoryQuery` and the moment
to a :class:`HistoryPage`; no I/O, so paging and the window are tested on a
manual clock without a server.

The rules, where WaveSpeed's docs are silent, are the fake's and are written
down here:

* **Seven days.** Predictions are kept for 7 days (the docs): a job shows while
  it is younger than :data:`RETENTION_MS` on the fake's clock.
* **Newest first, ties by id.** Items are ordered by ``created_at`` as the item
  shows it (nanoseconds, see :func:`created_ns`), newest first; equal moments
  by ``id``, ascending. The order is total, so pages never overlap or skip.
* **Filters** are all optional and combine with "and": ``model`` (exact; empty
  means any), ``status`` (the status now), ``created_after`` and
  ``created_before`` (both inclusive, to the nanosecond).
* **Pages** count from 1; ``page_size`` is 1 to :data:`MAX_PAGE_SIZE`. A page
  past the end is empty, with the same ``total``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mock_api.lifecycle import Status, status_at
from mock_api.store import Job

DAY_MS = 86_400_000
#: How long a prediction stays in the history (the docs: 7 days).
RETENTION_MS = 7 * DAY_MS
#: The largest page (WaveSpeed documents no bound; its clients ask for 20).
MAX_PAGE_SIZE = 100
NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class HistoryQuery:
    page: int = 1
    page_size: int = 20
    model: str | None = None
    status: Status | None = None
    created_after_ns: int | None = None
    created_before_ns: int | None = None

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError("page must be >= 1")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be in 1..{MAX_PAGE_SIZE}")


@dataclass(frozen=True)
class HistoryPage:
    page: int
    page_size: int
    total: int  # matching jobs on every page together
    jobs: list[Job]


def created_ns(job: Job) -> int:
    """The job's creation moment in nanoseconds, as its history item shows it.

    The fake's clock counts milliseconds; the real service writes nine
    fractional digits. The digits below the millisecond are fixed per job
    (drawn from its ``variant``) and never end in 0, because Go's RFC 3339
    formatter, which the real timestamps look like, drops trailing zeros: a
    value ending in 0 would be shorter than nine digits. Truncated to the
    millisecond it is the job's ``created_at`` on the result endpoints.
    """
    below_ms = (job.variant % 99_999 + 1) * 10 + job.variant % 9 + 1  # 11 .. 999_999
    return job.plan.created_ms * NS_PER_MS + below_ms


def oldest_shown_ms(now_ms: int) -> int:
    """The earliest creation moment the history still shows at ``now_ms``."""
    return now_ms - RETENTION_MS + 1


def select(jobs: Iterable[Job], query: HistoryQuery, now_ms: int) -> HistoryPage:
    """The page of ``jobs`` (one account's) that ``query`` asks for at ``now_ms``."""
    oldest = oldest_shown_ms(now_ms)
    after, before = query.created_after_ns, query.created_before_ns
    matching: list[tuple[int, Job]] = []
    for job in jobs:
        if job.plan.created_ms < oldest or (query.model and job.model != query.model):
            continue
        if query.status is not None and status_at(job.plan, now_ms) is not query.status:
            continue
        moment = created_ns(job)
        if (after is not None and moment < after) or (before is not None and moment > before):
            continue
        matching.append((moment, job))
    matching.sort(key=lambda pair: (-pair[0], pair[1].id))
    start = (query.page - 1) * query.page_size
    shown = [job for _, job in matching[start : start + query.page_size]]
    return HistoryPage(query.page, query.page_size, len(matching), shown)
