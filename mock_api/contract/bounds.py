"""How long and how much any target may make the contract suite wait for and read.

Why this exists: ``verify`` and the by-URL suite are pointed at servers nobody
vouches for. httpx bounds each *read* of a socket, not a request: a server that
drips a byte every few seconds held a request, and the run, forever. It inflates
a compressed answer whole, in memory: 2 MB of gzip became 2.2 GB. Every request
the contract code sends goes through :class:`GuardedTransport`, which holds it to:

* its whole time, from connecting to the last byte: ``--timeout`` if given, else
  :data:`REQUEST_SECONDS`; and the run's own end (``--max-run-seconds``, else
  :data:`RUN_SECONDS`, by URL only). The clock is checked before every read and
  write of the socket (:class:`_DeadlineBackend`), so a drip cannot outlast it;
* its body's size, as sent and as decompressed: :data:`ANSWER_BYTES` for API
  answers and the spec, :data:`MEDIA_BYTES` for media (outputs, files read back).
  The body is read raw, counted, and inflated step by step into a counter before
  httpx decodes it, so no bomb is ever inflated past the bound;
* the encodings it offers (``gzip``, ``deflate``): any other is refused;
* where it goes: never to a host under ``.invalid`` (where ``openapi.yaml``'s
  examples live), so an example a target hands back is never followed.

Waits between polls go through :meth:`Bounds.sleep`, which never sleeps past the
run's end. What no request's own bound reaches (schemathesis's requests, until
their headers have come) is cut :data:`CUT_GRACE_SECONDS` past the run's end by
:class:`RunWatch`.

Errors::

    TargetUnusable          an answer no client could use; it stops the run
    └── AnswerTooLarge      a body over its bound (sent or decompressed)
    httpx.ReadTimeout
    └── RequestTooSlow      one request outlived --timeout: no whole answer in time
    BaseException
    └── RunLimitReached     the run outlived --max-run-seconds: the check is cut
"""

from __future__ import annotations

import signal
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

import httpcore
import httpx

__all__ = [
    "ACCEPT_ENCODING",
    "ANSWER_BYTES",
    "MEDIA_BYTES",
    "REQUEST_SECONDS",
    "RUN_SECONDS",
    "AnswerTooLarge",
    "Bounds",
    "GuardedTransport",
    "RequestTooSlow",
    "RunLimitReached",
    "RunWatch",
    "TargetUnusable",
    "body_bound",
    "decoded",
    "http_transport",
    "is_reserved_invalid",
    "megabytes",
    "too_large",
]

#: Each request's whole time unless ``--timeout`` says otherwise: above the fake's 60 s
#: sync-mode wait, which a sync submission may be held for (the read timeout it replaces).
REQUEST_SECONDS = 90.0
#: How long a run by URL may take unless ``--max-run-seconds`` says otherwise. A fake
#: runs the suite in well under a minute, the real service's 5 s jobs in minutes each.
RUN_SECONDS = 3600.0
#: An API answer or the spec, decompressed. The real catalogue (998 models, about
#: 2.3 KB each) is the largest answer seen, about 2.3 MB; ``openapi.yaml`` is 89 KB.
ANSWER_BYTES = 8 * 1024 * 1024
#: Media (an output video, a file read back): a 600 s output at 5 Mbit/s is 375 MB.
MEDIA_BYTES = 512 * 1024 * 1024
#: What the suite's clients offer; an answer in any other encoding is refused, as only
#: these are inflated under a bound here.
ACCEPT_ENCODING = "gzip, deflate"
#: How much is inflated per step while a compressed body is measured.
_STEP = 64 * 1024
#: How long past the run's limit a check still blocked is interrupted (:class:`RunWatch`):
#: time for the requests' own bounds, which end at the limit, to say so first.
CUT_GRACE_SECONDS = 2.0


def body_bound(content_type: str) -> int:
    """The bound for an answer of ``content_type`` where the asker cannot know what comes
    (schemathesis's generated requests): media types :data:`MEDIA_BYTES`, the rest
    :data:`ANSWER_BYTES`."""
    kind = content_type.split(";", 1)[0].strip().lower()
    media = kind.split("/", 1)[0] in ("audio", "video", "image")
    return MEDIA_BYTES if media or kind == "application/octet-stream" else ANSWER_BYTES


def megabytes(size: int) -> str:
    """``8 MiB``: a bound as a report states it."""
    return f"{size / (1024 * 1024):g} MiB"


class TargetUnusable(Exception):
    """The target answered, but not as anything this suite (or any client) can use."""


class AnswerTooLarge(TargetUnusable):
    """An answer over its size bound, as sent or decompressed."""


class RequestTooSlow(httpx.ReadTimeout):
    """One request did not get its whole answer within its bound (``--timeout``)."""


