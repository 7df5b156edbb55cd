"""Accounts and money: balances follow the ledger in effect; webhook secrets.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_api.records import EntryKind, LedgerEntry
from mock_api.storage import AccountStore, Store
from tests.store_suites.conftest import STORES, T0


def test_accounts_open_once_and_balances_follow_the_ledger_in_effect(
    accounts: AccountStore,
) -> None:
    assert accounts.balance("acct_1", T0) == 0
    assert accounts.ledger("acct_1") == []
    accounts.open_account("acct_1", T0, 100_000_000)
    accounts.open_account("acct_1", T0 + 5, 1)  # already open: nothing happens
    charge = LedgerEntry("acct_1", T0 + 10, EntryKind.CHARGE, -75_000, "j1", "5 s")
    refund = LedgerEntry("acct_1", T0 + 1_000, EntryKind.REFUND, 75_000, "j1", "job failed: x")
    accounts.record(charge, refund)
    assert accounts.balance("acct_1", T0 + 10) == 99_925_000
    assert accounts.balance("acct_1", T0 + 999) == 99_925_000  # the refund is not in effect yet
    assert accounts.balance("acct_1", T0 + 1_000) == 100_000_000
    assert accounts.ledger("acct_1") == [
        LedgerEntry("acct_1", T0, EntryKind.OPENING, 100_000_000),
        charge,
        refund,
    ]
    assert accounts.ledger("acct_2") == []


def test_an_account_with_entries_is_open(accounts: AccountStore) -> None:
    accounts.record(LedgerEntry("acct_1", T0, EntryKind.ADJUSTMENT, 5))
    accounts.open_account("acct_1", T0, 100)
    assert accounts.balance("acct_1", T0) == 5


@pytest.mark.parametrize("kind", list(STORES))
def test_a_balance_is_the_ledger_in_effect_summed_at_any_moment(
    kind: str, request: pytest.FixtureRequest
) -> None:
    # Hypothesis runs many examples in one test: one store, emptied before each.
    store: Store = STORES[kind](request)
    steps = st.lists(
        st.tuples(st.booleans(), st.integers(-50, 50), st.integers(-(10**9), 10**9)), max_size=40
    )

    @settings(max_examples=60, deadline=None)
    @given(steps)
    def check(operations: list[tuple[bool, int, int]]) -> None:
        store.reset()
        store.accounts.open_account("acct_1", T0, 100)
        for is_record, offset, amount in operations:
            if is_record:  # entries land before, at and after moments already read
                store.accounts.record(
                    LedgerEntry("acct_1", T0 + offset, EntryKind.ADJUSTMENT, amount)
                )
            else:
                now = T0 + offset
                expected = sum(
                    e.amount_micros for e in store.accounts.ledger("acct_1") if e.at_ms <= now
                )
                assert store.accounts.balance("acct_1", now) == expected

    check()
    store.close()


def test_balances_lists_every_account_at_a_moment_in_account_order(
    accounts: AccountStore,
) -> None:
    # The dashboard's account list (GET /_mock/accounts) reads every balance at once.
    assert accounts.balances(T0) == {}
    accounts.open_account("acct_b", T0, 100_000_000)
    accounts.open_account("acct_a", T0, 5_000_000)
    charge = LedgerEntry("acct_b", T0 + 10, EntryKind.CHARGE, -75_000, "j1", "5 s")
    refund = LedgerEntry("acct_b", T0 + 1_000, EntryKind.REFUND, 75_000, "j1", "job failed: x")
    accounts.record(charge, refund)
    assert list(accounts.balances(T0 + 10).items()) == [
        ("acct_a", 5_000_000),
        ("acct_b", 99_925_000),
    ]
    assert accounts.balances(T0 + 1_000)["acct_b"] == 100_000_000  # the refund in effect
    assert accounts.balances(T0 + 5)["acct_b"] == 100_000_000  # before the charge

    def open_then_fail() -> None:
        with accounts.transaction():
            accounts.open_account("acct_c", T0, 1)
            raise RuntimeError("taken back")

    with pytest.raises(RuntimeError):
        open_then_fail()
    assert list(accounts.balances(T0 + 10)) == ["acct_a", "acct_b"]


def test_webhook_secrets_are_made_once_per_account(accounts: AccountStore) -> None:
    made: list[str] = []

    def make() -> str:
        made.append(f"whsec_{len(made)}")
        return made[-1]

    assert accounts.webhook_secret("acct_1", make) == "whsec_0"
    assert accounts.webhook_secret("acct_1", make) == "whsec_0"
    assert accounts.webhook_secret("acct_2", make) == "whsec_1"
    assert made == ["whsec_0", "whsec_1"]
