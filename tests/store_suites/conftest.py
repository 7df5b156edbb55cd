"""The store behavioural suites: every store in ``STORES`` runs every concern's suite.

One module per concern of :class:`~mock_api.storage.Store` (accounts, jobs, files,
limits, rules, deliveries, the state as a whole), each typed by that concern's
protocol, so a new store (PostgreSQL is next) is added to ``STORES`` once and
written one concern at a time against suites that already exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from mock_api.billing import Order, quote
from mock_api.lifecycle import Outcome, Plan, Status
from mock_api.records import Job
from mock_api.storage import (
    AccountStore,
    DeliveryStore,
    FileStore,
    JobStore,
    LimitStore,
    RuleStore,
    Store,
)
from mock_api.storage.memory import MemoryStore
from mock_api.storage.postgres import PostgresStore
from mock_api.storage.sqlite import SqliteStore
from mock_api.webhooks import Delivery


def _postgres(request: pytest.FixtureRequest) -> Store:
    return PostgresStore(request.getfixturevalue("pg_url"))


#: Every store implementation, by name: how to open a fresh one for a test (a temporary
#: folder for SQLite, a fresh database of the run's PostgreSQL server: tests/pgfixtures.py).
STORES: dict[str, Callable[[pytest.FixtureRequest], Store]] = {
    "memory": lambda request: MemoryStore(),
    "sqlite": lambda request: SqliteStore(request.getfixturevalue("tmp_path") / "state.db"),
    "postgres": _postgres,
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    opened = STORES[request.param](request)
    yield opened
    opened.close()


T0 = 1_767_225_600_000


def make_job(
    job_id: str = "a" * 32,
    account: str = "acct_1",
    *,
    outcome: Outcome | None = None,
    priced: bool = True,
    created_ms: int = T0,
    finished_ms: int = T0 + 1_000,
    **input_fields: object,
) -> Job:
    priced_quote = quote(Decimal("7.300"), Decimal("2.05"), Order.LEFT_RIGHT) if priced else None
    return Job(
        id=job_id,
        account=account,
        model="wavespeed-ai/infinitetalk-fast/video-to-video-multi",
        input={"order": "left_right", "seed": 7, **input_fields},
        seed=7,
        plan=Plan(
            created_ms=created_ms,
            started_ms=created_ms,
            finished_ms=finished_ms,
            outcome=outcome or Outcome(Status.COMPLETED),
        ),
        quote=priced_quote,
        output_ms=9_350,
        variant=4_294_967_295,
    )


def make_delivery(delivery_id: str = "msg_1", job_id: str = "j1", **fields: object) -> Delivery:
    values: dict[str, object] = {
        "id": delivery_id,
        "job_id": job_id,
        "account": "acct_1",
        "url": "http://127.0.0.1:9/hook",
        "base_url": "http://testserver",
        "next_attempt_ms": T0,
        **fields,
    }
    return Delivery(**values)  # type: ignore[arg-type]


# Each concern's suite takes that concern of every store.


@pytest.fixture
def accounts(store: Store) -> AccountStore:
    return store.accounts


@pytest.fixture
def jobs(store: Store) -> JobStore:
    return store.jobs


@pytest.fixture
def files(store: Store) -> FileStore:
    return store.files


@pytest.fixture
def limits(store: Store) -> LimitStore:
    return store.limits


@pytest.fixture
def rules(store: Store) -> RuleStore:
    return store.rules


@pytest.fixture
def deliveries(store: Store) -> DeliveryStore:
    return store.deliveries
