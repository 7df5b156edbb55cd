"""The fake's state in PostgreSQL: several instances, on several machines, share it.

``wavespeed-mock serve --db postgresql://user@host/dbname`` (or
``WAVESPEED_MOCK_DB``): every instance on the database sees the same accounts
and ledgers, jobs, uploaded files (their bytes too, as ``bytea``), tickets,
rules and their counters, quotas, webhook deliveries and clock, so a load
balancer may send any request to any instance. The concerns' statements are
those of SQLite (:mod:`mock_api.storage.sql`); what differs is here, over the
psycopg 3 driver (the ``postgres`` extra: ``pip install "wavespeed-mock[postgres]"``).

* **One writer at a time, across instances.** Every write transaction begins
  by taking one transaction-level advisory lock (:data:`WRITE_LOCK`), which
  the commit or rollback releases: exactly what SQLite's ``BEGIN IMMEDIATE``
  gives, so "check the balance, then charge", "count the minute's jobs, then
  accept", "count the rule, then fire it" and "claim the due deliveries" are
  atomic across instances with no retry loop, and money is exact to the
  micro-dollar. Reads take no lock (each is its own snapshot). The fake's
  write transactions are short (a submission is a few rows), so one lock
  costs little; an instance that waits longer than :data:`LOCK_WAIT_MS` for it
  answers 503 with ``Retry-After``, having changed nothing.
* **Webhook deliveries** are claimed under that lock with a lease on wall
  time, so each due attempt is sent by exactly one instance; a claim left by an
  instance that died (``kill -9``) lapses after the lease
  (:data:`~mock_api.records.CLAIM_SECONDS`) and another instance sends it.
* **A read cache that is never stale.** Each write transaction adds one to a
  change counter (a row of ``meta``) before it commits; a thread's cache of
  what every request reads (the clock, the account, the job, the rules) is
  kept while the counter it last read is unchanged, and the counter is read
  once per request (:func:`~mock_api.storage.read_scope`): one indexed read of
  one row instead of six reads.
* **The clock is one row**: an advance or a freeze through any instance holds
  in all at once.
* **Schema versions.** The schema is created at start-up (under the same lock,
  so instances starting together do not race) and its version kept in
  ``meta``; a database of a newer version is refused with
  :class:`~mock_api.storage.sql.SchemaMismatch` naming both versions.
* **Connections**: one per thread, in autocommit mode (a read is its own
  snapshot; transactions are explicit). A database that cannot be reached is
  a 503 naming it, never a 500.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from mock_api.errors import Unavailable
from mock_api.storage import redact
from mock_api.storage.sql import Database, Dialect, SchemaMismatch, SqlStore, hour_of

__all__ = ["LOCK_WAIT_MS", "SCHEMA_VERSION", "WRITE_LOCK", "PostgresStore", "SchemaMismatch"]

SCHEMA_VERSION = 1
#: The advisory lock every write transaction holds (a constant: "wavespeed-mock" in hex).
WRITE_LOCK = 0x77617665_6D6F636B
#: How long a write waits for another instance's transaction before answering 503.
LOCK_WAIT_MS = 10_000
#: How long connecting to the database may take before the request answers 503.
CONNECT_TIMEOUT_SECONDS = 5
#: What a write that gave up asks its client to wait before trying again.
RETRY_AFTER_SECONDS = 1

#: Made first, on its own: it holds the schema's version, read before the rest is made.
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)"
_SCHEMA = """
INSERT INTO meta (key, value) VALUES ('instances', 0), ('changes', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms BIGINT NOT NULL,
    frozen_at_ms BIGINT
);
INSERT INTO clock (id, offset_ms, frozen_at_ms) VALUES (1, 0, NULL) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ledger (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    job_id TEXT,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger (account, at_ms, amount_micros);
CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, total_micros BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (account TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    model TEXT NOT NULL,
    input TEXT NOT NULL,
    seed BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT NOT NULL,
    outcome_status TEXT NOT NULL,
    outcome_nsfw BIGINT NOT NULL,
    outcome_code BIGINT NOT NULL,
    outcome_error TEXT NOT NULL,
    quote TEXT,
    output_ms BIGINT NOT NULL,
    variant BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_account ON jobs (account, seq);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (account, created_ms, seq);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (account, finished_ms);
CREATE TABLE IF NOT EXISTS job_hours (
    account TEXT NOT NULL,
    hour BIGINT NOT NULL,
    jobs BIGINT NOT NULL,
    PRIMARY KEY (account, hour)
);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    file_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS limits (
    account TEXT PRIMARY KEY,
    videos_per_minute BIGINT,
    max_concurrent BIGINT
);
CREATE TABLE IF NOT EXISTS rules (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    definition TEXT NOT NULL,
    matched BIGINT NOT NULL,
    applied BIGINT NOT NULL,
    UNIQUE (kind, id)
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL,
    account TEXT NOT NULL,
    url TEXT NOT NULL,
    base_url TEXT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts TEXT NOT NULL,
    claimed_until DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_ms);
"""
#: Jobs per account and hour of creation, kept by triggers as SQLite's are.
_JOB_HOURS = f"""
CREATE OR REPLACE FUNCTION wavespeed_job_hours() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_hours (account, hour, jobs)
        VALUES (NEW.account, {hour_of("NEW.created_ms")}, 1)
        ON CONFLICT (account, hour) DO UPDATE SET jobs = job_hours.jobs + 1;
        RETURN NEW;
    END IF;
    UPDATE job_hours SET jobs = jobs - 1
    WHERE account = OLD.account AND hour = {hour_of("OLD.created_ms")};
    RETURN OLD;
END $$;
DROP TRIGGER IF EXISTS job_hours_count ON jobs;
CREATE TRIGGER job_hours_count AFTER INSERT OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION wavespeed_job_hours();
"""  # noqa: S608 - fixed text


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """The concerns' ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _escape(value: Any) -> Any:
    """A text parameter as stored: PostgreSQL's text holds no NUL, which a client's
    prompt, webhook URL or rule id may hold, so a backslash becomes two and a NUL
    ``\\0`` (reversibly, and equal texts stay equal)."""
    if isinstance(value, str) and ("\\" in value or "\x00" in value):
        return value.replace("\\", "\\\\").replace("\x00", "\\0")
    return value


def _unescape_text(text: str) -> str:
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "0" else m.group(1), text)


def _unescape(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_unescape_text(v) if isinstance(v, str) and "\\" in v else v for v in row)


class PostgresDatabase(Database):
    """A PostgreSQL database: a psycopg connection per thread, one advisory write lock.

    Text is stored escaped (:func:`_escape`): every text parameter on the way in,
    every text column on the way out, so the concerns see exactly what they wrote.
    """

    dialect = Dialect(jobs_by_creation="jobs", no_limit="ALL")

    def __init__(self, url: str, *, lock_wait_ms: int = LOCK_WAIT_MS) -> None:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - the extra is installed wherever tests run
            raise RuntimeError(
                'PostgreSQL needs the psycopg driver: pip install "wavespeed-mock[postgres]"'
            ) from None
        super().__init__()
        self._psycopg = psycopg
        self.url = url
        self._lock_wait_ms = lock_wait_ms
        self._errors = (psycopg.Error,)
        try:
            self._create_schema()
        except BaseException:
            self.close_connections()
            raise

    def _unavailable(self, exc: BaseException) -> Unavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Unavailable(
            f"the state database {redact(self.url)} cannot be used ({reason}); "
            f"nothing was changed: retry in {RETRY_AFTER_SECONDS} s",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="wavespeed-mock",
            )
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from None
        conn.execute(f"SET lock_timeout = {int(self._lock_wait_ms)}")
        return conn

    def conn(self) -> Any:
        conn = super().conn()
        if conn.closed:  # the server closed it (a restart): connect again
            self._local.conn = None
            conn = super().conn()
        return conn

    def _execute(self, conn: Any, sql: str, params: Sequence[Any]) -> Any:
        try:
            return conn.execute(_placeholders(sql), [_escape(p) for p in params] or None)
        except self._psycopg.OperationalError as exc:
            raise self._unavailable(exc) from None

    def _execute_many(self, conn: Any, sql: str, rows: list[Sequence[Any]]) -> None:
        if rows:
            with conn.cursor() as cursor:
                cursor.executemany(_placeholders(sql), [[_escape(p) for p in row] for row in rows])

    def read(self, sql: str, *params: Any) -> list[Any]:
        return [_unescape(row) for row in super().read(sql, *params)]

    def _begin(self, conn: Any) -> None:
        errors = self._psycopg.errors
        try:
            # One round trip (no parameters: the simple protocol takes both statements).
            conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        except errors.LockNotAvailable:
            conn.execute("ROLLBACK")
            raise Unavailable(
                f"the state database is busy with another instance's write (waited "
                f"{self._lock_wait_ms} ms); nothing was changed: retry in {RETRY_AFTER_SECONDS} s",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            ) from None
        except self._psycopg.OperationalError as exc:
            raise self._unavailable(exc) from None

    def _commit(self, conn: Any) -> None:
        # Every reader's cache is dropped at its next check: the counter moved. One round trip.
        conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'changes'; COMMIT")

    def _version(self, conn: Any) -> object:
        row = self._execute(conn, "SELECT value FROM meta WHERE key = 'changes'", ()).fetchone()
        return row[0]

    def _create_schema(self) -> None:
        conn = self.conn()
        with self.transaction():
            conn.execute(_META)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = 0 if row is None else int(row[0])
            if version not in (0, SCHEMA_VERSION):
                raise SchemaMismatch(
                    f"{redact(self.url)} holds schema version {version}; this wavespeed-mock "
                    f"reads version {SCHEMA_VERSION}: upgrade it, or use another database"
                )
            conn.execute(_SCHEMA)
            if version == 0:
                conn.execute(_JOB_HOURS)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', %s) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value",
                    (SCHEMA_VERSION,),
                )


class PostgresStore(SqlStore):
    """Every concern in one PostgreSQL database (``serve --db postgresql://...``)."""

    blocking = True  # a network, and other instances' locks: see mock_api.offload

    def __init__(self, url: str, *, lock_wait_ms: int = LOCK_WAIT_MS) -> None:
        self.url = url
        self._postgres = PostgresDatabase(url, lock_wait_ms=lock_wait_ms)
        super().__init__(self._postgres)

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"
