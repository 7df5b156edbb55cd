"""Health checks: is the fake up (``GET /healthz``), and can it serve (``GET /readyz``)?

What a container's ``HEALTHCHECK``, Docker Compose's ``depends_on: condition:
service_healthy``, a Kubernetes probe or a CI job waiting for its service asks
before it sends traffic. The two answers follow Kubernetes' split:

* **liveness**, ``/healthz`` (the name most container examples use): 200 while
  the process answers HTTP. It reads nothing, so a database that is slow or
  gone never gets a fake restarted that would recover once the database does;
* **readiness**, ``/readyz`` (Kubernetes' own name for it): 200 once the state
  answers a read, made outside any read scope so that a shared store asks its
  database (:meth:`~mock_api.service.MockService.check_state`: one round trip
  on PostgreSQL); otherwise 503 in the error envelope, naming the reason, with
  ``Retry-After``. On PostgreSQL the read runs on one of the request threads
  (:mod:`mock_api.offload`) and is given :data:`READY_TIMEOUT_SECONDS`; checks
  that arrive while one is under way wait for its answer rather than start
  another, so probes hold at most one thread and one connection however often
  they come.

Two paths rather than ``/healthz?ready``: each answer is one operation of the
spec, and a probe configured by path alone (Docker's, Kubernetes') can ask either.

Both are answered by :class:`HealthFirst`, outside everything but the host
guard: no API key or control token (a probe has none; the answers hold no
data and change nothing), no fault rule (those are for the client under test:
a ``drop`` on every path would get the fake restarted mid-test), no request
journal (a probe every second would push a test's own requests out of it),
no access line when they pass (``log_config``). Readiness that fails is logged
once when it starts and once when it ends (events ``not_ready``, ``ready``).
Any other method on these paths (HEAD too, as on every path of the fake) goes
through the app as usual: a 405 naming GET.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_api.errors import Unavailable, error_body
from mock_api.events import readiness_changed
from mock_api.views import envelope

if TYPE_CHECKING:
    from mock_api.offload import RequestThreads
    from mock_api.service import MockService

__all__ = [
    "LIVE_PATH",
    "READY_PATH",
    "READY_TIMEOUT_SECONDS",
    "ROUTES",
    "HealthFirst",
    "QuietHealthChecks",
    "Readiness",
]

LIVE_PATH = "/healthz"
READY_PATH = "/readyz"
#: How long readiness waits for a store whose calls may wait (PostgreSQL) before it
#: answers 503 naming the wait: far above a healthy round trip (about a millisecond on a
#: LAN; a new connection a few more), under the 5 s the store gives a connection attempt,
#: so a hung database is named before a probe with a longer timeout (Docker's default is
#: 30 s) gives up on the answer; a probe with a shorter one (Kubernetes' default, 1 s)
#: fails either way.
READY_TIMEOUT_SECONDS = 2.0
#: What a client told "not ready" is asked to wait before it asks again.
RETRY_AFTER_SECONDS = 1
#: Health answers are about now: no cache may keep one.
_NO_STORE = {"Cache-Control": "no-store"}


class Readiness:
    """Whether the fake's state answers now; logs when that changes."""

    def __init__(
        self,
        service: MockService,
        threads: RequestThreads | None,
        timeout: float | None = None,
    ) -> None:
        self._service = service
        self._threads = threads  # None: the store never waits, ask it on the event loop
        self._timeout = READY_TIMEOUT_SECONDS if timeout is None else timeout
        self._check: asyncio.Task[str | None] | None = None  # the check under way
        self._reported: str | None = None  # the reason last logged; None: ready

    async def not_ready(self) -> str | None:
        """Why the fake cannot serve now, or None when it can."""
        reason = self._probe() if self._threads is None else await self._probe_off_loop()
        if (reason is None) != (self._reported is None):
            readiness_changed(reason)
        self._reported = reason
        return reason

    def _probe(self) -> str | None:
        try:
            self._service.check_state()
        except Unavailable as exc:
            return exc.message
        except Exception as exc:  # a health check answers, whatever the store raised
            return f"the state cannot be read ({type(exc).__name__}: {exc})"
        return None

    async def _probe_off_loop(self) -> str | None:
        loop = asyncio.get_running_loop()
        check = self._check
        if check is None or check.done() or check.get_loop() is not loop:
            check = self._check = loop.create_task(self._probe_on_a_thread())
        try:
            # shield: a probe that gives up leaves the check running for the next one.
            return await asyncio.wait_for(asyncio.shield(check), self._timeout)
        except TimeoutError:
            return f"the state database did not answer within {self._timeout:g} s"

    async def _probe_on_a_thread(self) -> str | None:
        assert self._threads is not None
        found: list[str | None] = []
        try:
            await self._threads.run(lambda: found.append(self._probe()))
        except RuntimeError as exc:  # the pool is shut down: the server is stopping
            return f"the server is stopping ({exc})"
        return found[0]


async def live(request: Request) -> JSONResponse:
    """200 while the process answers HTTP; reads nothing."""
    return JSONResponse(envelope({"status": "live"}), headers=_NO_STORE)


async def ready(request: Request) -> JSONResponse:
    """200 once the state answers a read; 503 naming the reason when it does not."""
    readiness: Readiness = request.app.state.readiness
    reason = await readiness.not_ready()
    if reason is None:
        return JSONResponse(envelope({"status": "ready"}), headers=_NO_STORE)
    return JSONResponse(
        error_body(503, f"not ready: {reason}"),
        status_code=503,
        headers={**_NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _get(path: str, answer: Callable[[Request], Awaitable[JSONResponse]]) -> Route:
    route = Route(path, answer, methods=["GET"])
    route.methods = {"GET"}  # not HEAD as well: the same methods as every other route
    return route


#: The operations (``getLiveness``, ``getReadiness`` in openapi.yaml), as plain routes of
#: the app: what answers any other method on their paths.
ROUTES = (_get(LIVE_PATH, live), _get(READY_PATH, ready))
_ANSWERS = {route.path: route.endpoint for route in ROUTES}


class HealthFirst:
    """Answers a GET of a health path before the rest of the app sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = _ANSWERS.get(scope["path"])
            if answer is not None:
                response = await answer(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class QuietHealthChecks(logging.Filter):
    """Drops uvicorn's access line of a health check that passed: a probe every few
    seconds would bury the lines worth reading. A failed one is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:  # client, method, path, version, status
            path, status = str(args[2]).partition("?")[0], args[4]
            return not (path in _ANSWERS and isinstance(status, int) and status < 300)
        return True
