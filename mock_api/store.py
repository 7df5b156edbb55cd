"""The fake's state: accounts and their ledgers, jobs, files and upload tickets,
quotas, rules, webhook deliveries and the clock's state.

:class:`Store` is the interface; two classes implement it. :class:`MemoryStore`
keeps everything in one process, guarded by one lock, with named operations so
a single app can serve many tests (:meth:`MemoryStore.reset`); it is what
``create_app()`` and the pytest plugin use. :class:`~mock_api.store_sqlite.SqliteStore`
keeps the same records in a SQLite file that survives restarts and that several
server processes can share; it is what ``wavespeed-mock serve`` uses. The same
behavioural tests run against both (``tests/test_store_sqlite.py``).

Records are frozen dataclasses: a job never changes after it is stored, because
everything about its future is already in its plan.

Money: a balance is never stored, only derived from the ledger, so it cannot
drift from the entries that explain it. Entries carry the moment they take
effect; a refund for a job that will fail is written at submission with the
moment of the failure, and counts once the clock reaches it.
"""

from __future__ import annotations

import bisect
import contextlib
import enum
import functools
import hashlib
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from mock_api.billing import Quote
from mock_api.clock import ClockState, ClockStateStore
from mock_api.lifecycle import Plan, Status
from mock_api.quotas import Limits
from mock_api.rulebook import Rule, RuleStore, with_counts
from mock_api.webhooks import Delivery, DeliveryState, DeliveryStore

MediaKind = Literal["image", "video", "audio", "other"]


@functools.lru_cache(maxsize=4096)  # every request asks; a hash per request was 2% of a GET
def account_id(api_key: str) -> str:
    """The account an API key stands for.

    The key itself is never stored: only this memo of recent keys, in the
    process's memory, holds it.
    """
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:24]


#: The read scope the current context is in (a token: a store remembers, per thread,
#: the scope it last checked for other processes' commits in). None: not in a scope.
READ_SCOPE: ContextVar[object | None] = ContextVar("read_scope", default=None)


@contextlib.contextmanager
def read_scope() -> Iterator[None]:
    """A block of reads that asks once whether other processes changed the state.

    A store shared between processes (:class:`~mock_api.store_sqlite.SqliteStore`)
    checks for their commits before every read; inside a scope it checks at the
    first read only, and the later reads see the state as of that check or newer,
    as if the whole block had run at that moment. Changes made by this process
    are seen at once either way. The app wraps each request in one, so a request
    sees every commit that finished before it began; code that waits inside a
    request for another process (sync mode) opens a new scope each time it looks.
    """
    token = READ_SCOPE.set(object())
    try:
        yield
    finally:
        READ_SCOPE.reset(token)


class EntryKind(enum.StrEnum):
    OPENING = "opening"  # the balance a new account starts with
    CHARGE = "charge"  # a job accepted (negative amount)
    REFUND = "refund"  # a charged job that failed (positive amount)
    ADJUSTMENT = "adjustment"  # the control API set the balance


@dataclass(frozen=True)
class LedgerEntry:
    account: str
    at_ms: int  # when it takes effect
    kind: EntryKind
    amount_micros: int  # signed: charges are negative
    job_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Job:
    id: str
    account: str
    model: str
    input: Mapping[str, Any]  # as submitted, defaults filled in
    seed: int  # the effective seed (never -1)
    plan: Plan
    quote: Quote | None  # None when the inputs could not be priced
    output_ms: int  # length of the output video
    variant: int  # picks the look of the output video


@dataclass(frozen=True)
class StoredFile:
    id: str
    account: str
    filename: str
    content_type: str
    kind: MediaKind
    data: bytes = field(repr=False)
    created_ms: int


@dataclass(frozen=True)
class UploadTicket:
    id: str
    account: str
    file_id: str
    filename: str
    size: int
    content_type: str
    expires_ms: int


