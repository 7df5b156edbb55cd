"""Accounts' money and keys, which mutation testing (``benchmarks/mutation.py``) found
tested only through the HTTP layer, or not at all: here directly, on the memory store.

New accounts start with $100 (README, ``--initial-balance``); money is micro-dollars.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mock_api.accounts import Accounts
from mock_api.billing import Order, quote
from mock_api.clock import ManualClock
from mock_api.errors import InsufficientBalance, Unauthorized
from mock_api.lifecycle import COMPLETED, Outcome, Plan, Status
from mock_api.quotas import UNLIMITED, Limits
from mock_api.records import EntryKind, Job, LedgerEntry, account_id
from mock_api.settings import Settings
from mock_api.storage.memory import MemoryStore


def _accounts(**settings: object) -> tuple[Accounts, ManualClock]:
    clock = ManualClock(1_000_000)
    store = MemoryStore()
    accounts = Accounts(Settings(**settings), clock, store.accounts, store.limits)  # type: ignore[arg-type]
    return accounts, clock


def _job(account: str, outcome: Outcome, finished_ms: int) -> Job:
    plan = Plan(1_000_000, 1_000_500, finished_ms, outcome)
    q = quote(Decimal(10), Decimal(0), Order.MEANWHILE)  # 10 s: $0.15
    return Job("job1", account, "model", {}, 7, plan, q, 10_000, 0)


def test_a_new_account_opens_with_100_dollars() -> None:
    accounts, _ = _accounts()
    account = accounts.open("alice")
    assert account == account_id("alice")
    assert accounts.balance(account) == 100_000_000
    assert accounts.ledger(account) == [
        LedgerEntry(account, 1_000_000, EntryKind.OPENING, 100_000_000)
    ]
    accounts.open("alice")  # opened once: the second use changes nothing
    assert len(accounts.ledger(account)) == 1


def test_each_key_is_its_own_account() -> None:
    accounts, _ = _accounts()
    assert accounts.open("alice") != accounts.open("bob")


def test_restricted_keys() -> None:
    accounts, _ = _accounts(api_keys=frozenset({"good"}))
    assert accounts.open("good") == account_id("good")
    with pytest.raises(Unauthorized, match=r"^invalid API key$"):
        accounts.open("bad")


def test_a_balance_one_micro_dollar_short_is_refused() -> None:
    accounts, clock = _accounts(initial_balance_micros=75_000)
    account = accounts.open("k")
    accounts.check_funds(account, 75_000, clock.now_ms())  # exactly enough
    accounts.check_funds(account, 74_999, clock.now_ms())
    accounts.check_funds(account, 0, clock.now_ms())
    with pytest.raises(
        InsufficientBalance,
        match=r"^insufficient balance: the job costs \$0.075001, the balance is \$0.075$",
    ):
        accounts.check_funds(account, 75_001, clock.now_ms())


def test_funds_are_checked_at_the_moment_given() -> None:
    accounts, clock = _accounts(initial_balance_micros=0)
    account = accounts.open("k")
    accounts.set_balance(account, 75_000)
    accounts.check_funds(account, 75_000, clock.now_ms())
    with pytest.raises(InsufficientBalance):
        accounts.check_funds(account, 1, clock.now_ms() - 1)  # before the adjustment


def test_setting_the_balance_records_the_difference() -> None:
    accounts, clock = _accounts()
    account = accounts.open("k")
    clock.advance(ms=5)
    accounts.set_balance(account, 2_500_000)
    assert accounts.balance(account) == 2_500_000
    assert accounts.ledger(account)[-1] == LedgerEntry(
        account, 1_000_005, EntryKind.ADJUSTMENT, -97_500_000, None, "set by the control API"
    )
    accounts.set_balance(account, 3_000_000)
    assert accounts.ledger(account)[-1].amount_micros == 500_000
    assert accounts.balance(account) == 3_000_000


def test_a_completed_job_is_charged_once() -> None:
    accounts, clock = _accounts()
    account = accounts.open("k")
    job = _job(account, COMPLETED, 1_002_000)
    accounts.charge(job, job.quote, clock.now_ms())  # type: ignore[arg-type]
    assert accounts.ledger(account)[1:] == [
        LedgerEntry(
            account,
            1_000_000,
            EntryKind.CHARGE,
            -150_000,
            "job1",
            job.quote.rule,  # type: ignore[union-attr]
        )
    ]
    assert accounts.balance(account) == 100_000_000 - 150_000


@pytest.mark.parametrize("status", [Status.FAILED, Status.TIMEOUT, Status.CANCELLED])
def test_a_failed_job_is_refunded_when_it_fails(status: Status) -> None:
    accounts, clock = _accounts()
    account = accounts.open("k")
    job = _job(account, Outcome(status, code=5000, error="boom"), 1_002_000)
    accounts.charge(job, job.quote, clock.now_ms())  # type: ignore[arg-type]
    charge, refund = accounts.ledger(account)[1:]
    assert (charge.kind, charge.amount_micros, charge.at_ms) == (
        EntryKind.CHARGE,
        -150_000,
        1_000_000,
    )
    assert refund == LedgerEntry(
        account, 1_002_000, EntryKind.REFUND, 150_000, "job1", "job failed: boom"
    )
    assert accounts.balance(account) == 100_000_000 - 150_000  # charged until it fails
    clock.set(1_002_000)
    assert accounts.balance(account) == 100_000_000


def test_quotas_are_the_accounts_then_the_default_then_the_settings() -> None:
    bronze = Limits(videos_per_minute=2, max_concurrent=2)
    accounts, _ = _accounts(limits=bronze)
    alice, bob = accounts.open("alice"), accounts.open("bob")
    assert accounts.default_limits == bronze
    assert accounts.limits(alice) == bronze
    default = Limits(videos_per_minute=10, max_concurrent=None)
    accounts.set_limits(None, default)
    assert (accounts.default_limits, accounts.limits(alice)) == (default, default)
    accounts.set_limits(alice, UNLIMITED)
    assert (accounts.limits(alice), accounts.limits(bob)) == (UNLIMITED, default)
