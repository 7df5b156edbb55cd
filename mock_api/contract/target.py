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
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio.from_thread
import httpx
from starlette.types import ASGIApp

from mock_api import PACES, ManualClock, MockService, Settings, create_app
from mock_api.planning import OUTCOME_HEADER, Directive, parse_outcome
from mock_api.spec import SPEC_PATH

__all__ = [
    "DEFAULT_API_KEY",
    "IN_PROCESS_URL",
    "SECOND_API_KEY",
    "Exchange",
    "RetryAfterMissing",
    "SyncASGITransport",
    "Target",
    "TargetKind",
    "accepts_any_key",
    "check_retry_after",
    "connect",
    "identify",
    "in_process",
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
    if _DELAY_SECONDS.match(value.strip()):
        return
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise RetryAfterMissing(
            f"{where} with Retry-After {value!r}: neither delay-seconds nor an HTTP date"
        ) from None


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
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return self._portal.call(send)

    def close(self) -> None:
        """Nothing: one transport serves every client of a target, and a client's
        ``close()`` closes its transport. :meth:`shutdown` stops the portal."""

    def shutdown(self) -> None:
        self._portal_cm.__exit__(None, None, None)


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, kept to show beside a failure."""

    method: str
    url: str
    request_body: str
    status: int
    response_body: str

    def describe(self) -> str:
        return (
            f"request:  {self.method} {self.url}\n"
            f"          {self.request_body or '(no body)'}\n"
            f"response: {self.status}\n"
            f"          {self.response_body or '(no body)'}"
        )


def _text(content: bytes, limit: int = 2000) -> str:
    if not content:
        return ""
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return f"({len(content)} bytes of binary)"
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


@dataclass
class Target:
    """Where the suite's requests go, and how time passes there."""

    kind: TargetKind
    base_url: str
    api_key: str
    wait: Callable[[float], object]
    poll_interval: float
    timeout: float
    transport: httpx.BaseTransport | None = None
    #: In-process only: the fake the lifecycle and billing checks talk to.
    service: MockService | None = None
    #: In-process only: the instant-pace fake the schemathesis phases drive.
    schema_app: ASGIApp | None = None
    #: The fake accepts any key as its own account (started without --api-key).
    open_keys: bool = False
    #: A video URL to submit instead of an uploaded synthetic one.
    video_url: str | None = None
    #: A second account's key, for the isolation checks (``None``: not available).
    second_api_key: str | None = None
    #: Why there is no second key, when there is none.
    second_key_missing: str = "no second API key: pass --wavespeed-second-api-key"
    exchanges: deque[Exchange] = field(default_factory=lambda: deque(maxlen=4))
    _clients: list[httpx.Client] = field(default_factory=list)

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
        """Unix seconds on the target's clock: the ManualClock in-process, else this machine's.

        What a webhook receiver compares ``webhook-timestamp`` with.
        """
        if self.service is not None:
            return self.service.clock.now_ms() / 1000
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
        self.exchanges.append(
            Exchange(
                request.method,
                str(request.url),
                _text(request.content),
                response.status_code,
                _text(response.content),
            )
        )

    def client(self, *, auth: bool = True, api_key: str | None = None) -> httpx.Client:
        """A client on the target; ``auth=False`` for CDN-like URLs, so the key never leaks.

        ``api_key`` picks another account's key (the second key). Every 429 any
        client meets is held to :func:`check_retry_after` as it arrives.
        """
        key = api_key or self.api_key
        headers = {"Authorization": f"Bearer {key}"} if auth else {}
        client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=self.transport,
            timeout=httpx.Timeout(90.0, connect=10.0),
            event_hooks={"response": [self._record, check_retry_after]},
        )
        self._clients.append(client)
        return client

    def force_outcome(self, outcome: str) -> dict[str, str]:
        """Make the next submission end as ``outcome`` (``complete``, ``nsfw``, ``fail``...).

        Returns the headers to send with it: in-process the directive is queued
        in the service instead, as a test of the library would; by URL the
        fake reads ``X-Mock-Outcome``.
        """
        if not self.can_force_outcomes:
            raise RuntimeError(f"{self.describe()} cannot be told how a job ends")
        if self.service is not None:
            self.service.queue_directive(Directive(outcome=parse_outcome(outcome)))
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
    clock = ManualClock()
    service = MockService(Settings(random_seed=seed, api_keys=keys, pace=PACES["fast"]), clock)
    schema_service = MockService(Settings(random_seed=seed, api_keys=keys, pace=PACES["instant"]))
    return Target(
        kind=TargetKind.IN_PROCESS,
        base_url=IN_PROCESS_URL,
        api_key=api_key,
        wait=clock.advance,
        poll_interval=0.25,
        timeout=3600.0,
        transport=SyncASGITransport(create_app(service=service)),
        service=service,
        schema_app=create_app(service=schema_service),
        second_api_key=SECOND_API_KEY,
    )


def identify(base_url: str) -> TargetKind:
    """The fake, if it serves our very ``openapi.yaml``; otherwise a (paid) server.

    The fake serves the contract at ``/openapi.yaml``; the real service does
    not serve this file, so anything else is treated as paid.
    """
    try:
        response = httpx.get(f"{base_url}/openapi.yaml", timeout=15.0, follow_redirects=False)
    except httpx.HTTPError:
        return TargetKind.REMOTE
    ours = Path(SPEC_PATH).read_text(encoding="utf-8")
    if response.status_code == 200 and response.text == ours:
        return TargetKind.FAKE
    return TargetKind.REMOTE


def accepts_any_key(base_url: str) -> bool:
    """Does the fake open an account for a key nobody configured? (serve without --api-key)."""
    probe = f"contract-probe-{secrets.token_hex(8)}"
    response = httpx.get(
        f"{base_url}/api/v3/balance", headers={"Authorization": f"Bearer {probe}"}, timeout=15.0
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
) -> Target:
    """A target by URL: the fake (free) if it identifies as one, else paid.

    The second account's key is ``second_api_key``; without one, a key derived
    from ``api_key`` serves only where the target opens an account for any key
    (the fake started without ``--api-key``).
    """
    base_url = base_url.rstrip("/")
    kind = identify(base_url)
    fake = kind is TargetKind.FAKE
    open_keys = fake and accepts_any_key(base_url)
    missing = ""
    if second_api_key is None:
        if open_keys:
            second_api_key = f"{api_key}-second"
        else:
            missing = (
                "no second API key: pass --wavespeed-second-api-key (verify: --second-api-key); "
                "a derived key serves only where the target accepts any key"
            )
    return Target(
        kind=kind,
        base_url=base_url,
        api_key=api_key,
        wait=time.sleep,
        # The real service's docs ask video clients to poll every 5 s or slower.
        poll_interval=poll_interval if poll_interval is not None else (0.1 if fake else 5.0),
        timeout=timeout if timeout is not None else (120.0 if fake else 1800.0),
        open_keys=open_keys,
        video_url=video_url,
        second_api_key=second_api_key,
        second_key_missing=missing,
    )
