"""What only a database file can do: several connections and processes on one file,
the read cache, rollback, the WAL checkpoint, the schema version.

The behaviour every store shares is in ``tests/store_suites/``.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mock_api import OffsetClock
from mock_api.faults import FaultBook, FaultKind, FaultRule
from mock_api.records import EntryKind, JobFilter, LedgerEntry
from mock_api.scenarios import ScenarioBook, ScenarioRule, Then
from mock_api.storage import read_scope
from mock_api.storage.sqlite import SchemaMismatch, SqliteStore
from tests.store_suites.conftest import T0, make_delivery, make_job


def test_two_stores_on_one_file_share_everything(tmp_path: Path) -> None:
    one, two = SqliteStore(tmp_path / "x.db"), SqliteStore(tmp_path / "x.db")
    one.jobs.add_job(make_job())
    OffsetClock(one.clock).freeze()
    assert two.jobs.job(make_job().id) == make_job()
    assert OffsetClock(two.clock).frozen
    ScenarioBook(two.rules).add(ScenarioRule(id="a", then=Then.NSFW))
    assert ScenarioBook(one.rules).fire(lambda r: True) is not None
    assert [(r.matched, r.applied) for r in two.rules.rules("scenario")] == [(1, 1)]
    one.close()
    two.close()


def _raw_sql(path: Path, sql: str) -> None:
    """A write as another process makes it: through a connection the store does not own."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(sql)


def _in_thread(action: Callable[[], object]) -> None:
    thread = threading.Thread(target=action)
    thread.start()
    thread.join()


def _opened_entries(store: SqliteStore) -> int:
    store.accounts.open_account("acct_1", T0, 100)  # asks "is the account open?" first
    return len(store.accounts.ledger("acct_1"))


# What a poll reads from a warm cache, and a change to it made by another store on
# the file (another worker) or by another thread of the same store, and by SQL as
# another process would make it.
Use = Callable[[SqliteStore], object]
CACHED_READS: dict[str, tuple[Use, Use, str]] = {
    "job": (
        lambda s: s.jobs.job(make_job().id),
        lambda s: s.reset() if s.jobs.jobs() else s.jobs.add_job(make_job()),  # jobs never change
        "DELETE FROM jobs",
    ),
    "deleted job": (
        lambda s: s.jobs.job(make_job().id),
        lambda s: (
            s.jobs.delete_jobs("acct_1", [make_job().id])
            if s.jobs.jobs()
            else s.jobs.add_job(make_job())
        ),
        "DELETE FROM jobs",
    ),
    "clock": (
        lambda s: s.clock.clock_state(),
        lambda s: OffsetClock(s.clock).advance(5),
        "UPDATE clock SET offset_ms = offset_ms + 7",
    ),
    "account": (
        _opened_entries,
        lambda s: s.accounts.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -1)),
        "DELETE FROM ledger",
    ),
    "rules": (
        lambda s: [r.id for r in s.rules.rules("fault")],
        lambda s: FaultBook(s.rules).add(
            FaultRule(id=f"f{len(s.rules.rules('fault'))}", kind=FaultKind.DROP)
        ),
        "DELETE FROM rules",
    ),
}


@pytest.mark.parametrize("name", CACHED_READS)
def test_cached_reads_see_every_commit_at_once(name: str, tmp_path: Path) -> None:
    read, change, raw_change = CACHED_READS[name]
    path = tmp_path / "x.db"
    reader, writer = SqliteStore(path), SqliteStore(path)
    changes: list[Callable[[], object]] = [
        lambda: change(writer),  # another store, as another worker process
        lambda: _raw_sql(path, raw_change),  # a connection the store knows nothing of
        lambda: _in_thread(lambda: change(reader)),  # another thread of the same store
        lambda: change(reader),  # this very thread
    ]
    seen = [read(reader)]
    for make_change in changes:
        make_change()
        seen.append(read(reader))
        cold = SqliteStore(path)
        assert seen[-1] == read(cold)  # read after the warm reader: it cannot hide a staleness
        cold.close()
    assert all(before != after for before, after in itertools.pairwise(seen)), seen
    reader.close()
    writer.close()


