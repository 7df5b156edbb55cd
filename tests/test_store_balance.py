"""MemoryStore keeps balances as it goes; they must equal the ledger summed at any moment."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_api.lifecycle import COMPLETED, Plan
from mock_api.records import EntryKind, Job, LedgerEntry
from mock_api.storage.memory import MemoryStore

T0 = 1_767_225_600_000

# Record an entry at an offset from T0, or read the balance at an offset: in any
# order, so reads go back and forth in time and entries land before, at and
# after moments already read.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("record"), st.integers(-50, 50), st.integers(-(10**6), 10**6)),
        st.tuples(st.just("read"), st.integers(-60, 60), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_balance_is_the_ledger_in_effect_summed(steps: list[tuple[str, int, int]]) -> None:
    store = MemoryStore()
    store.accounts.open_account("acct_1", T0, 100)
    for op, offset, amount in steps:
        if op == "record":
            store.accounts.record(LedgerEntry("acct_1", T0 + offset, EntryKind.ADJUSTMENT, amount))
        else:
            now = T0 + offset
            expected = sum(
                e.amount_micros for e in store.accounts.ledger("acct_1") if e.at_ms <= now
            )
            assert store.accounts.balance("acct_1", now) == expected
    assert store.accounts.balance("acct_2", T0) == 0


def test_reset_forgets_balances_and_the_jobs_of_each_account() -> None:
    store = MemoryStore()
    store.accounts.open_account("acct_1", T0, 100)
    assert store.accounts.balance("acct_1", T0) == 100
    store.reset()
    assert store.accounts.balance("acct_1", T0) == 0
    assert store.jobs.jobs("acct_1") == []


def _job(i: int) -> Job:
    plan = Plan(T0 + i, T0 + i, T0 + i, COMPLETED)
    return Job(f"j{i}", f"acct_{i % 3}", "model", {}, i, plan, None, 1000, i)


def test_jobs_of_an_account_are_its_own_in_the_order_stored() -> None:
    store = MemoryStore()
    made = [_job(i) for i in range(9)]
    for one in made:
        store.jobs.add_job(one)
    assert store.jobs.jobs() == made
    for n in range(3):
        assert store.jobs.jobs(f"acct_{n}") == [j for j in made if j.account == f"acct_{n}"]
    assert store.jobs.jobs("acct_9") == []
