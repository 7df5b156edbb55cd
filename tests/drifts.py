"""A catalogue of deliberate drifts: a correct fake behind a proxy that breaks the contract.

Why this exists: the contract suite is only worth what it catches. Each
:class:`Drift` here is a small ASGI proxy in front of an unmodified fake that
changes what a client observes (a charge, a refund's timing, a field, a
header, a webhook, the output video), the way a drifting real service would.
A proxy works through the fake's HTTP surface only: the public API, plus its
control API (``/_mock/``) where a drift must change state (a balance moved as
another billing rule would move it). So the catalogue survives refactors of
the fake's internals, and each drift is a few lines.

``tests/test_drifts.py`` runs the by-URL suite against every drift and asserts
it is caught, by the check the catalogue names; docs/verify.md's table is built
from :data:`DRIFTS` (``python -m tests.drifts``).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from time import time_ns
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api.media import write_mp4

#: Where each check lives, by node id (a schemathesis check is selected with -k).
BILLING = "contracts/test_billing_e2e.py::test_charge_is_the_documented_rule"
BAND = "contracts/test_billing_e2e.py::test_charge_inside_the_padding_band"
CAP = "contracts/test_billing_e2e.py::test_charge_over_the_cap"
ACCEPTANCE = "contracts/test_billing_e2e.py::test_charge_is_taken_at_acceptance"
REFUND = "contracts/test_billing_e2e.py::test_failed_job_costs_nothing"
LIFECYCLE = "contracts/test_lifecycle.py::test_completed_job_keeps_every_invariant"
NSFW = "contracts/test_lifecycle.py::test_flagged_job_keeps_every_invariant"
UNREADABLE = "contracts/test_lifecycle.py::test_unreadable_media_fails_the_job_free"
NO_BALANCE = "contracts/test_account.py::test_not_enough_balance_answers_402_and_creates_no_job"
SECOND_KEY = "contracts/test_account.py::test_a_second_account_cannot_see_the_first"
AUTH = "contracts/test_account.py::test_a_request_without_a_valid_key_is_refused"
RATE_LIMIT = "contracts/test_account.py::test_a_429_says_when_to_come_back"
WEBHOOK = "contracts/test_webhooks.py::test_webhook_is_signed_as_documented"
WEBHOOK_ONCE = "contracts/test_webhooks.py::test_each_job_is_delivered_once_under_one_id"
SYNC = "contracts/test_sync.py::test_sync_mode_answers_with_a_finished_job"
SCHEMA = "contracts/test_schema.py::test_conforms_to_spec"
QUOTE = "contracts/test_catalogue.py::test_a_quote_is_what_the_job_is_charged"
QUOTE_FLOOR = "contracts/test_catalogue.py::test_a_quote_of_no_inputs_is_the_minimum"
CATALOGUE_PRICES = "contracts/test_catalogue.py::test_the_catalogue_prices_every_model_as_the_rule"
CATALOGUE = (
    "contracts/test_catalogue.py::test_every_listed_model_is_served_and_every_served_model_listed"
)
BALANCES = "contracts/test_catalogue.py::test_both_balance_paths_agree"
HISTORY = (
    "contracts/test_history.py::"
    "test_the_history_lists_the_callers_jobs_newest_first_and_filters_them"
)
DELETE = "contracts/test_history.py::test_delete_removes_exactly_the_callers_jobs"
FAMILY_FIRST = "contracts/test_family.py::test_every_model_is_charged_its_own_rate"
FAMILY_REST = "contracts/test_family.py::test_every_model_keeps_its_minimum_resolutions_and_orders"

SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"
RATE_MICROS = 15_000
RELAY = "/__drift/relay"


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def key(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ").strip()

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, value: Any) -> Answer:
        body = json.dumps(value, separators=(",", ":")).encode()
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        return Answer(self.status, [*headers, ("content-length", str(len(body)))], body)


class Proxy:
    """The fake behind a drift: forwards every request, lets the drift change it."""

    def __init__(self, app: ASGIApp, drift: Drift) -> None:
        self.app = app
        self.drift = drift
        self.state: dict[str, Any] = {}
        self.owner: dict[str, str] = {}  # job id -> the key that submitted it
        self.inner = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://drift.inner"
        )
        self.origin = ""

    # the fake, asked directly (its control API, or its API with a given key)

    async def job(self, job_id: str) -> dict[str, Any]:
        answer = await self.inner.get(f"/_mock/jobs/{job_id}")
        data: dict[str, Any] = answer.json()["data"]
        return data

    async def jobs(self, key: str) -> list[dict[str, Any]]:
        answer = await self.inner.get("/_mock/jobs", params={"api_key": key})
        jobs: list[dict[str, Any]] = answer.json()["data"]["jobs"]
        return jobs

    async def balance(self, key: str) -> Decimal:
        answer = await self.inner.get("/api/v3/balance", headers={"Authorization": f"Bearer {key}"})
        return Decimal(answer.text.split('"balance":')[1].split("}")[0].split(",")[0])

    async def move_balance(self, key: str, micros: int) -> None:
        """Add ``micros`` (negative: take) to the account, as another rule would have."""
        balance = await self.balance(key) + Decimal(micros) / 1_000_000
        await self.inner.put("/_mock/balance", json={"api_key": key, "balance": str(balance)})

    async def forward(self, request: Request, scope: Scope) -> Answer:
        query = urlencode(request.query).encode()
        headers = [(k.encode(), v.encode()) for k, v in request.headers.items()]
        headers = [(k, v) for k, v in headers if k != b"content-length"]
        headers.append((b"content-length", str(len(request.body)).encode()))
        inner_scope = {
            **scope,
            "path": request.path,
            "raw_path": request.path.encode(),
            "query_string": query,
            "headers": headers,
            "method": request.method,
        }
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        status, out_headers, chunks = 500, [], []

        async def send(message: Message) -> None:
            nonlocal status, out_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers = [(k.decode(), v.decode()) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(inner_scope, receive, send)
        return Answer(status, out_headers, b"".join(chunks))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        server = scope.get("server") or ("127.0.0.1", 80)
        self.origin = f"http://{server[0]}:{server[1]}"
        request = Request(
            scope["method"],
            scope["path"],
            parse_qsl(scope["query_string"].decode(), keep_blank_values=True),
            {k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body,
        )
        answer = await self.drift.handle(self, request, scope)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(k.encode(), v.encode()) for k, v in answer.headers],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


Handler = Callable[[Proxy, Request, Scope], Awaitable[Answer]]


@dataclass(frozen=True)
class Drift:
    """One way a service can drift, and the check that must catch it."""

    name: str
    area: str
    change: str
    caught_by: str
    handle: Handler = field(repr=False)
    select: str | None = None  # a -k expression, for the schemathesis check

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return Proxy(app, self)


async def plain(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    return await proxy.forward(request, scope)


def _is_poll(request: Request) -> bool:
    return request.method == "GET" and request.path.startswith("/api/v3/predictions/")


def _data_rewrite(change: Callable[[Proxy, Request, dict[str, Any]], None]) -> Handler:
    """Every prediction answered (submission and polls) goes through ``change``."""

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if answer.status != 200 or not (_is_poll(request) or request.path == SUBMIT):
            return answer
        body = answer.json()
        if isinstance(body.get("data"), dict):
            change(proxy, request, body["data"])
        return answer.with_json(body)

    return handle


# billing: the fake charges its rule; the proxy moves the balance to another rule's amount


def _rebill(rule: Callable[[Decimal, Decimal, str], int]) -> Handler:
    """After each accepted submission, move the balance to what ``rule`` would have charged."""

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if request.path == SUBMIT and request.method == "POST" and answer.status == 200:
            job = await proxy.job(answer.json()["data"]["id"])
            quote = job.get("quote")
            if quote is not None:
                left, right = Decimal(quote["left_seconds"]), Decimal(quote["right_seconds"])
                charged = quote["billed_seconds"] * RATE_MICROS
                drifted = rule(left, right, quote["order"])
                await proxy.move_balance(request.key, charged - drifted)
        return answer

    return handle


def _seconds(
    left: Decimal,
    right: Decimal,
    order: str,
    *,
    per_track: Decimal = Decimal("0.05"),
    off_sum: Decimal = Decimal(0),
    minimum: int = 5,
    cap: int | None = 600,
    rounding: str = ROUND_CEILING,
) -> int:
    left, right = max(left - per_track, Decimal(0)), max(right - per_track, Decimal(0))
    spoken = max(left, right) if order == "meanwhile" else left + right
    whole = int(max(spoken - off_sum, Decimal(0)).to_integral_value(rounding))
    billed = max(whole, minimum)
    return billed if cap is None else min(billed, cap)


def _rate(seconds: Callable[[Decimal, Decimal, str], int], micros: int = RATE_MICROS) -> Any:
    return lambda left, right, order: seconds(left, right, order) * micros


# timing of charges and refunds: the proxy moves the balance when the job changes state


def _on_balance(
    settle: Callable[[Proxy, Request, dict[str, Any]], Awaitable[None]],
    *,
    on_submit: Callable[[Proxy, Request, dict[str, Any]], Awaitable[None]] | None = None,
) -> Handler:
    """Before every balance read, ``settle`` each of the account's jobs once it has ended."""

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        if request.method == "GET" and request.path == "/api/v3/balance" and request.key:
            settled: set[str] = proxy.state.setdefault("settled", set())
            for job in await proxy.jobs(request.key):
                if job["id"] not in settled and job["status"] not in ("created", "processing"):
                    settled.add(job["id"])
                    await settle(proxy, request, job)
        answer = await proxy.forward(request, scope)
        if (
            on_submit is not None
            and request.path == SUBMIT
            and request.method == "POST"
            and answer.status == 200
        ):
            await on_submit(proxy, request, await proxy.job(answer.json()["data"]["id"]))
        return answer

    return handle


