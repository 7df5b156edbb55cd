"""What the contract suite runs against: the fake in-process, or any server by URL.

Why this exists: one suite, three targets. Tests never ask where the target
is; they ask a :class:`Target` for an ``httpx.Client``, how to let time pass,
and whether it can be told how a job ends. The choices live here:

* **in-process** (the default): the fake inside the test process on a
  :class:`~mock_api.ManualClock`, reached through an ASGI transport, no
  socket. Waiting advances the clock, so a job's whole life takes no wall
  time, and ``service.queue_directive`` forces outcomes.
* **by URL, and it is the fake** (it serves an ``/openapi.yaml`` identical to
  ours): free, so no budget; ``X-Mock-Outcome`` forces outcomes and the
  fake-only ``/media/`` routes are tested. Waiting sleeps.
* **by URL, anything else** (the real service): paid, so the budget applies;
  outcomes cannot be forced and ``/media/`` (the fake's stand-ins for a CDN
  and an object store) is not there.

The schemathesis phases drive their own in-process fake on the ``instant``
pace: generated bodies may carry ``enable_sync_mode: true``, and on a
:class:`~mock_api.ManualClock` that nobody advances such a request would be
held for the whole 60 s sync wait.
"""

from __future__ import annotations

import email.utils
import enum
import errno
import hashlib
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.from_thread
import httpx
from starlette.types import ASGIApp

from mock_api.contract.bounds import (
    ACCEPT_ENCODING,
    ANSWER_BYTES,
    MEDIA_BYTES,
    Bounds,
    GuardedTransport,
    RequestTooSlow,
    TargetUnusable,
    http_transport,
)
from mock_api.contract.invariants import Poller
from mock_api.contract.recognise import not_wavespeed_prism, prism_error
from mock_api.contract.rule import MINIMUM_SECONDS
from mock_api.lifecycle import NEVER_MS
from mock_api.planning import Directive
from mock_api.spec import SPEC_PATH
from mock_api.tls import tls_context

if TYPE_CHECKING:
    from mock_api import MockService

__all__ = [
    "DEFAULT_API_KEY",
    "IN_PROCESS_URL",
    "JOB_BASE_SECONDS",
    "SECONDS_PER_OUTPUT_SECOND",
    "SECOND_API_KEY",
    "Exchange",
    "OriginAuth",
    "RetryAfterMissing",
    "SyncASGITransport",
    "Target",
    "TargetClient",
    "TargetKind",
    "TargetUnreachable",
    "TargetUnusable",
    "accepts_any_key",
    "check_retry_after",
    "connect",
    "describe_body",
    "describe_transport_error",
    "identify",
    "in_process",
    "origin",
]

DEFAULT_API_KEY = "contract-suite-key"
#: The in-process fake's second account, for the isolation checks.
SECOND_API_KEY = "contract-suite-key-2"
IN_PROCESS_URL = "http://testserver"
#: What a client is told to wait on a 429 (RFC 9110 10.2.3): seconds, or an HTTP date.
_DELAY_SECONDS = re.compile(r"^\d+$")


class RetryAfterMissing(AssertionError):
    """The target answered 429 without a usable ``Retry-After``."""


def check_retry_after(response: httpx.Response) -> None:
    """A 429 must say when to come back: ``Retry-After`` as delay-seconds or an HTTP date."""
    if response.status_code != 429:
        return
    value = response.headers.get("retry-after")
    request = response.request
    where = f"{request.method} {request.url} answered 429"
    if value is None:
        raise RetryAfterMissing(f"{where} without a Retry-After header: a client cannot back off")
    retry_after_seconds(response)


#: How far in the past an HTTP-date Retry-After may be and still count as "now": the two
#: clocks' skew, and the date's whole-second resolution.
RETRY_AFTER_SKEW_SECONDS = 2.0


