"""Webhooks as WaveSpeed sends them: signed, retried, logged, never blocking.

A job submitted with ``?webhook=<url>`` (or the body field ``webhook_url``)
gets one POST when it finishes, completed or failed: the bare prediction
object, no envelope, signed with the account's secret from
``GET /api/v3/webhook/secret``:

    webhook-id: <message id>
    webhook-timestamp: <unix seconds>
    webhook-signature: v3,<hex HMAC-SHA256 of "<id>.<timestamp>.<raw body>">

keyed by the secret with its ``whsec_`` prefix removed, used as is (not
base64-decoded). :func:`verify` is the receiving side, as a user would write
it; the tests check our signatures with an independent implementation.

Delivery is due when the fake's clock reaches the job's finish. A delivery
that gets a non-2xx answer or no answer is retried with backoff, a bounded
number of times; every attempt is logged. Deliveries run in the background
with a timeout each, so a slow or dead receiver never holds up the API.

Deliveries live in a store (:class:`DeliveryStore`): a due attempt is claimed
there atomically, so when several processes serve one database exactly one of
them sends it, and a restart carries on with each delivery's attempts.

Whoever submits a job chooses where its webhook goes, so a webhook never goes
to a control API (:func:`control_path_refusal`: any URL whose path is under
``/_mock/``, refused at submission and again before each attempt; redirects
are not followed), and with ``allow_private`` off (``serve
--no-webhook-allow-private``) only to public addresses, vetted by the same
guard as remote fetching (:func:`mock_api.fetch.vet_target`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import hmac
import json
import posixpath
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx

from mock_api.clock import Clock
from mock_api.errors import MediaError, NotFound
from mock_api.fetch import Resolver, vet_target
from mock_api.tls import tls_context

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SIGNATURE_VERSION = "v3"
#: Delay before each attempt after a failed one, in ms of the fake's clock.
BACKOFF_MS = (1_000, 2_000, 4_000, 8_000)
MAX_ATTEMPTS = len(BACKOFF_MS) + 1
TIMEOUT_SECONDS = 5.0
#: Receivers should refuse timestamps older than this (seconds).
TOLERANCE_SECONDS = 300


def control_path_refusal(url: str) -> str | None:
    """Why a webhook may not go to ``url`` (its path is a control API's), or ``None``.

    The path is read as a server would route it: percent-decoded, repeated
    slashes and dot segments resolved, any case. Any host: the mock reached
    through another name, or another mock, is still a control API.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        return None  # not a URL at all: its attempts fail and are logged
    path = posixpath.normpath(re.sub(r"/+", "/", unquote(path)) or "/").lower()
    if path == "/_mock" or path.startswith("/_mock/"):
        return "is a control API path (/_mock/): a webhook never goes there"
    return None


def signing_key(secret: str) -> bytes:
    return secret.removeprefix(SECRET_PREFIX).encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION},{digest}"


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check a received webhook; raise ValueError saying what is wrong."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        raise ValueError("missing or malformed webhook-* headers") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise ValueError(f"timestamp {timestamp} is more than {tolerance} s from now")
    expected = sign(secret, message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise ValueError("no signature matches")


def deleted_reason(job_id: str) -> str:
    """Why a delivery of a deleted job ended."""
    return f"prediction {job_id} was deleted: nothing to deliver"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for the job to finish, or for its next attempt
    DELIVERED = "delivered"  # a 2xx answer was received
    FAILED = "failed"  # every attempt failed


@dataclass(frozen=True)
class Attempt:
    at_ms: int
    status: int | None  # None: no HTTP answer
    error: str  # empty on success
    duration_ms: float


@dataclass
class Delivery:
    id: str  # the webhook-id header
    job_id: str
    account: str
    url: str
    base_url: str  # the base the job was submitted through: URLs in the payload use it
    next_attempt_ms: int  # first: the job's finish
    state: DeliveryState = DeliveryState.PENDING
    attempts: list[Attempt] = field(default_factory=list)
    in_flight: bool = False  # claimed by a dispatcher that is attempting it

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "url": self.url,
            "state": self.state.value,
            "next_attempt_ms": self.next_attempt_ms
            if self.state is DeliveryState.PENDING
            else None,
            "attempts": [
                {
                    "at_ms": a.at_ms,
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 3),
                }
                for a in self.attempts
            ],
        }


class DeliveryStore(Protocol):
    """Where deliveries are kept; each method works on copies, never live records."""

    def add_delivery(self, delivery: Delivery) -> None: ...
    def deliveries(
        self, *, job_id: str | None = None, account: str | None = None
    ) -> list[Delivery]: ...
    def claim_due_deliveries(self, now_ms: int) -> list[Delivery]:
        """Mark the pending deliveries due at ``now_ms`` in flight, atomically; return them."""
        ...

    def release_delivery(self, delivery: Delivery) -> None:
        """Save a claimed delivery's state, attempts and next attempt; end its claim."""
        ...

    def clear_deliveries(self) -> None: ...