def _cost(job: dict[str, Any]) -> int:
    quote = job.get("quote")
    return 0 if quote is None else int(quote["billed_seconds"]) * RATE_MICROS


async def _give_back(proxy: Proxy, request: Request, job: dict[str, Any]) -> None:
    await proxy.move_balance(request.key, _cost(job))


async def _take_at_end(proxy: Proxy, request: Request, job: dict[str, Any]) -> None:
    # Completed: the charge comes now. Failed: the fake refunded a charge this
    # service never took, so that refund is taken back.
    await proxy.move_balance(request.key, -_cost(job))


async def _undo_refund(proxy: Proxy, request: Request, job: dict[str, Any]) -> None:
    if job["status"] == "failed":
        await proxy.move_balance(request.key, -_cost(job))


async def _refund_again(proxy: Proxy, request: Request, job: dict[str, Any]) -> None:
    if job["status"] == "failed":
        await proxy.move_balance(request.key, _cost(job))


async def _charge_unreadable(proxy: Proxy, request: Request, job: dict[str, Any]) -> None:
    if job["outcome"]["code"] == 1402:
        await proxy.move_balance(request.key, -5 * RATE_MICROS)


# 402: the balance check, skipped or leaky


def _accept_anyway(*, answer_402: bool) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if request.path != SUBMIT or answer.status != 402:
            return answer
        before = await proxy.balance(request.key)
        await proxy.inner.put("/_mock/balance", json={"api_key": request.key, "balance": "1000"})
        accepted = await proxy.forward(request, scope)
        await proxy.inner.put(
            "/_mock/balance", json={"api_key": request.key, "balance": str(before)}
        )
        return answer if answer_402 else accepted

    return handle


