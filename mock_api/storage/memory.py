"""The fake's state in this process's memory: what ``create_app()`` and the pytest plugin use.

:class:`MemoryStore` is one object per concern (:mod:`mock_api.storage`), all
sharing one lock and one undo log (:class:`_Memory`): a transaction holds the
lock throughout, and when its block raises, every write it made is taken back
in reverse order, across concerns. Writes outside any transaction log nothing.

Reads that every request makes are O(1) or a bisection whatever the volume:
balances are kept running (:class:`_RunningBalance`), each account's jobs are
kept sorted by creation (:class:`_Timeline`) and by finish, so the quotas'
counts and the history's pages never walk every job
(``benchmarks/run.py``, ``benchmarks/history_paging.py``).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from mock_api.quotas import Limits
from mock_api.records import (
    ClockState,
    Delivery,
    DeliveryState,
    EntryKind,
    Job,
    JobFilter,
    LedgerEntry,
    Rule,
    StoredFile,
    UploadTicket,
    copy_delivery,
    with_counts,
)

__all__ = [
    "MemoryAccounts",
    "MemoryClockState",
    "MemoryDeliveries",
    "MemoryFiles",
    "MemoryJobs",
    "MemoryLimits",
    "MemoryRules",
    "MemoryStore",
]

Undo = Callable[[], None]


class _Memory:
    """The lock and the open transaction's undo log that every concern of one store shares."""

    __slots__ = ("depth", "lock", "transaction", "undo")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.undo: list[Undo] | None = None  # the open transaction's undo log
        self.depth = 0
        self.transaction = _MemoryTransaction(self)

    def log(self, step: Undo) -> None:
        """Remember how to undo a write, if a transaction is open (the lock is held)."""
        if self.undo is not None:
            self.undo.append(step)

    def log_item(self, table: dict[Any, Any], key: Any) -> None:
        """Log putting ``table[key]`` back as it is now (absent, if it is)."""
        if self.undo is None:
            return
        if key in table:
            old = table[key]
            self.undo.append(lambda: table.__setitem__(key, old))
        else:
            self.undo.append(lambda: table.pop(key, None))


class _MemoryTransaction:
    """The store's lock, plus an undo log that a raising block replays.

    Each write made inside the outermost block logs how to take itself back;
    writes outside any block log nothing. The lock is held throughout, so no
    other thread saw the writes that are undone.
    """

    __slots__ = ("memory",)

    def __init__(self, memory: _Memory) -> None:
        self.memory = memory

    def __enter__(self) -> object:
        memory = self.memory
        memory.lock.acquire()
        if memory.undo is None:
            memory.undo = []
            memory.depth = 0
        memory.depth += 1
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        memory = self.memory
        try:
            memory.depth -= 1
            if memory.depth == 0:
                undo, memory.undo = memory.undo or [], None
                if kind is not None:
                    for step in reversed(undo):
                        step()
        finally:
            memory.lock.release()


class _Concern:
    """One concern's records, in the memory and under the lock of its store."""

    def __init__(self, memory: _Memory) -> None:
        self._memory = memory
        self.lock = memory.lock
        self._fresh()

    def transaction(self) -> AbstractContextManager[object]:
        return self._memory.transaction

    def _fresh(self) -> None:
        """Start with no records."""

    def reset(self) -> None:
        """Forget every record; in a transaction, undoing the reset puts them all back."""
        with self.lock:
            if self._memory.undo is not None:
                saved = dict(vars(self))
                self._memory.undo.append(lambda: vars(self).update(saved))
            self._fresh()


class MemoryAccounts(_Concern):
    """Ledgers, running balances and webhook secrets."""

    def _fresh(self) -> None:
        self._ledger: dict[str, list[LedgerEntry]] = {}
        self._balances: dict[str, _RunningBalance] = {}
        self._secrets: dict[str, str] = {}

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

    def balances(self, now_ms: int) -> dict[str, int]:
        with self.lock:
            return {
                account: self._balances[account].at(now_ms, self._ledger[account])
                for account in sorted(self._balances)
            }

    def record(self, *entries: LedgerEntry) -> None:
        with self.lock:
            for entry in entries:
                self._memory.log(functools.partial(self._unrecord, entry.account))
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
                self._memory.log_item(self._secrets, account)
                self._secrets[account] = make()
            return self._secrets[account]