class RunLimitReached(BaseException):
    """The run outlived its limit (``--max-run-seconds``): what was going on is cut.

    A ``BaseException``, as pytest's own ``Failed``: a check's ``except Exception``
    (Hypothesis's among them, which would replay the case) must not swallow it.
    """


@dataclass(frozen=True)
class Bounds:
    """The time bounds of one run: each request's, and the run's end."""

    #: Each request's whole time, connect to last byte.
    request_seconds: float = REQUEST_SECONDS
    #: The run's limit (for messages) and the ``time.monotonic()`` instant it ends at;
    #: ``None``: no limit (the fake in-process, whose time is a ManualClock).
    run_seconds: float | None = None
    run_deadline: float | None = None
    #: ``--wavespeed-`` for the pytest options, ``--`` for ``verify``'s.
    flag_prefix: str = "--wavespeed-"

    @classmethod
    def for_run(
        cls,
        *,
        request_seconds: float | None,
        run_seconds: float | None,
        started: float,
        flag_prefix: str,
    ) -> Bounds:
        seconds = RUN_SECONDS if run_seconds is None else run_seconds
        return cls(
            request_seconds=REQUEST_SECONDS if request_seconds is None else request_seconds,
            run_seconds=seconds,
            run_deadline=started + seconds,
            flag_prefix=flag_prefix,
        )

    def flag(self, name: str) -> str:
        return f"{self.flag_prefix}{name}"

    def left(self) -> float | None:
        """Seconds left before the run's end (``None``: no limit)."""
        return None if self.run_deadline is None else self.run_deadline - time.monotonic()

    def without_run_limit(self, request_seconds: float) -> Bounds:
        """For what comes after the run (its last balance read): one request's bound only."""
        return replace(
            self,
            run_deadline=None,
            request_seconds=min(self.request_seconds, request_seconds),
        )

    def run_over(self, doing: str) -> RunLimitReached:
        return RunLimitReached(
            f"the run's limit of {self.run_seconds:g} s ({self.flag('max-run-seconds')}) "
            f"was reached {doing}"
        )

    def check_run(self, doing: str) -> None:
        left = self.left()
        if left is not None and left <= 0:
            raise self.run_over(doing)

    def sleep(self, seconds: float) -> None:
        """``time.sleep``, cut short at the run's end, which raises :class:`RunLimitReached`."""
        self.check_run(f"before a wait of {seconds:g} s")
        left = self.left()
        if left is not None and left < seconds:
            time.sleep(max(left, 0.0))
            raise self.run_over(f"during a wait of {seconds:g} s")
        time.sleep(seconds)

    def too_slow(self) -> str:
        return (
            f"it sent no whole answer within {self.request_seconds:g} s (the bound on each "
            f"request: {self.flag('timeout')})"
        )


class RunWatch:
    """The run's limit for what no request's own bound reaches: schemathesis sends with
    requests, whose reads are bounded one at a time, so a server dripping the headers
    of its answer would hold a check. ``grace`` seconds past the limit, a check still
    running (:attr:`in_check`) is interrupted with :class:`RunLimitReached`, by
    ``SIGALRM`` in the main thread, as pytest-timeout does; elsewhere (no ``SIGALRM``,
    another thread) nothing is armed and the requests' own bounds remain.
    """

    def __init__(self, bounds: Bounds, *, grace: float = CUT_GRACE_SECONDS) -> None:
        self.bounds = bounds
        self.grace = grace
        self.in_check = False
        self._previous: Any = None
        self._armed = False

    def arm(self) -> bool:
        """Start watching; ``False`` where it cannot (see the class)."""
        left = self.bounds.left()
        if left is None or not hasattr(signal, "setitimer"):
            return False
        if threading.current_thread() is not threading.main_thread():
            return False
        self._previous = signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.0) + self.grace)
        self._armed = True
        return True

    def _alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.in_check:  # between checks the next one does not start (contracts/conftest.py)
            raise self.bounds.run_over("and the check was still blocked")

    def disarm(self) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)
            self._armed = False


# the deadline, applied to every socket operation of the current thread's request


class _Deadline(threading.local):
    at: float | None = None


_DEADLINE = _Deadline()


def _clip(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout``, or what is left of the current request's whole time if that is less."""
    at = _DEADLINE.at
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the request's whole time is up")
    return left if timeout is None or left < timeout else timeout


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        sock = self._inner.get_extra_info("socket")
        if not isinstance(sock, socket.socket):  # not a plain or TLS socket: per call only
            self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))
            return
        # httpcore would send the whole buffer on one timeout: a peer that reads a byte
        # at a time would hold it past the deadline. Each send gets what is left.
        view = memoryview(buffer)
        try:
            while view:
                sock.settimeout(_clip(timeout, httpcore.WriteTimeout))
                view = view[sock.send(view) :]
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, clipped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, its streams held to the request's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, clipped, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, clipped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def http_transport(verify: ssl.SSLContext) -> httpx.HTTPTransport:
    """httpx's transport over sockets held to each request's deadline (see the module)."""
    transport = httpx.HTTPTransport(verify=verify)
    # httpx takes no network backend; the httpcore pool beneath it does (public there).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=verify,
        network_backend=_DeadlineBackend(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
    )
    return transport