# auth and accounts


def _others_jobs_readable(first_key: str) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if _is_poll(request) and answer.status == 404:
            as_owner = replace(
                request, headers={**request.headers, "authorization": f"Bearer {first_key}"}
            )
            return await proxy.forward(as_owner, scope)
        return answer

    return handle


def _shared_balance(first_key: str) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        if request.path == "/api/v3/balance" and request.key and request.key != first_key:
            request = replace(
                request, headers={**request.headers, "authorization": f"Bearer {first_key}"}
            )
        return await proxy.forward(request, scope)

    return handle


def _keyless(first_key: str) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        if not request.key:
            request = replace(
                request, headers={**request.headers, "authorization": f"Bearer {first_key}"}
            )
        return await proxy.forward(request, scope)

    return handle


# quotas


def _retry_after(value: str | None) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if answer.status != 429:
            return answer
        headers = [(k, v) for k, v in answer.headers if k.lower() != "retry-after"]
        if value is not None:
            headers.append(("retry-after", value))
        return Answer(answer.status, headers, answer.body)

    return handle


# webhooks: the fake posts to the proxy's relay, which changes the delivery and sends it on


def _relay(
    change: Callable[[dict[str, str], bytes, str], tuple[dict[str, str], bytes]],
    *,
    echo: bool = False,
    again: bool = False,
) -> Handler:
    """Deliveries pass through ``change(headers, body, secret)`` on their way to the receiver.

    The fake is told 200 whatever the receiver said, unless ``echo`` (then it hears the
    receiver's status, and retries as it would); ``again`` sends an acknowledged delivery
    a second time, through ``change`` once more.
    """

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        if request.path == RELAY:
            target = dict(request.query)["to"]
            payload = json.loads(request.body)
            key = proxy.owner.get(str(payload.get("id")), "")
            secret_answer = await proxy.inner.get(
                "/api/v3/webhook/secret", headers={"Authorization": f"Bearer {key}"}
            )
            secret = secret_answer.json()["data"]["secret"]
            names = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")
            headers = {k: v for k, v in request.headers.items() if k in names}
            sent, body = change(headers, request.body, secret)
            async with httpx.AsyncClient() as client:
                answered = await client.post(target, content=body, headers=sent)
                if again and answered.is_success:
                    sent, body = change(headers, request.body, secret)
                    await client.post(target, content=body, headers=sent)
            status = answered.status_code if echo else 200
            return Answer(status, [("content-length", "0")], b"")
        if request.path == SUBMIT and request.method == "POST":
            query = [
                (k, f"{proxy.origin}{RELAY}?to={quote(v, safe='')}" if k == "webhook" else v)
                for k, v in request.query
            ]
            request = replace(request, query=query)
            answer = await proxy.forward(request, scope)
            if answer.status == 200:
                proxy.owner[answer.json()["data"]["id"]] = request.key
            return answer
        return await proxy.forward(request, scope)

    return handle


def _sign(secret: str, msg_id: str, stamp: str, body: bytes) -> str:
    key = secret.removeprefix("whsec_").encode()
    return "v3," + hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _signed_over_body(headers: dict[str, str], body: bytes, secret: str) -> Any:
    key = secret.removeprefix("whsec_").encode()
    signature = "v3," + hmac.new(key, body, hashlib.sha256).hexdigest()
    return {**headers, "webhook-signature": signature}, body


def _stamped_in_ms(headers: dict[str, str], body: bytes, secret: str) -> Any:
    stamp = str(int(headers["webhook-timestamp"]) * 1000)
    signature = _sign(secret, headers["webhook-id"], stamp, body)
    return {**headers, "webhook-timestamp": stamp, "webhook-signature": signature}, body


def _key_decoded(headers: dict[str, str], body: bytes, secret: str) -> Any:
    raw = secret.removeprefix("whsec_")
    key = base64.b64decode(raw + "=" * (-len(raw) % 4))
    message = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    signature = "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()
    return {**headers, "webhook-signature": signature}, body


def _enveloped(headers: dict[str, str], body: bytes, secret: str) -> Any:
    wrapped = json.dumps({"code": 200, "message": "success", "data": json.loads(body)}).encode()
    signature = _sign(secret, headers["webhook-id"], headers["webhook-timestamp"], wrapped)
    return {**headers, "webhook-signature": signature}, wrapped


def _new_id(headers: dict[str, str], body: bytes, secret: str) -> Any:
    """Each sending under a webhook-id of its own, signed as documented."""
    msg_id = f"msg_{hashlib.sha256(body + str(time_ns()).encode()).hexdigest()[:24]}"
    stamp = headers["webhook-timestamp"]
    return {
        **headers,
        "webhook-id": msg_id,
        "webhook-signature": _sign(secret, msg_id, stamp, body),
    }, body


