"""The fake's state in a SQLite file: it survives restarts, and processes share it.

:class:`SqliteStore` implements :class:`~mock_api.store.Store` exactly as
:class:`~mock_api.store.MemoryStore` does (the same behavioural tests run against
both), over the standard library's ``sqlite3``:

* **WAL mode, ``synchronous=NORMAL``**: readers never block the writer, and a
  committed transaction survives the process being killed (only a power cut may
  lose the last ones). ``busy_timeout`` makes a writer wait for another's
  transaction rather than fail.
* **A held write lock never freezes a server.** The store's calls are
  synchronous, and a server makes them on its event loop, where a writer
  waiting out the busy timeout would stop every other request of its process.
  So a writer on an event loop waits at most :data:`LOOP_WAIT_MS` for the lock
  (enough for another worker's largest transaction, a 100 MB upload) and then
  raises :class:`~mock_api.errors.Unavailable` (503, ``Retry-After``), having
  changed nothing; after such a wait it tries the lock without waiting until
  one of its writes gets it, so a lock held for long costs the loop one wait,
  not one per request. Reads never wait for the lock (WAL). Threads without an
  event loop (the CLI, tests, a server's worker threads) wait the whole busy
  timeout, then raise the same error.
* **One connection per thread**, in autocommit mode: a read is its own
  snapshot; :meth:`SqliteStore.transaction` is ``BEGIN IMMEDIATE`` ... ``COMMIT``,
  which takes the database's write lock first, so "check the balance, then
  charge" is atomic across threads and processes alike. Transactions nest (the
  outermost commits) and roll back when the block raises.
* **Records as columns, JSON where simpler**: a job's plan and outcome are
  columns, its input and quote JSON (Decimals as text, so they come back
  exactly); uploaded files are BLOBs, so a file and its metadata commit together.
* **Scenario and fault rules** are stored as their JSON definition plus their
  counters, and rebuilt with the same parsers the control API uses.
* **Webhook deliveries** are claimed with a lease on wall-clock time, as long
  as the dispatcher asks (:data:`~mock_api.webhooks.CLAIM_SECONDS`, longer than
  an attempt can take): a process that dies mid-attempt (``kill -9``) leaves a
  claim that expires, and the attempt is made again.
* **The clock** (an :class:`~mock_api.clock.OffsetClock`'s offset and freeze) is
  one row, read on every ``now_ms()``: an advance through any process is seen by
  all at once.
* **A read cache that is never stale**: what a poll reads (the clock, the
  account, the job, the rules) is kept per thread and thrown away as soon as
  the database changes. ``PRAGMA data_version`` tells a connection whether
  any other connection, in this process or another, has committed since it last
  asked, and a counter covers this process's own commits. The check runs
  before each read, or once per :func:`~mock_api.store.read_scope` (the app
  opens one per request), and replaces the six reads of every GET (what that
  saves is measured by ``benchmarks/run.py``, figures in the README).
  Inside a transaction reads go to the database, which may hold the
  transaction's own writes.

The schema's version is ``PRAGMA user_version``; a file of another version is
refused rather than guessed at.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from mock_api.billing import Quote
from mock_api.clock import ClockState
from mock_api.errors import Unavailable
from mock_api.lifecycle import Outcome, Plan, Status
from mock_api.quotas import Limits
from mock_api.rulebook import Rule, decode_rule, rule_definition, with_counts
from mock_api.store import (
    READ_SCOPE,
    EntryKind,
    Job,
    JobFilter,
    LedgerEntry,
    StoredFile,
    UploadTicket,
    copy_delivery,
)
from mock_api.webhooks import CLAIM_SECONDS, Attempt, Delivery, DeliveryState

SCHEMA_VERSION = 1
#: How long a writer off any event loop waits for another's write lock.
BUSY_TIMEOUT_MS = 10_000
#: How long a writer on an event loop waits for it: the whole server waits with it.
LOOP_WAIT_MS = 1_000
#: What a writer that gave up asks its client to wait before trying again.
RETRY_AFTER_SECONDS = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms INTEGER NOT NULL,
    frozen_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    job_id TEXT,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger (account, at_ms, amount_micros);
CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, total_micros INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (account TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    model TEXT NOT NULL,
    input TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    outcome_status TEXT NOT NULL,
    outcome_nsfw INTEGER NOT NULL,
    outcome_code INTEGER NOT NULL,
    outcome_error TEXT NOT NULL,
    quote TEXT,
    output_ms INTEGER NOT NULL,
    variant INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_account ON jobs (account, seq);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (account, created_ms);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (account, finished_ms);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    file_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS limits (
    account TEXT PRIMARY KEY,
    videos_per_minute INTEGER,
    max_concurrent INTEGER
);
CREATE TABLE IF NOT EXISTS rules (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    definition TEXT NOT NULL,
    matched INTEGER NOT NULL,
    applied INTEGER NOT NULL,
    UNIQUE (kind, id)
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL,
    account TEXT NOT NULL,
    url TEXT NOT NULL,
    base_url TEXT NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts TEXT NOT NULL,
    claimed_until REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_ms);
INSERT OR IGNORE INTO meta (key, value) VALUES ('instances', 0);
INSERT OR IGNORE INTO clock (id, offset_ms, frozen_at_ms) VALUES (1, 0, NULL);
"""
#: Jobs per account and hour of creation, kept by triggers: the history's total is a
#: sum of hours plus the jobs of the two hours its window cuts, not a count of every
#: job in the window (``benchmarks/history_paging.py``). An hour is the floor of
#: ms / HOUR_MS, negative moments included.
HOUR_MS = 3_600_000
_HOUR = f"(({{ms}} - (({{ms}} % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS}) / {HOUR_MS})"
_JOB_HOURS = [
    """CREATE TABLE IF NOT EXISTS job_hours (
        account TEXT NOT NULL,
        hour INTEGER NOT NULL,
        jobs INTEGER NOT NULL,
        PRIMARY KEY (account, hour)
    ) WITHOUT ROWID""",
    f"""CREATE TRIGGER IF NOT EXISTS job_hours_add AFTER INSERT ON jobs BEGIN
        INSERT INTO job_hours (account, hour, jobs)
        VALUES (NEW.account, {_HOUR.format(ms="NEW.created_ms")}, 1)
        ON CONFLICT (account, hour) DO UPDATE SET jobs = jobs + 1;
    END""",  # noqa: S608 - fixed text
    f"""CREATE TRIGGER IF NOT EXISTS job_hours_remove AFTER DELETE ON jobs BEGIN
        UPDATE job_hours SET jobs = jobs - 1
        WHERE account = OLD.account AND hour = {_HOUR.format(ms="OLD.created_ms")};
    END""",  # noqa: S608 - fixed text
]
#: What reset() empties: everything but the clock and the instance count.
_RECORD_TABLES = (
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

#: Entries a thread's read cache holds before it starts again (a GET reads ~4).
CACHE_ENTRIES = 10_000
T = TypeVar("T")


class SchemaMismatch(RuntimeError):
    """The database file was written by a different version of the fake."""


class SqliteStore:
    shared = True  # every process that opens the file: see read_scope

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError(
                "SqliteStore needs a file (processes share it); use MemoryStore for memory"
            )
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._generation = 0  # bumped by close(): threads then reconnect
        self._commits = 0  # bumped by each of this process's commits: read caches start again
        self._decoded: dict[tuple[str, str], Rule] = {}  # (kind, definition) -> rule
        # A writer on an event loop waited in vain for the lock: until a write gets it,
        # writers on a loop try it without waiting.
        self._held_elsewhere = False
        self._create_schema()

    # connections and transactions

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # one thread uses it; close() may run on another
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or local.generation != self._generation:
            conn = self._connect()
            with self._connections_lock:
                self._connections.append(conn)
                local.generation = self._generation
            local.conn = conn
            local.depth = 0
            local.cache = {}
            local.data_version = None
            local.commits = -1
            local.scope = None  # the read scope this thread last checked in
            local.busy_ms = self._busy_timeout_ms  # the connection's busy_timeout now
        return conn

    def _create_schema(self) -> None:
        conn = self._conn()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite refused WAL mode (journal_mode is {mode})")
        with self.transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise SchemaMismatch(
                    f"{self.path} holds schema version {version}; this wavespeed-mock "
                    f"reads version {SCHEMA_VERSION}: use another --db"
                )
            for statement in _SCHEMA.split(";"):  # not executescript(): it would COMMIT
                if statement.strip():
                    conn.execute(statement)
            counted = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'job_hours'"
            ).fetchone()
            for statement in _JOB_HOURS:
                conn.execute(statement)
            if not counted:  # a file from before the counts: count its jobs once
                hour = _HOUR.format(ms="created_ms")
                conn.execute(
                    f"INSERT INTO job_hours (account, hour, jobs) SELECT account, {hour}, "  # noqa: S608
                    "COUNT(*) FROM jobs GROUP BY 1, 2"
                )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``: hold the write lock for the block; commit, or roll back."""
        conn = self._conn()
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
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back already (a full disk): keep the first error.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        finally:
            local.depth = 0
            self._commits += 1  # committed or not, every thread's cache starts again

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, waiting for the write lock as long as this thread may."""
        local = self._local
        on_loop = _on_event_loop()
        if not on_loop:
            wait_ms = self._busy_timeout_ms
        else:
            wait_ms = 0 if self._held_elsewhere else min(LOOP_WAIT_MS, self._busy_timeout_ms)
        if wait_ms != local.busy_ms:
            conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            local.busy_ms = wait_ms
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            if on_loop:
                self._held_elsewhere = True
            raise Unavailable(
                f"the state database is locked by another process (waited {wait_ms} ms); "
                f"nothing was changed: retry in {RETRY_AFTER_SECONDS} s",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            ) from None
        self._held_elsewhere = False

    def _cached(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        """``load()``, or what it gave before if nothing was committed since.

        Nothing committed means: neither did this process (``_commits``), nor any
        other connection, in any process: ``PRAGMA data_version`` is unchanged on
        this thread's connection. That check runs before every read, or once per
        :func:`~mock_api.store.read_scope`. It runs before loading, so a commit
        racing the load only makes the next check start again.
        """
        conn = self._conn()
        local = self._local
        if local.depth:  # in a transaction: see its own writes
            return load()
        commits = self._commits
        scope = READ_SCOPE.get()
        if scope is None or scope is not local.scope or commits != local.commits:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if (
                version != local.data_version
                or commits != local.commits
                or len(local.cache) > CACHE_ENTRIES
            ):
                local.cache.clear()
                local.data_version, local.commits = version, commits
            local.scope = scope
        cache: dict[tuple[Any, ...], Any] = local.cache
        try:
            return cast(T, cache[key])
        except KeyError:
            value = cache[key] = load()
            return value

    def _read(self, sql: str, *params: Any) -> list[Any]:
        return self._conn().execute(sql, params).fetchall()

    def _write(self, sql: str, *params: Any) -> int:
        """Run one statement in a transaction (the caller's, if any); returns rows changed."""
        with self.transaction():
            return self._conn().execute(sql, params).rowcount

    def close(self) -> None:
        """Checkpoint the WAL into the database file and close every connection.

        Safe to call twice, and the store stays usable: a later call reconnects.
        """
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._generation += 1
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        with contextlib.closing(self._connect()) as conn:
            # Another process may still be reading, or writing: then the checkpoint is
            # partial, never wrong, and a writer holding its lock for long does not keep
            # a stopping server waiting past its own bound (at most LOOP_WAIT_MS).
            conn.execute(f"PRAGMA busy_timeout = {min(LOOP_WAIT_MS, self._busy_timeout_ms)}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def reset(self) -> None:
        with self.transaction():
            for table in _RECORD_TABLES:
                self._conn().execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names

    def next_instance(self) -> int:
        with self.transaction():
            [row] = self._read("SELECT value FROM meta WHERE key = 'instances'")
            self._conn().execute("UPDATE meta SET value = value + 1 WHERE key = 'instances'")
            return int(row[0])

    # accounts and money

    def _has_account(self, account: str) -> bool:
        return self._cached(
            ("account", account),
            lambda: bool(self._read("SELECT 1 FROM ledger WHERE account = ? LIMIT 1", account)),
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
        [row] = self._read(
            "SELECT COALESCE((SELECT total_micros FROM balances WHERE account = ?1), 0)"
            " - (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger"
            " WHERE account = ?1 AND at_ms > ?2)",
            account,
            now_ms,
        )
        return int(row[0])

    def ledger(self, account: str) -> list[LedgerEntry]:
        rows = self._read(
            "SELECT account, at_ms, kind, amount_micros, job_id, note FROM ledger "
            "WHERE account = ? ORDER BY seq",
            account,
        )
        return [LedgerEntry(r[0], r[1], EntryKind(r[2]), r[3], r[4], r[5]) for r in rows]

    def record(self, *entries: LedgerEntry) -> None:
        with self.transaction():
            self._conn().executemany(
                "INSERT INTO ledger (account, at_ms, kind, amount_micros, job_id, note) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (e.account, e.at_ms, e.kind.value, e.amount_micros, e.job_id, e.note)
                    for e in entries
                ],
            )
            self._conn().executemany(
                "INSERT INTO balances (account, total_micros) VALUES (?, ?) ON CONFLICT (account)"
                " DO UPDATE SET total_micros = total_micros + excluded.total_micros",
                [(e.account, e.amount_micros) for e in entries],
            )

    def webhook_secret(self, account: str, make: Callable[[], str]) -> str:
        query = "SELECT secret FROM secrets WHERE account = ?"
        rows = self._read(query, account)
        if rows:
            return str(rows[0][0])
        with self.transaction():
            rows = self._read(query, account)
            if rows:
                return str(rows[0][0])
            secret = make()
            self._write("INSERT INTO secrets (account, secret) VALUES (?, ?)", account, secret)
            return secret

    # jobs

    def add_job(self, job: Job) -> None:
        plan, outcome = job.plan, job.plan.outcome
        try:
            self._write(
                "INSERT INTO jobs (id, account, model, input, seed, created_ms, started_ms, "
                "finished_ms, outcome_status, outcome_nsfw, outcome_code, outcome_error, quote, "
                "output_ms, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        except sqlite3.IntegrityError:
            raise KeyError(f"job {job.id} already exists") from None

    _JOB_COLUMNS = (
        "id, account, model, input, seed, created_ms, started_ms, finished_ms, outcome_status, "
        "outcome_nsfw, outcome_code, outcome_error, quote, output_ms, variant"
    )

    @staticmethod
    def _job(r: Any) -> Job:
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

    def job(self, job_id: str) -> Job | None:
        def load() -> Job | None:
            rows = self._read(f"SELECT {self._JOB_COLUMNS} FROM jobs WHERE id = ?", job_id)  # noqa: S608
            return self._job(rows[0]) if rows else None

        return self._cached(("job", job_id), load)

    def jobs(self, account: str | None = None) -> list[Job]:
        if account is None:
            rows = self._read(f"SELECT {self._JOB_COLUMNS} FROM jobs ORDER BY seq")  # noqa: S608
        else:
            rows = self._read(
                f"SELECT {self._JOB_COLUMNS} FROM jobs WHERE account = ? ORDER BY seq",  # noqa: S608
                account,
            )
        return [self._job(r) for r in rows]

    def created_after(self, account: str, after_ms: int) -> list[int]:
        query = "SELECT created_ms FROM jobs WHERE account = ? AND created_ms > ? ORDER BY 1"
        return [row[0] for row in self._read(query, account, after_ms)]

    def finishing_after(self, account: str, after_ms: int) -> list[int]:
        query = "SELECT finished_ms FROM jobs WHERE account = ? AND finished_ms > ? ORDER BY 1"
        return [row[0] for row in self._read(query, account, after_ms)]

    @staticmethod
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
        [row] = self._read(
            "SELECT COALESCE(SUM(jobs), 0) FROM job_hours WHERE account = ?1"
            " AND (?2 IS NULL OR hour >= ?2) AND (?3 IS NULL OR hour <= ?3)",
            account,
            first,
            last,
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
        conditions, params = self._job_filter(account, where)
        [row] = self._read(f"SELECT COUNT(*) FROM jobs WHERE {conditions}", *params)  # noqa: S608
        return int(row[0])

    def find_jobs(
        self, account: str, where: JobFilter, *, offset: int = 0, limit: int | None = None
    ) -> list[Job]:
        conditions, params = self._job_filter(account, where)
        # Walks the index on (account, created_ms) newest first and stops after the
        # page: no sort, whichever other index a filter could have used instead.
        rows = self._read(
            f"SELECT {self._JOB_COLUMNS} FROM jobs INDEXED BY jobs_by_created "  # noqa: S608
            f"WHERE {conditions} ORDER BY created_ms DESC, seq DESC LIMIT ? OFFSET ?",
            *params,
            -1 if limit is None else limit,
            offset,
        )
        return [self._job(r) for r in rows]

    def delete_jobs(self, account: str, job_ids: list[str]) -> list[str]:
        unique = list(dict.fromkeys(job_ids))
        deleted: list[str] = []
        with self.transaction():
            conn = self._conn()
            for start in range(0, len(unique), 500):  # under SQLite's bound-parameter limit
                chunk = unique[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                found = {
                    row[0]
                    for row in conn.execute(
                        f"SELECT id FROM jobs WHERE account = ? AND id IN ({marks})",  # noqa: S608
                        (account, *chunk),
                    )
                }
                conn.execute(
                    f"DELETE FROM jobs WHERE account = ? AND id IN ({marks})",  # noqa: S608
                    (account, *chunk),
                )
                deleted.extend(job_id for job_id in chunk if job_id in found)
        return deleted

    # files and tickets

    def add_file(self, stored: StoredFile) -> None:
        self._write(
            "INSERT OR REPLACE INTO files (id, account, filename, content_type, kind, data, "
            "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            stored.id,
            stored.account,
            stored.filename,
            stored.content_type,
            stored.kind,
            stored.data,
            stored.created_ms,
        )

    def file(self, file_id: str) -> StoredFile | None:
        rows = self._read(
            "SELECT id, account, filename, content_type, kind, data, created_ms FROM files "
            "WHERE id = ?",
            file_id,
        )
        if not rows:
            return None
        r = rows[0]
        return StoredFile(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6])

    def add_ticket(self, ticket: UploadTicket) -> None:
        self._write(
            "INSERT OR REPLACE INTO tickets (id, account, file_id, filename, size, content_type, "
            "expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ticket.id,
            ticket.account,
            ticket.file_id,
            ticket.filename,
            ticket.size,
            ticket.content_type,
            ticket.expires_ms,
        )

    def ticket(self, ticket_id: str) -> UploadTicket | None:
        rows = self._read(
            "SELECT id, account, file_id, filename, size, content_type, expires_ms FROM tickets "
            "WHERE id = ?",
            ticket_id,
        )
        return UploadTicket(*rows[0]) if rows else None

    def take_ticket(self, ticket_id: str) -> UploadTicket | None:
        with self.transaction():
            ticket = self.ticket(ticket_id)
            if ticket is not None:
                self._write("DELETE FROM tickets WHERE id = ?", ticket_id)
            return ticket

    def return_ticket(self, ticket: UploadTicket) -> None:
        self.add_ticket(ticket)

    # quotas

    def limits(self, account: str | None) -> Limits | None:
        key = _DEFAULT_LIMITS if account is None else account
        rows = self._read(
            "SELECT videos_per_minute, max_concurrent FROM limits WHERE account = ?", key
        )
        return Limits(rows[0][0], rows[0][1]) if rows else None

    def set_limits(self, account: str | None, limits: Limits) -> None:
        self._write(
            "INSERT OR REPLACE INTO limits (account, videos_per_minute, max_concurrent) "
            "VALUES (?, ?, ?)",
            _DEFAULT_LIMITS if account is None else account,
            limits.videos_per_minute,
            limits.max_concurrent,
        )

    # rules

    def _rule(self, kind: str, definition: str, matched: int, applied: int) -> Rule:
        rule = self._decoded.get((kind, definition))
        if rule is None:
            rule = decode_rule(kind, json.loads(definition))
            if len(self._decoded) > 1_000:
                self._decoded.clear()
            self._decoded[(kind, definition)] = rule
        return with_counts(rule, matched, applied)

    def rules(self, kind: str) -> list[Rule]:
        def load() -> tuple[Rule, ...]:
            rows = self._read(
                "SELECT definition, matched, applied FROM rules WHERE kind = ? ORDER BY seq", kind
            )
            return tuple(self._rule(kind, *r) for r in rows)

        return list(self._cached(("rules", kind), load))

    def add_rule(self, kind: str, rule: Rule) -> bool:
        return bool(
            self._write(
                "INSERT OR IGNORE INTO rules (kind, id, definition, matched, applied) "
                "VALUES (?, ?, ?, ?, ?)",
                kind,
                rule.id,
                json.dumps(rule_definition(rule)),
                rule.matched,
                rule.applied,
            )
        )

    def remove_rule(self, kind: str, rule_id: str) -> bool:
        return bool(self._write("DELETE FROM rules WHERE kind = ? AND id = ?", kind, rule_id))

    def clear_rules(self, kind: str) -> None:
        self._write("DELETE FROM rules WHERE kind = ?", kind)

    def count_rule(self, kind: str, rule_id: str, matched: int, applied: int) -> None:
        self._write(
            "UPDATE rules SET matched = ?, applied = ? WHERE kind = ? AND id = ?",
            matched,
            applied,
            kind,
            rule_id,
        )

    # webhook deliveries

    _DELIVERY_COLUMNS = (
        "id, job_id, account, url, base_url, next_attempt_ms, state, attempts, claimed_until"
    )

    @staticmethod
    def _delivery(r: Any, wall: float) -> Delivery:
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

    def add_delivery(self, delivery: Delivery) -> None:
        self._write(
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
        rows = self._read(
            f"SELECT {self._DELIVERY_COLUMNS} FROM deliveries "  # noqa: S608
            "WHERE (?1 IS NULL OR job_id = ?1) AND (?2 IS NULL OR account = ?2) ORDER BY seq",
            job_id,
            account,
        )
        wall = time.time()
        return [self._delivery(r, wall) for r in rows]

    _DUE = (
        "state = 'pending' AND next_attempt_ms <= ? "
        "AND (claimed_until IS NULL OR claimed_until <= ?)"
    )

    def claim_due_deliveries(self, now_ms: int, *, lease_seconds: float) -> list[Delivery]:
        wall = time.time()
        if not self._read(f"SELECT 1 FROM deliveries WHERE {self._DUE} LIMIT 1", now_ms, wall):  # noqa: S608
            return []  # the dispatcher asks 20 times a second: answer without the write lock
        with self.transaction():
            rows = self._read(
                f"SELECT {self._DELIVERY_COLUMNS} FROM deliveries WHERE {self._DUE} ORDER BY seq",  # noqa: S608
                now_ms,
                wall,
            )
            claims = [self._delivery(r, wall) for r in rows]
            self._conn().executemany(
                "UPDATE deliveries SET claimed_until = ? WHERE id = ?",
                [(wall + lease_seconds, d.id) for d in claims],
            )
        return [copy_delivery(d, in_flight=True) for d in claims]

    def release_delivery(self, delivery: Delivery) -> None:
        self._write(
            "UPDATE deliveries SET next_attempt_ms = ?, state = ?, attempts = ?, "
            "claimed_until = NULL WHERE id = ?",
            delivery.next_attempt_ms,
            delivery.state.value,
            _attempts_json(delivery.attempts),
            delivery.id,
        )

    def clear_deliveries(self) -> None:
        self._write("DELETE FROM deliveries")

    # the clock's state

    def clock_state(self) -> ClockState:
        def load() -> ClockState:
            [row] = self._read("SELECT offset_ms, frozen_at_ms FROM clock WHERE id = 1")
            return ClockState(row[0], row[1])

        return self._cached(("clock",), load)

    def update_clock_state(self, change: Callable[[ClockState], ClockState]) -> ClockState:
        with self.transaction():
            state = change(self.clock_state())
            self._write(
                "UPDATE clock SET offset_ms = ?, frozen_at_ms = ? WHERE id = 1",
                state.offset_ms,
                state.frozen_at_ms,
            )
            return state

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


def _on_event_loop() -> bool:
    """Is this thread running an event loop (a server's, or a test's)?"""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _attempts_json(attempts: list[Attempt]) -> str:
    return json.dumps([[a.at_ms, a.status, a.error, a.duration_ms] for a in attempts])
