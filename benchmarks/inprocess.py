"""The in-process benchmarks: the fake as a library, reached through httpx's ASGI transport.

No sockets and no subprocesses here (``run.py`` does those): job cycles per
second, GET and submit latency with 100,000 stored jobs against an empty
store, memory per stored job, probe time per media file, and what a test pays
to set up a fake and send its first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from mock_api import billing
from mock_api.app import create_app
from mock_api.clock import ManualClock
from mock_api.journal import JournalEntry
from mock_api.lifecycle import COMPLETED, Plan
from mock_api.media import probe_audio, probe_video
from mock_api.planning import PACES, job_key, plan_job
from mock_api.quotas import Level
from mock_api.records import EntryKind, Job, LedgerEntry
from mock_api.service import MockService
from mock_api.settings import MODEL_ID, Settings
from mock_api.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "fixtures" / "media"
BASE = "http://wavespeed.mock"
API_KEY = "bench-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SUBMIT_PATH = f"/api/v3/{MODEL_ID}"


def submission(base: str = BASE) -> dict[str, Any]:
    """A job on the fake's own sample media: 5 s video, 5 s and 3 s of audio."""
    return {
        "video": f"{base}/media/samples/video.mp4?seconds=5",
        "left_audio": f"{base}/media/samples/silence.wav?seconds=5",
        "right_audio": f"{base}/media/samples/silence.wav?seconds=3",
        "order": "left_right",
        "seed": 7,
    }


#: Enough for every job a run submits or stores ($1,000,000), so none is refused with a 402.
BALANCE_MICROS = 10**12


def _instant() -> Settings:
    return Settings(pace=PACES["instant"], random_seed=1, initial_balance_micros=BALANCE_MICROS)


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=AUTH)


async def _submit(client: httpx.AsyncClient) -> str:
    answer = await client.post(SUBMIT_PATH, json=submission())
    answer.raise_for_status()
    job_id: str = answer.json()["data"]["id"]
    return job_id


async def _poll_done(client: httpx.AsyncClient, job_id: str) -> None:
    while True:
        answer = await client.get(f"/api/v3/predictions/{job_id}/result")
        answer.raise_for_status()
        if answer.json()["data"]["status"] in ("completed", "failed"):
            return


# job cycles


@dataclass(frozen=True)
class Cycles:
    cycles: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.cycles / self.seconds


async def _cycles(app: Any, seconds: float) -> Cycles:
    async with _client(app) as client:
        for _ in range(5):  # warm-up: routes built, samples generated once
            await _poll_done(client, await _submit(client))
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await _poll_done(client, await _submit(client))
            count += 1
        return Cycles(count, time.perf_counter() - started)


def job_cycles(seconds: float) -> Cycles:
    """Submit, then poll to completion, back to back, at instant pace, for ``seconds``."""
    return asyncio.run(_cycles(create_app(_instant(), clock=ManualClock()), seconds))


def job_cycles_sqlite(seconds: float, db_path: Path) -> Cycles:
    """The same cycles on a SQLite store (``serve``'s default) in ``db_path``."""
    app = create_app(_instant(), clock=ManualClock(), store=SqliteStore(db_path))
    return asyncio.run(_cycles(app, seconds))


# 100,000 stored jobs


def _job(service: MockService, account: str, i: int, now: int, *, realistic: bool) -> Job:
    """Job ``i`` as a submission leaves it, with its own input URLs.

    ``realistic`` runs the same pure cores as a real submission (``billing.quote``,
    ``job_key``, ``plan_job``), so each job owns all its objects: that is what
    the memory figure measures. Otherwise jobs share their few distinct quotes
    and skip the key, which stores 100,000 jobs in about a second and changes
    nothing the store's lookups see.
    """
    left = Decimal(3 + i % 7)
    policy = service.settings.billing
    if realistic:
        quote = billing.quote(left, Decimal(2), billing.Order.LEFT_RIGHT, policy)
    else:
        quote = _shared_quote(left, policy)
    inputs = {
        "video": f"{BASE}/media/files/{i:032x}/video.mp4",
        "left_audio": f"{BASE}/media/files/{i + 1:032x}/left.wav",
        "right_audio": f"{BASE}/media/files/{i + 2:032x}/right.wav",
        "order": "left_right",
        "seed": i,
    }
    created = now - 10**9 + i  # days ago: finished, outside every quota window
    if realistic:
        key = job_key(i, json.dumps(inputs, sort_keys=True))
        plan = plan_job(
            created_ms=created,
            output_seconds=quote.output_seconds,
            pace=service.settings.pace,
            key=key,
            outcome=COMPLETED,
        )
        variant = int(key[:8], 16)
    else:  # what plan_job gives at instant pace
        plan = Plan(created, created, created, COMPLETED)
        variant = i
    return Job(
        id=f"{i:032x}",
        account=account,
        model=MODEL_ID,
        input=inputs,
        seed=i,
        plan=plan,
        quote=quote,
        output_ms=int(quote.output_seconds * 1000),
        variant=variant,
    )


