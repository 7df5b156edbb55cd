"""``create_app``: the fake as an ASGI application.

Builds a FastAPI app around one :class:`~mock_api.service.MockService`. FastAPI's
own schema generation is off: the app serves ``openapi.yaml``, the contract it
is held to, rather than a description of itself.

``create_app()`` keeps state in memory; ``create_app(db=path)`` keeps it in a
SQLite file. :func:`create_app_from_env` is the factory ``serve --workers N``
hands uvicorn: each worker builds its app from the options in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from mock_api.clock import Clock, OffsetClock
from mock_api.dashboard import routes as dashboard
from mock_api.events import JobLog
from mock_api.faults import FaultMiddleware
from mock_api.guard import HostGuard
from mock_api.http import CrashMiddleware, ReadScopeMiddleware, install_error_handlers
from mock_api.journal import JournalMiddleware
from mock_api.offload import BackgroundLoop, OffloadMiddleware, RequestThreads
from mock_api.routes import (
    account,
    catalogue,
    control,
    docs,
    health,
    history,
    legacy,
    media,
    predictions,
    uploads,
)
from mock_api.service import MockService
from mock_api.settings import Settings
from mock_api.storage import Store
from mock_api.storage.chooser import open_database
from mock_api.stubs import StubMiddleware

#: FastAPI 0.142 and later trace and count every request for whatever OpenTelemetry
#: SDK the process has set up. The fake's spans would crowd a tested client's own in
#: its traces (the request journal is the fake's record), and looking for an SDK on
#: each request cost 6 us of a 70 us poll (benchmarks/run.py). It is off where FastAPI
#: has the switch (0.162 and later); 0.142-0.161 have the telemetry and no switch.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)

#: Plain routes matched first: the paths clients poll (see predictions.POLL_ROUTES), and
#: the health checks (whose GET mock_api.routes.health answers before the app sees it).
ROUTES = (*predictions.POLL_ROUTES, *health.ROUTES)
#: Every router the app serves, in order, after ROUTES and the submit routes of the
#: service's models (:func:`predictions.submit_router`).
ROUTERS = (
    history.router,
    legacy.router,
    catalogue.router,
    uploads.router,
    account.router,
    media.router,
    control.router,
    dashboard.router,
    docs.router,
)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    service: MockService | None = None,
    db: str | Path | None = None,
    freeze_startup_heap: bool = False,
) -> FastAPI:
    """The fake as an ASGI app.

    ``db``: keep state in this SQLite file, or in the PostgreSQL database of this
    ``postgresql://`` URL (:func:`mock_api.storage.open_database`), on an
    :class:`OffsetClock` kept there too unless ``clock`` is given, instead of in
    memory.

    ``freeze_startup_heap`` (``serve`` sets it): when the server starts, collect
    garbage once, then hide every object alive at that moment (the app, the
    spec, the libraries: some 70,000) from the garbage collector
    (:func:`gc.freeze`). Its full collections walked them all, pausing the
    server for ~16 ms a few times a second under load: GET p99 8-23 ms, and
    8 ms with the freeze (``benchmarks/run.py``). Off by default: in a test
    process the heap belongs to the tests.
    """
    if service is None:
        if db is not None:
            if store is not None:
                raise TypeError("pass store or db, not both")
            store = open_database(db)
            clock = clock or OffsetClock(store.clock)
        service = MockService(settings, clock, store)

    # A store whose calls may wait (PostgreSQL): requests run on threads of their own.
    offload = RequestThreads() if service.state_may_wait else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if freeze_startup_heap:
            gc.collect()
            gc.freeze()
        stop_background = _start_background(service, job_log)
        try:
            yield
        finally:
            await stop_background()
            if offload is not None:
                offload.close()
            # After uvicorn has let the requests in flight finish (SIGTERM):
            # checkpoint the WAL and close the database.
            service.close()
            upstream = getattr(app.state, "upstream", None)
            if upstream is not None:
                await upstream.aclose()

    app = FastAPI(
        title="WaveSpeed InfiniteTalk mock",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # A path with a stray trailing slash is a 404 naming the path without it
        # (mock_api.http): Starlette's default, an empty 307 to it, hid a client's wrong
        # URL from its author, and a client that follows it with a GET loses the POST body.
        redirect_slashes=False,
        **_NO_TELEMETRY,
    )
    app.state.service = service
    # The jobs this process accepted, logged again when they end (``serve`` at info).
    job_log = app.state.job_log = JobLog(service.clock, service.any_job)
    # Each added outside the last: one read scope per request; the journal sees faults too.
    if service.settings.proxy_to is not None:  # innermost: faults and the journal see it
        from mock_api.proxy import ProxyMiddleware, Recorder, upstream_client

        record = service.settings.record_dir
        # One client (and its kept-alive connections) for the app's life: closed when the
        # server stops (the lifespan above).
        app.state.upstream = upstream_client(service.settings.proxy_to)
        app.add_middleware(
            ProxyMiddleware,
            client=app.state.upstream,
            spec=service.spec,
            recorder=Recorder(Path(record)) if record else None,
        )
    # Inside the faults: a latency fault delays a stub's answer as it would the fake's.
    app.add_middleware(StubMiddleware, book=service.stubs, spec=service.spec)
    app.add_middleware(FaultMiddleware, book=service.faults)
    app.add_middleware(CrashMiddleware)
    app.add_middleware(JournalMiddleware, journal=service.journal, clock=service.clock)
    if service.shares_state:
        app.add_middleware(ReadScopeMiddleware)
    if offload is not None:  # everything inside runs off the event loop
        app.add_middleware(OffloadMiddleware, threads=offload)
    # Health checks, answered before the request threads, the journal and the fault
    # rules see them (mock_api.routes.health); readiness asks the store on those threads.
    app.state.readiness = health.Readiness(service, offload)
    app.add_middleware(health.HealthFirst)
    # Outermost: a request to a name the server does not answer to, or framed two ways,
    # is refused before anything reads it (mock_api.guard).
    app.add_middleware(HostGuard, allowed_hosts=service.settings.allowed_hosts)
    install_error_handlers(app)
    app.router.routes.extend(ROUTES)
    app.include_router(predictions.submit_router(service.models.models))
    for router in ROUTERS:
        app.include_router(router)
    app.mount(docs.DOCS_STATIC, StaticFiles(directory=swagger_ui_path), name="docs-static")
    return app


def _start_background(service: MockService, job_log: JobLog) -> Callable[[], Awaitable[None]]:
    """Deliver webhooks and log ends in the background while the server runs; returns
    how to stop. In-process tests (no lifespan) pump deliveries themselves, or through
    /_mock. On a store whose calls may wait, on a thread of their own (mock_api.offload)."""
    if service.state_may_wait:
        background = BackgroundLoop(service.webhooks.run, job_log.run)
        background.start()

        async def stop_thread() -> None:
            await asyncio.to_thread(background.stop)

        return stop_thread
    tasks = [asyncio.create_task(service.webhooks.run()), asyncio.create_task(job_log.run())]

    async def stop_tasks() -> None:
        for running in tasks:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    return stop_tasks


def create_app_from_env() -> FastAPI:
    """The app ``serve`` describes in ``$WAVESPEED_MOCK_SERVE`` (uvicorn ``factory=True``)."""
    from mock_api.serving import ENV_VAR, ServeOptions

    text = os.environ.get(ENV_VAR)
    if not text:
        raise RuntimeError(f"{ENV_VAR} is not set: start workers with `wavespeed-mock serve`")
    return create_app(service=ServeOptions.from_json(text).service(), freeze_startup_heap=True)