class WebhookDispatcher:
    """Keeps the deliveries and sends the due ones when :meth:`pump` runs."""

    def __init__(
        self,
        clock: Clock,
        payload: Callable[[Delivery], bytes | None],
        secret: Callable[[str], str],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        store: DeliveryStore,
        allow_private: bool = True,
        resolver: Resolver | None = None,
    ) -> None:
        self.clock = clock
        # JSON body for a delivery; None while its job is unfinished; NotFound once the
        # job is gone (deleted), which ends the delivery as failed.
        self._payload = payload
        self._secret = secret  # account -> its secret
        self._transport = transport
        self._store = store
        self.allow_private = allow_private  # False: public addresses only (the SSRF guard)
        self._resolver = resolver

    def register(self, delivery: Delivery) -> None:
        self._store.add_delivery(delivery)

    def clear(self) -> None:
        self._store.clear_deliveries()

    def deliveries(
        self, *, job_id: str | None = None, account: str | None = None
    ) -> list[Delivery]:
        return self._store.deliveries(job_id=job_id, account=account)

    def job_deleted(self, job_id: str) -> None:
        """End the job's pending deliveries as failed, with the reason: nothing is left to send.

        One being attempted right now ends by itself (its payload finds no job).
        """
        for delivery in self._store.deliveries(job_id=job_id):
            if delivery.state is DeliveryState.PENDING and not delivery.in_flight:
                now = self.clock.now_ms()
                delivery.attempts.append(Attempt(now, None, deleted_reason(job_id), 0.0))
                delivery.state = DeliveryState.FAILED
                self._store.release_delivery(delivery)

    def _due(self) -> list[Delivery]:
        return self._store.claim_due_deliveries(self.clock.now_ms())

    async def pump(self) -> int:
        """Attempt every due delivery once, concurrently; returns how many were attempted."""
        due = self._due()
        if due:
            try:
                async with httpx.AsyncClient(
                    transport=self._transport, timeout=TIMEOUT_SECONDS, verify=tls_context()
                ) as client:
                    await asyncio.gather(*(self._attempt(client, d) for d in due))
            finally:
                for delivery in due:
                    if delivery.in_flight:  # cancelled before its attempt began
                        delivery.in_flight = False
                        self._store.release_delivery(delivery)
        return len(due)

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        try:
            try:
                body = self._payload(delivery)
            except NotFound as exc:  # the job is gone (deleted): nothing can ever be sent
                delivery.attempts.append(Attempt(self.clock.now_ms(), None, exc.message, 0.0))
                delivery.state = DeliveryState.FAILED
                return
            if body is None:  # not finished after all (a stuck job): try again later
                delivery.next_attempt_ms = self.clock.now_ms() + BACKOFF_MS[0]
                return
            await self._send(client, delivery, body)
        finally:
            # Also when cancelled at shutdown: the claim ends, and the attempt
            # (not recorded) is made again by whichever process runs next.
            delivery.in_flight = False
            self._store.release_delivery(delivery)

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery, body: bytes) -> None:
        now = self.clock.now_ms()
        timestamp = now // 1000
        headers = {
            "content-type": "application/json",
            "user-agent": "wavespeed-mock-webhooks",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._secret(delivery.account), delivery.id, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None = None
        error = ""
        final = False
        try:
            refusal = control_path_refusal(delivery.url)
            if refusal is not None:
                final = True  # no retry can make it right
                raise MediaError(f"{delivery.url} {refusal}; refused")
            if self.allow_private:
                response = await client.post(delivery.url, content=body, headers=headers)
            else:
                target = await vet_target(
                    delivery.url, allow_private=False, resolver=self._resolver
                )
                response = await client.post(
                    target.url,
                    content=body,
                    headers={**headers, **target.headers},
                    extensions=target.extensions,
                )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except MediaError as exc:
            error = exc.message  # says what was refused, and why
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        delivery.attempts.append(
            Attempt(now, status, error, (time.perf_counter() - started) * 1000)
        )
        if not error:
            delivery.state = DeliveryState.DELIVERED
        elif final or len(delivery.attempts) >= MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
        else:
            delivery.next_attempt_ms = now + BACKOFF_MS[len(delivery.attempts) - 1]

    async def run(self, interval: float = 0.05) -> None:
        """Pump forever in the background (the app's lifespan starts this)."""
        tasks: set[asyncio.Task[int]] = set()
        try:
            while True:
                # A slow receiver never delays the next pump.
                task = asyncio.create_task(self.pump())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(interval)
        finally:  # stopping: end the attempts in flight, so their claims are released
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)


def payload_bytes(prediction: Mapping[str, Any]) -> bytes:
    return json.dumps(prediction, separators=(",", ":")).encode()
