"""The store as a whole: the clock's state, instances, reset, transactions that nest and roll back.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

import threading

import pytest

from mock_api import ManualClock, MockService, OffsetClock, Settings
from mock_api.clock import ClockState
from mock_api.quotas import Limits
from mock_api.records import EntryKind, JobFilter, LedgerEntry, StoredFile, UploadTicket
from mock_api.scenarios import ScenarioBook, ScenarioRule, Then, rule_from_dict
from mock_api.storage import Store
from tests.store_suites.conftest import T0, make_delivery, make_job


def test_an_offset_clock_keeps_its_state_in_the_store(store: Store) -> None:
    assert store.clock.clock_state() == ClockState()
    clock = OffsetClock(store.clock)
    frozen = clock.freeze()
    assert clock.advance(ms=1_500) == frozen + 1_500
    assert store.clock.clock_state() == ClockState(offset_ms=1_500, frozen_at_ms=frozen + 1_500)
    with pytest.raises(ValueError, match="cannot move the clock back"):
        clock.set(frozen)
    assert (
        store.clock.clock_state().frozen_at_ms == frozen + 1_500
    )  # a refused change changes nothing
    assert OffsetClock(store.clock).now_ms() == frozen + 1_500
    assert clock.resume() >= frozen + 1_500
    assert not OffsetClock(store.clock).frozen


def test_reset_forgets_records_but_not_the_clock_or_the_instances(store: Store) -> None:
    assert [store.next_instance() for _ in range(3)] == [0, 1, 2]
    store.accounts.open_account("acct_1", T0, 100)
    store.jobs.add_job(make_job())
    store.files.add_file(StoredFile("f", "acct_1", "a", "b/c", "other", b"x", T0))
    store.files.add_ticket(UploadTicket("t", "acct_1", "f2", "a", 1, "b/c", T0))
    store.accounts.webhook_secret("acct_1", lambda: "whsec_x")
    store.limits.set_limits(None, Limits(1, 1))
    ScenarioBook(store.rules).add(ScenarioRule(id="a", then=Then.NSFW))
    store.deliveries.add_delivery(make_delivery())
    store.clock.update_clock_state(lambda s: s.advance(5))

    store.reset()

    assert store.accounts.ledger("acct_1") == []
    assert store.jobs.jobs() == []
    assert store.files.file("f") is None
    assert store.files.ticket("t") is None
    assert store.accounts.webhook_secret("acct_1", lambda: "whsec_new") == "whsec_new"
    assert store.limits.limits(None) is None
    assert store.rules.rules("scenario") == []
    assert store.deliveries.deliveries() == []
    assert store.clock.clock_state() == ClockState(offset_ms=5)
    assert store.next_instance() == 3


def test_check_then_charge_is_atomic_across_threads(store: Store) -> None:
    """16 threads each try 5 charges of 1 against a balance of 50: exactly 50 succeed."""
    store.accounts.open_account("acct_1", T0, 50)
    charged: list[int] = []

    def charge() -> None:
        for _ in range(5):
            with store.transaction():
                if store.accounts.balance("acct_1", T0) >= 1:
                    store.accounts.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -1))
                    charged.append(1)

    threads = [threading.Thread(target=charge) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(charged) == 50
    assert store.accounts.balance("acct_1", T0) == 0


def test_transactions_nest(store: Store) -> None:
    with store.transaction(), store.transaction():
        store.accounts.open_account("acct_1", T0, 7)
    assert store.accounts.balance("acct_1", T0) == 7


def _snapshot(store: Store) -> tuple[object, ...]:
    return (
        store.accounts.ledger("acct_1"),
        store.accounts.ledger("acct_2"),
        store.accounts.balance("acct_1", T0 + 5_000),
        store.accounts.balance("acct_2", T0 + 5_000),
        store.jobs.jobs(),
        store.jobs.created_after("acct_1", 0),
        store.jobs.finishing_after("acct_1", 0),
        store.files.file("f1"),
        store.files.ticket("t1"),
        store.limits.limits("acct_1"),
        [(r.as_dict()) for r in store.rules.rules("scenario")],
        [d.as_dict() for d in store.deliveries.deliveries()],
        store.clock.clock_state(),
        store.accounts.webhook_secret("acct_1", lambda: "whsec_new"),
    )


def test_a_transaction_that_raises_takes_back_every_write(store: Store) -> None:
    """Every store rolls back: a submission that fails halfway leaves nothing behind."""
    store.accounts.open_account("acct_1", T0, 50)
    store.jobs.add_job(make_job("j0"))
    store.files.add_ticket(UploadTicket("t1", "acct_1", "f1", "a.wav", 3, "audio/wav", T0))
    store.rules.add_rule("scenario", rule_from_dict({"id": "r", "then": "fail", "times": 2}))
    store.deliveries.add_delivery(make_delivery("msg_0", "j0"))
    before = _snapshot(store)

    def write_everything_then_fail() -> None:
        with store.transaction():
            store.accounts.open_account("acct_2", T0, 10)
            store.accounts.record(
                LedgerEntry("acct_1", T0, EntryKind.CHARGE, -7, "j1"),
                LedgerEntry("acct_1", T0 + 1_000, EntryKind.REFUND, 7, "j1"),
            )
            with store.transaction():  # an inner block commits with the outer one only
                store.jobs.add_job(make_job("j1", finished_ms=T0 + 9_000))
            store.files.add_file(
                StoredFile("f1", "acct_1", "a.wav", "audio/wav", "audio", b"abc", T0)
            )
            assert store.files.take_ticket("t1") is not None
            store.limits.set_limits("acct_1", Limits(1, 1))
            store.rules.count_rule("scenario", "r", 1, 1)
            store.rules.add_rule("scenario", rule_from_dict({"id": "r2", "then": "complete"}))
            store.deliveries.add_delivery(make_delivery("msg_1", "j1"))
            store.clock.update_clock_state(lambda state: state.advance(60_000))
            store.accounts.webhook_secret("acct_2", lambda: "whsec_2")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        write_everything_then_fail()
    assert _snapshot(store) == before
    assert store.accounts.webhook_secret("acct_2", lambda: "whsec_again") == "whsec_again"
    # And the store goes on: the same writes, not raising, are kept.
    with store.transaction():
        store.accounts.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -7, "j1"))
        store.jobs.add_job(make_job("j1"))
    assert store.accounts.balance("acct_1", T0) == 43
    assert [j.id for j in store.jobs.jobs()] == ["j0", "j1"]


def test_a_service_on_either_store_draws_the_same_seeded_ids(store: Store) -> None:
    ids = [MockService(Settings(random_seed=5), ManualClock())._new_id() for _ in range(2)]
    assert ids[0] == ids[1]  # each on a fresh MemoryStore: instance 0
    assert MockService(Settings(random_seed=5), ManualClock(), store)._new_id() == ids[0]
    # A second service on the same store (a restart, another worker) draws its own.
    assert MockService(Settings(random_seed=5), ManualClock(), store)._new_id() != ids[0]


def test_a_reset_in_a_transaction_that_raises_is_taken_back(store: Store) -> None:
    store.accounts.open_account("acct_1", T0, 50)
    store.jobs.add_job(make_job("j0"))

    def reset_then_fail() -> None:
        with store.transaction():
            store.reset()
            store.accounts.open_account("acct_2", T0, 1)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        reset_then_fail()
    assert [j.id for j in store.jobs.jobs()] == ["j0"]
    assert store.accounts.balance("acct_1", T0) == 50
    assert store.accounts.ledger("acct_2") == []
    with store.transaction():  # the store's transactions still work
        store.accounts.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -7))
    assert store.accounts.balance("acct_1", T0) == 43


def test_a_deletion_in_a_transaction_that_raises_is_taken_back(store: Store) -> None:
    jobs = [make_job(f"{n:032x}", created_ms=T0 + n, finished_ms=T0 + 10 + n) for n in range(3)]
    for job in jobs:
        store.jobs.add_job(job)

    def delete_then_fail() -> None:
        with store.transaction():
            assert store.jobs.delete_jobs("acct_1", [jobs[0].id, jobs[2].id]) == [
                jobs[0].id,
                jobs[2].id,
            ]
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        delete_then_fail()
    assert store.jobs.jobs("acct_1") == jobs  # in the order stored
    assert store.jobs.job(jobs[2].id) == jobs[2]
    assert store.jobs.find_jobs("acct_1", JobFilter()) == jobs[::-1]
    assert store.jobs.count_jobs("acct_1", JobFilter(created_min=T0 + 1)) == 2
    assert store.jobs.created_after("acct_1", T0 - 1) == [T0, T0 + 1, T0 + 2]
    assert store.jobs.finishing_after("acct_1", T0) == [T0 + 10, T0 + 11, T0 + 12]
    assert store.jobs.delete_jobs("acct_1", [jobs[1].id]) == [jobs[1].id]  # and it goes on
    assert store.jobs.jobs("acct_1") == [jobs[0], jobs[2]]