class MemoryJobs(_Concern):
    """Jobs by id, and each account's in the order stored, by creation and by finish."""

    def __init__(self, memory: _Memory) -> None:
        self._stored = 0  # jobs stored ever: orders jobs created in the same millisecond
        super().__init__(memory)

    def _fresh(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._by_account: dict[str, list[Job]] = {}  # in the order stored
        # Each account's jobs by creation, and finish times, sorted: quotas ask for
        # the last minute's and the unfinished ones on every submission, and the
        # history for a page, which stays a bisection however many jobs the
        # account has (benchmarks/run.py, benchmarks/history_paging.py).
        self._timelines: dict[str, _Timeline] = {}
        self._stored_as: dict[str, tuple[int, int]] = {}  # job id -> its timeline key
        self._finishing: dict[str, list[int]] = {}

    def add_job(self, job: Job) -> None:
        with self.lock:
            if job.id in self._jobs:
                raise KeyError(f"job {job.id} already exists")
            self._memory.log(functools.partial(self._remove_job, job))
            self._jobs[job.id] = job
            self._by_account.setdefault(job.account, []).append(job)
            self._stored += 1
            key = self._stored_as[job.id] = (job.plan.created_ms, self._stored)
            self._timelines.setdefault(job.account, _Timeline()).add(key, job)
            bisect.insort(self._finishing.setdefault(job.account, []), job.plan.finished_ms)

    def _remove_job(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        self._by_account[job.account].remove(job)
        self._timelines[job.account].remove(self._stored_as.pop(job.id))
        self._finishing[job.account].remove(job.plan.finished_ms)

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self, account: str | None = None) -> list[Job]:
        with self.lock:
            if account is None:
                return list(self._jobs.values())
            return list(self._by_account.get(account, ()))

    def created_after(self, account: str, after_ms: int) -> list[int]:
        with self.lock:
            timeline = self._timelines.get(account)
            if timeline is None:
                return []
            start, stop = timeline.span(after_ms + 1, None)
            return [key[0] for key in timeline.keys[start:stop]]

    def finishing_after(self, account: str, after_ms: int) -> list[int]:
        with self.lock:
            found = self._finishing.get(account, [])
            return found[bisect.bisect_right(found, after_ms) :]

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
            self._memory.log(self._undelete(account, doomed))
            kept = [job for job in self._by_account[account] if job.id not in doomed]
            self._by_account[account] = kept
            for job_id in doomed:
                job = self._jobs.pop(job_id)
                self._timelines[account].remove(self._stored_as.pop(job_id))
                _remove_sorted(self._finishing[account], job.plan.finished_ms)
            return [job_id for job_id in dict.fromkeys(job_ids) if job_id in doomed]

    def _undelete(self, account: str, doomed: set[str]) -> Undo:
        """How to put back the account's jobs ``doomed`` as they are now."""
        stored = self._by_account[account]
        removed = [(self._jobs[job_id], self._stored_as[job_id]) for job_id in doomed]

        def undo() -> None:
            self._by_account[account] = stored
            for job, key in removed:
                self._jobs[job.id] = job
                self._stored_as[job.id] = key
                self._timelines[account].add(key, job)
                bisect.insort(self._finishing[account], job.plan.finished_ms)

        return undo


class MemoryFiles(_Concern):
    """Uploaded files and upload tickets."""

    def _fresh(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._tickets: dict[str, UploadTicket] = {}

    def add_file(self, stored: StoredFile) -> None:
        with self.lock:
            self._memory.log_item(self._files, stored.id)
            self._files[stored.id] = stored

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def add_ticket(self, ticket: UploadTicket) -> None:
        with self.lock:
            self._memory.log_item(self._tickets, ticket.id)
            self._tickets[ticket.id] = ticket

    def ticket(self, ticket_id: str) -> UploadTicket | None:
        return self._tickets.get(ticket_id)

    def take_ticket(self, ticket_id: str) -> UploadTicket | None:
        """Remove and return a ticket: each can be used once."""
        with self.lock:
            self._memory.log_item(self._tickets, ticket_id)
            return self._tickets.pop(ticket_id, None)

    def return_ticket(self, ticket: UploadTicket) -> None:
        """Put back a ticket whose upload was refused, so the client can retry."""
        self.add_ticket(ticket)


class MemoryLimits(_Concern):
    """Quotas per account, and the default (under ``None``)."""

    def _fresh(self) -> None:
        self._limits: dict[str | None, Limits] = {}

    def limits(self, account: str | None) -> Limits | None:
        return self._limits.get(account)

    def set_limits(self, account: str | None, limits: Limits) -> None:
        with self.lock:
            self._memory.log_item(self._limits, account)
            self._limits[account] = limits


class MemoryRules(_Concern):
    """Rules by kind, in the order added, as the objects their books made."""

    def _fresh(self) -> None:
        self._rules: dict[str, list[Rule]] = {}

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
        if self._memory.undo is not None:
            saved = list(self._rules[kind]) if kind in self._rules else None

            def restore() -> None:
                if saved is None:
                    self._rules.pop(kind, None)
                else:
                    self._rules[kind] = saved

            self._memory.undo.append(restore)


class MemoryDeliveries(_Concern):
    """Webhook deliveries, kept as copies; a claim is a flag (it ends with the process)."""

    def _fresh(self) -> None:
        self._deliveries: dict[str, Delivery] = {}

    def add_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            self._memory.log_item(self._deliveries, delivery.id)
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
                self._memory.log_item(self._deliveries, delivery.id)
                self._deliveries[delivery.id] = copy_delivery(delivery, in_flight=False)

    def clear_deliveries(self) -> None:
        with self.lock:
            if self._memory.undo is not None:
                saved = dict(self._deliveries)
                self._memory.undo.append(lambda: self._deliveries.update(saved))
            self._deliveries.clear()


class MemoryClockState:
    """An OffsetClock's state; a reset leaves it (the clock is not a record)."""

    def __init__(self, memory: _Memory) -> None:
        self._memory = memory
        self._state = ClockState()

    def clock_state(self) -> ClockState:
        return self._state

    def update_clock_state(self, change: Callable[[ClockState], ClockState]) -> ClockState:
        with self._memory.lock:
            old = self._state
            self._memory.log(lambda: setattr(self, "_state", old))
            self._state = change(self._state)
            return self._state


class MemoryStore:
    """Every concern in this process's memory, under one lock and one undo log."""

    shared = False  # this process's memory: no one else writes to it
    blocking = False

    def __init__(self) -> None:
        self._memory = memory = _Memory()
        self.lock = memory.lock
        self.accounts = MemoryAccounts(memory)
        self.jobs = MemoryJobs(memory)
        self.files = MemoryFiles(memory)
        self.limits = MemoryLimits(memory)
        self.rules = MemoryRules(memory)
        self.deliveries = MemoryDeliveries(memory)
        self.clock = MemoryClockState(memory)
        self._records: tuple[_Concern, ...] = (
            self.accounts,
            self.jobs,
            self.files,
            self.limits,
            self.rules,
            self.deliveries,
        )
        self._instances = 0

    def transaction(self) -> AbstractContextManager[object]:
        return self._memory.transaction

    def close(self) -> None:
        pass

    def reset(self) -> None:
        """Forget every record: accounts, jobs, files, tickets, quotas, rules, deliveries."""
        with self.lock:
            for concern in self._records:
                concern.reset()

    def next_instance(self) -> int:
        with self.lock:
            self._instances += 1
            return self._instances - 1


# indexes


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


def _remove_sorted(times: list[int], value: int) -> None:
    """Remove one ``value`` from the sorted list ``times``."""
    index = bisect.bisect_left(times, value)
    if index < len(times) and times[index] == value:
        del times[index]
