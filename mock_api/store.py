"""The fake's state: accounts and their ledgers, jobs, files and upload tickets.

One in-memory store per app, guarded by one lock, with named operations so a
single app can serve many tests (:meth:`MemoryStore.reset`). Records are frozen
dataclasses: a job never changes after it is stored, because everything about
its future is already in its plan.

Money: a balance is never stored, only derived from the ledger, so it cannot
drift from the entries that explain it. Entries carry the moment they take
effect; a refund for a job that will fail is written at submission with the
moment of the failure, and counts once the clock reaches it.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mock_api.billing import Quote
from mock_api.lifecycle import Plan

MediaKind = Literal["image", "video", "audio", "other"]


def account_id(api_key: str) -> str:
    """The account an API key stands for; the key itself is never stored."""
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:24]


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


class MemoryStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything: accounts, ledgers, jobs, files and tickets."""
        with self.lock:
            self._ledger: dict[str, list[LedgerEntry]] = {}
            self._jobs: dict[str, Job] = {}
            self._files: dict[str, StoredFile] = {}
            self._tickets: dict[str, UploadTicket] = {}
            self._secrets: dict[str, str] = {}

    # accounts and money

    def open_account(self, account: str, now_ms: int, opening_micros: int) -> None:
        """Create the account on first sight, with its opening balance."""
        with self.lock:
            if account not in self._ledger:
                opening = LedgerEntry(account, now_ms, EntryKind.OPENING, opening_micros)
                self._ledger[account] = [opening]

    def balance(self, account: str, now_ms: int) -> int:
        with self.lock:
            entries = self._ledger.get(account, ())
            return sum(e.amount_micros for e in entries if e.at_ms <= now_ms)

    def ledger(self, account: str) -> list[LedgerEntry]:
        with self.lock:
            return list(self._ledger.get(account, ()))

    def record(self, *entries: LedgerEntry) -> None:
        with self.lock:
            for entry in entries:
                self._ledger.setdefault(entry.account, []).append(entry)

    def webhook_secret(self, account: str, make: Callable[[], str]) -> str:
        """The account's webhook signing secret, made on first use."""
        with self.lock:
            if account not in self._secrets:
                self._secrets[account] = make()
            return self._secrets[account]

    # jobs

    def add_job(self, job: Job) -> None:
        with self.lock:
            if job.id in self._jobs:
                raise KeyError(f"job {job.id} already exists")
            self._jobs[job.id] = job

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self, account: str | None = None) -> list[Job]:
        with self.lock:
            return [j for j in self._jobs.values() if account is None or j.account == account]

    # files and tickets

    def add_file(self, stored: StoredFile) -> None:
        with self.lock:
            self._files[stored.id] = stored

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def add_ticket(self, ticket: UploadTicket) -> None:
        with self.lock:
            self._tickets[ticket.id] = ticket

    def ticket(self, ticket_id: str) -> UploadTicket | None:
        return self._tickets.get(ticket_id)

    def take_ticket(self, ticket_id: str) -> UploadTicket | None:
        """Remove and return a ticket: each can be used once."""
        with self.lock:
            return self._tickets.pop(ticket_id, None)

    def return_ticket(self, ticket: UploadTicket) -> None:
        """Put back a ticket whose upload was refused, so the client can retry."""
        self.add_ticket(ticket)
