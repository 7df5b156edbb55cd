"""The handles a test holds on the fake: :class:`WavespeedMock` and :class:`WavespeedMockServer`.

The pytest plugin (:mod:`mock_api.pytest_plugin`) hands them out as the
``wavespeed_mock`` and ``wavespeed_mock_server`` fixtures; tests and scripts
without pytest can build them too. Both share one control surface
(:class:`BaseWavespeedMock`): steer the next jobs' outcomes, move time, read
jobs, balances and the request journal.

They live apart from the plugin so that the plugin, which pytest imports at
start-up through the ``pytest11`` entry point, imports none of the package:
under pytest-cov, a module imported before coverage starts has its
module-level lines counted as never run.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from decimal import Decimal
from typing import Any, Generic, Self, TypeVar

import anyio.from_thread
import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp

from mock_api.app import create_app
from mock_api.billing import micros_to_usd
from mock_api.clock import ManualClock, OffsetClock
from mock_api.journal import Journal, JournalEntry
from mock_api.lifecycle import Outcome, Status, status_at
from mock_api.planning import DEFAULT_FAILURE_CODE, Directive, failure
from mock_api.records import Job
from mock_api.server import LiveServer
from mock_api.service import MockService
from mock_api.settings import Settings

__all__ = [
    "DEFAULT_API_KEY",
    "BaseWavespeedMock",
    "ServerPool",
    "WavespeedMock",
    "WavespeedMockServer",
]

#: The key the handles' clients send: this, or the first of ``Settings.api_keys``.
DEFAULT_API_KEY = "wavespeed-mock-key"

ClockT = TypeVar("ClockT", ManualClock, OffsetClock)


class BaseWavespeedMock(Generic[ClockT]):
    """What a test can do to the fake, whichever way its client reaches it."""

    def __init__(
        self,
        app: FastAPI,
        clock: ClockT,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.app = app
        self.service: MockService = app.state.service
        self.clock: ClockT = clock
        self.base_url = base_url
        keys = self.service.settings.api_keys
        self.api_key = min(keys) if keys else DEFAULT_API_KEY
        self._transports = (transport, async_transport)
        self._clients: list[httpx.Client] = []

    @property
    def journal(self) -> Journal:
        """Every request the fake answered, with its spec violations."""
        return self.service.journal

    def _options(self, api_key: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.setdefault("Authorization", f"Bearer {api_key or self.api_key}")
        return {"base_url": self.base_url, **kwargs, "headers": headers}

    def client(self, *, api_key: str | None = None, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on the fake with its key preset; closed after the test."""
        kwargs.setdefault("transport", self._transports[0])
        client = httpx.Client(**self._options(api_key, kwargs))
        self._clients.append(client)
        return client

    def async_client(self, *, api_key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the fake with its key preset; use ``async with``."""
        kwargs.setdefault("transport", self._transports[1])
        return httpx.AsyncClient(**self._options(api_key, kwargs))

    # time

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward; every job's status follows."""
        self.clock.advance(seconds)

    def run_until_idle(self) -> list[str]:
        """Move time to when every job that will finish has finished; return their ids.

        Stuck jobs (scenarios that hold a job) are left alone: see
        :meth:`MockService.run_until_idle`.
        """
        return self.service.run_until_idle()

    # the next jobs (submissions without an X-Mock-Outcome header)

    def fail_next(
        self, code: int = DEFAULT_FAILURE_CODE, message: str | None = None, count: int = 1
    ) -> None:
        """The next ``count`` jobs fail with this task code and message (or its usual one)."""
        outcome = failure(code, message)
        self.service.queue_directive(Directive(outcome=outcome), count)

    def nsfw_next(self, count: int = 1) -> None:
        """The next ``count`` jobs complete with their output flagged NSFW."""
        outcome = Outcome(Status.COMPLETED, nsfw=True)
        self.service.queue_directive(Directive(outcome=outcome), count)

    def slow_next(
        self, processing_seconds: float, count: int = 1, *, queue_seconds: float | None = None
    ) -> None:
        """The next ``count`` jobs process this long (and wait this long in ``created``)."""
        queue_ms = None if queue_seconds is None else round(queue_seconds * 1000)
        directive = Directive(queue_ms=queue_ms, processing_ms=round(processing_seconds * 1000))
        self.service.queue_directive(directive, count)

    # state

    def _account(self, api_key: str | None) -> str:
        return self.service.accounts.open(api_key or self.api_key)

    def jobs(self, api_key: str | None = None) -> list[Job]:
        """Stored jobs in submission order: every account's, or only ``api_key``'s."""
        return self.service.jobs(None if api_key is None else self._account(api_key))

    def status(self, job_id: str) -> Status:
        """A job's status now; ``KeyError`` for an unknown id."""
        job = self.service.any_job(job_id)
        if job is None:
            raise KeyError(f"the fake has no job {job_id}")
        return status_at(job.plan, self.clock.now_ms())

    def balance(self, api_key: str | None = None) -> Decimal:
        """The USD balance of ``api_key``'s account (the handle's key by default)."""
        return micros_to_usd(self.service.accounts.balance(self._account(api_key)))

    def reset(self) -> None:
        """Forget jobs, files, accounts, queued outcomes and the journal."""
        self.service.reset()

    # the contract

    def invalid_requests(self) -> list[JournalEntry]:
        """Requests that broke the spec, in arrival order."""
        return self.journal.violations()

    def assert_all_requests_valid(self) -> None:
        """Fail, listing method, path, field and rule of every request that broke the spec."""
        __tracebackhide__ = True
        invalid = self.invalid_requests()
        if invalid:
            lines = "".join(f"\n  {entry.describe()}" for entry in invalid)
            raise AssertionError(
                f"{len(invalid)} request(s) to the WaveSpeed mock broke the API spec:{lines}"
            )

    def close(self) -> None:
        """Close the sync clients this handle made."""
        while self._clients:
            self._clients.pop().close()


class _PortalTransport(httpx.BaseTransport):
    """A sync httpx transport into an ASGI app.

    httpx ships only an async ASGI transport, so this one runs it on an event
    loop in a helper thread (an anyio blocking portal): a sync client then works
    from any thread, even inside an async test. starlette's ``TestClient`` does
    the same, but from starlette 1.x it is built on ``httpx2``, not ``httpx``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._stack = ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._portal is None:
                self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
            portal = self._portal
        body = request.read()
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        return portal.call(self._send, forwarded)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        return httpx.Response(response.status_code, headers=response.headers, content=raw)

    def close(self) -> None:
        """Clients close their transport; this one is shared, so the handle shuts it."""

    def shutdown(self) -> None:
        with self._lock:
            self._portal = None
            self._stack.close()


class WavespeedMock(BaseWavespeedMock[ManualClock]):
    """The fake inside this process, on a clock that moves only when told to."""

    BASE_URL = "http://wavespeed.mock"

    def __init__(self, settings: Settings | None = None, clock: ManualClock | None = None) -> None:
        clock = clock or ManualClock()
        app = create_app(settings, clock=clock)
        self.transport = _PortalTransport(app)
        """For sync clients you build yourself: ``httpx.Client(transport=...)``."""
        self.async_transport = httpx.ASGITransport(app=app)
        """For async clients you build yourself: ``httpx.AsyncClient(transport=...)``."""
        super().__init__(app, clock, self.BASE_URL, self.transport, self.async_transport)

    def close(self) -> None:
        super().close()
        self.transport.shutdown()


class WavespeedMockServer(BaseWavespeedMock[OffsetClock]):
    """The fake on a loopback port (``url``), on wall-clock time a test can skip ahead."""

    def __init__(self, settings: Settings | None = None) -> None:
        clock = OffsetClock()
        app = create_app(settings, clock=clock)
        self.server = LiveServer(app)
        super().__init__(app, clock, self.server.url)

    @property
    def url(self) -> str:
        return self.base_url

    def reset(self) -> None:
        """Forget all state, and let time flow again if a test froze the clock."""
        super().reset()
        self.clock.resume()

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.close()
        self.server.stop()


class ServerPool:
    """One running server per distinct settings, for the whole session."""

    def __init__(self) -> None:
        self._servers: list[WavespeedMockServer] = []

    def get(self, settings: Settings) -> WavespeedMockServer:
        for server in self._servers:
            if server.service.settings == settings:
                return server
        server = WavespeedMockServer(settings).start()
        self._servers.append(server)
        return server

    def stop(self) -> None:
        while self._servers:
            self._servers.pop().stop()
