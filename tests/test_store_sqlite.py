"""The Store protocol: the same behaviour from MemoryStore and SqliteStore.

Every test taking the ``store`` fixture runs against both; the tests after them
cover what only a database file can do (several connections and processes on
one file, rollback, the WAL checkpoint, the schema version) and that records
come back from it exactly (Decimals included).
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_api import ManualClock, MockService, OffsetClock, Settings
from mock_api.billing import BillingPolicy, Order, OverMaximum, Quote, quote
from mock_api.clock import ClockState
from mock_api.faults import FaultBook, FaultKind, FaultRule
from mock_api.lifecycle import NEVER_MS, Outcome, Plan, Status
from mock_api.quotas import Limits
from mock_api.rulebook import draw
from mock_api.scenarios import Match, ScenarioBook, ScenarioRule, Then, rule_from_dict
from mock_api.store import (
    EntryKind,
    Job,
    LedgerEntry,
    MemoryStore,
    Store,
    StoredFile,
    UploadTicket,
    read_scope,
)
from mock_api.store_sqlite import SchemaMismatch, SqliteStore
from mock_api.webhooks import Attempt, Delivery, DeliveryState

T0 = 1_767_225_600_000


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite_store = SqliteStore(tmp_path / "state.db")
    yield sqlite_store
    sqlite_store.close()


def make_job(
    job_id: str = "a" * 32,
    account: str = "acct_1",
    *,
    outcome: Outcome | None = None,
    priced: bool = True,
    created_ms: int = T0,
    finished_ms: int = T0 + 1_000,
    **input_fields: object,
) -> Job:
    priced_quote = quote(Decimal("7.300"), Decimal("2.05"), Order.LEFT_RIGHT) if priced else None
    return Job(
        id=job_id,
        account=account,
        model="wavespeed-ai/infinitetalk-fast/video-to-video-multi",
        input={"order": "left_right", "seed": 7, **input_fields},
        seed=7,
        plan=Plan(
            created_ms=created_ms,
            started_ms=created_ms,
            finished_ms=finished_ms,
            outcome=outcome or Outcome(Status.COMPLETED),
        ),
        quote=priced_quote,
        output_ms=9_350,
        variant=4_294_967_295,
    )


def make_delivery(delivery_id: str = "msg_1", job_id: str = "j1", **fields: object) -> Delivery:
    values: dict[str, object] = {
        "id": delivery_id,
        "job_id": job_id,
        "account": "acct_1",
        "url": "http://127.0.0.1:9/hook",
        "base_url": "http://testserver",
        "next_attempt_ms": T0,
        **fields,
    }
    return Delivery(**values)  # type: ignore[arg-type]


# accounts and money


def test_accounts_open_once_and_balances_follow_the_ledger_in_effect(store: Store) -> None:
    assert store.balance("acct_1", T0) == 0
    assert store.ledger("acct_1") == []
    store.open_account("acct_1", T0, 100_000_000)
    store.open_account("acct_1", T0 + 5, 1)  # already open: nothing happens
    charge = LedgerEntry("acct_1", T0 + 10, EntryKind.CHARGE, -75_000, "j1", "5 s")
    refund = LedgerEntry("acct_1", T0 + 1_000, EntryKind.REFUND, 75_000, "j1", "job failed: x")
    store.record(charge, refund)
    assert store.balance("acct_1", T0 + 10) == 99_925_000
    assert store.balance("acct_1", T0 + 999) == 99_925_000  # the refund is not in effect yet
    assert store.balance("acct_1", T0 + 1_000) == 100_000_000
    assert store.ledger("acct_1") == [
        LedgerEntry("acct_1", T0, EntryKind.OPENING, 100_000_000),
        charge,
        refund,
    ]
    assert store.ledger("acct_2") == []


def test_an_account_with_entries_is_open(store: Store) -> None:
    store.record(LedgerEntry("acct_1", T0, EntryKind.ADJUSTMENT, 5))
    store.open_account("acct_1", T0, 100)
    assert store.balance("acct_1", T0) == 5


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_balance_is_the_ledger_in_effect_summed_at_any_moment(kind: str, tmp_path: Path) -> None:
    store: Store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "x.db")
    steps = st.lists(
        st.tuples(st.booleans(), st.integers(-50, 50), st.integers(-(10**9), 10**9)), max_size=40
    )

    @settings(max_examples=60, deadline=None)
    @given(steps)
    def check(operations: list[tuple[bool, int, int]]) -> None:
        store.reset()
        store.open_account("acct_1", T0, 100)
        for is_record, offset, amount in operations:
            if is_record:  # entries land before, at and after moments already read
                store.record(LedgerEntry("acct_1", T0 + offset, EntryKind.ADJUSTMENT, amount))
            else:
                now = T0 + offset
                expected = sum(e.amount_micros for e in store.ledger("acct_1") if e.at_ms <= now)
                assert store.balance("acct_1", now) == expected

    check()
    store.close()


def test_webhook_secrets_are_made_once_per_account(store: Store) -> None:
    made: list[str] = []

    def make() -> str:
        made.append(f"whsec_{len(made)}")
        return made[-1]

    assert store.webhook_secret("acct_1", make) == "whsec_0"
    assert store.webhook_secret("acct_1", make) == "whsec_0"
    assert store.webhook_secret("acct_2", make) == "whsec_1"
    assert made == ["whsec_0", "whsec_1"]


# jobs


def test_jobs_are_kept_in_order_per_account_and_never_replaced(store: Store) -> None:
    first, second, other = (
        make_job("1" * 32),
        make_job("2" * 32),
        make_job("3" * 32, "acct_2"),
    )
    for job in (first, other, second):
        store.add_job(job)
    with pytest.raises(KeyError):
        store.add_job(make_job("1" * 32, "acct_2"))
    assert store.job("1" * 32) == first
    assert store.job("f" * 32) is None
    assert store.jobs() == [first, other, second]
    assert store.jobs("acct_1") == [first, second]
    assert store.jobs("acct_3") == []


def test_quotas_read_the_times_after_a_moment_in_order(store: Store) -> None:
    # Stored out of order (a clock set back), on two accounts, one job never finishing.
    for n, (created, finished) in enumerate([(50, 90), (10, 40), (30, NEVER_MS), (20, 60)]):
        store.add_job(make_job(f"{n:032x}", created_ms=T0 + created, finished_ms=T0 + finished))
    store.add_job(make_job("f" * 32, "acct_2", created_ms=T0 + 45, finished_ms=T0 + 95))
    assert store.created_after("acct_1", T0 + 20) == [T0 + 30, T0 + 50]  # strictly after
    assert store.created_after("acct_1", T0) == [T0 + 10, T0 + 20, T0 + 30, T0 + 50]
    assert store.finishing_after("acct_1", T0 + 60) == [T0 + 90, NEVER_MS + T0]
    assert store.finishing_after("acct_2", T0 + 95) == []
    assert store.created_after("acct_3", 0) == []


def test_the_history_reads_an_accounts_jobs_since_a_moment_oldest_first(store: Store) -> None:
    # Stored out of order (a clock set back), with a tie, on two accounts.
    for n, created in enumerate([50, 10, 30, 10]):
        store.add_job(make_job(f"{n:032x}", created_ms=T0 + created))
    store.add_job(make_job("f" * 32, "acct_2", created_ms=T0 + 40))
    found = store.jobs_created_since("acct_1", T0 + 10)  # at or after
    assert [(j.id[-1], j.plan.created_ms - T0) for j in found] == [
        ("1", 10),
        ("3", 10),  # equal moments: in the order stored
        ("2", 30),
        ("0", 50),
    ]
    assert found[0] == make_job("1".zfill(32), created_ms=T0 + 10)  # whole records
    assert [j.id for j in store.jobs_created_since("acct_1", T0 + 31)] == ["0" * 32]
    assert store.jobs_created_since("acct_2", T0 + 41) == []
    assert store.jobs_created_since("acct_3", 0) == []


def test_deleting_jobs_takes_only_the_accounts_own(store: Store) -> None:
    mine = [make_job(f"{n:032x}", created_ms=T0 + n, finished_ms=T0 + 100 + n) for n in range(3)]
    theirs = make_job("f" * 32, "acct_2", created_ms=T0 + 1, finished_ms=T0 + 101)
    for job in (*mine, theirs):
        store.add_job(job)
    asked = [mine[2].id, theirs.id, "e" * 32, mine[0].id, mine[2].id]
    assert store.delete_jobs("acct_1", asked) == [mine[2].id, mine[0].id]  # each once, in order
    assert store.job(mine[0].id) is None
    assert store.job(mine[2].id) is None
    assert store.job(theirs.id) == theirs
    assert store.jobs("acct_1") == [mine[1]]
    assert store.jobs() == [mine[1], theirs]
    assert store.jobs_created_since("acct_1", 0) == [mine[1]]
    # The quotas no longer count them.
    assert store.created_after("acct_1", 0) == [T0 + 1]
    assert store.finishing_after("acct_1", 0) == [T0 + 101]
    assert store.created_after("acct_2", 0) == [T0 + 1]
    assert store.delete_jobs("acct_2", [mine[1].id]) == []
    assert store.delete_jobs("acct_1", []) == []
    assert store.job(mine[1].id) == mine[1]


def test_deleting_many_jobs_at_once(store: Store) -> None:
    jobs = [make_job(f"{n:032x}") for n in range(1_203)]
    for job in jobs:
        store.add_job(job)
    doomed = [job.id for job in jobs[::2]]
    assert store.delete_jobs("acct_1", doomed) == doomed
    assert store.jobs("acct_1") == jobs[1::2]


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
def test_jobs_round_trip_exactly(store: Store, name: str) -> None:
    job = ROUND_TRIP_JOBS[name]
    store.add_job(job)
    [loaded] = store.jobs()
    assert loaded == job
    # repr shows each Decimal's exact text: Decimal("5.000") == Decimal("5") is not enough.
    assert repr(loaded) == repr(job)
    assert repr(store.job(job.id)) == repr(job)


def test_a_capped_and_a_rejected_quote_round_trip(store: Store) -> None:
    capped = quote(Decimal("700.123456"), Decimal(0), Order.MEANWHILE)
    rejected = quote(
        Decimal(601), Decimal(1), Order.RIGHT_LEFT, BillingPolicy(over_maximum=OverMaximum.REJECT)
    )
    for index, priced in enumerate((capped, rejected)):
        job = make_job(str(index) * 32)
        store.add_job(Job(**{**job.__dict__, "quote": priced}))
        loaded = store.job(job.id)
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


# files and tickets


def test_files_keep_their_bytes(store: Store) -> None:
    data = bytes(range(256)) * 1000 + b"\x00"
    stored = StoredFile("f" * 32, "acct_1", "left.wav", "audio/wav", "audio", data, T0)
    store.add_file(stored)
    assert store.file("f" * 32) == stored
    assert store.file("0" * 32) is None


def test_tickets_are_taken_once_and_can_be_returned(store: Store) -> None:
    ticket = UploadTicket("t1", "acct_1", "f1", "a.wav", 44, "audio/wav", T0 + 3_600_000)
    store.add_ticket(ticket)
    assert store.ticket("t1") == ticket
    assert store.take_ticket("t1") == ticket
    assert store.take_ticket("t1") is None
    assert store.ticket("t1") is None
    store.return_ticket(ticket)
    assert store.take_ticket("t1") == ticket


# quotas


def test_limits_per_account_and_by_default(store: Store) -> None:
    assert store.limits("acct_1") is None
    assert store.limits(None) is None
    store.set_limits(None, Limits(2, 2))
    store.set_limits("acct_1", Limits(None, 5))
    store.set_limits("acct_1", Limits(10, None))
    assert store.limits(None) == Limits(2, 2)
    assert store.limits("acct_1") == Limits(10, None)
    assert store.limits("acct_2") is None


# rules


FULL_SCENARIO = ScenarioRule(
    id="moderation",
    then=Then.FAIL,
    match=Match(api_key="k", prompt_contains="beach", input={"order": "left_right", "seed": 3}),
    code=1200,
    message="flagged",
    queue_seconds=1.5,
    processing_seconds=0.25,
    times=3,
    share=0.5,
    seed=9,
)
FULL_FAULT = FaultRule(
    id="busy",
    kind=FaultKind.STATUS,
    method="GET",
    path="/api/v3/predictions/*",
    account="k",
    status=429,
    retry_after=2,
    latency_ms=0,
    times=None,
    share=0.25,
    seed=4,
)


def test_rules_round_trip_with_every_field(store: Store) -> None:
    scenarios, faults = ScenarioBook(store), FaultBook(store)
    scenarios.add(FULL_SCENARIO)
    scenarios.add(ScenarioRule(id="stuck", then=Then.STUCK_PROCESSING))
    faults.add(FULL_FAULT)
    faults.add(FaultRule(id="slow", kind=FaultKind.LATENCY, latency_ms=250))
    assert [r.as_dict() for r in scenarios.rules()] == [
        FULL_SCENARIO.as_dict(),
        ScenarioRule(id="stuck", then=Then.STUCK_PROCESSING).as_dict(),
    ]
    assert scenarios.rules()[0] == FULL_SCENARIO
    assert [r.as_dict() for r in faults.rules()] == [
        FULL_FAULT.as_dict(),
        FaultRule(id="slow", kind=FaultKind.LATENCY, latency_ms=250).as_dict(),
    ]


def test_rule_books_add_remove_and_clear_by_kind(store: Store) -> None:
    scenarios, faults = ScenarioBook(store), FaultBook(store)
    scenarios.add(ScenarioRule(id="a", then=Then.NSFW))
    faults.add(FaultRule(id="a", kind=FaultKind.DROP))  # another kind: the id is free
    with pytest.raises(ValueError, match="scenario rule named 'a' exists already"):
        scenarios.add(ScenarioRule(id="a", then=Then.FAIL))
    scenarios.add(ScenarioRule(id="b", then=Then.FAIL))
    assert [r.id for r in scenarios.rules()] == ["a", "b"]
    assert scenarios.remove("a") is True
    assert scenarios.remove("a") is False
    scenarios.clear()
    assert scenarios.rules() == []
    assert [r.id for r in faults.rules()] == ["a"]


def test_rules_fire_count_and_use_up_the_same_way(store: Store) -> None:
    book = ScenarioBook(store)
    book.add(ScenarioRule(id="twice", then=Then.NSFW, match=Match(prompt_contains="x"), times=2))
    book.add(ScenarioRule(id="half", then=Then.FAIL, share=0.5, seed=1))
    fired = [book.fire(lambda r: r.match("acct", {"prompt": "x"})) for _ in range(6)]
    expected: list[tuple[str, int, int] | None] = [("twice", 1, 1), ("twice", 2, 2)]
    applied = 0
    for n in range(1, 5):  # then "twice" is used up, and "half" applies by its seeded draws
        applies = draw(1, "half", n) < 0.5
        applied += applies
        expected.append(("half", n, applied) if applies else None)
    assert [(r.id, r.matched, r.applied) if r else None for r in fired] == expected
    assert 0 < applied < 4  # the seed gives a mix, so both branches are exercised
    counts = {r.id: (r.matched, r.applied) for r in book.rules()}
    assert counts == {"twice": (2, 2), "half": (4, applied)}
    assert book.fire(lambda r: False) is None
    assert {r.id: (r.matched, r.applied) for r in book.rules()} == counts


# webhook deliveries


def test_deliveries_are_claimed_once_when_due_and_released_with_their_attempts(
    store: Store,
) -> None:
    store.add_delivery(make_delivery("msg_1", "j1", next_attempt_ms=T0))
    store.add_delivery(make_delivery("msg_2", "j2", next_attempt_ms=T0 + 5_000))
    assert store.claim_due_deliveries(T0 - 1) == []
    [claimed] = store.claim_due_deliveries(T0)
    assert (claimed.id, claimed.in_flight) == ("msg_1", True)
    assert store.claim_due_deliveries(T0 + 10_000) == [
        make_delivery("msg_2", "j2", next_attempt_ms=T0 + 5_000, in_flight=True)
    ]
    assert store.claim_due_deliveries(T0 + 10_000) == []  # both in flight

    claimed.attempts.append(Attempt(T0, 500, "HTTP 500", 1.25))
    claimed.next_attempt_ms = T0 + 1_000
    claimed.in_flight = False
    assert store.deliveries(job_id="j1")[0].attempts == []  # the claim is a copy
    store.release_delivery(claimed)
    [saved] = store.deliveries(job_id="j1")
    assert saved == make_delivery(
        "msg_1", "j1", next_attempt_ms=T0 + 1_000, attempts=[Attempt(T0, 500, "HTTP 500", 1.25)]
    )
    [again] = store.claim_due_deliveries(T0 + 1_000)
    again.attempts.append(Attempt(T0 + 1_000, 200, "", 0.5))
    again.state = DeliveryState.DELIVERED
    store.release_delivery(again)
    assert store.claim_due_deliveries(T0 + 99_000) == []
    assert [d.state for d in store.deliveries(account="acct_1")] == [
        DeliveryState.DELIVERED,
        DeliveryState.PENDING,
    ]
    assert store.deliveries(account="acct_2") == []
    store.clear_deliveries()
    assert store.deliveries() == []


def test_releasing_a_delivery_forgotten_meanwhile_changes_nothing(store: Store) -> None:
    store.add_delivery(make_delivery())
    [claimed] = store.claim_due_deliveries(T0)
    store.reset()
    store.release_delivery(claimed)
    assert store.deliveries() == []


# the clock, instances, reset and transactions


def test_an_offset_clock_keeps_its_state_in_the_store(store: Store) -> None:
    assert store.clock_state() == ClockState()
    clock = OffsetClock(store)
    frozen = clock.freeze()
    assert clock.advance(ms=1_500) == frozen + 1_500
    assert store.clock_state() == ClockState(offset_ms=1_500, frozen_at_ms=frozen + 1_500)
    with pytest.raises(ValueError, match="cannot move the clock back"):
        clock.set(frozen)
    assert store.clock_state().frozen_at_ms == frozen + 1_500  # a refused change changes nothing
    assert OffsetClock(store).now_ms() == frozen + 1_500
    assert clock.resume() >= frozen + 1_500
    assert not OffsetClock(store).frozen


def test_reset_forgets_records_but_not_the_clock_or_the_instances(store: Store) -> None:
    assert [store.next_instance() for _ in range(3)] == [0, 1, 2]
    store.open_account("acct_1", T0, 100)
    store.add_job(make_job())
    store.add_file(StoredFile("f", "acct_1", "a", "b/c", "other", b"x", T0))
    store.add_ticket(UploadTicket("t", "acct_1", "f2", "a", 1, "b/c", T0))
    store.webhook_secret("acct_1", lambda: "whsec_x")
    store.set_limits(None, Limits(1, 1))
    ScenarioBook(store).add(ScenarioRule(id="a", then=Then.NSFW))
    store.add_delivery(make_delivery())
    store.update_clock_state(lambda s: s.advance(5))

    store.reset()

    assert store.ledger("acct_1") == []
    assert store.jobs() == []
    assert store.file("f") is None
    assert store.ticket("t") is None
    assert store.webhook_secret("acct_1", lambda: "whsec_new") == "whsec_new"
    assert store.limits(None) is None
    assert store.rules("scenario") == []
    assert store.deliveries() == []
    assert store.clock_state() == ClockState(offset_ms=5)
    assert store.next_instance() == 3


def test_check_then_charge_is_atomic_across_threads(store: Store) -> None:
    """16 threads each try 5 charges of 1 against a balance of 50: exactly 50 succeed."""
    store.open_account("acct_1", T0, 50)
    charged: list[int] = []

    def charge() -> None:
        for _ in range(5):
            with store.transaction():
                if store.balance("acct_1", T0) >= 1:
                    store.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -1))
                    charged.append(1)

    threads = [threading.Thread(target=charge) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(charged) == 50
    assert store.balance("acct_1", T0) == 0


def test_transactions_nest(store: Store) -> None:
    with store.transaction(), store.transaction():
        store.open_account("acct_1", T0, 7)
    assert store.balance("acct_1", T0) == 7


def _snapshot(store: Store) -> tuple[object, ...]:
    return (
        store.ledger("acct_1"),
        store.ledger("acct_2"),
        store.balance("acct_1", T0 + 5_000),
        store.balance("acct_2", T0 + 5_000),
        store.jobs(),
        store.created_after("acct_1", 0),
        store.finishing_after("acct_1", 0),
        store.file("f1"),
        store.ticket("t1"),
        store.limits("acct_1"),
        [(r.as_dict()) for r in store.rules("scenario")],
        [d.as_dict() for d in store.deliveries()],
        store.clock_state(),
        store.webhook_secret("acct_1", lambda: "whsec_new"),
    )


def test_a_transaction_that_raises_takes_back_every_write(store: Store) -> None:
    """Every store rolls back: a submission that fails halfway leaves nothing behind."""
    store.open_account("acct_1", T0, 50)
    store.add_job(make_job("j0"))
    store.add_ticket(UploadTicket("t1", "acct_1", "f1", "a.wav", 3, "audio/wav", T0))
    store.add_rule("scenario", rule_from_dict({"id": "r", "then": "fail", "times": 2}))
    store.add_delivery(make_delivery("msg_0", "j0"))
    before = _snapshot(store)

    def write_everything_then_fail() -> None:
        with store.transaction():
            store.open_account("acct_2", T0, 10)
            store.record(
                LedgerEntry("acct_1", T0, EntryKind.CHARGE, -7, "j1"),
                LedgerEntry("acct_1", T0 + 1_000, EntryKind.REFUND, 7, "j1"),
            )
            with store.transaction():  # an inner block commits with the outer one only
                store.add_job(make_job("j1", finished_ms=T0 + 9_000))
            store.add_file(StoredFile("f1", "acct_1", "a.wav", "audio/wav", "audio", b"abc", T0))
            assert store.take_ticket("t1") is not None
            store.set_limits("acct_1", Limits(1, 1))
            store.count_rule("scenario", "r", 1, 1)
            store.add_rule("scenario", rule_from_dict({"id": "r2", "then": "complete"}))
            store.add_delivery(make_delivery("msg_1", "j1"))
            store.update_clock_state(lambda state: state.advance(60_000))
            store.webhook_secret("acct_2", lambda: "whsec_2")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        write_everything_then_fail()
    assert _snapshot(store) == before
    assert store.webhook_secret("acct_2", lambda: "whsec_again") == "whsec_again"
    # And the store goes on: the same writes, not raising, are kept.
    with store.transaction():
        store.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -7, "j1"))
        store.add_job(make_job("j1"))
    assert store.balance("acct_1", T0) == 43
    assert [j.id for j in store.jobs()] == ["j0", "j1"]


def test_a_service_on_either_store_draws_the_same_seeded_ids(store: Store) -> None:
    ids = [MockService(Settings(random_seed=5), ManualClock())._new_id() for _ in range(2)]
    assert ids[0] == ids[1]  # each on a fresh MemoryStore: instance 0
    assert MockService(Settings(random_seed=5), ManualClock(), store)._new_id() == ids[0]
    # A second service on the same store (a restart, another worker) draws its own.
    assert MockService(Settings(random_seed=5), ManualClock(), store)._new_id() != ids[0]


# only a database file


def test_two_stores_on_one_file_share_everything(tmp_path: Path) -> None:
    one, two = SqliteStore(tmp_path / "x.db"), SqliteStore(tmp_path / "x.db")
    one.add_job(make_job())
    OffsetClock(one).freeze()
    assert two.job(make_job().id) == make_job()
    assert OffsetClock(two).frozen
    ScenarioBook(two).add(ScenarioRule(id="a", then=Then.NSFW))
    assert ScenarioBook(one).fire(lambda r: True) is not None
    assert [(r.matched, r.applied) for r in two.rules("scenario")] == [(1, 1)]
    one.close()
    two.close()


def _raw_sql(path: Path, sql: str) -> None:
    """A write as another process makes it: through a connection the store does not own."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(sql)


