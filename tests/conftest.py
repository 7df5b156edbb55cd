"""Shared fixtures: an app on a manual clock, reached through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from tests.helpers import BASE, MakeClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The wheel tests first: building and installing the wheel is the longest chain of
    work in the suite, so under pytest-xdist (scripts/check) it should overlap the rest on
    one worker rather than trail after it. Otherwise the order is unchanged."""
    items.sort(key=lambda item: item.get_closest_marker("wheel") is None)


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