def _as_is(headers: dict[str, str], body: bytes, secret: str) -> Any:
    return headers, body


# sync mode, outputs, uploads, answers


async def _sync_ignored(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    if request.path == SUBMIT and request.method == "POST":
        body = request.json()
        if isinstance(body, dict) and body.pop("enable_sync_mode", None) is not None:
            request = replace(request, body=json.dumps(body).encode())
    return await proxy.forward(request, scope)


async def _sync_gives_up_at_once(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    """A sync submission answered 5004 at once (submitted without waiting)."""
    if request.path == SUBMIT and request.method == "POST":
        body = request.json()
        if isinstance(body, dict) and body.pop("enable_sync_mode", None) is True:
            answer = await proxy.forward(replace(request, body=json.dumps(body).encode()), scope)
            if answer.status == 200:
                envelope = answer.json()
                envelope["data"]["code"] = 5004
                envelope["data"]["error"] = "Sync mode timed out; query the result later"
                return answer.with_json(envelope)
            return answer
    return await proxy.forward(request, scope)


def _output(make: Callable[[int, bytes], bytes]) -> Handler:
    """Output videos replaced by ``make(spoken_ms, original)``."""

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if not request.path.startswith("/media/outputs/") or answer.status != 200:
            return answer
        job = await proxy.job(request.path.split("/")[3])
        spoken_ms = int(Decimal(job["quote"]["output_seconds"]) * 1000)
        body = make(spoken_ms, answer.body)
        headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
        return Answer(200, [*headers, ("content-length", str(len(body)))], body)

    return handle


async def _upload_dropped(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    if request.method == "PUT" and request.path.startswith("/media/upload-tickets/"):
        return Answer(200, [("content-length", "0")], b"")
    return await proxy.forward(request, scope)


def _status_of(path: str, method: str, status: int) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if request.path == path and request.method == method and answer.status == 200:
            return replace(answer, status=status)
        return answer

    return handle


async def _unknown_job_500(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    answer = await proxy.forward(request, scope)
    if _is_poll(request) and answer.status == 404:
        return Answer(500, [("content-type", "text/plain")], b"Internal Server Error")
    return answer


async def _balance_as_text(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    answer = await proxy.forward(request, scope)
    if request.path == "/api/v3/balance" and answer.status == 200:
        body = answer.json()
        body["data"]["balance"] = str(body["data"]["balance"])
        return answer.with_json(body)
    return answer


async def _json_as_text(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    answer = await proxy.forward(request, scope)
    if request.path == "/api/v3/balance":
        headers = [(k, v) for k, v in answer.headers if k.lower() != "content-type"]
        return Answer(answer.status, [*headers, ("content-type", "text/plain")], answer.body)
    return answer


def _flip_back() -> Callable[[Proxy, Request, dict[str, Any]], None]:
    def change(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
        seen: set[str] = proxy.state.setdefault("completed", set())
        if data["status"] == "completed":
            if data["id"] in seen:
                data.update(status="processing", outputs=[], has_nsfw_contents=[])
            seen.add(data["id"])

    return change


def _outputs_early() -> Callable[[Proxy, Request, dict[str, Any]], None]:
    """Outputs listed while the job still says processing: on every processing read, and
    on the first read of each job that would say completed (so a poll that happens to
    miss the short processing state, on a loaded machine, still sees the drift)."""

    def change(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
        held: set[str] = proxy.state.setdefault("held", set())
        if data["status"] == "completed" and data["id"] not in held:
            held.add(data["id"])
            data.update(status="processing", error="")
        if data["status"] == "processing":
            data.update(outputs=["http://x/early.mp4"], has_nsfw_contents=[False])

    return change


def _set(**values: Any) -> Callable[[Proxy, Request, dict[str, Any]], None]:
    def change(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
        data.update(values)

    return change


def _when(when: str, **values: Any) -> Callable[[Proxy, Request, dict[str, Any]], None]:
    def change(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
        if data["status"] == when:
            data.update(values)

    return change


def _error_null(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    if data["error"] == "":
        data["error"] = None


def _plain_path_lags(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    if not request.path.endswith("/result") and data["status"] == "completed":
        data["timings"] = {"inference": 0}


def _created_at_moves(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    reads = proxy.state.setdefault("reads", 0) + 1
    proxy.state["reads"] = reads
    data["created_at"] = data["created_at"][:17] + f"{reads % 60:02d}" + data["created_at"][19:]


def _no_millis(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    data["created_at"] = data["created_at"][:19] + "Z"


def _flags_dropped(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    data["has_nsfw_contents"] = []


def _flags_cleared(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    data["has_nsfw_contents"] = [False] * len(data["outputs"])


def _inference_as_text(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    if "inference" in data.get("timings", {}):
        data["timings"]["inference"] = str(data["timings"]["inference"])


def _catalogue(first_key: str) -> list[Drift]:
    no_pad = Decimal(0)
    return [
        # billing: the rule
        Drift(
            "padding-100ms",
            "billing",
            "forgives 100 ms per track, not 50",
            BAND,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, o, per_track=Decimal("0.1")))),
        ),
        Drift(
            "padding-off-the-sum",
            "billing",
            "forgives 50 ms once, off the combined length",
            BAND,
            _rebill(
                _rate(lambda a, b, o: _seconds(a, b, o, per_track=no_pad, off_sum=Decimal("0.05")))
            ),
        ),
        Drift(
            "no-padding",
            "billing",
            "forgives no encoder padding (a 6.03 s track bills 7 s)",
            BAND,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, o, per_track=no_pad))),
        ),
        Drift(
            "cap-601",
            "billing",
            "caps at 601 s, not 600",
            CAP,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, o, cap=601))),
        ),
        Drift(
            "no-cap",
            "billing",
            "bills every second past 600",
            CAP,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, o, cap=None))),
        ),
        Drift(
            "minimum-3s",
            "billing",
            "a 3 s minimum instead of 5",
            BILLING,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, o, minimum=3))),
        ),
        Drift(
            "round-to-nearest",
            "billing",
            "rounds to the nearest second, not up",
            BILLING,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, o, rounding=ROUND_HALF_UP))),
        ),
        Drift(
            "meanwhile-sums",
            "billing",
            "bills meanwhile as left + right",
            BILLING,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, "left_right"))),
        ),
        Drift(
            "turns-take-max",
            "billing",
            "bills the sequential orders as max(left, right)",
            BILLING,
            _rebill(_rate(lambda a, b, o: _seconds(a, b, "meanwhile"))),
        ),
        Drift(
            "rate-0.016",
            "billing",
            "charges $0.016 a second",
            BILLING,
            _rebill(_rate(_seconds, 16_000)),
        ),
        # billing: when money moves
        Drift(
            "charge-at-completion",
            "charges",
            "takes the charge when the job ends",
            ACCEPTANCE,
            _on_balance(_take_at_end, on_submit=_give_back),
        ),
        Drift(
            "no-refund", "refunds", "never refunds a failed job", REFUND, _on_balance(_undo_refund)
        ),
        Drift(
            "double-refund",
            "refunds",
            "refunds a failed job twice",
            REFUND,
            _on_balance(_refund_again),
        ),
        Drift(
            "unreadable-charged",
            "refunds",
            "charges the minimum for media it cannot read",
            UNREADABLE,
            _on_balance(_charge_unreadable),
        ),
        Drift(
            "no-402",
            "balance",
            "accepts a job the balance cannot pay",
            NO_BALANCE,
            _accept_anyway(answer_402=False),
        ),
        Drift(
            "402-leaves-a-job",
            "balance",
            "answers 402 but creates the job",
            NO_BALANCE,
            _accept_anyway(answer_402=True),
        ),
        # lifecycle and schema
        Drift(
            "error-null",
            "schema",
            'error: null instead of "" on a good job',
            LIFECYCLE,
            _data_rewrite(_error_null),
        ),
        Drift(
            "paths-disagree",
            "schema",
            "/predictions/{id} lags /result (timings)",
            LIFECYCLE,
            _data_rewrite(_plain_path_lags),
        ),
        Drift(
            "outputs-early",
            "lifecycle",
            "outputs while processing",
            LIFECYCLE,
            _data_rewrite(_outputs_early()),
        ),
        Drift(
            "status-backwards",
            "lifecycle",
            "a completed job reads processing again",
            LIFECYCLE,
            _data_rewrite(_flip_back()),
        ),
        Drift(
            "created-at-moves",
            "lifecycle",
            "created_at changes between reads",
            LIFECYCLE,
            _data_rewrite(_created_at_moves),
        ),
        Drift(
            "created-at-seconds",
            "schema",
            "created_at without milliseconds",
            LIFECYCLE,
            _data_rewrite(_no_millis),
        ),
        Drift(
            "status-succeeded",
            "schema",
            'status "succeeded" for "completed"',
            LIFECYCLE,
            _data_rewrite(_when("completed", status="succeeded")),
        ),
        Drift(
            "inference-as-text",
            "schema",
            "timings.inference as a string",
            LIFECYCLE,
            _data_rewrite(_inference_as_text),
        ),
        Drift(
            "nsfw-flags-dropped",
            "lifecycle",
            "has_nsfw_contents empty beside an output",
            LIFECYCLE,
            _data_rewrite(_flags_dropped),
        ),
        Drift(
            "nsfw-flag-lost",
            "moderation",
            "a flagged output reads as safe",
            NSFW,
            _data_rewrite(_flags_cleared),
        ),
        Drift(
            "urls-get-elsewhere",
            "lifecycle",
            "urls.get names another job",
            LIFECYCLE,
            _data_rewrite(_set(urls={"get": "http://127.0.0.1:9/api/v3/predictions/x/result"})),
        ),
        Drift(
            "submit-201",
            "schema",
            "a submission answers 201, not 200",
            LIFECYCLE,
            _status_of(SUBMIT, "POST", 201),
        ),
        Drift(
            "balance-as-text",
            "schema",
            "the balance as a string",
            SCHEMA,
            _balance_as_text,
            select="test_conforms_to_spec and balance",
        ),
        Drift(
            "json-as-text",
            "schema",
            "balance answers typed text/plain",
            SCHEMA,
            _json_as_text,
            select="test_conforms_to_spec and balance",
        ),
        # accounts, auth, quotas
        Drift(
            "others-jobs-readable",
            "auth",
            "another account's job is readable",
            SECOND_KEY,
            _others_jobs_readable(first_key),
        ),
        Drift(
            "shared-balance",
            "auth",
            "a second key sees the first key's balance",
            SECOND_KEY,
            _shared_balance(first_key),
        ),
        Drift(
            "unknown-job-500",
            "schema",
            "an unknown job answers 500, not 404",
            SECOND_KEY,
            _unknown_job_500,
        ),
        Drift(
            "keyless-accepted",
            "auth",
            "a request with no key is served as the first account",
            AUTH,
            _keyless(first_key),
        ),
        Drift(
            "429-no-retry-after",
            "quotas",
            "a 429 without Retry-After",
            RATE_LIMIT,
            _retry_after(None),
        ),
        Drift(
            "429-retry-after-text",
            "quotas",
            'Retry-After: "soon"',
            RATE_LIMIT,
            _retry_after("soon"),
        ),
        Drift(
            "429-retry-after-past-date",
            "quotas",
            "Retry-After is an HTTP date an hour in the past",
            RATE_LIMIT,
            _retry_after(
                email.utils.format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
            ),
        ),
        Drift(
            "429-retry-after-too-short",
            "quotas",
            "Retry-After says 1 s while the quota is full for a minute",
            RATE_LIMIT,
            _retry_after("1"),
        ),
        # webhooks
        Drift(
            "webhook-signed-body-only",
            "webhooks",
            "signs the body alone, not id.timestamp.body",
            WEBHOOK,
            _relay(_signed_over_body),
        ),
        Drift(
            "webhook-timestamp-ms",
            "webhooks",
            "webhook-timestamp in milliseconds",
            WEBHOOK,
            _relay(_stamped_in_ms),
        ),
        Drift(
            "webhook-key-decoded",
            "webhooks",
            "signs with the secret base64-decoded",
            WEBHOOK,
            _relay(_key_decoded),
        ),
        Drift(
            "webhook-enveloped",
            "webhooks",
            "the payload wrapped in the envelope",
            WEBHOOK,
            _relay(_enveloped),
        ),
        Drift(
            "webhook-again-after-2xx",
            "webhooks",
            "an acknowledged delivery is sent again, under a new webhook-id",
            WEBHOOK_ONCE,
            _relay(_new_id, echo=True, again=True),
        ),
        Drift(
            "webhook-new-id-on-retry",
            "webhooks",
            "a delivery retried after a 500 comes under a new webhook-id",
            WEBHOOK_ONCE,
            _relay(_new_id, echo=True),
        ),
        Drift(
            "webhook-never-retried",
            "webhooks",
            "a delivery answered 500 is never sent again",
            WEBHOOK_ONCE,
            _relay(_as_is),
        ),
        # sync mode, uploads, output media
        Drift("sync-ignored", "sync", "enable_sync_mode ignored", SYNC, _sync_ignored),
        Drift(
            "sync-5004-at-once",
            "sync",
            "a sync submission answers 5004 at once instead of waiting",
            SYNC,
            _sync_gives_up_at_once,
        ),
        Drift(
            "upload-dropped",
            "uploads",
            "a ticket's PUT answers 200 and stores nothing",
            LIFECYCLE,
            _upload_dropped,
        ),
        Drift(
            "output-1s-long",
            "output",
            "the output video lasts a second longer",
            LIFECYCLE,
            _output(lambda ms, _: write_mp4(ms + 1000)),
        ),
        Drift(
            "output-billed-length",
            "output",
            "the output lasts the billed seconds",
            LIFECYCLE,
            _output(lambda ms, _: write_mp4(max(5000, math.ceil(ms / 1000) * 1000))),
        ),
        Drift(
            "output-truncated",
            "output",
            "the output video is cut short (does not decode)",
            LIFECYCLE,
            _output(lambda ms, body: body[: len(body) - 40]),
        ),
    ]


