"""Quotas per account and by default.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from mock_api.quotas import Limits
from mock_api.storage import LimitStore


def test_limits_per_account_and_by_default(limits: LimitStore) -> None:
    assert limits.limits("acct_1") is None
    assert limits.limits(None) is None
    limits.set_limits(None, Limits(2, 2))
    limits.set_limits("acct_1", Limits(None, 5))
    limits.set_limits("acct_1", Limits(10, None))
    assert limits.limits(None) == Limits(2, 2)
    assert limits.limits("acct_1") == Limits(10, None)
    assert limits.limits("acct_2") is None
