"""Quotas per account and by default.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from mock_api.quotas import Limits
from mock_api.store import (
    LimitStore,
)


def test_limits_per_account_and_by_default(store: LimitStore) -> None:
    assert store.limits("acct_1") is None
    assert store.limits(None) is None
    store.set_limits(None, Limits(2, 2))
    store.set_limits("acct_1", Limits(None, 5))
    store.set_limits("acct_1", Limits(10, None))
    assert store.limits(None) == Limits(2, 2)
    assert store.limits("acct_1") == Limits(10, None)
    assert store.limits("acct_2") is None
