"""The history's page as a pure function of jobs, a query and the moment."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_api.history import (
    MAX_PAGE_SIZE,
    RETENTION_MS,
    HistoryQuery,
    created_ns,
    select,
)
from mock_api.lifecycle import Status
from mock_api.records import Job
from tests.store_suites.conftest import T0, make_job


def _job(n: int, created: int = 0, variant: int = 7) -> Job:
    job = make_job(f"{n:032x}", created_ms=T0 + created, finished_ms=T0 + created + 1_000)
    return replace(job, variant=variant)


def test_equal_moments_are_ordered_by_id() -> None:
    jobs = [_job(n) for n in (3, 1, 2)]  # one millisecond, one variant: one created_at
    assert len({created_ns(j) for j in jobs}) == 1
    page = select(jobs, HistoryQuery(), T0)
    assert [j.id[-1] for j in page.jobs] == ["1", "2", "3"]


def test_the_sub_millisecond_digits_order_jobs_of_one_millisecond() -> None:
    early, late = _job(1, variant=5), _job(2, variant=0)
    assert created_ns(early) > created_ns(late)  # the digits below the ms decide
    assert [j.id for j in select([late, early], HistoryQuery(), T0).jobs] == [early.id, late.id]


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=0, max_value=2**40))
def test_created_ns_stays_in_its_millisecond_with_nine_significant_digits(
    variant: int, created: int
) -> None:
    moment = created_ns(_job(1, created=created, variant=variant))
    below = moment - (T0 + created) * 1_000_000
    assert 0 < below < 1_000_000
    assert below % 10 != 0


def test_the_window_is_seven_days_to_the_millisecond() -> None:
    job = _job(1)
    assert select([job], HistoryQuery(), T0 + RETENTION_MS - 1).total == 1
    assert select([job], HistoryQuery(), T0 + RETENTION_MS).total == 0


def test_filters_and_pages() -> None:
    jobs = [_job(n, created=n) for n in range(10)]
    quick = _job(10, created=10)
    finished = replace(quick, plan=replace(quick.plan, finished_ms=T0 + 10))
    now = T0 + 500  # the first ten are processing (they finish after 1 s); ``finished`` is done
    everything = select([*jobs, finished], HistoryQuery(page_size=4, page=3), now)
    assert (everything.total, [j.id[-1] for j in everything.jobs]) == (11, ["2", "1", "0"])
    assert select([*jobs, finished], HistoryQuery(status=Status.PROCESSING), now).total == 10
    assert select([*jobs, finished], HistoryQuery(status=Status.COMPLETED), now).jobs == [finished]
    after = created_ns(jobs[7])
    window = HistoryQuery(created_after_ns=after, created_before_ns=created_ns(jobs[8]))
    assert [j.id[-1] for j in select(jobs, window, now).jobs] == ["8", "7"]
    assert select(jobs, HistoryQuery(model="acme/other"), now).total == 0


@pytest.mark.parametrize(
    ("page", "page_size", "reason"),
    [
        (0, 20, r"page must be in 1\.\.1000000"),
        (1, 0, "page_size must be in 1..100"),
        (1, MAX_PAGE_SIZE + 1, "page_size must be in 1..100"),
    ],
)
def test_a_query_out_of_bounds_is_refused(page: int, page_size: int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        HistoryQuery(page=page, page_size=page_size)
