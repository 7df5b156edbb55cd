"""Requests off the event loop, for a store whose calls may wait (PostgreSQL).

The service's store calls are synchronous, and the app makes them while it
handles a request. In memory they take microseconds, and SQLite bounds its
waits itself (:mod:`mock_api.storage.sqlite`); a PostgreSQL store's calls
cross a network and may wait for another instance's write lock, and made on
the event loop, one slow call would stop every request of the worker.

:class:`OffloadMiddleware` runs everything below it on a fixed pool of
threads, each with an event loop of its own: the server's loop only moves
bytes between the client and those threads (``receive`` and ``send`` are
forwarded to it), so a slow or locked database slows the requests that wait
for it, never the worker. The pool is fixed (:data:`REQUEST_THREADS`) because
each thread keeps its own database connection: an instance holds at most that
many, plus one for the background work and one for start-up.

:class:`BackgroundLoop` runs the app's background tasks (webhook deliveries,
the job log) on a thread and an event loop of their own, for the same reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_THREADS", "BackgroundLoop", "OffloadMiddleware", "RequestThreads"]

#: Requests handled at once per instance (each on its own thread and connection); more
#: wait their turn. Three instances hold 3 x 26 connections, under PostgreSQL's default 100.
REQUEST_THREADS = 24
T = TypeVar("T")


class RequestThreads:
    """The fixed pool of threads requests run on, each with an event loop of its own."""

    def __init__(self, threads: int = REQUEST_THREADS) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            threads, thread_name_prefix="wavespeed-mock-request"
        )
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        # Closed with the pool, or when an app dropped without its lifespan is collected.
        weakref.finalize(self, _close_loops, self._loops)

    def loop(self) -> asyncio.AbstractEventLoop:
        """This thread's event loop, made on first use and kept (a loop per request cost
        ~0.2 ms each)."""
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            self._loops.append(loop)
        return loop

    async def run(self, work: Callable[[], None]) -> None:
        """``work()`` on one of the threads, in a copy of this context."""
        context = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(context.run, work)
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        _close_loops(self._loops)


def _close_loops(loops: list[asyncio.AbstractEventLoop]) -> None:
    for loop in loops:
        if not loop.is_running():
            loop.close()
    loops.clear()


class OffloadMiddleware:
    """Runs the app below it on :class:`RequestThreads`, each with its own event loop."""

    def __init__(self, app: ASGIApp, *, threads: RequestThreads) -> None:
        self.app = app
        self._threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        main = asyncio.get_running_loop()

        async def receive_there() -> Message:
            return await _on(main, receive)

        async def send_there(message: Message) -> None:
            await _on(main, functools.partial(send, message))

        async def app() -> None:
            await self.app(scope, receive_there, send_there)

        def handle() -> None:
            self._threads.loop().run_until_complete(app())

        await self._threads.run(handle)


async def _on(loop: asyncio.AbstractEventLoop, step: Callable[[], Awaitable[T]]) -> T:
    """Run ``step()`` on ``loop`` (the server's) and wait for it on this thread's loop."""

    async def there() -> T:
        return await step()

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(there(), loop))


class BackgroundLoop:
    """Background tasks on a thread and an event loop of their own, until :meth:`stop`."""

    def __init__(self, *tasks: Callable[[], Awaitable[None]]) -> None:
        self._tasks = tasks
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, name="wavespeed-mock-background", daemon=True
        )
        self._stopping = asyncio.Event()  # bound to the loop that first waits on it

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        running = [asyncio.create_task(_awaited(task)) for task in self._tasks]
        await self._stopping.wait()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the tasks (their ``finally`` blocks run) and wait for the thread."""
        # Queued on the thread's loop, so it runs even if the loop has not started yet.
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)


async def _awaited(task: Callable[[], Awaitable[None]]) -> None:
    await task()