def retry_after_seconds(response: httpx.Response) -> float:
    """How long a 429 says to wait: delay-seconds >= 1, or an HTTP date in the future.

    A date more than :data:`RETRY_AFTER_SKEW_SECONDS` in the past, or a delay of 0,
    tells a client to retry at once, into the same refusal: a
    :class:`RetryAfterMissing` names it.
    """
    value = (response.headers.get("retry-after") or "").strip()
    request = response.request
    where = f"{request.method} {request.url} answered 429"
    if _DELAY_SECONDS.match(value):
        if int(value) < 1:
            raise RetryAfterMissing(
                f"{where} with Retry-After {value!r}: a client would retry at once"
            )
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise RetryAfterMissing(
            f"{where} with Retry-After {value!r}: neither delay-seconds nor an HTTP date"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    left = (when - datetime.now(UTC)).total_seconds()
    if left < -RETRY_AFTER_SKEW_SECONDS:
        raise RetryAfterMissing(
            f"{where} with Retry-After {value!r}: a date {-left:.0f} s in the past, so a "
            "client would retry at once"
        )
    return max(left, 0.0)


#: How long a job may take where the target does not say (the real service,
#: or a fake whose control API is off): seconds of queueing and start-up,
#: which nothing documents, plus seconds of wall time per second of output,
#: the top of the real model's 10-30 s (``shared/reference``), which is also
#: the fake's slowest preset pace (``realistic``). ``--wavespeed-timeout``
#: overrides it.
JOB_BASE_SECONDS = 120.0
SECONDS_PER_OUTPUT_SECOND = 30.0
#: On the fake, which says when each job will finish (``/_mock/jobs/{id}``):
#: that much more than its own plan, for latency and a busy machine.
_FAKE_SLACK_FACTOR = 1.5
_FAKE_SLACK_SECONDS = 10.0

_DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetUnreachable(Exception):
    """The target did not answer at all (refused, timed out, no such host)."""


def origin(url: httpx.URL | str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in, as browsers compare."""
    url = httpx.URL(url)
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
    return url.scheme, url.host.lower(), port


class OriginAuth(httpx.Auth):
    """``Authorization: Bearer KEY`` on requests to one origin, and on no other.

    The target hands out absolute URLs (``urls.get``, outputs, upload
    targets); a client that simply followed them with its default headers
    would give the key to whichever host they name. Attached per request,
    after the URL is final, so no call site can forget the check. (httpx
    itself drops the header when a redirect leaves the origin.)
    """

    def __init__(self, base_url: str, api_key: str) -> None:
        self.origin = origin(base_url)
        self._header = f"Bearer {api_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin(request.url) == self.origin:
            request.headers["Authorization"] = self._header
        else:
            request.headers.pop("Authorization", None)
        yield request


def describe_transport_error(exc: BaseException) -> str:
    """What a person should read about a request that got no answer: what failed, and where."""
    if str(exc).startswith("cannot reach "):  # already said (by _NamingTransport)
        return str(exc)
    reason = _reason(exc)
    request: object = None
    try:  # httpx's errors raise if they carry no request; requests' hold None
        request = getattr(exc, "request", None)
    except RuntimeError:
        request = None
    url = getattr(request, "url", None)
    if url is None:
        return reason
    return f"cannot reach {getattr(request, 'method', None) or 'GET'} {url}: {reason}"


def _reason(exc: BaseException) -> str:
    text = str(exc)
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # the OS's errno is deep in the chain
        seen.add(id(cause))
        if isinstance(cause, RequestTooSlow) and not str(cause).startswith("cannot reach "):
            return str(cause)  # it answered, too slowly: the bound's own words
        code = getattr(cause, "errno", None)
        if code == errno.ECONNREFUSED or "Connection refused" in str(cause):
            return "connection refused"
        if code == errno.ECONNRESET or "Connection reset" in str(cause):
            return "connection reset"
        cause = cause.__cause__ or cause.__context__
    name = type(exc).__name__
    if "Timeout" in name:
        return f"no answer in time ({name})"
    if isinstance(exc, httpx.RemoteProtocolError) or "RemoteDisconnected" in text:
        return "the server closed the connection without answering"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "no such host"
    return text or name


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def describe_body(content: bytes, content_type: str | None = None, limit: int = 2000) -> str:
    """A body as text for a report; anything binary as its type, size, sha256 and first bytes."""
    if not content:
        return ""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    textual = not kind or kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+json")
    text = None
    if textual:
        try:
            text = content.decode()
        except UnicodeDecodeError:
            text = None
    if text is None or any(ch in text for ch in _BINARY_CHARS):
        digest = hashlib.sha256(content).hexdigest()
        return (
            f"({kind or 'unknown type'}, {len(content)} bytes, sha256 {digest}, "
            f"starts {content[:16]!r})"
        )
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/problem+json",
        "application/yaml",
        "application/x-yaml",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/javascript",
    }
)
#: NUL and the C0 controls other than tab, newline and carriage return: not text.
_BINARY_CHARS = frozenset(chr(c) for c in range(32) if c not in (9, 10, 13))


class TargetKind(enum.StrEnum):
    IN_PROCESS = "the fake, in-process"  # free, ManualClock, directives
    FAKE = "the fake, by URL"  # free, X-Mock-Outcome, /media/ routes
    REMOTE = "a server by URL"  # paid: budget, no forced outcomes, no /media/


class SyncASGITransport(httpx.BaseTransport):
    """A blocking httpx transport into an ASGI app, with no socket.

    httpx's own ASGI transport is async-only, and Starlette's TestClient is
    deprecated with httpx; this runs the async transport on one anyio portal
    thread. App crashes come back as 500 answers, as they would over HTTP.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal()
        )
        self._portal = self._portal_cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            content = b"".join([chunk async for chunk in response.aiter_raw()])
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(content),
                request=request,
            )

        return self._portal.call(send)

    def close(self) -> None:
        """Nothing: one transport serves every client of a target, and a client's
        ``close()`` closes its transport. :meth:`shutdown` stops the portal."""

    def shutdown(self) -> None:
        self._portal_cm.__exit__(None, None, None)


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, kept to show beside a failure.

    ``repeated`` counts identical exchanges in a row (a poll that keeps
    getting the same answer), shown once with ``x N``.
    """

    method: str
    url: str
    request_body: str
    status: int
    response_body: str
    repeated: int = 1

    def same(self, other: Exchange) -> bool:
        return self.key() == other.key()

    def key(self) -> tuple[str, str, str, int, str]:
        return (self.method, self.url, self.request_body, self.status, self.response_body)

    def describe(self) -> str:
        times = f"  (x {self.repeated}, identical)" if self.repeated > 1 else ""
        return (
            f"request:  {self.method} {self.url}{times}\n"
            f"          {self.request_body or '(no body)'}\n"
            f"response: {self.status}\n"
            f"          {self.response_body or '(no body)'}"
        )


class _NamingTransport(httpx.BaseTransport):
    """Re-raises a request that got no answer with the URL and the reason in its message.

    httpx says ``[Errno 111] Connection refused``; a report must say which
    URL of which host refused, as the run may talk to several.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.TransportError as exc:
            message = describe_transport_error(_with_request(exc, request))
            raise type(exc)(message, request=request) from exc

    def close(self) -> None:
        self.inner.close()


