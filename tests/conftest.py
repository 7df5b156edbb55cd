"""Shared fixtures: an app on a manual clock, reached through httpx's ASGI transport."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import httpcore  # noqa: F401 - see below
import httpx
import pytest

import mock_api.httptools_protocol  # see below
import mock_api.testing  # noqa: F401 - see below
from mock_api import ManualClock, MockService, Settings, create_app
from tests import xdist_order
from tests.helpers import BASE, MakeClient
from tests.pgfixtures import pg_server, pg_url  # noqa: F401 - fixtures for every test module
from tests.untraced import pytest_runtest_call  # noqa: F401 - a hook: no_cover tests untraced

# Modules loaded on first use are imported here, before any test runs: the
# package's (mock_api/__init__.py and the pytest plugin load them lazily),
# httpcore (httpx imports it when it makes its first transport) and uvicorn's
# httptools protocol (loaded when a server first runs on httptools). A
# pytester.inline_run removes from sys.modules whatever was first imported
# during it, and a module loaded twice has two copies of its exception classes:
# httpx then let httpcore's errors through unmapped (a ConnectError escaped
# ``except httpx.TransportError``), and uvicorn no longer caught the parser's
# HttpParserError (httptools' compiled parser keeps the class of its first
# import): a request refused by the parser got no answer at all, failing
# test_server's te-chunked-then-gzip case whenever a pytester run had started
# the worker's first httptools server.


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, then those that mostly wait: tests/xdist_order.py."""
    items.sort(key=xdist_order.rank)


#: The garbage collector's first threshold while tests run (CPython's default: 700).
GC_THRESHOLD = 10_000


def pytest_collection_finish(session: pytest.Session) -> None:
    """Less time in the garbage collector: what collection made is frozen, and the
    young generation is collected less often.

    A worker holds every collected test, their modules and the spec's schemas (some
    300,000 objects), and each full collection walked them all: 44 s of CPU went to
    the collector over a run of scripts/check, 34 s of it in full collections.
    Frozen objects (``gc.freeze``) are never walked again; the young generation,
    which Hypothesis and the ASGI stack fill fast, is collected at 10,000 new
    objects instead of 700. Cycles are still collected; garbage made during
    collection stays until the process ends.
    """
    gc.collect()
    gc.freeze()
    _, *older = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *older)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadgroup`` (scripts/check), the modules of
    :data:`tests.xdist_order.ONE_WORKER` run whole on one worker."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return xdist_order.make_scheduler(config, log)


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