# bodies


class _PastLimit(Exception):
    pass


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """``data`` inflated step by step, never past ``limit`` (:class:`_PastLimit`)."""
    inflater = zlib.decompressobj(wbits)
    out: list[bytes] = []
    size = 0
    pending = data
    while True:
        chunk = inflater.decompress(pending, _STEP)
        size += len(chunk)
        if size > limit:
            raise _PastLimit
        out.append(chunk)
        pending = inflater.unconsumed_tail
        if inflater.eof or (not chunk and not pending):
            return b"".join(out)


def decoded(raw: bytes, content_encoding: str, limit: int, where: str) -> bytes:
    """A body as its ``Content-Encoding`` says, inflated no further than ``limit`` bytes.

    Raises :class:`AnswerTooLarge` past the limit, :class:`TargetUnusable` for an
    encoding not offered (:data:`ACCEPT_ENCODING`) or a body that is not in its own.
    ``where`` names the request (``GET URL``) in those messages.
    """
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return raw
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise TargetUnusable(
            f"this target cannot be used: {where} answered in Content-Encoding "
            f"{content_encoding!r}; the suite offers {ACCEPT_ENCODING!r} only"
        )
    # deflate may come raw as well as zlib-wrapped, as httpx and urllib3 both accept
    attempts = (16 + zlib.MAX_WBITS,) if codings[0] != "deflate" else (zlib.MAX_WBITS, -15)
    for wbits in attempts:
        try:
            return _inflate(raw, wbits, limit)
        except _PastLimit:
            raise too_large(where, limit, " decompressed") from None
        except zlib.error as exc:
            error = exc
    raise TargetUnusable(
        f"this target cannot be used: {where} answered a body that is not the "
        f"{codings[0]} its Content-Encoding says ({error})"
    )


def too_large(where: str, limit: int, how: str = "") -> AnswerTooLarge:
    bound = megabytes(limit)
    kind = "an API answer" if limit <= ANSWER_BYTES else "a media file"
    return AnswerTooLarge(
        f"this target cannot be used: {where} answered more than {bound}{how} (the suite "
        f"reads at most {bound} of {kind})"
    )


def is_reserved_invalid(host: str) -> bool:
    """Is ``host`` under ``.invalid`` (RFC 2606, 6761): a name that never resolves?

    The spec's examples name such hosts only, so the suite never follows one anywhere.
    """
    name = host.lower().rstrip(".")
    return name == "invalid" or name.endswith(".invalid")


class GuardedTransport(httpx.BaseTransport):
    """Sends each request under its :class:`Bounds` and reads its body whole, bounded.

    The answer is handed on as it came (same headers, the raw body): httpx then
    decodes what is known to fit. Streaming is given up; the suite reads every
    body whole anyway.
    """

    def __init__(self, inner: httpx.BaseTransport, bounds: Bounds, *, body_bytes: int) -> None:
        self.inner = inner
        self.bounds = bounds
        self.body_bytes = body_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        bounds = self.bounds
        doing = f"during {request.method} {request.url}"
        if is_reserved_invalid(request.url.host):
            raise httpx.ConnectError(
                f"cannot reach {request.method} {request.url}: a host under .invalid, which "
                "never resolves (RFC 6761), so nothing was sent; openapi.yaml's examples live "
                "there, and a target that hands one out answered an example, not a job of its own",
                request=request,
            )
        bounds.check_run(doing)
        started = time.monotonic()
        at = started + bounds.request_seconds
        run_end = bounds.run_deadline
        if run_end is not None and run_end < at:
            at = run_end
        outer, _DEADLINE.at = _DEADLINE.at, at
        try:
            response = self.inner.handle_request(request)
            try:
                raw = self._read(request, response)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            if time.monotonic() < at - 0.01:
                raise  # a read or connect timeout of its own, not the whole bound
            if at == run_end:
                raise bounds.run_over(doing) from None
            raise RequestTooSlow(bounds.too_slow(), request=request) from exc
        finally:
            _DEADLINE.at = outer
        # Measured, not kept: httpx decodes it again, now known to fit.
        decoded(
            raw,
            response.headers.get("content-encoding", ""),
            self.body_bytes,
            f"{request.method} {request.url}",
        )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions={
                k: v
                for k, v in response.extensions.items()
                if k in ("http_version", "reason_phrase")
            },
            request=request,
        )

    def _read(self, request: httpx.Request, response: httpx.Response) -> bytes:
        where = f"{request.method} {request.url}"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.body_bytes:
            raise too_large(where, self.body_bytes, f" (Content-Length: {declared})")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > self.body_bytes:
                raise too_large(where, self.body_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.inner.close()