def _with_request(exc: httpx.TransportError, request: httpx.Request) -> httpx.TransportError:
    try:
        exc.request  # noqa: B018 - raises when unset
    except RuntimeError:
        exc.request = request
    return exc


class TargetClient(httpx.Client):
    """An ``httpx.Client`` on a target that knows which other hosts the user trusts with
    uploads (``--allow-upload-host``): what :func:`~mock_api.contract.jobs.upload` asks
    before it follows a ticket anywhere but the target's own origin."""

    def __init__(self, *, upload_hosts: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.upload_hosts = upload_hosts


def _guarded(bounds: Bounds, body_bytes: int, inner: httpx.BaseTransport | None = None) -> Any:
    """The transport every request to a target goes through: named errors, bounded."""
    base = inner or http_transport(tls_context())
    return _NamingTransport(GuardedTransport(base, bounds, body_bytes=body_bytes))


def _timeout(bounds: Bounds) -> httpx.Timeout:
    return httpx.Timeout(bounds.request_seconds, connect=min(10.0, bounds.request_seconds))


def _get(url: str, bounds: Bounds, *, seconds: float = 15.0, **kwargs: Any) -> httpx.Response:
    """One GET outside any check (identification, the fake's plans and clock), bounded as
    the checks' requests are, and by ``seconds``; never recorded beside a failure."""
    quick = replace(bounds, request_seconds=min(bounds.request_seconds, seconds))
    with httpx.Client(
        transport=_guarded(quick, ANSWER_BYTES),
        timeout=_timeout(quick),
        headers={"Accept-Encoding": ACCEPT_ENCODING},
    ) as client:
        return client.get(url, **kwargs)


@dataclass
class Target:
    """Where the suite's requests go, and how time passes there."""

    kind: TargetKind
    base_url: str
    api_key: str
    wait: Callable[[float], object]
    poll_interval: float
    #: The first wait between two polls of a job, doubling up to ``poll_interval``
    #: (``None``: every wait is ``poll_interval``). See :meth:`poller`.
    first_poll_wait: float | None = None
    #: Seconds any one job may take, from ``--wavespeed-timeout``; else see :meth:`job_timeout`.
    timeout_override: float | None = None
    transport: httpx.BaseTransport | None = None
    #: In-process only: the fake the lifecycle and billing checks talk to.
    service: MockService | None = None
    #: In-process only: the instant-pace fake the schemathesis phases drive.
    schema_app: ASGIApp | None = None
    #: The fake accepts any key as its own account (started without --api-key).
    open_keys: bool = False
    #: A video URL to submit instead of an uploaded synthetic one.
    video_url: str | None = None
    #: The longest output (seconds) a job of this run may have; the session sets it
    #: from the plan on a paid target (billed seconds bound the output's).
    max_output_seconds: float = float(MINIMUM_SECONDS)
    #: A second account's key, for the isolation checks (``None``: not available).
    second_api_key: str | None = None
    #: Why there is no second key, when there is none.
    second_key_missing: str = "no second API key: pass --wavespeed-second-api-key"
    #: How long each request, and the run, may take (see :mod:`mock_api.contract.bounds`).
    bounds: Bounds = field(default_factory=Bounds)
    #: Hosts besides the target's own origin that an upload ticket may send the bytes to,
    #: with the ticket's headers (``--allow-upload-host``): ``HOST``, ``HOST:PORT``, ``*.DOMAIN``.
    upload_hosts: tuple[str, ...] = ()
    exchanges: deque[Exchange] = field(default_factory=lambda: deque(maxlen=4))
    #: Seconds the run has waited for jobs to settle (polls' pauses): on a fake by URL,
    #: the cost of its pace, which the report names when it is large.
    job_wait_seconds: float = 0.0
    _clients: list[httpx.Client] = field(default_factory=list)

    def poller(self, client: httpx.Client) -> Poller:
        """Reads a job through ``client`` until it settles, at this target's pace."""
        wait, first = self._job_wait, self.first_poll_wait
        return Poller(client, wait, self.poll_interval, self.timeout, first_wait=first)

    def _job_wait(self, seconds: float) -> None:
        started = time.monotonic()
        try:
            self.wait(seconds)
        finally:
            self.job_wait_seconds += time.monotonic() - started

    @property
    def is_fake(self) -> bool:
        return self.kind is not TargetKind.REMOTE

    @property
    def free(self) -> bool:
        """Jobs cost nothing real: the fake, in-process or by URL."""
        return self.is_fake

    @property
    def can_force_outcomes(self) -> bool:
        return self.is_fake

    @property
    def has_control(self) -> bool:
        """The fake's control API (``/_mock/``) answers: balances, limits, jobs can be set."""
        return self.is_fake

    @property
    def on_this_machine(self) -> bool:
        """Can the target reach a server this process starts on loopback (a webhook receiver)?"""
        if self.kind is TargetKind.IN_PROCESS:
            return True
        host = httpx.URL(self.base_url).host
        return host in ("localhost", "::1") or host.startswith("127.")

    def now(self) -> float:
        """Unix seconds on the target's clock: the ManualClock in-process, a fake's by URL
        as its control API says (it may have been moved on), else this machine's.

        What a webhook receiver compares ``webhook-timestamp`` with.
        """
        if self.service is not None:
            return self.service.clock.now_ms() / 1000
        if self.has_control:
            try:
                answer = _get(f"{self.base_url}/_mock/clock", self.bounds)
                return int(answer.json()["data"]["now_ms"]) / 1000
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass  # the control API is off or answers otherwise: this machine's clock
        return time.time()

    @contextmanager
    def time_flowing(self) -> Iterator[None]:
        """Let time pass on its own during a blocking call (sync mode).

        By URL it always does. In-process the ManualClock stands still unless
        told, so a thread moves it on, a poll interval at a time, until the
        block ends.
        """
        if self.kind is not TargetKind.IN_PROCESS:
            yield
            return
        done = threading.Event()

        def tick() -> None:
            while not done.wait(0.002):
                self.wait(self.poll_interval)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()

    def describe(self) -> str:
        where = self.base_url if self.kind is not TargetKind.IN_PROCESS else "no socket"
        return f"{self.kind.value} ({where})"

    def _record(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        exchange = Exchange(
            request.method,
            str(request.url),
            describe_body(request.content, request.headers.get("content-type")),
            response.status_code,
            describe_body(response.content, response.headers.get("content-type")),
        )
        last = self.exchanges[-1] if self.exchanges else None
        if last is not None and last.same(exchange):
            self.exchanges[-1] = Exchange(*exchange.key(), repeated=last.repeated + 1)
        else:
            self.exchanges.append(exchange)

    def client(
        self,
        *,
        auth: bool = True,
        api_key: str | None = None,
        check_429: bool = True,
        media: bool = False,
    ) -> TargetClient:
        """A client on the target. With ``auth`` it sends the key (``api_key``: another
        account's, the second key), but only to the target's own origin
        (:class:`OriginAuth`): URLs the target hands out on other hosts (a CDN, an object
        store, or wherever a broken server points) never receive it. Every 429 any
        client meets is held to :func:`check_retry_after` as it arrives, unless
        ``check_429`` is off (parity records a 429 as it comes, and judges it by diff).

        Every request is held to :attr:`bounds` (its whole time, the run's end) and its
        body to :data:`~mock_api.contract.bounds.ANSWER_BYTES`, or with ``media`` (the
        client that downloads outputs) :data:`~mock_api.contract.bounds.MEDIA_BYTES`.
        """
        key = api_key or self.api_key
        hooks: list[Callable[[httpx.Response], None]] = [self._record]
        if check_429:
            hooks.append(check_retry_after)
        client = TargetClient(
            upload_hosts=self.upload_hosts,
            base_url=self.base_url,
            auth=OriginAuth(self.base_url, key) if auth else None,
            transport=_guarded(self.bounds, MEDIA_BYTES if media else ANSWER_BYTES, self.transport),
            timeout=_timeout(self.bounds),
            headers={"Accept-Encoding": ACCEPT_ENCODING},
            event_hooks={"response": hooks},
        )
        self._clients.append(client)
        return client

    def still_answers(self) -> bool:
        """Does the target itself still answer? (A check's request may have gone elsewhere.)"""
        if self.transport is not None:  # in-process: always there
            return True
        try:  # asked after a check failed: past the run's limit too, a short probe
            _get(f"{self.base_url}/openapi.yaml", self.bounds.without_run_limit(5.0))
        except httpx.TransportError:
            return False
        except TargetUnusable:
            return True  # it answered (with too much)
        return True

    @property
    def timeout(self) -> Callable[[str], float]:
        """The bound on one job's wait, asked per job id: :meth:`job_timeout`."""
        return self.job_timeout

    def job_timeout(self, job_id: str) -> float:
        """Seconds (of the target's time: waited, not run) job ``job_id`` may take to finish.

        ``--wavespeed-timeout`` if given. Else what the target's own answers
        imply: the fake says when the job will finish (in-process its
        service, by URL ``/_mock/jobs/{id}``), and gets half as long again
        plus :data:`_FAKE_SLACK_SECONDS`; anything else gets
        :data:`JOB_BASE_SECONDS` plus :data:`SECONDS_PER_OUTPUT_SECOND` per
        second of the longest output the run may ask for.

        A fake by URL is believed only up to that same bound (:meth:`_ceiling`): a
        server that says a job ends in a century is no reason to wait a century.
        Whatever this says, a run by URL ends at its own limit (``--max-run-seconds``).
        """
        if self.timeout_override is not None:
            return self.timeout_override
        planned = self._planned_seconds(job_id) if self.is_fake else None
        if planned is not None:
            allowed = planned * _FAKE_SLACK_FACTOR + _FAKE_SLACK_SECONDS
            return allowed if self.service is not None else min(allowed, self._ceiling())
        return self._ceiling()

    def _ceiling(self) -> float:
        """The longest a job may take that no answer of the target's own set: the real
        model's top speed for the longest output the run may ask for."""
        return JOB_BASE_SECONDS + SECONDS_PER_OUTPUT_SECOND * self.max_output_seconds

    def _planned_seconds(self, job_id: str) -> float | None:
        """How long the fake plans job ``job_id`` to take, if it says and it ever finishes."""
        if self.service is not None:
            job = self.service.any_job(job_id)
            if job is None or job.plan.finished_ms >= NEVER_MS:
                return None
            return (job.plan.finished_ms - job.plan.created_ms) / 1000
        try:
            response = _get(f"{self.base_url}/_mock/jobs/{job_id}", self.bounds)
            data = response.json()["data"] if response.status_code == 200 else {}
            created, finished = data.get("created_at"), data.get("finished_at")
            if not (isinstance(created, str) and isinstance(finished, str)):
                return None
            seconds = (_instant(finished) - _instant(created)).total_seconds()
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError, OverflowError):
            return None  # the control API is off or answers otherwise: fall back
        return seconds if 0 <= seconds < float("inf") else None

    def force_outcome(self, outcome: str) -> dict[str, str]:
        """Make the next submission end as ``outcome`` (``complete``, ``nsfw``, ``fail``...).

        Returns the headers to send with it: in-process the directive is queued
        in the service instead, as a test of the library would; by URL the
        fake reads ``X-Mock-Outcome``.
        """
        if not self.can_force_outcomes:
            raise RuntimeError(f"{self.describe()} cannot be told how a job ends")
        # The HTTP edge (and FastAPI with it) is imported here, not with this module.
        from mock_api.http import OUTCOME_HEADER, outcome_from_header

        if self.service is not None:
            self.service.queue_directive(Directive(outcome=outcome_from_header(outcome)))
            return {}
        return {OUTCOME_HEADER: outcome}

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if isinstance(self.transport, SyncASGITransport):
            self.transport.shutdown()


def in_process(*, api_key: str = DEFAULT_API_KEY, seed: int = 20_240_601) -> Target:
    """The fake inside this process: a ManualClock, the ``fast`` pace, one accepted key.

    Only ``api_key`` (and :data:`SECOND_API_KEY`, the isolation checks' second
    account) are accepted, as on the real service, where an unknown key is
    refused: a fake that opens an account for any key would (rightly) fail
    schemathesis's check that authentication is enforced.
    """
    keys = frozenset({api_key, SECOND_API_KEY})
    # The app is imported here, not with this module: a run by URL never builds one, and
    # importing FastAPI was a sixth of verify's start-up.
    from mock_api import PACES, ManualClock, MockService, Settings, create_app

    clock = ManualClock()
    service = MockService(Settings(random_seed=seed, api_keys=keys, pace=PACES["fast"]), clock)
    schema_service = MockService(Settings(random_seed=seed, api_keys=keys, pace=PACES["instant"]))
    return Target(
        kind=TargetKind.IN_PROCESS,
        base_url=IN_PROCESS_URL,
        api_key=api_key,
        wait=clock.advance,
        poll_interval=0.25,
        transport=SyncASGITransport(create_app(service=service)),
        service=service,
        schema_app=create_app(service=schema_service),
        second_api_key=SECOND_API_KEY,
    )


def identify(base_url: str, bounds: Bounds | None = None) -> TargetKind:
    """The fake, if it serves our very ``openapi.yaml``; otherwise a (paid) server.

    The fake serves the contract at ``/openapi.yaml``; the real service does
    not serve this file, so anything else that answers is treated as paid.
    A server that does not answer at all (or not wholly within the bound on one
    request) raises :class:`TargetUnreachable`: that, not a budget, is what its
    user needs to hear first; one that answers more than a spec's bound raises
    :class:`TargetUnusable`.
    """
    return _identify(base_url, bounds or Bounds())[0]


def _identify(base_url: str, bounds: Bounds) -> tuple[TargetKind, httpx.Response | None]:
    """:func:`identify`, and the target's answer to ``GET /openapi.yaml`` (if any)."""
    try:
        response = _get(f"{base_url}/openapi.yaml", bounds)
    except httpx.TransportError as exc:
        raise TargetUnreachable(f"cannot reach {base_url}: {_reason(exc)}") from None
    except httpx.HTTPError:
        return TargetKind.REMOTE, None
    ours = Path(SPEC_PATH).read_text(encoding="utf-8")
    if response.status_code == 200 and response.content == ours.encode("utf-8"):
        return TargetKind.FAKE, response
    return TargetKind.REMOTE, response


def accepts_any_key(base_url: str, bounds: Bounds | None = None) -> bool:
    """Does the fake open an account for a key nobody configured? (serve without --api-key)."""
    probe = f"contract-probe-{secrets.token_hex(8)}"
    response = _get(
        f"{base_url}/api/v3/balance",
        bounds or Bounds(),
        headers={"Authorization": f"Bearer {probe}"},
    )
    return response.status_code == 200


def connect(
    base_url: str,
    api_key: str,
    *,
    poll_interval: float | None = None,
    timeout: float | None = None,
    video_url: str | None = None,
    second_api_key: str | None = None,
    bounds: Bounds | None = None,
    upload_hosts: tuple[str, ...] = (),
) -> Target:
    """A target by URL: the fake (free) if it identifies as one, else paid.

    The second account's key is ``second_api_key``; without one, a key derived
    from ``api_key`` serves only where the target opens an account for any key
    (the fake started without ``--api-key``). ``bounds`` limit each request and the
    run (by default each request's whole time only); ``upload_hosts`` are the hosts
    besides the target's origin that upload tickets may send the bytes to.

    One that does not answer at all raises :class:`TargetUnreachable`; Prism (told by
    its own errors) :class:`~mock_api.contract.recognise.NotWavespeed`. Whether another
    server is a WaveSpeed API at all its balance answer tells
    (:func:`~mock_api.contract.recognise.recognise`, which a contract session asks
    before anything else).
    """
    base_url = base_url.rstrip("/")
    bounds = bounds or Bounds()
    kind, spec_answer = _identify(base_url, bounds)
    fake = kind is TargetKind.FAKE
    prism = prism_error(spec_answer)
    if prism is not None:
        raise not_wavespeed_prism(base_url, prism)
    open_keys = fake and accepts_any_key(base_url, bounds)
    missing = ""
    if second_api_key is None:
        if open_keys:
            second_api_key = f"{api_key}-second"
        else:
            missing = (
                "no second API key, so the isolation of two accounts goes unchecked: pass a "
                "second account's key (verify: --second-api-key KEY; pytest: "
                "--wavespeed-second-api-key KEY); a derived key serves only where the target "
                "accepts any key"
            )
    return Target(
        kind=kind,
        base_url=base_url,
        api_key=api_key,
        wait=bounds.sleep,
        # The real service's docs ask video clients to poll every 5 s or slower. The fake
        # on loopback answers a poll in a few ms: 50 ms sees each state of a job on any
        # pace but instant, and a finished job is still read twice more to see it settle.
        poll_interval=poll_interval if poll_interval is not None else (0.05 if fake else 5.0),
        # A fake on loopback often finishes a job within milliseconds: the first wait
        # is 5 ms, doubling up to the interval (the real service is polled flat).
        first_poll_wait=0.005 if fake and poll_interval is None else None,
        timeout_override=timeout,
        open_keys=open_keys,
        video_url=video_url,
        second_api_key=second_api_key,
        second_key_missing=missing,
        bounds=bounds,
        upload_hosts=upload_hosts,
    )
