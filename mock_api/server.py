"""Serving an app on a real socket from inside a Python process.

The pytest plugin and the test suite need the fake on a port for clients that
cannot take an ASGI transport (requests, the official SDKs, other languages),
while keeping the app in-process so the test can still reach its clock and
state. :class:`LiveServer` runs uvicorn in a daemon thread on a free loopback
port and stops it cleanly.

Both it and ``wavespeed-mock serve`` listen on :func:`tcp_listener`, whose
connections send each answer at once (``TCP_NODELAY``): see its docstring for
the 40 ms every kept-alive request cost without it. Both run on the stack
:func:`mock_api.serving.stack` picks: httptools and uvloop where they are
installed (the package depends on them where they install), else uvicorn's
pure-Python h11 and asyncio.
"""

from __future__ import annotations

import contextlib
import inspect
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from mock_api.serving import SHUTDOWN_GRACE_SECONDS, stack

#: Connections waiting to be accepted, as uvicorn's default.
BACKLOG = 2048


def tcp_listener(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port``, whose connections never wait.

    Made with ``IPPROTO_TCP`` named, not the default protocol 0: asyncio turns
    Nagle's algorithm off (``TCP_NODELAY``) only on connections accepted from a
    socket whose ``proto`` says TCP. Without it, uvicorn writes an answer's
    head and its body as two small packets, the second waits for the client's
    ACK of the first, and the client delays that ACK by 40 ms: every request
    after the first on a kept-alive connection (the SDKs', httpx's, requests')
    took about 44 ms instead of 2. ``TCP_NODELAY`` is set on the listener too,
    which Linux copies to accepted connections, for servers that do not set it.

    It listens at once, not when the server starts: with ``SO_REUSEADDR``,
    Linux lets a second socket bind a port that is bound but not yet listening,
    so a second ``serve`` on a busy port would start too. Raises ``OSError`` as
    ``bind`` does (a busy port: ``errno.EADDRINUSE``).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def url_host(host: str) -> str:
    """``host`` as a URL names it: an IPv6 address in brackets (``[::1]``)."""
    return f"[{host}]" if ":" in host else host


def serve_workers(config: uvicorn.Config, listener: socket.socket) -> None:
    """What ``uvicorn.run`` does for ``config.workers`` processes, on ``listener``.

    uvicorn would bind a socket of its own, without ``TCP_NODELAY``
    (:func:`tcp_listener`). Until uvicorn 0.40 its supervisor also took the
    server's ``run`` method; both forms are accepted. Returns on SIGINT/SIGTERM.
    """
    from uvicorn.supervisors import Multiprocess

    older: dict[str, Any] = {}
    if "target" in inspect.signature(Multiprocess).parameters:
        older["target"] = uvicorn.Server(config).run
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[listener], **older).run()


class LiveServer:
    """``app`` served by uvicorn in a daemon thread, on ``http`` and ``loop``
    (:func:`mock_api.serving.stack`)."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        http: str = "auto",
        loop: str = "auto",
    ) -> None:
        self.app = app
        self.host = host
        self.stack = stack(http, loop)
        self._socket = tcp_listener(host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            http=self.stack.protocol,
            loop=self.stack.loop,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"wavespeed-mock:{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self, timeout: float = 10.0) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the mock did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