# quotes, the catalogue and the balance paths: the proxy rewrites one answer


def _rewrite(method: str, path: str, change: Callable[[Request, dict[str, Any]], Any]) -> Handler:
    """Answers of ``method path`` (any query) have their envelope passed through ``change``."""

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if request.method != method or request.path != path or answer.status != 200:
            return answer
        body = json.loads(answer.body, parse_float=Decimal)
        changed = change(request, body)
        return answer.with_json(json.loads(json.dumps(changed, default=float)))

    return handle


def _quote_plus_a_second(request: Request, body: dict[str, Any]) -> Any:
    for name in ("price", "discounted_price", "unit_price"):
        if name in body["data"]:
            body["data"][name] += Decimal("0.015")
    return body


def _free_when_empty(request: Request, body: dict[str, Any]) -> Any:
    if not (request.json() or {}).get("inputs"):
        for name in ("price", "discounted_price", "unit_price"):
            if name in body["data"]:
                body["data"][name] = 0
    return body


def _unit_price_in_cents(request: Request, body: dict[str, Any]) -> Any:
    body["data"]["unit_price"] *= 100
    return body


def _models(change: Callable[[Request, list[dict[str, Any]]], list[dict[str, Any]]]) -> Handler:
    return _rewrite(
        "GET",
        "/api/v3/models",
        lambda request, body: {**body, "data": change(request, body["data"])},
    )