@dataclass(frozen=True)
class JobFilter:
    """Which of an account's jobs a query reads, in the terms of their records.

    Every bound is optional and inclusive, in ms of the fake's clock (a low end
    above its high end matches nothing); ``model`` and ``outcome`` (the plan's
    final status) must be equal when given. What a filter of the API means in
    these terms is its caller's business (:mod:`mock_api.history`).
    """

    created_min: int | None = None
    created_max: int | None = None
    started_min: int | None = None
    started_max: int | None = None
    finished_min: int | None = None
    finished_max: int | None = None
    model: str | None = None
    outcome: Status | None = None

    @property
    def by_creation_only(self) -> bool:
        """Only the creation moment is bounded: an index on it answers alone."""
        return (
            self.started_min is None
            and self.started_max is None
            and self.finished_min is None
            and self.finished_max is None
            and self.model is None
            and self.outcome is None
        )

    def matches(self, job: Job) -> bool:
        plan = job.plan
        return (
            _within(plan.created_ms, self.created_min, self.created_max)
            and _within(plan.started_ms, self.started_min, self.started_max)
            and _within(plan.finished_ms, self.finished_min, self.finished_max)
            and (self.model is None or job.model == self.model)
            and (self.outcome is None or plan.outcome.status is self.outcome)
        )

    def created_between(self, low: int | None, high: int | None) -> JobFilter:
        """This filter, also bounding the creation moment by ``low`` and ``high``."""
        if low is not None and self.created_min is not None:
            low = max(low, self.created_min)
        if high is not None and self.created_max is not None:
            high = min(high, self.created_max)
        return replace(
            self,
            created_min=self.created_min if low is None else low,
            created_max=self.created_max if high is None else high,
        )


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


class StateStore(Protocol):
    """The store as a whole: transactions, its lifetime, and its identity.

    Every method of every concern is atomic on its own. :meth:`transaction`
    makes a block of calls atomic too ("check the balance, then charge"): no
    other thread or process sharing the store sees or changes the state in
    between, and when the block raises, every write it made is undone, on every
    store. Blocks must not await; transactions nest (the outermost commits or
    rolls back).
    """

    #: Other processes may change this state too. The app then makes each request
    #: a :func:`read_scope`, so the store asks them once per request whether they
    #: did, not before every read; a store no one else writes to needs no scope.
    shared: bool

    def transaction(self) -> AbstractContextManager[object]: ...
    def close(self) -> None:
        """Release files and connections; the store opens them again if used."""
        ...

    def reset(self) -> None:
        """Forget all records; the clock's state and the instance count stay."""
        ...

    def next_instance(self) -> int:
        """0 for the first service on this store, then 1, 2...: salts seeded ids."""
        ...


class AccountStore(Protocol):
    """Accounts and money: the ledger (balances are its entries in effect, summed)."""

    def open_account(self, account: str, now_ms: int, opening_micros: int) -> None: ...
    def balance(self, account: str, now_ms: int) -> int: ...
    def ledger(self, account: str) -> list[LedgerEntry]: ...
    def record(self, *entries: LedgerEntry) -> None: ...
    def webhook_secret(self, account: str, make: Callable[[], str]) -> str: ...


class JobStore(Protocol):
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


class FileStore(Protocol):
    """Uploaded files, and upload tickets (each taken once, or returned)."""

    def add_file(self, stored: StoredFile) -> None: ...
    def file(self, file_id: str) -> StoredFile | None: ...
    def add_ticket(self, ticket: UploadTicket) -> None: ...
    def ticket(self, ticket_id: str) -> UploadTicket | None: ...
    def take_ticket(self, ticket_id: str) -> UploadTicket | None: ...
    def return_ticket(self, ticket: UploadTicket) -> None: ...


class LimitStore(Protocol):
    """Quotas: per account, and the default for every account."""

    def limits(self, account: str | None) -> Limits | None:
        """An account's quotas (``None``: every account's default), if set."""
        ...

    def set_limits(self, account: str | None, limits: Limits) -> None: ...


class Store(
    StateStore,
    AccountStore,
    JobStore,
    FileStore,
    LimitStore,
    RuleStore,
    DeliveryStore,
    ClockStateStore,
    Protocol,
):
    """What the service needs from its state, wherever that state lives: every concern.

    Each concern is a protocol of its own with its own behavioural suite in
    ``tests/store_suites/`` (rules: :class:`~mock_api.rulebook.RuleStore`;
    webhook deliveries: :class:`~mock_api.webhooks.DeliveryStore`; an
    OffsetClock's state: :class:`~mock_api.clock.ClockStateStore`), so a new
    store is written, and tested, one concern at a time.
    """


