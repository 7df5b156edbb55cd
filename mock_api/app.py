"""``create_app``: the fake as an ASGI application.

Builds a FastAPI app around one :class:`~mock_api.service.MockService`. FastAPI's
own schema generation is off: the app serves ``openapi.yaml``, the contract it
is held to, rather than a description of itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from mock_api.clock import Clock
from mock_api.faults import FaultMiddleware
from mock_api.http import install_error_handlers
from mock_api.journal import JournalMiddleware
from mock_api.routes import account, control, docs, media, predictions, uploads
from mock_api.service import MockService
from mock_api.settings import Settings
from mock_api.store import MemoryStore

#: Every router the app serves, in order; the spec-agreement test walks these.
ROUTERS = (
    predictions.router,
    uploads.router,
    account.router,
    media.router,
    control.router,
    docs.router,
)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    store: MemoryStore | None = None,
    service: MockService | None = None,
) -> FastAPI:
    service = service or MockService(settings, clock, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Deliver webhooks in the background while the server runs. In-process
        # tests (no lifespan) pump deliveries themselves, or through /_mock.
        task = asyncio.create_task(service.webhooks.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="WaveSpeed InfiniteTalk mock",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    # Outermost first: the journal sees faults too.
    app.add_middleware(FaultMiddleware, book=service.faults)
    app.add_middleware(JournalMiddleware, journal=service.journal, clock=service.clock)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount(docs.DOCS_STATIC, StaticFiles(directory=swagger_ui_path), name="docs-static")
    return app