def _drop_last(request: Request, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return models[:-1]


def _with_ghost(request: Request, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not models:  # a filter that matched nothing: no entry to copy a ghost from
        return models
    ghost = {**models[0], "model_id": "wavespeed-ai/infinitetalk-ghost", "name": "ghost"}
    return [*models, ghost]


def _per_second(request: Request, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "base_price": m["base_price"] / 5} for m in models]


def _three_second_formula(request: Request, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "formula": m["formula"].replace("$max([5,", "$max([3,")} for m in models]


async def _unfiltered(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    if request.path == "/api/v3/models":
        request = replace(request, query=[])
    return await proxy.forward(request, scope)


def _balance_in_cents(request: Request, body: dict[str, Any]) -> Any:
    body["data"]["balance"] *= 100
    return body


def _quotes_and_catalogue() -> list[Drift]:
    return [
        Drift(
            "quote-a-second-dearer",
            "quotes",
            "both quote paths price one second more than the job is charged",
            QUOTE,
            _rewrite("POST", "/api/v3/model/price", _quote_plus_a_second),
        ),
        Drift(
            "pricing-a-second-dearer",
            "quotes",
            "`/model/pricing` alone quotes one second more than the charge",
            QUOTE,
            _rewrite("POST", "/api/v3/model/pricing", _quote_plus_a_second),
        ),
        Drift(
            "empty-quote-free",
            "quotes",
            "a quote of no inputs is $0, not the 5 s minimum",
            QUOTE_FLOOR,
            _rewrite("POST", "/api/v3/model/price", _free_when_empty),
        ),
        Drift(
            "pricing-in-cents",
            "quotes",
            "`/model/pricing` answers `unit_price` in cents",
            QUOTE_FLOOR,
            _rewrite("POST", "/api/v3/model/pricing", _unit_price_in_cents),
        ),
        Drift(
            "catalogue-leaves-a-model-out",
            "catalogue",
            "`GET /api/v3/models` leaves out a model it serves",
            CATALOGUE,
            _models(_drop_last),
        ),
        Drift(
            "catalogue-lists-a-ghost",
            "catalogue",
            "the catalogue lists a model no route serves",
            CATALOGUE,
            _models(_with_ghost),
        ),
        Drift(
            "catalogue-type-filter-ignored",
            "catalogue",
            "`?type=` and `?category=` filter nothing",
            CATALOGUE,
            _unfiltered,
        ),
        Drift(
            "catalogue-base-price-per-second",
            "catalogue",
            "`base_price` is the rate per second, not per 5 s",
            CATALOGUE_PRICES,
            _models(_per_second),
        ),
        Drift(
            "catalogue-formula-3s-minimum",
            "catalogue",
            "the formulas state a 3 s minimum",
            CATALOGUE_PRICES,
            _models(_three_second_formula),
        ),
        Drift(
            "account-balance-in-cents",
            "balance",
            "`/api/v3/account/balance` answers in cents",
            BALANCES,
            _rewrite("GET", "/api/v3/account/balance", _balance_in_cents),
        ),
    ]


# the history and deletion


def _history(change: Callable[[Proxy, Request, dict[str, Any]], Awaitable[Any]]) -> Handler:
    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        if request.method != "POST" or request.path != "/api/v3/predictions":
            return answer
        if answer.status != 200:
            return answer
        body = answer.json()
        await change(proxy, request, body["data"])
        return answer.with_json(body)

    return handle


async def _skip_newest(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    if data["page"] == 1:
        data["items"] = data["items"][1:]


async def _unfiltered_status(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
    asked = request.json()
    if "status" in asked:
        whole = {k: v for k, v in asked.items() if k != "status"}
        answer = await proxy.inner.post(
            "/api/v3/predictions", json=whole, headers={"Authorization": f"Bearer {request.key}"}
        )
        data.update(answer.json()["data"])


def _with_others(first_key: str, second_key: str) -> Any:
    async def change(proxy: Proxy, request: Request, data: dict[str, Any]) -> None:
        other = second_key if request.key == first_key else first_key
        answer = await proxy.inner.post(
            "/api/v3/predictions", json=request.json(), headers={"Authorization": f"Bearer {other}"}
        )
        data["items"] = [*data["items"], *answer.json()["data"]["items"]]
        data["total"] += answer.json()["data"]["total"]

    return change


async def _keeps_deleted(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    seen: dict[str, dict[str, Any]] = proxy.state.setdefault("seen", {})
    gone: list[str] = proxy.state.setdefault("gone", [])
    if request.method == "POST" and request.path == "/api/v3/predictions/delete":
        for job_id in request.json().get("ids", []):
            found = await proxy.inner.get(
                f"/api/v3/predictions/{job_id}/result",
                headers={"Authorization": f"Bearer {request.key}"},
            )
            if found.status_code == 200:
                seen[str(job_id)] = found.json()["data"]
                gone.append(str(job_id))
    answer = await proxy.forward(request, scope)
    if request.method == "POST" and request.path == "/api/v3/predictions" and answer.status == 200:
        body = answer.json()
        for item in body["data"]["items"]:
            seen[item["id"]] = item
        kept = [seen[job_id] for job_id in gone if job_id in seen]
        body["data"]["items"] = [*body["data"]["items"], *kept]
        return answer.with_json(body)
    return answer


async def _delete_nothing(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    if request.method == "POST" and request.path == "/api/v3/predictions/delete":
        own = {job["id"] for job in await proxy.jobs(request.key)}
        count = len(set(request.json().get("ids", [])) & own)
        return Answer(200, [("content-type", "application/json")], b"").with_json(
            {"code": 200, "message": "success", "data": {"deleted_count": count}}
        )
    return await proxy.forward(request, scope)


async def _count_others(proxy: Proxy, request: Request, scope: Scope) -> Answer:
    deleting = request.method == "POST" and request.path == "/api/v3/predictions/delete"
    own = {job["id"] for job in await proxy.jobs(request.key)} if deleting else set()
    answer = await proxy.forward(request, scope)
    if deleting and answer.status == 200:
        body = answer.json()
        for job_id in set(request.json().get("ids", [])) - own:
            if (await proxy.inner.get(f"/_mock/jobs/{job_id}")).status_code == 200:
                body["data"]["deleted_count"] += 1
        return answer.with_json(body)
    return answer


def _history_and_delete(first_key: str, second_key: str) -> list[Drift]:
    return [
        Drift(
            "history-skips-newest",
            "history",
            "page 1 of the history leaves out the newest job",
            HISTORY,
            _history(_skip_newest),
        ),
        Drift(
            "history-ignores-status",
            "history",
            "the history's `status` filter is ignored",
            HISTORY,
            _history(_unfiltered_status),
        ),
        Drift(
            "history-lists-others",
            "history",
            "the history lists another account's jobs too",
            HISTORY,
            _history(_with_others(first_key, second_key)),
        ),
        Drift(
            "history-keeps-deleted",
            "history",
            "deleted jobs stay in the history",
            DELETE,
            _keeps_deleted,
        ),
        Drift(
            "delete-deletes-nothing",
            "delete",
            "delete answers the right count and deletes nothing",
            DELETE,
            _delete_nothing,
        ),
        Drift(
            "delete-counts-others",
            "delete",
            "delete counts another account's ids (and deletes only the caller's)",
            DELETE,
            _count_others,
        ),
    ]


# the family: the fake charges each model its tariff; the proxy moves the balance to
# another tariff's amount, or quotes another


def _rebill_family(
    rule: Callable[[str, dict[str, Any], dict[str, Any]], int | None],
) -> Handler:
    """After each accepted sibling submission, move the balance to ``rule(model, body, quote)``
    (``None``: the fake's own charge stands)."""

    async def handle(proxy: Proxy, request: Request, scope: Scope) -> Answer:
        answer = await proxy.forward(request, scope)
        sibling = request.path.startswith("/api/v3/wavespeed-ai/") and request.path != SUBMIT
        if request.method == "POST" and sibling and answer.status == 200:
            job = await proxy.job(answer.json()["data"]["id"])
            quote = job.get("quote")
            drifted = None if quote is None else rule(request.path, request.json(), quote)
            if quote is not None and drifted is not None:
                await proxy.move_balance(request.key, int(quote["cost_micros"]) - drifted)
        return answer

    return handle


def _standard(path: str) -> bool:
    return "/infinitetalk/" in path or path.endswith("/infinitetalk")


def _720p_at_480p(path: str, body: dict[str, Any], quote: dict[str, Any]) -> int | None:
    if _standard(path) and body.get("resolution") == "720p":
        return int(quote["billed_seconds"]) * 30_000
    return None


def _fast_at_standard(path: str, body: dict[str, Any], quote: dict[str, Any]) -> int | None:
    return None if _standard(path) else int(quote["billed_seconds"]) * 30_000


def _no_minimum(path: str, body: dict[str, Any], quote: dict[str, Any]) -> int | None:
    spoken = Decimal(quote["spoken_seconds"])
    whole = max(int(spoken.to_integral_value(ROUND_CEILING)), 1)
    rate = int(quote["cost_micros"]) // int(quote["billed_seconds"])
    return whole * rate


def _default_720p(path: str, body: dict[str, Any], quote: dict[str, Any]) -> int | None:
    if _standard(path) and "resolution" not in body:
        return int(quote["billed_seconds"]) * 60_000
    return None


def _quote_at_480p(request: Request, body: dict[str, Any]) -> Any:
    asked = request.json() or {}
    inputs = asked.get("inputs") or {}
    if _standard("/" + str(asked.get("model_id"))) and inputs.get("resolution") == "720p":
        for name in ("price", "discounted_price", "unit_price"):
            if name in body["data"]:
                body["data"][name] = body["data"][name] / 2
    return body


def _family() -> list[Drift]:
    return [
        Drift(
            "family-720p-at-480p",
            "family",
            "a standard sibling's 720p job is charged the 480p rate",
            FAMILY_REST,
            _rebill_family(_720p_at_480p),
        ),
        Drift(
            "family-fast-at-standard-rate",
            "family",
            "the fast siblings are charged the standard rate ($0.03/s)",
            FAMILY_FIRST,
            _rebill_family(_fast_at_standard),
        ),
        Drift(
            "family-no-minimum",
            "family",
            "the siblings bill their speech with no 5 s minimum",
            FAMILY_REST,
            _rebill_family(_no_minimum),
        ),
        Drift(
            "family-default-720p",
            "family",
            "a standard sibling sent without `resolution` is billed as 720p",
            FAMILY_FIRST,
            _rebill_family(_default_720p),
        ),
        Drift(
            "family-quote-ignores-720p",
            "family",
            "a sibling's quote at 720p is its 480p price",
            FAMILY_REST,
            _rewrite("POST", "/api/v3/model/price", _quote_at_480p),
        ),
    ]


def catalogue(first_key: str, second_key: str) -> list[Drift]:
    """Every drift, for a fake whose accounts are ``first_key`` and ``second_key``."""
    return [
        *_catalogue(first_key),
        *_quotes_and_catalogue(),
        *_history_and_delete(first_key, second_key),
        *_family(),
    ]


def markdown(drifts: list[Drift]) -> str:
    """docs/verify.md's table: one row a drift, and the check that catches it."""
    rows = ["| drift | area | what changes | caught by |", "|---|---|---|---|"]
    for drift in drifts:
        check = drift.caught_by.split("::")[-1]
        if drift.select:
            check += f" (`-k {drift.select}`)"
        rows.append(f"| `{drift.name}` | {drift.area} | {drift.change} | `{check}` |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown(catalogue("key", "key-2")))