def _in_thread(action: Callable[[], object]) -> None:
    thread = threading.Thread(target=action)
    thread.start()
    thread.join()


def _opened_entries(store: SqliteStore) -> int:
    store.open_account("acct_1", T0, 100)  # asks "is the account open?" first
    return len(store.ledger("acct_1"))


# What a poll reads from a warm cache, and a change to it made by another store on
# the file (another worker) or by another thread of the same store, and by SQL as
# another process would make it.
Use = Callable[[SqliteStore], object]
CACHED_READS: dict[str, tuple[Use, Use, str]] = {
    "job": (
        lambda s: s.job(make_job().id),
        lambda s: s.reset() if s.jobs() else s.add_job(make_job()),  # jobs never change
        "DELETE FROM jobs",
    ),
    "deleted job": (
        lambda s: s.job(make_job().id),
        lambda s: s.delete_jobs("acct_1", [make_job().id]) if s.jobs() else s.add_job(make_job()),
        "DELETE FROM jobs",
    ),
    "clock": (
        lambda s: s.clock_state(),
        lambda s: OffsetClock(s).advance(5),
        "UPDATE clock SET offset_ms = offset_ms + 7",
    ),
    "account": (
        _opened_entries,
        lambda s: s.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -1)),
        "DELETE FROM ledger",
    ),
    "rules": (
        lambda s: [r.id for r in s.rules("fault")],
        lambda s: FaultBook(s).add(FaultRule(id=f"f{len(s.rules('fault'))}", kind=FaultKind.DROP)),
        "DELETE FROM rules",
    ),
}


