"""Jobs: order per account, the quota and history reads, deletion, exact round trips.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_api.billing import BillingPolicy, Order, OverMaximum, Quote, quote, quote_single
from mock_api.lifecycle import NEVER_MS, Outcome, Status
from mock_api.records import Job, JobFilter
from mock_api.storage import JobStore, Store
from tests.store_suites.conftest import T0, make_job


def test_jobs_are_kept_in_order_per_account_and_never_replaced(jobs: JobStore) -> None:
    first, second, other = (
        make_job("1" * 32),
        make_job("2" * 32),
        make_job("3" * 32, "acct_2"),
    )
    for job in (first, other, second):
        jobs.add_job(job)
    with pytest.raises(KeyError):
        jobs.add_job(make_job("1" * 32, "acct_2"))
    assert jobs.job("1" * 32) == first
    assert jobs.job("f" * 32) is None
    assert jobs.jobs() == [first, other, second]
    assert jobs.jobs("acct_1") == [first, second]
    assert jobs.jobs("acct_3") == []


def test_quotas_read_the_times_after_a_moment_in_order(jobs: JobStore) -> None:
    # Stored out of order (a clock set back), on two accounts, one job never finishing.
    for n, (created, finished) in enumerate([(50, 90), (10, 40), (30, NEVER_MS), (20, 60)]):
        jobs.add_job(make_job(f"{n:032x}", created_ms=T0 + created, finished_ms=T0 + finished))
    jobs.add_job(make_job("f" * 32, "acct_2", created_ms=T0 + 45, finished_ms=T0 + 95))
    assert jobs.created_after("acct_1", T0 + 20) == [T0 + 30, T0 + 50]  # strictly after
    assert jobs.created_after("acct_1", T0) == [T0 + 10, T0 + 20, T0 + 30, T0 + 50]
    assert jobs.finishing_after("acct_1", T0 + 60) == [T0 + 90, NEVER_MS + T0]
    assert jobs.finishing_after("acct_2", T0 + 95) == []
    assert jobs.created_after("acct_3", 0) == []


def test_the_history_pages_an_accounts_jobs_newest_created_first(jobs: JobStore) -> None:
    # Stored out of order (a clock set back), with a tie, on two accounts.
    for n, created in enumerate([50, 10, 30, 10]):
        jobs.add_job(make_job(f"{n:032x}", created_ms=T0 + created))
    jobs.add_job(make_job("f" * 32, "acct_2", created_ms=T0 + 40))
    since = JobFilter(created_min=T0 + 10)  # at or after
    found = jobs.find_jobs("acct_1", since)
    assert [(j.id[-1], j.plan.created_ms - T0) for j in found] == [
        ("0", 50),
        ("2", 30),
        ("3", 10),  # equal moments: the one stored last first
        ("1", 10),
    ]
    assert found[-1] == make_job("1".zfill(32), created_ms=T0 + 10)  # whole records
    assert jobs.count_jobs("acct_1", since) == 4
    # Pages: from the offset-th, at most limit; past the end, nothing.
    assert jobs.find_jobs("acct_1", since, offset=1, limit=2) == found[1:3]
    assert jobs.find_jobs("acct_1", since, offset=3) == found[3:]
    assert jobs.find_jobs("acct_1", since, offset=2, limit=100) == found[2:]
    assert jobs.find_jobs("acct_1", since, offset=4, limit=1) == []
    window = JobFilter(created_min=T0 + 10, created_max=T0 + 30)  # both inclusive
    assert [j.id[-1] for j in jobs.find_jobs("acct_1", window)] == ["2", "3", "1"]
    assert jobs.count_jobs("acct_1", window) == 3
    assert [j.id for j in jobs.find_jobs("acct_1", JobFilter(created_min=T0 + 31))] == ["0" * 32]
    assert jobs.find_jobs("acct_2", JobFilter(created_min=T0 + 41)) == []
    assert jobs.count_jobs("acct_2", JobFilter(created_min=T0 + 41)) == 0
    assert jobs.find_jobs("acct_3", JobFilter()) == []
    assert jobs.count_jobs("acct_3", JobFilter()) == 0
    # An empty range matches nothing.
    assert jobs.find_jobs("acct_1", JobFilter(created_min=T0 + 31, created_max=T0 + 30)) == []
    assert jobs.count_jobs("acct_1", JobFilter(created_min=T0 + 31, created_max=T0 + 30)) == 0


_FILTERS = [
    JobFilter(),
    JobFilter(created_min=T0 + 2, created_max=T0 + 4),
    JobFilter(started_min=T0 + 5),
    JobFilter(started_max=T0 + 4, finished_min=T0 + 9),
    JobFilter(finished_max=T0 + 8, outcome=Status.FAILED),
    JobFilter(finished_min=T0 + 6, finished_max=T0 + 10),
    JobFilter(model="wavespeed-ai/infinitetalk"),
    JobFilter(created_min=T0 + 1, model="wavespeed-ai/infinitetalk", outcome=Status.COMPLETED),
    JobFilter(outcome=Status.TIMEOUT),
]


@pytest.mark.parametrize("where", _FILTERS, ids=[f"filter{i}" for i in range(len(_FILTERS))])
def test_every_bound_of_a_filter_holds(jobs: JobStore, where: JobFilter) -> None:
    made = []
    for n in range(12):
        created = T0 + n % 6
        failed = Outcome(Status.FAILED, code=5000, error="no") if n % 3 == 0 else None
        job = make_job(f"{n:032x}", created_ms=created, finished_ms=created + n, outcome=failed)
        job = replace(
            job,
            plan=replace(job.plan, started_ms=created + n // 2),
            model="wavespeed-ai/infinitetalk" if n % 2 else job.model,
        )
        jobs.add_job(job)
        made.append(job)
    jobs.add_job(make_job("f" * 32, "acct_2", created_ms=T0 + 3))
    newest_first = sorted(
        enumerate(made), key=lambda pair: (pair[1].plan.created_ms, pair[0]), reverse=True
    )
    expected = [job for _, job in newest_first if where.matches(job)]
    assert jobs.find_jobs("acct_1", where) == expected
    assert jobs.count_jobs("acct_1", where) == len(expected)
    assert jobs.find_jobs("acct_1", where, offset=1, limit=2) == expected[1:3]


HOUR_MS = 3_600_000
_moments = st.integers(min_value=-3 * HOUR_MS, max_value=5 * HOUR_MS)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    created=st.lists(_moments, max_size=25),
    deleted=st.lists(st.integers(0, 24), max_size=6),
    low=st.none() | _moments,
    high=st.none() | _moments,
    reset=st.booleans(),
)
def test_counts_over_any_span_of_hours_are_the_jobs_found(
    store: Store,
    created: list[int],
    deleted: list[int],
    low: int | None,
    high: int | None,
    reset: bool,
) -> None:
    """Counts that stores keep per hour stay true across hours, deletions and resets."""
    store.reset()
    if reset:  # jobs, then a reset, then the jobs of this example
        store.jobs.add_job(make_job("e" * 32, created_ms=T0))
        store.reset()
    jobs = [
        make_job(f"{n:032x}", created_ms=T0 + ms, finished_ms=T0 + ms)
        for n, ms in enumerate(created)
    ]
    for job in jobs:
        store.jobs.add_job(job)
    store.jobs.delete_jobs("acct_1", [jobs[n].id for n in deleted if n < len(jobs)])
    where = JobFilter(
        created_min=None if low is None else T0 + low,
        created_max=None if high is None else T0 + high,
    )
    kept = [job for job in store.jobs.jobs("acct_1") if where.matches(job)]
    assert (
        store.jobs.count_jobs("acct_1", where)
        == len(store.jobs.find_jobs("acct_1", where))
        == len(kept)
    )


def test_deleting_jobs_takes_only_the_accounts_own(jobs: JobStore) -> None:
    mine = [make_job(f"{n:032x}", created_ms=T0 + n, finished_ms=T0 + 100 + n) for n in range(3)]
    theirs = make_job("f" * 32, "acct_2", created_ms=T0 + 1, finished_ms=T0 + 101)
    for job in (*mine, theirs):
        jobs.add_job(job)
    asked = [mine[2].id, theirs.id, "e" * 32, mine[0].id, mine[2].id]
    assert jobs.delete_jobs("acct_1", asked) == [mine[2].id, mine[0].id]  # each once, in order
    assert jobs.job(mine[0].id) is None
    assert jobs.job(mine[2].id) is None
    assert jobs.job(theirs.id) == theirs
    assert jobs.jobs("acct_1") == [mine[1]]
    assert jobs.jobs() == [mine[1], theirs]
    assert jobs.find_jobs("acct_1", JobFilter()) == [mine[1]]
    assert jobs.count_jobs("acct_1", JobFilter()) == 1
    # The quotas no longer count them.
    assert jobs.created_after("acct_1", 0) == [T0 + 1]
    assert jobs.finishing_after("acct_1", 0) == [T0 + 101]
    assert jobs.created_after("acct_2", 0) == [T0 + 1]
    assert jobs.delete_jobs("acct_2", [mine[1].id]) == []
    assert jobs.delete_jobs("acct_1", []) == []
    assert jobs.job(mine[1].id) == mine[1]


def test_deleting_many_jobs_at_once(jobs: JobStore) -> None:
    made = [make_job(f"{n:032x}") for n in range(1_203)]
    for job in made:
        jobs.add_job(job)
    doomed = [job.id for job in made[::2]]
    assert jobs.delete_jobs("acct_1", doomed) == doomed
    assert jobs.jobs("acct_1") == made[1::2]


ROUND_TRIP_JOBS = {
    "completed": make_job(prompt="two people talking", mask_image=None),
    "nsfw": make_job(outcome=Outcome(Status.COMPLETED, nsfw=True)),
    "failed-unpriced": make_job(
        outcome=Outcome(Status.FAILED, code=1402, error="left_audio: expected audio, got ü"),
        priced=False,
    ),
    "timeout": make_job(outcome=Outcome(Status.TIMEOUT, code=5004, error="Task timed out.")),
    "stuck": make_job(finished_ms=NEVER_MS),
    "odd-input": make_job(
        prompt="naïve \u2603 \x00 quotes \"'",
        nested={"list": [1, 2.5, None, True], "big": 2**62, "neg": -0.0, "tiny": 1e-300},
        enable_sync_mode=False,
    ),
}


@pytest.mark.parametrize("name", ROUND_TRIP_JOBS)
def test_jobs_round_trip_exactly(jobs: JobStore, name: str) -> None:
    job = ROUND_TRIP_JOBS[name]
    jobs.add_job(job)
    [loaded] = jobs.jobs()
    assert loaded == job
    # repr shows each Decimal's exact text: Decimal("5.000") == Decimal("5") is not enough.
    assert repr(loaded) == repr(job)
    assert repr(jobs.job(job.id)) == repr(job)


def test_a_capped_a_rejected_and_a_one_track_quote_round_trip(jobs: JobStore) -> None:
    capped = quote(Decimal("700.123456"), Decimal(0), Order.MEANWHILE)
    rejected = quote(
        Decimal(601), Decimal(1), Order.RIGHT_LEFT, BillingPolicy(over_maximum=OverMaximum.REJECT)
    )
    one_track = quote_single(Decimal("3.4"))  # a one-speaker model's: tracks=1 survives
    for index, priced in enumerate((capped, rejected, one_track)):
        job = make_job(str(index) * 32)
        jobs.add_job(Job(**{**job.__dict__, "quote": priced}))
        loaded = jobs.job(job.id)
        assert loaded is not None
        assert repr(loaded.quote) == repr(priced)


decimals = st.decimals(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False)


@given(left=decimals, right=decimals, order=st.sampled_from(Order))
def test_quotes_round_trip_through_json_exactly(
    left: Decimal, right: Decimal, order: Order
) -> None:
    original = quote(left, right, order)
    again = Quote.from_dict(original.as_dict())
    assert repr(again) == repr(original)
    assert isinstance(again, Quote)
