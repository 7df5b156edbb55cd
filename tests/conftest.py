"""Shared fixtures: an app on a manual clock, reached through httpx's ASGI transport."""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Iterator

import httpcore  # noqa: F401 - see below
import httpx
import pytest

import mock_api.testing  # noqa: F401 - see below
from mock_api import ManualClock, MockService, Settings, create_app
from tests.helpers import BASE, MakeClient
from tests.pgfixtures import pg_server, pg_url  # noqa: F401 - fixtures for every test module

# Modules loaded on first use are imported here, before any test runs: the
# package's (mock_api/__init__.py and the pytest plugin load them lazily) and
# httpcore (httpx imports it when it makes its first transport). A
# pytester.inline_run removes from sys.modules whatever was first imported
# during it, and a module loaded twice has two copies of its exception classes:
# httpx then let httpcore's errors through unmapped (a ConnectError escaped
# ``except httpx.TransportError``), depending on which test ran first.


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first: the wheel tests (building and installing the wheel is the
    longest chain of work in the suite), then those marked ``slow``, then those marked
    ``waits``. Under pytest-xdist (scripts/check) each worker starts on one of the long
    ones and they overlap the rest, rather than one trailing after everything else on
    one worker; and the tests that mostly wait on the wall clock run while the cores are
    busy with the rest, rather than together at the end with the cores idle (all of
    test_parity.py waiting at once left the 2 cores 12-30 % busy for 40 s). Otherwise
    the order is unchanged (the sort is stable)."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("wheel") is not None:
            return 0
        if item.get_closest_marker("slow") is not None:
            return 1
        return 2 if item.get_closest_marker("waits") is not None else 3

    items.sort(key=rank)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Tests marked ``no_cover`` run untraced, under pytest-xdist too.

    pytest-cov pauses its coverage for them, but in an xdist worker it has started
    two (one as if the worker ran alone, then the worker's own), and pausing the
    second resumes the first: the fuzz tests ran traced, at nearly twice the CPU.
    This runs inside pytest-cov's pause (``trylast``: the innermost wrapper) and
    takes whatever tracer is left off this thread and new threads until the test ends.
    """
    if item.get_closest_marker("no_cover") is None:
        return (yield)
    tracer, thread_tracer = sys.gettrace(), threading.gettrace()
    sys.settrace(None)
    threading.settrace(None)
    try:
        return (yield)
    finally:
        threading.settrace(thread_tracer)
        sys.settrace(tracer)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings() -> Settings:
    return Settings(random_seed=1234)


@pytest.fixture
def service(settings: Settings, clock: ManualClock) -> MockService:
    return MockService(settings, clock)


@pytest.fixture
async def client(service: MockService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service=service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def make_client(clock: ManualClock) -> MakeClient:
    """A client on an app with other settings, sharing the test's clock."""

    def make(settings: Settings) -> httpx.AsyncClient:
        app = create_app(service=MockService(settings, clock))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    return make