@pytest.mark.parametrize("name", CACHED_READS)
def test_cached_reads_see_every_commit_at_once(name: str, tmp_path: Path) -> None:
    read, change, raw_change = CACHED_READS[name]
    path = tmp_path / "x.db"
    reader, writer = SqliteStore(path), SqliteStore(path)
    changes: list[Callable[[], object]] = [
        lambda: change(writer),  # another store, as another worker process
        lambda: _raw_sql(path, raw_change),  # a connection the store knows nothing of
        lambda: _in_thread(lambda: change(reader)),  # another thread of the same store
        lambda: change(reader),  # this very thread
    ]
    seen = [read(reader)]
    for make_change in changes:
        make_change()
        seen.append(read(reader))
        cold = SqliteStore(path)
        assert seen[-1] == read(cold)  # read after the warm reader: it cannot hide a staleness
        cold.close()
    assert all(before != after for before, after in itertools.pairwise(seen)), seen
    reader.close()
    writer.close()


def test_a_read_scope_asks_other_processes_once_and_its_own_process_always(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    store = SqliteStore(path)
    store.add_job(make_job())
    with read_scope():
        assert store.job(make_job().id) == make_job()
        _raw_sql(path, "DELETE FROM jobs")  # another process, mid-scope
        assert store.job(make_job().id) == make_job()  # as of the scope's first read
        OffsetClock(store).advance(1)  # this process: seen at once, and so is the rest
        assert (store.clock_state().offset_ms, store.job(make_job().id)) == (1_000, None)
    _raw_sql(path, "UPDATE clock SET offset_ms = 5")
    with read_scope():
        assert store.clock_state().offset_ms == 5  # a new scope asks again
    assert store.clock_state().offset_ms == 5  # and outside any scope, every read does
    store.close()


def test_reads_in_a_transaction_see_its_own_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    assert store.job(make_job().id) is None  # cached as absent
    with store.transaction():
        store.add_job(make_job())
        assert store.job(make_job().id) == make_job()
        OffsetClock(store).advance(1)
        assert store.clock_state().offset_ms == 1_000
    assert store.job(make_job().id) == make_job()
    store.close()


def test_a_failed_transaction_rolls_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.open_account("acct_1", T0, 100)

    def charge_then_fail() -> None:
        with store.transaction():
            store.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -100))
            store.add_job(make_job())
            raise RuntimeError("no funds after all")

    with pytest.raises(RuntimeError):
        charge_then_fail()
    assert store.balance("acct_1", T0) == 100
    assert store.jobs() == []
    store.close()


