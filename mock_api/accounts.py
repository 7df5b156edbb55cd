"""Accounts and their money: keys to accounts, balances, the ledger, and quotas' settings.

One of the small services :class:`~mock_api.service.MockService` is made of.
An account is opened for an API key on its first use; its balance is its
ledger's entries in effect, summed (a failed job's refund takes effect when
the job fails, though it is recorded when the job is accepted). Money is
integer micro-dollars throughout. What it keeps, it keeps in the store
protocols of its concerns (:class:`~mock_api.storage.AccountStore`,
:class:`~mock_api.storage.LimitStore`), nothing more.
"""

from __future__ import annotations

from mock_api import billing
from mock_api.clock import Clock
from mock_api.errors import InsufficientBalance, Unauthorized
from mock_api.quotas import Limits
from mock_api.records import EntryKind, Job, LedgerEntry, account_id
from mock_api.settings import Settings
from mock_api.storage import AccountStore, LimitStore

__all__ = ["Accounts"]


class Accounts:
    """Opens accounts, reads and moves their money, and sets their quotas."""

    def __init__(
        self, settings: Settings, clock: Clock, accounts: AccountStore, limits: LimitStore
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._accounts = accounts
        self._limits = limits

    def open(self, key: str) -> str:
        """The account behind an API key, opened on first use; Unauthorized for a key
        the settings do not allow. (The HTTP edge reads the key from its header.)"""
        allowed = self._settings.api_keys
        if allowed is not None and key not in allowed:
            raise Unauthorized("invalid API key")
        account = account_id(key)
        self._accounts.open_account(
            account, self._clock.now_ms(), self._settings.initial_balance_micros
        )
        return account

    def balance(self, account: str) -> int:
        """Micro-dollars now: the ledger's entries in effect, summed."""
        return self._accounts.balance(account, self._clock.now_ms())

    def balances(self) -> dict[str, int]:
        """Every account's balance now (micro-dollars), by account, in account order."""
        return self._accounts.balances(self._clock.now_ms())

    def ledger(self, account: str) -> list[LedgerEntry]:
        """An account's ledger: charges, refunds and balance settings, in order."""
        return self._accounts.ledger(account)

    def set_balance(self, account: str, micros: int) -> None:
        """Make the balance ``micros`` now, with an adjustment entry in the ledger."""
        with self._accounts.transaction():
            now = self._clock.now_ms()
            difference = micros - self._accounts.balance(account, now)
            self._accounts.record(
                LedgerEntry(
                    account, now, EntryKind.ADJUSTMENT, difference, None, "set by the control API"
                )
            )

    def check_funds(self, account: str, cost: int, now: int) -> None:
        """InsufficientBalance unless the balance at ``now`` covers ``cost``."""
        available = self._accounts.balance(account, now)
        if cost > available:
            raise InsufficientBalance(
                f"insufficient balance: the job costs {billing.format_usd(cost)}, "
                f"the balance is {billing.format_usd(available)}"
            )

    def charge(self, job: Job, quote: billing.Quote, now: int) -> None:
        """Record a job's charge (checked by :meth:`check_funds`) and any planned refund."""
        cost = quote.cost_micros
        entries = [
            LedgerEntry(job.account, now, EntryKind.CHARGE, -cost, job.id, quote.rule),
        ]
        if job.plan.outcome.status.refunded:
            entries.append(
                LedgerEntry(
                    job.account,
                    job.plan.finished_ms,
                    EntryKind.REFUND,
                    cost,
                    job.id,
                    f"job failed: {job.plan.outcome.error}",
                )
            )
        self._accounts.record(*entries)

    # quotas

    @property
    def default_limits(self) -> Limits:
        """Every account's quotas, unless set for it: set by the control API, else settings."""
        return self._limits.limits(None) or self._settings.limits

    def limits(self, account: str) -> Limits:
        return self._limits.limits(account) or self.default_limits

    def set_limits(self, account: str | None, limits: Limits) -> None:
        """Set one account's quotas, or (``None``) every account's default."""
        self._limits.set_limits(account, limits)
