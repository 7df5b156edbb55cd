"""Prediction history: which of an account's jobs a page shows.

``POST /api/v3/predictions`` lists an account's predictions a page at a time.
:func:`select` states the rules as a pure function: the account's jobs, a
:class:`HistoryQuery` and the moment to a :class:`HistoryPage`, no I/O, so
paging and the window are tested on a manual clock without a server.
:func:`page` is what the service runs: the same page, read from a
:class:`~mock_api.storage.JobStore` a page at a time through its index on
creation moments, so a page costs about the same with 100 jobs or 100,000
(``benchmarks/history_paging.py``); the tests hold it to :func:`select`.

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
from dataclasses import dataclass, replace

from mock_api.lifecycle import Status, status_at
from mock_api.records import Job, JobFilter
from mock_api.storage import JobStore

DAY_MS = 86_400_000
#: How long a prediction stays in the history (the docs: 7 days).
RETENTION_MS = 7 * DAY_MS
#: The largest page (WaveSpeed documents no bound; its clients ask for 20).
MAX_PAGE_SIZE = 100
#: The last page that can be asked for (openapi.yaml says the same): 100 million
#: predictions at the largest page, far past a week's history.
MAX_PAGE = 1_000_000
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
        if not 1 <= self.page <= MAX_PAGE:
            raise ValueError(f"page must be in 1..{MAX_PAGE}")
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


def _order(job: Job) -> tuple[int, str]:
    """The history's order: newest first by the moment shown, equal moments by id."""
    return -created_ns(job), job.id


def status_filter(status: Status, now_ms: int) -> JobFilter:
    """The jobs whose :func:`~mock_api.lifecycle.status_at` ``now_ms`` is ``status``,
    in the terms of their plans (the tests hold the two to each other)."""
    if status is Status.CREATED:
        return JobFilter(started_min=now_ms + 1)
    if status is Status.PROCESSING:
        return JobFilter(started_max=now_ms, finished_min=now_ms + 1)
    return JobFilter(finished_max=now_ms, outcome=status)


def page(jobs: JobStore, account: str, query: HistoryQuery, now_ms: int) -> HistoryPage:
    """The page :func:`select` gives, read from ``jobs`` without loading the history.

    The store pages by creation moment in milliseconds, newest first; the history
    orders by the nanosecond moment it shows, then id. The two orders agree but
    within a millisecond, so a page is read from the store with every job of the
    milliseconds at its two ends (few: jobs come milliseconds apart), and those
    are put in the history's order. ``created_before`` and ``created_after`` each
    cut one millisecond: its jobs are read whole and checked one by one, and the
    store counts and pages the milliseconds between the two.
    """
    status = JobFilter() if query.status is None else status_filter(query.status, now_ms)
    oldest = oldest_shown_ms(now_ms)
    where = replace(status, created_min=oldest, model=query.model or None)
    after, before = query.created_after_ns, query.created_before_ns
    newest_cut = None if before is None else before // NS_PER_MS
    oldest_cut = None if after is None or after // NS_PER_MS < oldest else after // NS_PER_MS

    def cut(millisecond: int | None) -> list[Job]:
        """The jobs of a cut millisecond that the bounds keep, in the history's order."""
        if millisecond is None:
            return []
        found = jobs.find_jobs(account, where.created_between(millisecond, millisecond))
        return sorted(
            (
                job
                for job in found
                if (after is None or created_ns(job) >= after)
                and (before is None or created_ns(job) <= before)
            ),
            key=_order,
        )

    head = cut(newest_cut)
    tail = cut(oldest_cut) if oldest_cut != newest_cut else []
    middle = where.created_between(
        None if oldest_cut is None else oldest_cut + 1,
        None if newest_cut is None else newest_cut - 1,
    )
    in_middle = jobs.count_jobs(account, middle)
    total = len(head) + in_middle + len(tail)

    # Positions in head + middle + tail; each part's share of [start, end).
    start = (query.page - 1) * query.page_size
    end = min(start + query.page_size, total)
    shown: list[Job] = head[start:end]
    middle_start, middle_end = max(start - len(head), 0), min(end - len(head), in_middle)
    if middle_start < middle_end:
        shown += _middle(jobs, account, middle, middle_start, middle_end)
    past_middle = len(head) + in_middle
    shown += tail[max(start - past_middle, 0) : max(end - past_middle, 0)]
    return HistoryPage(query.page, query.page_size, total, shown)


def _middle(jobs: JobStore, account: str, where: JobFilter, start: int, end: int) -> list[Job]:
    """Positions ``start`` to ``end`` (exclusive) of the jobs ``where`` matches, in the
    history's order: the store's, but for jobs of the same millisecond."""
    window = jobs.find_jobs(account, where, offset=start, limit=end - start)
    if not window:  # deleted meanwhile, by another process
        return []
    newest, oldest = window[0].plan.created_ms, window[-1].plan.created_ms
    newer = jobs.count_jobs(account, where.created_between(newest + 1, None))
    around = sorted(jobs.find_jobs(account, where.created_between(oldest, newest)), key=_order)
    return around[start - newer : end - newer]