_QUOTES: dict[Decimal, billing.Quote] = {}


def _shared_quote(left: Decimal, policy: billing.BillingPolicy) -> billing.Quote:
    if left not in _QUOTES:
        _QUOTES[left] = billing.quote(left, Decimal(2), billing.Order.LEFT_RIGHT, policy)
    return _QUOTES[left]


def populate(
    service: MockService, account: str, count: int, *, realistic: bool = False, first: int = 0
) -> None:
    """Store ``count`` finished jobs for ``account``, each with its charge in the ledger.

    Through the store's own API, as :meth:`MockService.submit` stores them;
    only fetching and probing media is skipped. Job ids start at ``first``.
    """
    store = service.store
    now = service.clock.now_ms()
    with store.transaction():  # one commit: 100,000 jobs reach SQLite in seconds
        for i in range(first, first + count):
            job = _job(service, account, i, now, realistic=realistic)
            assert job.quote is not None
            charge = LedgerEntry(
                account, job.plan.created_ms, EntryKind.CHARGE, -job.quote.cost_micros, job.id, ""
            )
            store.jobs.add_job(job)
            store.accounts.record(charge)


def _traced(work: Callable[[], Any]) -> int:
    """Bytes of Python allocations that ``work`` leaves behind (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def bytes_per_job(sample: int = 5_000) -> float:
    """Memory one stored job costs (with its ledger entry), over ``sample`` realistic jobs."""
    service: MockService = create_app(_instant(), clock=ManualClock()).state.service
    account = service.accounts.open(API_KEY)

    def store_jobs() -> None:
        populate(service, account, sample, realistic=True)
        service.accounts.balance(account)  # as the next submission does: settles the charges

    return _traced(store_jobs) / sample


async def _journal_bytes(sample: int) -> float:
    app = create_app(_instant(), clock=ManualClock())
    async with _client(app) as client:
        job_id = await _submit(client)
        path = f"/api/v3/predictions/{job_id}/result"
        await client.get(path)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(sample):
                await client.get(path)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        return grown / sample


def bytes_per_journal_entry(sample: int = 2_000) -> float:
    """Memory the journal keeps per GET of a result (it keeps up to 100,000 entries)."""
    return asyncio.run(_journal_bytes(sample))


def fill_journal(service: MockService, like: JournalEntry, count: int) -> None:
    """Fill the journal with ``count`` copies of a real entry, as a long-running server's."""
    fields = {f.name: getattr(like, f.name) for f in dataclasses.fields(like) if f.name != "seq"}
    for _ in range(count):
        service.journal.record(**fields)


@dataclass(frozen=True)
class StoredJobs:
    count: int
    populate_s: float
    get_us: dict[str, float]  # median GET of a job's result, by store state
    submit_us: dict[str, float]  # median submission, by store state
    get_p99_us: dict[str, float]  # 99th percentile of the same GETs

    def get_ratio(self, state: str) -> float:
        return self.get_us[state] / self.get_us[_baseline(state)]

    def submit_ratio(self, state: str) -> float:
        return self.submit_us[state] / self.submit_us[_baseline(state)]


def _baseline(state: str) -> str:
    """The empty store of the same kind."""
    return "sqlite empty" if state.startswith("sqlite") else "empty"


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1e6


