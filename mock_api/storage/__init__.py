"""Where the fake's state lives: one protocol per concern, and the stores that keep it.

A store is one object per concern, sharing one connection and one transaction:

=================  ==================================================  ===========================
``store.accounts``  accounts and money: the ledger, webhook secrets     :class:`AccountStore`
``store.jobs``      jobs, by account; the times quotas and history read  :class:`JobStore`
``store.files``     uploaded files and upload tickets                    :class:`FileStore`
``store.limits``    quotas, per account and the default                  :class:`LimitStore`
``store.rules``     scenario and fault rules with their counters         :class:`RuleStore`
``store.deliveries`` webhook deliveries and their claims                 :class:`DeliveryStore`
``store.clock``     an :class:`~mock_api.clock.OffsetClock`'s state      :class:`ClockStateStore`
=================  ==================================================  ===========================

Each part of the service is handed the concerns it needs and nothing more
(``tests/test_architecture.py`` checks it), and each concern has its own
behavioural suite in ``tests/store_suites/`` that every store passes, so a new
store is written, and tested, one concern at a time.

Three stores implement them, each a package module:

* :mod:`mock_api.storage.memory`: this process's memory, one lock; what
  ``create_app()`` and the pytest plugin use;
* :mod:`mock_api.storage.sqlite`: a SQLite file that survives restarts and that
  the processes of one machine share; what ``wavespeed-mock serve`` uses;
* :mod:`mock_api.storage.postgres`: a PostgreSQL database that instances on
  several machines share (``serve --db postgresql://...``).

The two SQL stores share their concerns' statements (:mod:`mock_api.storage.sql`)
and differ in connections, locking, schema and how they learn of others' commits.

Storage knows no domain: it imports the records it stores
(:mod:`mock_api.records`, and the records of the pure cores) and nothing else
of the package but the error a store raises when it cannot answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from mock_api.quotas import Limits
from mock_api.records import (
    ClockState,
    Delivery,
    Job,
    JobFilter,
    LedgerEntry,
    Rule,
    StoredFile,
    UploadTicket,
)

__all__ = [
    "READ_SCOPE",
    "AccountStore",
    "ClockStateStore",
    "Concern",
    "DeliveryStore",
    "FileStore",
    "JobStore",
    "LimitStore",
    "RuleStore",
    "Store",
    "read_scope",
    "redact",
]

#: The read scope the current context is in (a token: a store remembers, per thread,
#: the scope it last checked for other processes' commits in). None: not in a scope.
READ_SCOPE: ContextVar[object | None] = ContextVar("read_scope", default=None)


@contextlib.contextmanager
def read_scope() -> Iterator[None]:
    """A block of reads that asks once whether other processes changed the state.

    A store shared between processes (SQLite, PostgreSQL) checks for their
    commits before every read; inside a scope it checks at the first read only,
    and the later reads see the state as of that check or newer, as if the whole
    block had run at that moment. Changes made by this process are seen at once
    either way. The app wraps each request in one, so a request sees every
    commit that finished before it began; code that waits inside a request for
    another process (sync mode) opens a new scope each time it looks.
    """
    token = READ_SCOPE.set(object())
    try:
        yield
    finally:
        READ_SCOPE.reset(token)


class Concern(Protocol):
    """What every concern offers: the store's one transaction.

    Every method of every concern is atomic on its own. ``transaction()`` makes
    a block of calls atomic too, across concerns ("check the balance, then
    charge, then store the job"): no other thread or process sharing the store
    sees or changes the state in between, and when the block raises, every
    write it made is undone. Blocks must not await; transactions nest (the
    outermost commits or rolls back).
    """

    def transaction(self) -> AbstractContextManager[object]: ...


class AccountStore(Concern, Protocol):
    """Accounts and money: the ledger (balances are its entries in effect, summed)."""

    def open_account(self, account: str, now_ms: int, opening_micros: int) -> None: ...
    def balance(self, account: str, now_ms: int) -> int: ...
    def ledger(self, account: str) -> list[LedgerEntry]: ...
    def record(self, *entries: LedgerEntry) -> None: ...
    def webhook_secret(self, account: str, make: Callable[[], str]) -> str: ...
    def balances(self, now_ms: int) -> dict[str, int]:
        """Every account's balance at ``now_ms``, by account, in account order (one snapshot)."""
        ...


class JobStore(Concern, Protocol):
    """Jobs, by account, in submission order; the times the quotas and the history read."""

    def add_job(self, job: Job) -> None: ...
    def job(self, job_id: str) -> Job | None: ...
    def jobs(self, account: str | None = None) -> list[Job]: ...
    def created_after(self, account: str, after_ms: int) -> list[int]:
        """When the account's jobs created after ``after_ms`` were created (the rate quota)."""
        ...

    def finishing_after(self, account: str, after_ms: int) -> list[int]:
        """When the account's jobs that finish after ``after_ms`` finish (the concurrency quota)."""
        ...

    def count_jobs(self, account: str, where: JobFilter) -> int:
        """How many of the account's jobs match ``where`` (the history's total).

        Bounded by creation alone, it costs about the same however many jobs the
        account has; other bounds are checked job by job, over the jobs the
        creation bounds leave.
        """
        ...

    def find_jobs(
        self, account: str, where: JobFilter, *, offset: int = 0, limit: int | None = None
    ) -> list[Job]:
        """The account's jobs that match ``where``, newest created first, from the
        ``offset``-th on, at most ``limit`` of them (the history's pages).

        Jobs created in the same millisecond come newest stored first, so the order
        is total and the same on every call: pages never overlap nor skip. A page
        is read through an index on creation: it costs about the same however many
        jobs the account has, but for the jobs skipped to reach it.
        """
        ...

    def delete_jobs(self, account: str, job_ids: list[str]) -> list[str]:
        """Forget those of ``job_ids`` that are the account's jobs; returns the ids forgotten.

        Atomic. Ids of other accounts' jobs and unknown ids are left alone and not
        returned. A deleted job leaves the quotas' counts too (its times go with
        it); its ledger entries stay, as the money moved.
        """
        ...


class FileStore(Concern, Protocol):
    """Uploaded files, and upload tickets (each taken once, or returned)."""

    def add_file(self, stored: StoredFile) -> None: ...
    def file(self, file_id: str) -> StoredFile | None: ...
    def add_ticket(self, ticket: UploadTicket) -> None: ...
    def ticket(self, ticket_id: str) -> UploadTicket | None: ...
    def take_ticket(self, ticket_id: str) -> UploadTicket | None: ...
    def return_ticket(self, ticket: UploadTicket) -> None: ...


class LimitStore(Concern, Protocol):
    """Quotas: per account, and the default for every account."""

    def limits(self, account: str | None) -> Limits | None:
        """An account's quotas (``None``: every account's default), if set."""
        ...

    def set_limits(self, account: str | None, limits: Limits) -> None: ...


class RuleStore(Concern, Protocol):
    """Where rule books keep their rules, by kind, in the order they were added."""

    def rules(self, kind: str) -> list[Rule]: ...
    def add_rule(self, kind: str, rule: Rule) -> bool:
        """Append ``rule``; ``False`` (and no change) if its id is taken."""
        ...

    def remove_rule(self, kind: str, rule_id: str) -> bool: ...
    def clear_rules(self, kind: str) -> None: ...
    def count_rule(self, kind: str, rule_id: str, matched: int, applied: int) -> None:
        """Set a rule's counters."""
        ...


class DeliveryStore(Concern, Protocol):
    """Where deliveries are kept; each method works on copies, never live records."""

    def add_delivery(self, delivery: Delivery) -> None: ...
    def deliveries(
        self, *, job_id: str | None = None, account: str | None = None
    ) -> list[Delivery]: ...
    def claim_due_deliveries(self, now_ms: int, *, lease_seconds: float) -> list[Delivery]:
        """Mark the pending deliveries due at ``now_ms`` in flight, atomically; return them.

        A store other processes share lets a claim lapse after ``lease_seconds`` of
        wall time (its process may have died), and the delivery is due again; each
        due delivery is claimed by one caller at a time, whichever process asks.
        """
        ...

    def release_delivery(self, delivery: Delivery) -> None:
        """Save a claimed delivery's state, attempts and next attempt; end its claim."""
        ...

    def clear_deliveries(self) -> None: ...


class ClockStateStore(Protocol):
    """Keeps a :class:`~mock_api.records.ClockState`; :meth:`update_clock_state` is atomic."""

    def clock_state(self) -> ClockState: ...

    def update_clock_state(self, change: Callable[[ClockState], ClockState]) -> ClockState:
        """Apply ``change`` to the current state atomically; returns the new state."""
        ...


class Store(Concern, Protocol):
    """What the service needs from its state, wherever that state lives: every concern,
    one transaction, and the store's lifetime."""

    #: Other processes may change this state too. The app then makes each request
    #: a :func:`read_scope`, so the store asks them once per request whether they
    #: did, not before every read; a store no one else writes to needs no scope.
    shared: bool
    #: Its calls may wait (on a network, on another instance's lock): the app then runs
    #: requests and background work off the event loop (:mod:`mock_api.offload`).
    blocking: bool

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def jobs(self) -> JobStore: ...
    @property
    def files(self) -> FileStore: ...
    @property
    def limits(self) -> LimitStore: ...
    @property
    def rules(self) -> RuleStore: ...
    @property
    def deliveries(self) -> DeliveryStore: ...
    @property
    def clock(self) -> ClockStateStore: ...

    def close(self) -> None:
        """Release files and connections; the store opens them again if used."""
        ...

    def reset(self) -> None:
        """Forget all records; the clock's state and the instance count stay."""
        ...

    def next_instance(self) -> int:
        """0 for the first service on this store, then 1, 2...: salts seeded ids."""
        ...


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))