def test_claims_from_two_stores_never_overlap(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "x.db") for _ in range(4)]
    for index in range(40):
        stores[0].add_delivery(make_delivery(f"msg_{index}", f"j{index}"))
    claimed: list[str] = []

    def claim(store: SqliteStore) -> None:
        for _ in range(20):
            claimed.extend(d.id for d in store.claim_due_deliveries(T0))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(f"msg_{i}" for i in range(40))
    for store in stores:
        store.close()


def test_a_claim_whose_process_died_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.add_delivery(make_delivery())
    monkeypatch.setattr("mock_api.store_sqlite.CLAIM_SECONDS", -1.0)  # expired at once
    assert len(store.claim_due_deliveries(T0)) == 1
    assert len(store.claim_due_deliveries(T0)) == 1  # never released: claimable again
    store.close()


_CHARGE = """
import sys
from mock_api.store import EntryKind, LedgerEntry
from mock_api.store_sqlite import SqliteStore
store, charged = SqliteStore(sys.argv[1]), 0
print("ready", flush=True)
sys.stdin.readline()  # start together
for _ in range(200):
    with store.transaction():
        if store.balance("acct_1", 0) >= 1:
            store.record(LedgerEntry("acct_1", 0, EntryKind.CHARGE, -1))
            charged += 1
store.close()
print(charged)
"""