async def _stored_jobs(count: int, rounds: int, per_round: int, scratch: Path) -> StoredJobs:
    def app(state: str) -> Any:
        store = SqliteStore(scratch / f"{state}.db") if state.startswith("sqlite") else None
        return create_app(_instant(), clock=ManualClock(), store=store)

    apps = {state: app(state) for state in STORE_STATES}
    services: dict[str, MockService] = {k: app.state.service for k, app in apps.items()}
    started = time.perf_counter()
    for state in ("jobs", "sqlite jobs"):
        service = services[state]
        own = service.accounts.open(API_KEY)
        populate(service, own, count)
        # Quotas on: every submission asks for the account's recent and unfinished jobs.
        service.accounts.set_limits(own, Level.SILVER.limits)
        assert len(service.store.jobs.jobs()) == count
    populate_s = time.perf_counter() - started
    others = services["others"]
    per_account = max(1, count // OTHER_ACCOUNTS)
    for n in range(OTHER_ACCOUNTS):
        populate(others, f"acct_other_{n:04d}", per_account, first=n * per_account)
    own = others.accounts.open(API_KEY)
    others.accounts.set_limits(own, Level.SILVER.limits)  # quotas read the account's own jobs
    gets: dict[str, list[float]] = {state: [] for state in apps}
    submits: dict[str, list[float]] = {state: [] for state in apps}
    async with contextlib.AsyncExitStack() as stack:
        clients = {k: await stack.enter_async_context(_client(app)) for k, app in apps.items()}
        paths = {k: f"/api/v3/predictions/{await _submit(c)}/result" for k, c in clients.items()}
        for state, client in clients.items():  # warm-up
            for _ in range(20):
                await client.get(paths[state])
        journal = services["journal"].journal
        fill_journal(services["journal"], journal.entries()[-1], journal.limit)
        # Alternate between the stores so that load from elsewhere on the machine
        # hits all alike; the empty store's submissions are few (rounds x
        # per_round / 10) and leave it nearly empty.
        for _ in range(rounds):
            for state, client in clients.items():
                path = paths[state]
                for _ in range(per_round):
                    gets[state].append(await _timed(functools.partial(client.get, path)))
                for _ in range(max(1, per_round // 10)):
                    submits[state].append(await _timed(functools.partial(_submit, client)))
    median = statistics.median
    return StoredJobs(
        count,
        populate_s,
        {k: median(v) for k, v in gets.items()},
        {k: median(v) for k, v in submits.items()},
        {k: statistics.quantiles(v, n=100)[98] for k, v in gets.items()},
    )


#: In memory: empty: one job; jobs: ``count`` more jobs on the same account, with quotas
#: (silver level); others: ``count`` jobs on other accounts, and quotas on this one;
#: journal: a full journal. On SQLite (``serve``'s default): empty, and jobs as above.
STORE_STATES = ("empty", "jobs", "others", "journal", "sqlite empty", "sqlite jobs")
OTHER_ACCOUNTS = 1_000


def stored_jobs(count: int, scratch: Path, rounds: int = 10, per_round: int = 200) -> StoredJobs:
    """GET and submit latency by store state (``STORE_STATES``); SQLite files in ``scratch``."""
    return asyncio.run(_stored_jobs(count, rounds, per_round, scratch))


# media probes


@dataclass(frozen=True)
class ProbeTime:
    file: str
    kind: str
    container: str
    size: int
    per_call_us: float  # median of batches


def probe_times(budget_s: float = 0.15) -> list[ProbeTime]:
    """Median time per call of ``probe_audio`` / ``probe_video`` on each fixture file."""
    table = json.loads((MEDIA / "durations.json").read_text())
    found: list[ProbeTime] = []
    for row in table:
        kind = row["kind"]
        if kind not in ("audio", "video"):
            continue
        data = (MEDIA / row["file"]).read_bytes()
        probe = probe_audio if kind == "audio" else probe_video
        info = probe(data)
        assert info.duration is not None, row["file"]
        off = abs(info.duration - Decimal(row["duration"]))
        assert off <= Decimal(row["tolerance"]), row["file"]
        started = time.perf_counter()
        probe(data)
        batch = max(1, int(0.01 / max(time.perf_counter() - started, 1e-6)))
        samples: list[float] = []
        deadline = time.perf_counter() + budget_s
        while time.perf_counter() < deadline or len(samples) < 5:
            started = time.perf_counter()
            for _ in range(batch):
                probe(data)
            samples.append((time.perf_counter() - started) / batch * 1e6)
        found.append(
            ProbeTime(row["file"], kind, info.container, len(data), statistics.median(samples))
        )
    return found


# set-up and first request


async def _setup_and_first_request() -> float:
    started = time.perf_counter()
    app = create_app(Settings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, headers=AUTH
    ) as client:
        answer = await client.get("/api/v3/balance")
    elapsed = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.text
    return elapsed


def setup_first_request(times: int = 15) -> list[float]:
    """create_app + an ASGI-transport client + the first GET, in ms, ``times`` times."""

    async def run() -> list[float]:
        return [await _setup_and_first_request() for _ in range(times)]

    return asyncio.run(run())


def plugin_setup_first_request(times: int = 15) -> list[float]:
    """The pytest plugin's way: ``WavespeedMock()``, its sync client, first GET, close."""
    from mock_api.testing import WavespeedMock

    found: list[float] = []
    for _ in range(times):
        started = time.perf_counter()
        mock = WavespeedMock()
        answer = mock.client().get("/api/v3/balance")
        mock.close()
        found.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return found


COLD_SNIPPET = """
import asyncio, json, time
import httpx
from mock_api.app import create_app
from mock_api.settings import Settings

async def main():
    started = time.perf_counter()
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://wavespeed.mock") as client:
        answer = await client.get("/api/v3/balance", headers={"Authorization": "Bearer k"})
    assert answer.status_code == 200
    print(json.dumps((time.perf_counter() - started) * 1000))

asyncio.run(main())
"""
