"""The fake's state in a SQLite file: it survives restarts, and processes share it.

:class:`SqliteStore` implements :class:`~mock_api.storage.Store` exactly as
:class:`~mock_api.storage.memory.MemoryStore` does (the same behavioural tests run
against every store), over the standard library's ``sqlite3``, with the concerns'
statements of :mod:`mock_api.storage.sql`:

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
  before each read, or once per :func:`~mock_api.storage.read_scope` (the app
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
import sqlite3
import threading
from pathlib import Path

from mock_api.errors import Unavailable
from mock_api.storage.sql import Database, Dialect, SchemaMismatch, SqlStore, hour_of

__all__ = ["BUSY_TIMEOUT_MS", "LOOP_WAIT_MS", "SCHEMA_VERSION", "SchemaMismatch", "SqliteStore"]

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
_JOB_HOURS = [
    """CREATE TABLE IF NOT EXISTS job_hours (
        account TEXT NOT NULL,
        hour INTEGER NOT NULL,
        jobs INTEGER NOT NULL,
        PRIMARY KEY (account, hour)
    ) WITHOUT ROWID""",
    f"""CREATE TRIGGER IF NOT EXISTS job_hours_add AFTER INSERT ON jobs BEGIN
        INSERT INTO job_hours (account, hour, jobs)
        VALUES (NEW.account, {hour_of("NEW.created_ms")}, 1)
        ON CONFLICT (account, hour) DO UPDATE SET jobs = jobs + 1;
    END""",  # noqa: S608 - fixed text
    f"""CREATE TRIGGER IF NOT EXISTS job_hours_remove AFTER DELETE ON jobs BEGIN
        UPDATE job_hours SET jobs = jobs - 1
        WHERE account = OLD.account AND hour = {hour_of("OLD.created_ms")};
    END""",  # noqa: S608 - fixed text
]


class SqliteDatabase(Database):
    """A SQLite file: WAL, one connection per thread, ``BEGIN IMMEDIATE`` transactions."""

    dialect = Dialect(jobs_by_creation="jobs INDEXED BY jobs_by_created", no_limit="-1")
    _errors = (sqlite3.Error,)

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        super().__init__()
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        # A writer on an event loop waited in vain for the lock: until a write gets it,
        # writers on a loop try it without waiting.
        self._held_elsewhere = False
        self._create_schema()

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

    def _opened(self, local: threading.local) -> None:
        local.busy_ms = self._busy_timeout_ms  # the connection's busy_timeout now

    def _version(self, conn: sqlite3.Connection) -> object:
        return self._execute(conn, "PRAGMA data_version", ()).fetchone()[0]

    def _create_schema(self) -> None:
        conn = self.conn()
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
                conn.execute(
                    "INSERT INTO job_hours (account, hour, jobs) SELECT account, "  # noqa: S608
                    f"{hour_of('created_ms')}, COUNT(*) FROM jobs GROUP BY 1, 2"
                )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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

    def checkpoint(self) -> None:
        """Fold the WAL into the database file, as far as other processes let it."""
        with contextlib.closing(self._connect()) as conn:
            # Another process may still be reading, or writing: then the checkpoint is
            # partial, never wrong, and a writer holding its lock for long does not keep
            # a stopping server waiting past its own bound (at most LOOP_WAIT_MS).
            conn.execute(f"PRAGMA busy_timeout = {min(LOOP_WAIT_MS, self._busy_timeout_ms)}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class SqliteStore(SqlStore):
    """Every concern in one SQLite file (``serve``'s default, ``--db PATH``)."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError(
                "SqliteStore needs a file (processes share it); use MemoryStore for memory"
            )
        self.path = Path(path)
        self._sqlite = SqliteDatabase(self.path, busy_timeout_ms)
        super().__init__(self._sqlite)

    def close(self) -> None:
        """Checkpoint the WAL into the database file and close every connection.

        Safe to call twice, and the store stays usable: a later call reconnects.
        """
        super().close()
        self._sqlite.checkpoint()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


def _on_event_loop() -> bool:
    """Is this thread running an event loop (a server's, or a test's)?"""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