def test_a_read_scope_asks_other_processes_once_and_its_own_process_always(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    store = SqliteStore(path)
    store.jobs.add_job(make_job())
    with read_scope():
        assert store.jobs.job(make_job().id) == make_job()
        _raw_sql(path, "DELETE FROM jobs")  # another process, mid-scope
        assert store.jobs.job(make_job().id) == make_job()  # as of the scope's first read
        OffsetClock(store.clock).advance(1)  # this process: seen at once, and so is the rest
        assert (store.clock.clock_state().offset_ms, store.jobs.job(make_job().id)) == (1_000, None)
    _raw_sql(path, "UPDATE clock SET offset_ms = 5")
    with read_scope():
        assert store.clock.clock_state().offset_ms == 5  # a new scope asks again
    assert store.clock.clock_state().offset_ms == 5  # and outside any scope, every read does
    store.close()


def test_reads_in_a_transaction_see_its_own_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    assert store.jobs.job(make_job().id) is None  # cached as absent
    with store.transaction():
        store.jobs.add_job(make_job())
        assert store.jobs.job(make_job().id) == make_job()
        OffsetClock(store.clock).advance(1)
        assert store.clock.clock_state().offset_ms == 1_000
    assert store.jobs.job(make_job().id) == make_job()
    store.close()


def test_a_failed_transaction_rolls_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.accounts.open_account("acct_1", T0, 100)

    def charge_then_fail() -> None:
        with store.transaction():
            store.accounts.record(LedgerEntry("acct_1", T0, EntryKind.CHARGE, -100))
            store.jobs.add_job(make_job())
            raise RuntimeError("no funds after all")

    with pytest.raises(RuntimeError):
        charge_then_fail()
    assert store.accounts.balance("acct_1", T0) == 100
    assert store.jobs.jobs() == []
    store.close()


def test_claims_from_two_stores_never_overlap(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "x.db") for _ in range(4)]
    for index in range(40):
        stores[0].deliveries.add_delivery(make_delivery(f"msg_{index}", f"j{index}"))
    claimed: list[str] = []

    def claim(store: SqliteStore) -> None:
        for _ in range(20):
            claimed.extend(
                d.id for d in store.deliveries.claim_due_deliveries(T0, lease_seconds=60)
            )

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(f"msg_{i}" for i in range(40))
    for store in stores:
        store.close()


def test_a_claim_whose_process_died_expires(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.deliveries.add_delivery(make_delivery())
    assert (
        len(store.deliveries.claim_due_deliveries(T0, lease_seconds=-1.0)) == 1
    )  # expired at once
    assert len(store.deliveries.claim_due_deliveries(T0, lease_seconds=60)) == 1  # never released
    assert store.deliveries.claim_due_deliveries(T0, lease_seconds=60) == []  # claimed for 60 s now
    store.close()


_CHARGE = """
import sys
from mock_api.records import EntryKind, LedgerEntry
from mock_api.storage.sqlite import SqliteStore
store, charged = SqliteStore(sys.argv[1]), 0
print("ready", flush=True)
sys.stdin.readline()  # start together
for _ in range(200):
    with store.transaction():
        if store.accounts.balance("acct_1", 0) >= 1:
            store.accounts.record(LedgerEntry("acct_1", 0, EntryKind.CHARGE, -1))
            charged += 1
store.close()
print(charged)
"""


def test_check_then_charge_is_atomic_across_processes(tmp_path: Path) -> None:
    """Three processes each try 200 charges of 1 against a balance of 300: exactly 300 succeed."""
    path = str(tmp_path / "x.db")
    store = SqliteStore(path)
    store.accounts.open_account("acct_1", 0, 300)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CHARGE, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    charged = [int(process.communicate("go\n", timeout=30)[0]) for process in processes]
    assert sum(charged) == 300  # so at least two processes charged
    assert store.accounts.balance("acct_1", 0) == 0
    assert len(store.accounts.ledger("acct_1")) == 301
    store.close()


def test_close_checkpoints_the_wal_and_the_store_reopens(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SqliteStore(path)
    store.jobs.add_job(make_job())
    store.close()
    wal = tmp_path / "x.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(path) as conn:  # everything is in the main file
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (1,)
    assert store.jobs.jobs() == [make_job()]  # used again: reconnects
    store.close()
    store.close()


def test_a_file_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        SqliteStore(path)


@pytest.mark.parametrize("path", [":memory:", ""])
def test_memory_is_for_memory_store(path: str) -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        SqliteStore(path)


def test_a_file_from_before_the_hourly_counts_is_counted_when_opened(tmp_path: Path) -> None:
    """The history's totals read per-hour counts; a file written without them gets them."""
    store = SqliteStore(tmp_path / "x.db")
    hour = 3_600_000
    for n in range(30):
        store.jobs.add_job(
            make_job(f"{n:032x}", created_ms=T0 + n * hour // 4, finished_ms=T0 + n * hour)
        )
    store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "x.db")) as raw, raw:
        for statement in (
            "DROP TRIGGER job_hours_add",
            "DROP TRIGGER job_hours_remove",
            "DROP TABLE job_hours",
        ):
            raw.execute(statement)
    reopened = SqliteStore(tmp_path / "x.db")
    reopened.jobs.add_job(make_job("f" * 32, created_ms=T0 + 3 * hour, finished_ms=T0 + 3 * hour))
    reopened.jobs.delete_jobs("acct_1", [f"{0:032x}"])
    for low, high in [(None, None), (T0 + hour // 2, None), (T0, T0 + 5 * hour + 1)]:
        where = JobFilter(created_min=low, created_max=high)
        assert reopened.jobs.count_jobs("acct_1", where) == len(
            reopened.jobs.find_jobs("acct_1", where)
        )
    assert reopened.jobs.count_jobs("acct_1", JobFilter()) == 30
    reopened.close()