def _after(
    times: dict[str, list[int]], account: str, after_ms: int, lock: AbstractContextManager[object]
) -> list[int]:
    with lock:
        found = times.get(account, [])
        return found[bisect.bisect_right(found, after_ms) :]


def _remove_sorted(times: list[int], value: int) -> None:
    """Remove one ``value`` from the sorted list ``times``."""
    index = bisect.bisect_left(times, value)
    if index < len(times) and times[index] == value:
        del times[index]


def copy_delivery(delivery: Delivery, **changes: Any) -> Delivery:
    """A copy that shares nothing mutable with the original."""
    return replace(delivery, attempts=list(delivery.attempts), **changes)


class _RunningBalance:
    """One account's balance, kept up to date instead of summed on every read.

    ``settled`` is the sum of the entries in effect at ``as_of``; entries that
    take effect later (a planned refund) wait in ``pending``, a heap by moment.
    Reading at or after ``as_of`` moves what fell due into ``settled``, so each
    entry is added once; reading an earlier moment sums the ledger, as before.
    Summing every time made each submission O(ledger) (benchmarks/run.py
    measures a submission on an account with 100,000 jobs).
    """

    __slots__ = ("as_of", "pending", "settled")

    def __init__(self) -> None:
        self.as_of = -(2**63)
        self.settled = 0
        self.pending: list[tuple[int, int]] = []  # (at_ms, amount_micros)

    def add(self, entry: LedgerEntry) -> None:
        if entry.at_ms <= self.as_of:
            self.settled += entry.amount_micros
        else:
            heapq.heappush(self.pending, (entry.at_ms, entry.amount_micros))

    def at(self, now_ms: int, entries: list[LedgerEntry]) -> int:
        if now_ms < self.as_of:
            return sum(e.amount_micros for e in entries if e.at_ms <= now_ms)
        while self.pending and self.pending[0][0] <= now_ms:
            self.settled += heapq.heappop(self.pending)[1]
        self.as_of = now_ms
        return self.settled


Undo = Callable[[], None]
#: The attributes MemoryStore.reset() replaces: what a reset in a transaction puts back.
_RECORDS = frozenset(
    {
        "_ledger", "_balances", "_jobs", "_jobs_by_account", "_timelines", "_stored_as",
        "_finishing_by_account", "_files", "_tickets", "_secrets", "_limits", "_rules",
        "_deliveries",
    }
)  # fmt: skip


class _Timeline:
    """One account's jobs sorted by when they were created, then by when stored.

    What the history pages through and the rate quota counts: a range of
    creation moments is a bisection, and a page of it a slice, however many
    jobs the account has (``benchmarks/history_paging.py``).
    """

    __slots__ = ("jobs", "keys")

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []  # (created_ms, the order stored), ascending
        self.jobs: list[Job] = []  # the job of each key

    def add(self, key: tuple[int, int], job: Job) -> None:
        index = bisect.bisect_right(self.keys, key)
        self.keys.insert(index, key)
        self.jobs.insert(index, job)

    def remove(self, key: tuple[int, int]) -> None:
        index = bisect.bisect_left(self.keys, key)
        if index < len(self.keys) and self.keys[index] == key:
            del self.keys[index]
            del self.jobs[index]

    def span(self, low: int | None, high: int | None) -> tuple[int, int]:
        """The indexes of the jobs created from ``low`` to ``high`` (inclusive): [start, stop)."""
        start = 0 if low is None else bisect.bisect_left(self.keys, (low,))
        stop = len(self.keys) if high is None else bisect.bisect_left(self.keys, (high + 1,))
        return start, max(start, stop)

    def newest_first(self, where: JobFilter) -> Iterator[Job]:
        start, stop = self.span(where.created_min, where.created_max)
        for index in range(stop - 1, start - 1, -1):
            job = self.jobs[index]
            if where.matches(job):
                yield job


