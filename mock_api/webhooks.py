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
number of times; every attempt is logged. Deliveries run in the background,
so a slow or dead receiver never holds up the API.

A receiver cannot hurt the fake either: an attempt has :data:`ATTEMPT_SECONDS`
in all, connecting, sending and waiting for the answer's head together (a
receiver trickling a byte a second gets no more), and only the status line and
headers of the answer are read. Its body is never read, so never decompressed
(a gzip bomb costs nothing; ``accept-encoding: identity`` asks for none anyway).

Deliveries live in a store (:class:`DeliveryStore`): a due attempt is claimed
there atomically, so when several processes serve one database exactly one of
them sends it, and a restart carries on with each delivery's attempts. A claim
lasts :data:`CLAIM_SECONDS`, far longer than an attempt can, so it lapses only
when its process died mid-attempt, never while the attempt still runs.

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
import hashlib
import hmac
import json
import posixpath
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from mock_api.clock import Clock
from mock_api.errors import MediaError, NotFound, Unavailable
from mock_api.fetch import Resolver, vet_target
from mock_api.records import CLAIM_SECONDS, Attempt, Delivery, DeliveryState
from mock_api.storage import DeliveryStore
from mock_api.tls import tls_context

__all__ = [
    "ATTEMPT_SECONDS",
    "BACKOFF_MS",
    "CLAIM_SECONDS",
    "MAX_ATTEMPTS",
    "SECRET_PREFIX",
    "SIGNATURE_VERSION",
    "TOLERANCE_SECONDS",
    "Attempt",
    "Delivery",
    "DeliveryState",
    "DeliveryStore",
    "WebhookDispatcher",
    "control_path_refusal",
    "deleted_reason",
    "payload_bytes",
    "sign",
    "signing_key",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SIGNATURE_VERSION = "v3"
#: Delay before each attempt after a failed one, in ms of the fake's clock.
BACKOFF_MS = (1_000, 2_000, 4_000, 8_000)
MAX_ATTEMPTS = len(BACKOFF_MS) + 1
#: The longest one attempt takes, from connecting to the answer's headers (wall seconds).
ATTEMPT_SECONDS = 5.0
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
        attempt_seconds: float = ATTEMPT_SECONDS,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> None:
        if not 0 < 2 * attempt_seconds <= claim_seconds:
            raise ValueError("a claim must last at least twice as long as an attempt may")
        self.clock = clock
        # JSON body for a delivery; None while its job is unfinished; NotFound once the
        # job is gone (deleted), which ends the delivery as failed.
        self._payload = payload
        self._secret = secret  # account -> its secret
        self._transport = transport
        self._store = store
        self.allow_private = allow_private  # False: public addresses only (the SSRF guard)
        self._resolver = resolver
        self.attempt_seconds = attempt_seconds
        self.claim_seconds = claim_seconds
        # Attempts made whose outcome the store could not take yet (its write lock was
        # held elsewhere): saved at the next pump, while their claim still holds.
        self._unsaved: dict[str, Delivery] = {}

    def register(self, delivery: Delivery) -> None:
        self._store.add_delivery(delivery)

    def clear(self) -> None:
        self._store.clear_deliveries()
        self._unsaved.clear()

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
        for delivery in list(self._unsaved.values()):
            self._release(delivery)
        try:
            return self._store.claim_due_deliveries(
                self.clock.now_ms(), lease_seconds=self.claim_seconds
            )
        except Unavailable:  # the store is locked elsewhere: the next pump claims them
            return []

    def _release(self, delivery: Delivery) -> None:
        delivery.in_flight = False
        try:
            self._store.release_delivery(delivery)
        except Unavailable:
            self._unsaved[delivery.id] = delivery
        else:
            self._unsaved.pop(delivery.id, None)

    async def pump(self) -> int:
        """Attempt every due delivery once, concurrently; returns how many were attempted."""
        due = self._due()
        if due:
            try:
                async with httpx.AsyncClient(
                    transport=self._transport,
                    timeout=self.attempt_seconds,
                    verify=tls_context(),
                ) as client:
                    await asyncio.gather(*(self._attempt(client, d) for d in due))
            finally:
                for delivery in due:
                    if delivery.in_flight:  # cancelled before its attempt began
                        self._release(delivery)
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
            self._release(delivery)

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery, body: bytes) -> None:
        now = self.clock.now_ms()
        timestamp = now // 1000
        headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",  # the answer's body is never read anyway
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
            async with asyncio.timeout(self.attempt_seconds):
                status = await self._post(client, delivery.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except MediaError as exc:
            error = exc.message  # says what was refused, and why
        except TimeoutError:
            error = f"no answer within {self.attempt_seconds:g} s"
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

    async def _post(
        self, client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
    ) -> int:
        """POST ``body`` to ``url``; the answer's status. Its body is left unread."""
        if self.allow_private:
            request = client.build_request("POST", url, content=body, headers=headers)
        else:
            target = await vet_target(url, allow_private=False, resolver=self._resolver)
            request = client.build_request(
                "POST",
                target.url,
                content=body,
                headers={**headers, **target.headers},
                extensions=target.extensions,
            )
        response = await client.send(request, stream=True)
        await response.aclose()  # closes the connection: nothing of the body is read
        return response.status_code

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
