"""The concerns of a SQL store, written once for SQLite and PostgreSQL.

Each concern (:class:`SqlAccounts`, :class:`SqlJobs`, ...) is a small class
over one :class:`Database`: the statements are the subset of SQL both engines
speak (``INSERT ... ON CONFLICT``, no engine's extensions), written with ``?``
placeholders, and the database runs them. What differs between the engines
lives in the database classes (:mod:`mock_api.storage.sqlite`,
:mod:`mock_api.storage.postgres`): connections, the schema, how a transaction
takes its lock, how a reader learns that someone else committed, and a few
spellings (:class:`Dialect`).

Every write runs in a transaction (the caller's, if one is open); a
transaction excludes every other writer, in this process and in every other
process on the database, so "check the balance, then charge" and "count the
rule, then fire it" are atomic wherever the other writers run.

What every request reads (the clock, the account, the job, the rules) goes
through :meth:`Database.cached`, a per-thread cache that is thrown away as
soon as anyone commits: never stale, and once per request it costs one
question to the database instead of six reads.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from mock_api.billing import Quote
from mock_api.lifecycle import Outcome, Plan, Status
from mock_api.quotas import Limits
from mock_api.records import (
    CLAIM_SECONDS,
    Attempt,
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
    decode_rule,
    rule_definition,
    with_counts,
)
from mock_api.storage import READ_SCOPE

__all__ = [
    "CACHE_ENTRIES",
    "HOUR_MS",
    "RECORD_TABLES",
    "Database",
    "Dialect",
    "SchemaMismatch",
    "SqlAccounts",
    "SqlClockState",
    "SqlDeliveries",
    "SqlFiles",
    "SqlJobs",
    "SqlLimits",
    "SqlRules",
    "SqlStore",
    "hour_of",
]

#: Entries a thread's read cache holds before it starts again (a GET reads ~4).
CACHE_ENTRIES = 10_000
#: Jobs per account and hour of creation are kept (table ``job_hours``, by triggers):
#: the history's total is a sum of hours plus the jobs of the two hours its window
#: cuts, not a count of every job in the window (``benchmarks/history_paging.py``).
HOUR_MS = 3_600_000
#: What reset() empties: everything but the clock and the instance count.
RECORD_TABLES = (
    "ledger",
    "balances",
    "secrets",
    "job_hours",
    "jobs",
    "files",
    "tickets",
    "limits",
    "rules",
    "deliveries",
)
#: The account column of the default quotas in ``limits``.
_DEFAULT_LIMITS = ""
#: Ids per statement when deleting many jobs (under every engine's parameter limit).
_CHUNK = 500
T = TypeVar("T")


def hour_of(ms: str) -> str:
    """SQL for the hour of the moment ``ms`` (a column): the floor of ms / HOUR_MS,
    negative moments included, in integer arithmetic both engines do alike."""
    return f"(({ms} - (({ms} % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS}) / {HOUR_MS})"


@dataclass(frozen=True)
class Dialect:
    """The spellings that differ between the engines."""

    #: What ``find_jobs`` reads from: SQLite is told which index to walk.
    jobs_by_creation: str
    #: A LIMIT that limits nothing.
    no_limit: str


class SchemaMismatch(RuntimeError):
    """The database was written by a different version of the fake."""


class Database:
    """One database: a connection per thread, nested transactions, the read cache.

    Subclasses connect, create the schema, begin a transaction with the lock
    their engine needs, and say whether anyone committed since a thread last
    asked (:meth:`_version`).
    """

    dialect: Dialect

    def __init__(self) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._generation = 0  # bumped by close(): threads then reconnect
        self._commits = 0  # bumped by each of this process's commits: read caches start again

    # what each engine provides

    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, conn: Any) -> None:
        """Start a transaction that excludes every other writer, or raise Unavailable."""
        raise NotImplementedError

    def _commit(self, conn: Any) -> None:
        """End the open transaction, keeping its writes."""
        conn.execute("COMMIT")

    def _version(self, conn: Any) -> object:
        """Something that changes whenever anyone else commits to the database."""
        raise NotImplementedError

    def _execute(self, conn: Any, sql: str, params: Sequence[Any]) -> Any:
        """Run one statement; returns the cursor."""
        return conn.execute(sql, params)

    def _execute_many(self, conn: Any, sql: str, rows: list[Sequence[Any]]) -> None:
        conn.executemany(sql, rows)

    def _rollback(self, conn: Any) -> None:
        conn.execute("ROLLBACK")

    #: What a failed ROLLBACK may raise (the engine rolled back already).
    _errors: tuple[type[BaseException], ...] = ()

    # connections

    def conn(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.generation != self._generation:
            conn = self._connect()
            with self._connections_lock:
                self._connections.append(conn)
                local.generation = self._generation
            local.conn = conn
            local.depth = 0
            local.cache = {}
            local.version = None
            local.commits = -1
            local.scope = None  # the read scope this thread last checked in
            self._opened(local)
        return conn

    def _opened(self, local: threading.local) -> None:
        """A thread's connection was just made: per-thread state of the engine."""

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._generation += 1
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()

    # transactions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the database's write lock for the block; commit, or roll back."""
        conn = self.conn()
        local = self._local
        if local.depth:
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        self._begin(conn)
        local.depth = 1
        try:
            yield
            self._commit(conn)
        except BaseException:
            # The engine may have rolled back already (a full disk): keep the first error.
            with contextlib.suppress(*self._errors):
                self._rollback(conn)
            raise
        finally:
            local.depth = 0
            self._commits += 1  # committed or not, every thread's cache starts again

    # statements

    def read(self, sql: str, *params: Any) -> list[Any]:
        return cast(list[Any], self._execute(self.conn(), sql, params).fetchall())

    def write(self, sql: str, *params: Any) -> int:
        """Run one statement in a transaction (the caller's, if any); returns rows changed."""
        with self.transaction():
            return int(self._execute(self.conn(), sql, params).rowcount)

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.transaction():
            self._execute_many(self.conn(), sql, list(rows))

    def cached(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        """``load()``, or what it gave before if nothing was committed since.

        Nothing committed means: neither did this process (``_commits``), nor
        anyone else (:meth:`_version` is unchanged on this thread's connection).
        That check runs before every read, or once per
        :func:`~mock_api.storage.read_scope`. It runs before loading, so a commit
        racing the load only makes the next check start again. Inside a
        transaction reads go to the database, which may hold its own writes.
        """
        conn = self.conn()
        local = self._local
        if local.depth:
            return load()
        commits = self._commits
        scope = READ_SCOPE.get()
        if scope is None or scope is not local.scope or commits != local.commits:
            version = self._version(conn)
            if (
                version != local.version
                or commits != local.commits
                or len(local.cache) > CACHE_ENTRIES
            ):
                local.cache.clear()
                local.version, local.commits = version, commits
            local.scope = scope
        cache: dict[tuple[Any, ...], Any] = local.cache
        try:
            return cast(T, cache[key])
        except KeyError:
            value = cache[key] = load()
            return value

    def next_instance(self) -> int:
        with self.transaction():
            [row] = self.read("SELECT value FROM meta WHERE key = 'instances'")
            self.write("UPDATE meta SET value = value + 1 WHERE key = 'instances'")
            return int(row[0])

    def reset(self) -> None:
        with self.transaction():
            for table in RECORD_TABLES:
                self.write(f"DELETE FROM {table}")  # noqa: S608 - fixed names


class _Concern:
    def __init__(self, db: Database) -> None:
        self._db = db

    def transaction(self) -> contextlib.AbstractContextManager[object]:
        return self._db.transaction()


class SqlAccounts(_Concern):
    """Ledger entries, each account's running total, and webhook secrets."""

    def _has_account(self, account: str) -> bool:
        db = self._db
        return db.cached(
            ("account", account),
            lambda: bool(db.read("SELECT 1 FROM ledger WHERE account = ? LIMIT 1", account)),
        )

    def open_account(self, account: str, now_ms: int, opening_micros: int) -> None:
        if self._has_account(account):  # every request asks: answer without the write lock
            return
        with self.transaction():
            if not self._has_account(account):
                self.record(LedgerEntry(account, now_ms, EntryKind.OPENING, opening_micros))

    def balance(self, account: str, now_ms: int) -> int:
        # Every entry ever, less those not in effect yet (planned refunds: few), in one
        # statement, so one snapshot: summing the ledger made each check O(ledger).
        [row] = self._db.read(
            "SELECT COALESCE((SELECT total_micros FROM balances WHERE account = ?), 0)"
            " - (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger"
            " WHERE account = ? AND at_ms > ?)",
            account,
            account,
            now_ms,
        )
        return int(row[0])

    def balances(self, now_ms: int) -> dict[str, int]:
        rows = self._db.read(
            "SELECT account, total_micros - (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger"
            " WHERE ledger.account = balances.account AND at_ms > ?)"
            " FROM balances ORDER BY account",
            now_ms,
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def ledger(self, account: str) -> list[LedgerEntry]:
        rows = self._db.read(
            "SELECT account, at_ms, kind, amount_micros, job_id, note FROM ledger "
            "WHERE account = ? ORDER BY seq",
            account,
        )
        return [LedgerEntry(r[0], r[1], EntryKind(r[2]), r[3], r[4], r[5]) for r in rows]

    def record(self, *entries: LedgerEntry) -> None:
        db = self._db
        with db.transaction():
            db.write_many(
                "INSERT INTO ledger (account, at_ms, kind, amount_micros, job_id, note) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (e.account, e.at_ms, e.kind.value, e.amount_micros, e.job_id, e.note)
                    for e in entries
                ],
            )
            db.write_many(
                "INSERT INTO balances (account, total_micros) VALUES (?, ?) ON CONFLICT (account)"
                " DO UPDATE SET total_micros = balances.total_micros + excluded.total_micros",
                [(e.account, e.amount_micros) for e in entries],
            )

    def webhook_secret(self, account: str, make: Callable[[], str]) -> str:
        db = self._db
        query = "SELECT secret FROM secrets WHERE account = ?"
        rows = db.read(query, account)
        if rows:
            return str(rows[0][0])
        with db.transaction():
            rows = db.read(query, account)
            if rows:
                return str(rows[0][0])
            secret = make()
            db.write("INSERT INTO secrets (account, secret) VALUES (?, ?)", account, secret)
            return secret


_JOB_COLUMNS = (
    "id, account, model, input, seed, created_ms, started_ms, finished_ms, outcome_status, "
    "outcome_nsfw, outcome_code, outcome_error, quote, output_ms, variant"
)


def _job(r: Sequence[Any]) -> Job:
    outcome = Outcome(Status(r[8]), nsfw=bool(r[9]), code=r[10], error=r[11])
    return Job(
        id=r[0],
        account=r[1],
        model=r[2],
        input=json.loads(r[3]),
        seed=r[4],
        plan=Plan(created_ms=r[5], started_ms=r[6], finished_ms=r[7], outcome=outcome),
        quote=None if r[12] is None else Quote.from_dict(json.loads(r[12])),
        output_ms=r[13],
        variant=r[14],
    )


def _job_filter(account: str, where: JobFilter) -> tuple[str, list[Any]]:
    """``where`` as SQL conditions on the account's jobs, and their parameters."""
    conditions: list[str] = ["account = ?"]
    params: list[Any] = [account]
    for column, low, high in (
        ("created_ms", where.created_min, where.created_max),
        ("started_ms", where.started_min, where.started_max),
        ("finished_ms", where.finished_min, where.finished_max),
    ):
        if low is not None:
            conditions.append(f"{column} >= ?")
            params.append(low)
        if high is not None:
            conditions.append(f"{column} <= ?")
            params.append(high)
    if where.model is not None:
        conditions.append("model = ?")
        params.append(where.model)
    if where.outcome is not None:
        conditions.append("outcome_status = ?")
        params.append(where.outcome.value)
    return " AND ".join(conditions), params


class SqlJobs(_Concern):
    """Jobs as columns (input and quote as JSON, Decimals as text, so they come back
    exactly), indexed by account and order stored, by creation and by finish."""

    def add_job(self, job: Job) -> None:
        plan, outcome = job.plan, job.plan.outcome
        added = self._db.write(
            "INSERT INTO jobs (id, account, model, input, seed, created_ms, started_ms, "
            "finished_ms, outcome_status, outcome_nsfw, outcome_code, outcome_error, quote, "
            "output_ms, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            job.id,
            job.account,
            job.model,
            json.dumps(dict(job.input)),
            job.seed,
            plan.created_ms,
            plan.started_ms,
            plan.finished_ms,
            outcome.status.value,
            int(outcome.nsfw),
            outcome.code,
            outcome.error,
            None if job.quote is None else json.dumps(Quote.as_dict(job.quote)),
            job.output_ms,
            job.variant,
        )
        if not added:
            raise KeyError(f"job {job.id} already exists")

    def job(self, job_id: str) -> Job | None:
        db = self._db

        def load() -> Job | None:
            rows = db.read(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", job_id)  # noqa: S608
            return _job(rows[0]) if rows else None

        return db.cached(("job", job_id), load)

    def jobs(self, account: str | None = None) -> list[Job]:
        if account is None:
            rows = self._db.read(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY seq")  # noqa: S608
        else:
            rows = self._db.read(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE account = ? ORDER BY seq",  # noqa: S608
                account,
            )
        return [_job(r) for r in rows]

    def created_after(self, account: str, after_ms: int) -> list[int]:
        query = "SELECT created_ms FROM jobs WHERE account = ? AND created_ms > ? ORDER BY 1"
        return [row[0] for row in self._db.read(query, account, after_ms)]

    def finishing_after(self, account: str, after_ms: int) -> list[int]:
        query = "SELECT finished_ms FROM jobs WHERE account = ? AND finished_ms > ? ORDER BY 1"
        return [row[0] for row in self._db.read(query, account, after_ms)]

    def count_jobs(self, account: str, where: JobFilter) -> int:
        if not where.by_creation_only:
            return self._count(account, where)
        low, high = where.created_min, where.created_max
        # The whole hours between the bounds are summed; the rest, under an hour at
        # each end, counted.
        first = None if low is None else -(-low // HOUR_MS)
        last = None if high is None else (high + 1) // HOUR_MS - 1
        if first is not None and last is not None and first > last:
            return self._count(account, where)  # within two hours: counted whole
        conditions: list[str] = ["account = ?"]
        params: list[Any] = [account]
        if first is not None:
            conditions.append("hour >= ?")
            params.append(first)
        if last is not None:
            conditions.append("hour <= ?")
            params.append(last)
        [row] = self._db.read(
            f"SELECT COALESCE(SUM(jobs), 0) FROM job_hours WHERE {' AND '.join(conditions)}",  # noqa: S608
            *params,
        )
        total = int(row[0])
        if low is not None and first is not None:
            total += self._count(
                account, JobFilter(created_min=low, created_max=first * HOUR_MS - 1)
            )
        if high is not None and last is not None:
            total += self._count(
                account, JobFilter(created_min=(last + 1) * HOUR_MS, created_max=high)
            )
        return total

    def _count(self, account: str, where: JobFilter) -> int:
        conditions, params = _job_filter(account, where)
        [row] = self._db.read(f"SELECT COUNT(*) FROM jobs WHERE {conditions}", *params)  # noqa: S608
        return int(row[0])

    def find_jobs(
        self, account: str, where: JobFilter, *, offset: int = 0, limit: int | None = None
    ) -> list[Job]:
        conditions, params = _job_filter(account, where)
        dialect = self._db.dialect
        # Walks the index on (account, created_ms) newest first and stops after the
        # page: no sort, whichever other index a filter could have used instead.
        rows = self._db.read(
            f"SELECT {_JOB_COLUMNS} FROM {dialect.jobs_by_creation} "  # noqa: S608
            f"WHERE {conditions} ORDER BY created_ms DESC, seq DESC "
            f"LIMIT {dialect.no_limit if limit is None else '?'} OFFSET ?",
            *params,
            *(() if limit is None else (limit,)),
            offset,
        )
        return [_job(r) for r in rows]

    def delete_jobs(self, account: str, job_ids: list[str]) -> list[str]:
        unique = list(dict.fromkeys(job_ids))
        deleted: list[str] = []
        db = self._db
        with db.transaction():
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                found = {
                    row[0]
                    for row in db.read(
                        f"SELECT id FROM jobs WHERE account = ? AND id IN ({marks})",  # noqa: S608
                        account,
                        *chunk,
                    )
                }
                db.write(
                    f"DELETE FROM jobs WHERE account = ? AND id IN ({marks})",  # noqa: S608
                    account,
                    *chunk,
                )
                deleted.extend(job_id for job_id in chunk if job_id in found)
        return deleted


class SqlFiles(_Concern):
    """Uploaded files with their bytes (a file and its metadata commit together), and tickets."""

    def add_file(self, stored: StoredFile) -> None:
        self._db.write(
            "INSERT INTO files (id, account, filename, content_type, kind, data, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "account = excluded.account, filename = excluded.filename, "
            "content_type = excluded.content_type, kind = excluded.kind, "
            "data = excluded.data, created_ms = excluded.created_ms",
            stored.id,
            stored.account,
            stored.filename,
            stored.content_type,
            stored.kind,
            stored.data,
            stored.created_ms,
        )

    def file(self, file_id: str) -> StoredFile | None:
        rows = self._db.read(
            "SELECT id, account, filename, content_type, kind, data, created_ms FROM files "
            "WHERE id = ?",
            file_id,
        )
        if not rows:
            return None
        r = rows[0]
        return StoredFile(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6])

    def add_ticket(self, ticket: UploadTicket) -> None:
        self._db.write(
            "INSERT INTO tickets (id, account, file_id, filename, size, content_type, "
            "expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "account = excluded.account, file_id = excluded.file_id, "
            "filename = excluded.filename, size = excluded.size, "
            "content_type = excluded.content_type, expires_ms = excluded.expires_ms",
            ticket.id,
            ticket.account,
            ticket.file_id,
            ticket.filename,
            ticket.size,
            ticket.content_type,
            ticket.expires_ms,
        )

    def ticket(self, ticket_id: str) -> UploadTicket | None:
        rows = self._db.read(
            "SELECT id, account, file_id, filename, size, content_type, expires_ms FROM tickets "
            "WHERE id = ?",
            ticket_id,
        )
        return UploadTicket(*rows[0]) if rows else None

    def take_ticket(self, ticket_id: str) -> UploadTicket | None:
        with self.transaction():
            ticket = self.ticket(ticket_id)
            if ticket is not None:
                self._db.write("DELETE FROM tickets WHERE id = ?", ticket_id)
            return ticket

    def return_ticket(self, ticket: UploadTicket) -> None:
        self.add_ticket(ticket)


class SqlLimits(_Concern):
    """Quotas per account; the default under the account ``''``."""

    def limits(self, account: str | None) -> Limits | None:
        key = _DEFAULT_LIMITS if account is None else account
        rows = self._db.read(
            "SELECT videos_per_minute, max_concurrent FROM limits WHERE account = ?", key
        )
        return Limits(rows[0][0], rows[0][1]) if rows else None

    def set_limits(self, account: str | None, limits: Limits) -> None:
        self._db.write(
            "INSERT INTO limits (account, videos_per_minute, max_concurrent) VALUES (?, ?, ?) "
            "ON CONFLICT (account) DO UPDATE SET videos_per_minute = excluded.videos_per_minute,"
            " max_concurrent = excluded.max_concurrent",
            _DEFAULT_LIMITS if account is None else account,
            limits.videos_per_minute,
            limits.max_concurrent,
        )


class SqlRules(_Concern):
    """Rules as their JSON definition plus their counters, rebuilt by their kind's decoder."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._decoded: dict[tuple[str, str], Rule] = {}  # (kind, definition) -> rule

    def _rule(self, kind: str, definition: str, matched: int, applied: int) -> Rule:
        rule = self._decoded.get((kind, definition))
        if rule is None:
            rule = decode_rule(kind, json.loads(definition))
            if len(self._decoded) > 1_000:
                self._decoded.clear()
            self._decoded[(kind, definition)] = rule
        return with_counts(rule, matched, applied)

    def rules(self, kind: str) -> list[Rule]:
        db = self._db

        def load() -> tuple[Rule, ...]:
            rows = db.read(
                "SELECT definition, matched, applied FROM rules WHERE kind = ? ORDER BY seq", kind
            )
            return tuple(self._rule(kind, *r) for r in rows)

        return list(db.cached(("rules", kind), load))

    def add_rule(self, kind: str, rule: Rule) -> bool:
        return bool(
            self._db.write(
                "INSERT INTO rules (kind, id, definition, matched, applied) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO NOTHING",
                kind,
                rule.id,
                json.dumps(rule_definition(rule)),
                rule.matched,
                rule.applied,
            )
        )

    def remove_rule(self, kind: str, rule_id: str) -> bool:
        return bool(self._db.write("DELETE FROM rules WHERE kind = ? AND id = ?", kind, rule_id))

    def clear_rules(self, kind: str) -> None:
        self._db.write("DELETE FROM rules WHERE kind = ?", kind)

    def count_rule(self, kind: str, rule_id: str, matched: int, applied: int) -> None:
        self._db.write(
            "UPDATE rules SET matched = ?, applied = ? WHERE kind = ? AND id = ?",
            matched,
            applied,
            kind,
            rule_id,
        )


_DELIVERY_COLUMNS = (
    "id, job_id, account, url, base_url, next_attempt_ms, state, attempts, claimed_until"
)
_DUE = (
    "state = 'pending' AND next_attempt_ms <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
)


def _delivery(r: Sequence[Any], wall: float) -> Delivery:
    return Delivery(
        id=r[0],
        job_id=r[1],
        account=r[2],
        url=r[3],
        base_url=r[4],
        next_attempt_ms=r[5],
        state=DeliveryState(r[6]),
        attempts=[Attempt(*a) for a in json.loads(r[7])],
        in_flight=r[8] is not None and r[8] > wall,
    )


def _attempts_json(attempts: list[Attempt]) -> str:
    return json.dumps([[a.at_ms, a.status, a.error, a.duration_ms] for a in attempts])


class SqlDeliveries(_Concern):
    """Deliveries, claimed with a lease on wall-clock time as long as the dispatcher asks:
    a process that dies mid-attempt (``kill -9``) leaves a claim that lapses, and the
    attempt is made again by whichever process claims it next."""

    def add_delivery(self, delivery: Delivery) -> None:
        self._db.write(
            "INSERT INTO deliveries (id, job_id, account, url, base_url, next_attempt_ms, state, "
            "attempts, claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            delivery.id,
            delivery.job_id,
            delivery.account,
            delivery.url,
            delivery.base_url,
            delivery.next_attempt_ms,
            delivery.state.value,
            _attempts_json(delivery.attempts),
            time.time() + CLAIM_SECONDS if delivery.in_flight else None,
        )

    def deliveries(
        self, *, job_id: str | None = None, account: str | None = None
    ) -> list[Delivery]:
        conditions, params = ["1 = 1"], []
        if job_id is not None:
            conditions.append("job_id = ?")
            params.append(job_id)
        if account is not None:
            conditions.append("account = ?")
            params.append(account)
        rows = self._db.read(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries "  # noqa: S608
            f"WHERE {' AND '.join(conditions)} ORDER BY seq",
            *params,
        )
        wall = time.time()
        return [_delivery(r, wall) for r in rows]

    def claim_due_deliveries(self, now_ms: int, *, lease_seconds: float) -> list[Delivery]:
        db = self._db
        wall = time.time()
        if not db.read(f"SELECT 1 FROM deliveries WHERE {_DUE} LIMIT 1", now_ms, wall):  # noqa: S608
            return []  # the dispatcher asks 20 times a second: answer without the write lock
        with db.transaction():
            rows = db.read(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE {_DUE} ORDER BY seq",  # noqa: S608
                now_ms,
                wall,
            )
            claims = [_delivery(r, wall) for r in rows]
            db.write_many(
                "UPDATE deliveries SET claimed_until = ? WHERE id = ?",
                [(wall + lease_seconds, d.id) for d in claims],
            )
        return [copy_delivery(d, in_flight=True) for d in claims]

    def release_delivery(self, delivery: Delivery) -> None:
        self._db.write(
            "UPDATE deliveries SET next_attempt_ms = ?, state = ?, attempts = ?, "
            "claimed_until = NULL WHERE id = ?",
            delivery.next_attempt_ms,
            delivery.state.value,
            _attempts_json(delivery.attempts),
            delivery.id,
        )

    def clear_deliveries(self) -> None:
        self._db.write("DELETE FROM deliveries")


class SqlClockState:
    """The clock's one row, read on every ``now_ms()``: an advance through any process
    is seen by all at once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def clock_state(self) -> ClockState:
        db = self._db

        def load() -> ClockState:
            [row] = db.read("SELECT offset_ms, frozen_at_ms FROM clock WHERE id = 1")
            return ClockState(row[0], row[1])

        return db.cached(("clock",), load)

    def update_clock_state(self, change: Callable[[ClockState], ClockState]) -> ClockState:
        db = self._db
        with db.transaction():
            state = change(self.clock_state())
            db.write(
                "UPDATE clock SET offset_ms = ?, frozen_at_ms = ? WHERE id = 1",
                state.offset_ms,
                state.frozen_at_ms,
            )
            return state


class SqlStore:
    """Every concern over one database: what the SQLite and PostgreSQL stores are."""

    shared = True  # every process on the database: see read_scope
    blocking = False  # SQLite bounds its own waits on an event loop

    def __init__(self, db: Database) -> None:
        self._db = db
        self.accounts = SqlAccounts(db)
        self.jobs = SqlJobs(db)
        self.files = SqlFiles(db)
        self.limits = SqlLimits(db)
        self.rules = SqlRules(db)
        self.deliveries = SqlDeliveries(db)
        self.clock = SqlClockState(db)

    def transaction(self) -> contextlib.AbstractContextManager[object]:
        return self._db.transaction()

    def reset(self) -> None:
        self._db.reset()

    def next_instance(self) -> int:
        return self._db.next_instance()

    def close(self) -> None:
        self._db.close_connections()