class _MemoryTransaction:
    """The memory store's lock, plus an undo log that a raising block replays.

    Each write made inside the outermost block logs how to take itself back;
    writes outside any block log nothing. The lock is held throughout, so no
    other thread saw the writes that are undone.
    """

    __slots__ = ("store",)

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def __enter__(self) -> object:
        store = self.store
        store.lock.acquire()
        if store._undo is None:
            store._undo = []
            store._depth = 0
        store._depth += 1
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        store = self.store
        try:
            store._depth -= 1
            if store._depth == 0:
                undo, store._undo = store._undo or [], None
                if kind is not None:
                    for step in reversed(undo):
                        step()
        finally:
            store.lock.release()


class MemoryStore:
    shared = False  # this process's memory: no one else writes to it

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._clock = ClockState()
        self._instances = 0
        self._undo: list[Undo] | None = None  # the open transaction's undo log
        self._depth = 0
        self._transaction = _MemoryTransaction(self)
        self._stored = 0  # jobs stored ever: orders jobs created in the same millisecond
        self.reset()

    def transaction(self) -> AbstractContextManager[object]:
        return self._transaction

    def _log(self, step: Undo) -> None:
        """Remember how to undo a write, if a transaction is open (the lock is held)."""
        if self._undo is not None:
            self._undo.append(step)

    def _log_item(self, table: dict[Any, Any], key: Any) -> None:
        """Log putting ``table[key]`` back as it is now (absent, if it is)."""
        if self._undo is None:
            return
        if key in table:
            old = table[key]
            self._undo.append(lambda: table.__setitem__(key, old))
        else:
            self._undo.append(lambda: table.pop(key, None))

    def close(self) -> None:
        pass

    def reset(self) -> None:
        """Forget everything: accounts, ledgers, jobs, files, tickets, quotas, rules, deliveries."""
        with self.lock:
            if self._undo is not None:  # a reset in a transaction: undoing it restores it all
                saved = {k: v for k, v in vars(self).items() if k in _RECORDS}
                self._undo.append(lambda: vars(self).update(saved))
            self._ledger: dict[str, list[LedgerEntry]] = {}
            self._balances: dict[str, _RunningBalance] = {}
            self._jobs: dict[str, Job] = {}
            self._jobs_by_account: dict[str, list[Job]] = {}  # in the order stored
            # Each account's jobs by creation, and finish times, sorted: quotas ask for
            # the last minute's and the unfinished ones on every submission, and the
            # history for a page, which stays a bisection however many jobs the
            # account has (benchmarks/run.py, benchmarks/history_paging.py).
            self._timelines: dict[str, _Timeline] = {}
            self._stored_as: dict[str, tuple[int, int]] = {}  # job id -> its timeline key
            self._finishing_by_account: dict[str, list[int]] = {}
            self._files: dict[str, StoredFile] = {}
            self._tickets: dict[str, UploadTicket] = {}
            self._secrets: dict[str, str] = {}
            self._limits: dict[str | None, Limits] = {}
            self._rules: dict[str, list[Rule]] = {}
            self._deliveries: dict[str, Delivery] = {}

    def next_instance(self) -> int:
        with self.lock:
            self._instances += 1
            return self._instances - 1

    # accounts and money

    def open_account(self, account: str, now_ms: int, opening_micros: int) -> None:
        """Create the account on first sight, with its opening balance."""
        with self.lock:
            if account not in self._ledger:
                opening = LedgerEntry(account, now_ms, EntryKind.OPENING, opening_micros)
                self._ledger[account] = []
                self.record(opening)

    def balance(self, account: str, now_ms: int) -> int:
        with self.lock:
            running = self._balances.get(account)
            return 0 if running is None else running.at(now_ms, self._ledger[account])

    def ledger(self, account: str) -> list[LedgerEntry]:
        with self.lock:
            return list(self._ledger.get(account, ()))

    def record(self, *entries: LedgerEntry) -> None:
        with self.lock:
            for entry in entries:
                self._log(functools.partial(self._unrecord, entry.account))
                self._ledger.setdefault(entry.account, []).append(entry)
                self._balances.setdefault(entry.account, _RunningBalance()).add(entry)

    def _unrecord(self, account: str) -> None:
        """Take back an account's newest entry; its running balance is summed again."""
        entries = self._ledger[account]
        entries.pop()
        if not entries:  # the account's first entry: the account goes too
            del self._ledger[account]
            self._balances.pop(account, None)
            return
        running = _RunningBalance()
        for entry in entries:
            running.add(entry)
        self._balances[account] = running

    def webhook_secret(self, account: str, make: Callable[[], str]) -> str:
        """The account's webhook signing secret, made on first use."""
        with self.lock:
            if account not in self._secrets:
                self._log_item(self._secrets, account)
                self._secrets[account] = make()
            return self._secrets[account]

    # jobs

    def add_job(self, job: Job) -> None:
        with self.lock:
            if job.id in self._jobs:
                raise KeyError(f"job {job.id} already exists")
            self._log(functools.partial(self._remove_job, job))
            self._jobs[job.id] = job
            self._jobs_by_account.setdefault(job.account, []).append(job)
            self._stored += 1
            key = self._stored_as[job.id] = (job.plan.created_ms, self._stored)
            self._timelines.setdefault(job.account, _Timeline()).add(key, job)
            finishing = self._finishing_by_account.setdefault(job.account, [])
            bisect.insort(finishing, job.plan.finished_ms)

    def _remove_job(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        self._jobs_by_account[job.account].remove(job)
        self._timelines[job.account].remove(self._stored_as.pop(job.id))
        self._finishing_by_account[job.account].remove(job.plan.finished_ms)

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self, account: str | None = None) -> list[Job]:
        with self.lock:
            if account is None:
                return list(self._jobs.values())
            return list(self._jobs_by_account.get(account, ()))

    def created_after(self, account: str, after_ms: int) -> list[int]:
        with self.lock:
            timeline = self._timelines.get(account)
            if timeline is None:
                return []
            start, stop = timeline.span(after_ms + 1, None)
            return [key[0] for key in timeline.keys[start:stop]]

    def finishing_after(self, account: str, after_ms: int) -> list[int]:
        return _after(self._finishing_by_account, account, after_ms, self.lock)

    def count_jobs(self, account: str, where: JobFilter) -> int:
        with self.lock:
            timeline = self._timelines.get(account)
            if timeline is None:
                return 0
            if where.by_creation_only:
                start, stop = timeline.span(where.created_min, where.created_max)
                return stop - start
            return sum(1 for _ in timeline.newest_first(where))

    def find_jobs(
        self, account: str, where: JobFilter, *, offset: int = 0, limit: int | None = None
    ) -> list[Job]:
        with self.lock:
            timeline = self._timelines.get(account)
            if timeline is None:
                return []
            if where.by_creation_only:  # a slice, counted from the newest end
                start, stop = timeline.span(where.created_min, where.created_max)
                newest = stop - offset
                oldest = start if limit is None else max(start, newest - limit)
                return timeline.jobs[oldest:newest][::-1] if newest > oldest else []
            found = itertools.islice(
                timeline.newest_first(where), offset, None if limit is None else offset + limit
            )
            return list(found)

    def delete_jobs(self, account: str, job_ids: list[str]) -> list[str]:
        with self.lock:
            doomed = {
                job_id
                for job_id in job_ids
                if (job := self._jobs.get(job_id)) is not None and job.account == account
            }
            if not doomed:
                return []
            self._log(self._undelete(account, doomed))
            kept = [job for job in self._jobs_by_account[account] if job.id not in doomed]
            self._jobs_by_account[account] = kept
            for job_id in doomed:
                job = self._jobs.pop(job_id)
                self._timelines[account].remove(self._stored_as.pop(job_id))
                _remove_sorted(self._finishing_by_account[account], job.plan.finished_ms)
            return [job_id for job_id in dict.fromkeys(job_ids) if job_id in doomed]

    def _undelete(self, account: str, doomed: set[str]) -> Undo:
        """How to put back the account's jobs ``doomed`` as they are now."""
        stored = self._jobs_by_account[account]
        removed = [(self._jobs[job_id], self._stored_as[job_id]) for job_id in doomed]

        def undo() -> None:
            self._jobs_by_account[account] = stored
            for job, key in removed:
                self._jobs[job.id] = job
                self._stored_as[job.id] = key
                self._timelines[account].add(key, job)
                bisect.insort(self._finishing_by_account[account], job.plan.finished_ms)

        return undo

    # files and tickets

    def add_file(self, stored: StoredFile) -> None:
        with self.lock:
            self._log_item(self._files, stored.id)
            self._files[stored.id] = stored

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def add_ticket(self, ticket: UploadTicket) -> None:
        with self.lock:
            self._log_item(self._tickets, ticket.id)
            self._tickets[ticket.id] = ticket

    def ticket(self, ticket_id: str) -> UploadTicket | None:
        return self._tickets.get(ticket_id)

    def take_ticket(self, ticket_id: str) -> UploadTicket | None:
        """Remove and return a ticket: each can be used once."""
        with self.lock:
            self._log_item(self._tickets, ticket_id)
            return self._tickets.pop(ticket_id, None)

    def return_ticket(self, ticket: UploadTicket) -> None:
        """Put back a ticket whose upload was refused, so the client can retry."""
        self.add_ticket(ticket)

    # quotas

    def limits(self, account: str | None) -> Limits | None:
        return self._limits.get(account)

    def set_limits(self, account: str | None, limits: Limits) -> None:
        with self.lock:
            self._log_item(self._limits, account)
            self._limits[account] = limits

    # rules

    def rules(self, kind: str) -> list[Rule]:
        with self.lock:
            return list(self._rules.get(kind, ()))

    def add_rule(self, kind: str, rule: Rule) -> bool:
        with self.lock:
            self._log_rules(kind)
            rules = self._rules.setdefault(kind, [])
            if any(r.id == rule.id for r in rules):
                return False
            rules.append(rule)
            return True

    def remove_rule(self, kind: str, rule_id: str) -> bool:
        with self.lock:
            self._log_rules(kind)
            rules = self._rules.get(kind, [])
            kept = [r for r in rules if r.id != rule_id]
            self._rules[kind] = kept
            return len(kept) < len(rules)

    def clear_rules(self, kind: str) -> None:
        with self.lock:
            self._log_rules(kind)
            self._rules.pop(kind, None)

    def count_rule(self, kind: str, rule_id: str, matched: int, applied: int) -> None:
        with self.lock:
            self._log_rules(kind)
            rules = self._rules.get(kind, [])
            for index, rule in enumerate(rules):
                if rule.id == rule_id:
                    rules[index] = with_counts(rule, matched, applied)

    def _log_rules(self, kind: str) -> None:
        if self._undo is not None:
            saved = list(self._rules[kind]) if kind in self._rules else None

            def restore() -> None:
                if saved is None:
                    self._rules.pop(kind, None)
                else:
                    self._rules[kind] = saved

            self._undo.append(restore)

    # webhook deliveries

    def add_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            self._log_item(self._deliveries, delivery.id)
            self._deliveries[delivery.id] = copy_delivery(delivery)

    def deliveries(
        self, *, job_id: str | None = None, account: str | None = None
    ) -> list[Delivery]:
        with self.lock:
            return [
                copy_delivery(d)
                for d in self._deliveries.values()
                if (job_id is None or d.job_id == job_id)
                and (account is None or d.account == account)
            ]

    def claim_due_deliveries(self, now_ms: int, *, lease_seconds: float) -> list[Delivery]:
        # A claim here never lapses: this memory ends with the process that claimed.
        with self.lock:
            due = [
                d
                for d in self._deliveries.values()
                if d.state is DeliveryState.PENDING
                and not d.in_flight
                and d.next_attempt_ms <= now_ms
            ]
            for delivery in due:
                delivery.in_flight = True
            return [copy_delivery(d) for d in due]

    def release_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            if delivery.id in self._deliveries:  # not forgotten by a reset meanwhile
                self._log_item(self._deliveries, delivery.id)
                self._deliveries[delivery.id] = copy_delivery(delivery, in_flight=False)

    def clear_deliveries(self) -> None:
        with self.lock:
            if self._undo is not None:
                saved = dict(self._deliveries)
                self._undo.append(lambda: self._deliveries.update(saved))
            self._deliveries.clear()

    # the clock's state

    def clock_state(self) -> ClockState:
        return self._clock

    def update_clock_state(self, change: Callable[[ClockState], ClockState]) -> ClockState:
        with self.lock:
            old = self._clock
            self._log(lambda: setattr(self, "_clock", old))
            self._clock = change(self._clock)
            return self._clock