def test_check_then_charge_is_atomic_across_processes(tmp_path: Path) -> None:
    """Three processes each try 200 charges of 1 against a balance of 300: exactly 300 succeed."""
    path = str(tmp_path / "x.db")
    store = SqliteStore(path)
    store.open_account("acct_1", 0, 300)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CHARGE, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    charged = [int(process.communicate("go\n", timeout=30)[0]) for process in processes]
    assert sum(charged) == 300  # so at least two processes charged
    assert store.balance("acct_1", 0) == 0
    assert len(store.ledger("acct_1")) == 301
    store.close()


def test_close_checkpoints_the_wal_and_the_store_reopens(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SqliteStore(path)
    store.add_job(make_job())
    store.close()
    wal = tmp_path / "x.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(path) as conn:  # everything is in the main file
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (1,)
    assert store.jobs() == [make_job()]  # used again: reconnects
    store.close()
    store.close()


def test_a_file_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        SqliteStore(path)


@pytest.mark.parametrize("path", [":memory:", ""])
def test_memory_is_for_memory_store(path: str) -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        SqliteStore(path)


def test_a_reset_in_a_transaction_that_raises_is_taken_back(store: Store) -> None:
    store.open_account("acct_1", T0, 50)
    store.add_job(make_job("j0"))

    def reset_then_fail() -> None:
        with store.transaction():
            store.reset()
            store.open_account("acct_2", T0, 1)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        reset_then_fail()
    assert [j.id for j in store.jobs()] == ["j0"]
    assert store.balance("acct_1", T0) == 50
    assert store.ledger("acct_2") == []
    with store.transaction():  # the store's transactions still work
        store.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -7))
    assert store.balance("acct_1", T0) == 43
