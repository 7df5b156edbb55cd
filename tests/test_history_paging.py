"""The history read from a store a page at a time is the page the rules give.

:func:`mock_api.history.select` states the rules over every job; the service
runs :func:`mock_api.history.page`, which asks the store for one page through
its index. Both stores, many jobs per millisecond (and equal moments to the
nanosecond), bounds on and beside jobs' moments, deleted jobs, the window's
edge: every page equals the rules' page.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_api.history import (
    NS_PER_MS,
    RETENTION_MS,
    HistoryQuery,
    created_ns,
    page,
    select,
    status_filter,
)
from mock_api.lifecycle import Outcome, Plan, Status, status_at
from mock_api.records import Job
from mock_api.storage import Store
from tests.store_suites.conftest import STORES, T0, make_job

MODELS = ("wavespeed-ai/infinitetalk-fast/video-to-video-multi", "wavespeed-ai/infinitetalk")
_examples = itertools.count()


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    opened = STORES[request.param](request)
    yield opened
    opened.close()


@st.composite
def _jobs(draw: st.DrawFn) -> list[Job]:
    count = draw(st.integers(min_value=0, max_value=14))
    ids = draw(st.permutations(range(count)))  # ids in another order than stored
    jobs = []
    for n in range(count):
        created = T0 + draw(st.integers(0, 5))  # few milliseconds: many jobs share one
        started = created + draw(st.integers(0, 3))
        finished = started + draw(st.integers(0, 3))
        failed = draw(st.booleans())
        outcome = (
            Outcome(Status.FAILED, code=5000, error="x") if failed else Outcome(Status.COMPLETED)
        )
        job = make_job(f"{ids[n]:032x}")
        jobs.append(
            replace(
                job,
                model=draw(st.sampled_from(MODELS)),
                plan=Plan(created, started, finished, outcome),
                variant=draw(st.integers(0, 3)),  # equal variants: equal moments, ordered by id
            )
        )
    return jobs


def _bound(draw: st.DrawFn, jobs: list[Job]) -> int | None:
    """None, or a moment on or beside a job's, or on a millisecond's edge."""
    kind = draw(st.sampled_from(["none", "job", "job", "edge"]))
    if kind == "none" or (kind == "job" and not jobs):
        return None
    if kind == "job":
        return created_ns(draw(st.sampled_from(jobs))) + draw(st.integers(-1, 1))
    return (T0 + draw(st.integers(-1, 7))) * NS_PER_MS + draw(st.sampled_from([0, -1, 1]))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[list[Job], list[int], HistoryQuery, int]:
    jobs = draw(_jobs())
    deleted = draw(st.lists(st.integers(0, max(len(jobs) - 1, 0)), max_size=3)) if jobs else []
    query = HistoryQuery(
        page=draw(st.integers(1, 4)),
        page_size=draw(st.integers(1, 5)),
        model=draw(st.none() | st.sampled_from(MODELS)),
        status=draw(st.none() | st.sampled_from(Status)),
        created_after_ns=_bound(draw, jobs),
        created_before_ns=_bound(draw, jobs),
    )
    # Now: all of them in the window, or its oldest edge among them.
    now = draw(st.sampled_from([T0 + 7, T0 + RETENTION_MS - 1])) + draw(st.integers(0, 6))
    return jobs, deleted, query, now


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=_cases())
def test_a_page_read_from_the_store_is_the_rules_page(
    store: Store, case: tuple[list[Job], list[int], HistoryQuery, int]
) -> None:
    jobs, deleted, query, now = case
    example = next(_examples)  # one store for every example: each its own account and ids
    account = f"acct_{example}"
    for job in jobs:
        store.jobs.add_job(replace(job, id=f"{example:08x}{job.id[8:]}", account=account))
    stored = store.jobs.jobs(account)
    store.jobs.delete_jobs(account, [stored[index].id for index in deleted])
    if stored:  # another account's job, at the same moment, is never shown
        store.jobs.add_job(replace(stored[0], id=f"{example:08x}" + "f" * 24, account="acct_other"))
    assert page(store.jobs, account, query, now) == select(store.jobs.jobs(account), query, now)


def test_pages_walk_a_long_history_in_order_without_gaps(store: Store) -> None:
    """Hundreds of jobs, about 27 in each millisecond: every page size walks them all once."""
    for n in range(300):
        created = T0 + (n * 7919) % 11  # stored out of order
        job = make_job(f"{n:032x}", created_ms=created, finished_ms=created + n % 5)
        store.jobs.add_job(replace(job, variant=n % 4))
    now = T0 + 20
    expected = [
        job
        for number in (1, 2, 3)
        for job in select(
            store.jobs.jobs("acct_1"), HistoryQuery(page=number, page_size=100), now
        ).jobs
    ]
    assert len({job.id for job in expected}) == 300
    for size in (1, 7, 20, 100):
        walked: list[Job] = []
        for number in range(1, 300 // size + 2):
            found = page(store.jobs, "acct_1", HistoryQuery(page=number, page_size=size), now)
            assert found.total == 300
            walked += found.jobs
        assert walked == expected


@given(
    started=st.integers(0, 5),
    took=st.integers(0, 5),
    now=st.integers(0, 12),
    status=st.sampled_from(Status),
    ends=st.sampled_from([Status.COMPLETED, Status.FAILED, Status.TIMEOUT, Status.CANCELLED]),
)
def test_the_status_filter_is_the_status_now(
    started: int, took: int, now: int, status: Status, ends: Status
) -> None:
    outcome = Outcome(
        ends,
        code=0 if ends is Status.COMPLETED else 1,
        error="" if ends is Status.COMPLETED else "x",
    )
    job = replace(make_job(), plan=Plan(T0, T0 + started, T0 + started + took, outcome))
    assert status_filter(status, T0 + now).matches(job) == (status_at(job.plan, T0 + now) is status)
