"""HTTP faults on chosen routes: what a client must survive on the wire.

A :class:`FaultRule` picks requests (method, path glob, account) and does one
thing to them: answer an error status (429 with ``Retry-After``, 5xx), add
latency before serving or after (``slow-answer``), drop the connection
mid-answer, or answer a malformed body. A rule
fires for its next ``times`` matching requests, or for a seeded share of them
(:mod:`mock_api.rulebook`), so a failing run replays exactly.

:class:`FaultMiddleware` applies the rules in front of the app, so faults hit
every route the same way, including ones that never reach a handler.
"""

from __future__ import annotations

import enum
import fnmatch
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api.errors import error_body
from mock_api.rulebook import (
    RuleBook,
    RuleStore,
    check_counts,
    check_method_path,
    check_range,
    register_rule_kind,
    rule_head,
)

#: The longest latency a fault may add; SIGTERM ends a request sleeping in one.
MAX_LATENCY_MS = 300_000
#: The largest ``Retry-After`` a status fault may send (a day).
MAX_RETRY_AFTER = 86_400


class FaultKind(enum.StrEnum):
    STATUS = "status"  # answer `status` with the error envelope (and Retry-After if set)
    LATENCY = "latency"  # wait `latency_ms`, then answer normally
    DROP = "drop"  # start the answer, then cut the connection
    MALFORMED = "malformed"  # answer 200 with a truncated JSON body
    #: serve the request whole (a submission makes its job and is charged), then hold
    #: the answer `latency_ms`: a client whose timeout is shorter never sees it
    SLOW_ANSWER = "slow-answer"


@dataclass(frozen=True)
class FaultRule:
    id: str
    kind: FaultKind
    method: str | None = None  # None: any method
    path: str = "/api/v3/*"  # fnmatch glob over the request path
    account: str | None = None  # an API key (``api_key`` in JSON); None: anyone
    status: int = 503
    retry_after: int | None = None  # seconds, sent as the Retry-After header
    latency_ms: int = 0
    times: int | None = None  # fire for the next N matching requests; None: no count
    share: float = 1.0  # the seeded share of matching requests that fire
    seed: int = 0
    matched: int = field(default=0, compare=False)  # matching requests seen so far
    applied: int = field(default=0, compare=False)  # of which the fault fired

    def __post_init__(self) -> None:
        check_counts(self.times, self.share)
        check_method_path(self.method, self.path)
        if self.kind is FaultKind.STATUS and not 400 <= self.status <= 599:
            raise ValueError("a status fault answers a 4xx or 5xx status")
        check_range("latency_ms", self.latency_ms, 0, MAX_LATENCY_MS)
        check_range("retry_after", self.retry_after, 0, MAX_RETRY_AFTER)

    def matches(self, method: str, path: str, api_key: str | None) -> bool:
        return (
            (self.method in (None, "*") or self.method.upper() == method)
            and fnmatch.fnmatchcase(path, self.path)
            and (self.account is None or self.account == api_key)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "method": self.method,
            "path": self.path,
            "api_key": self.account,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
            "times": self.times,
            "share": self.share,
            "seed": self.seed,
            "matched": self.matched,
            "applied": self.applied,
        }


class FaultBook(RuleBook[FaultRule]):
    def __init__(self, store: RuleStore) -> None:
        super().__init__("fault", store, fault_from_dict)

    def pick(self, method: str, path: str, api_key: str | None) -> FaultRule | None:
        return self.fire(lambda r: r.matches(method, path, api_key))


class FaultMiddleware:
    def __init__(self, app: ASGIApp, book: FaultBook) -> None:
        self.app = app
        self.book = book

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The control API stays reachable whatever the rules say, so they can be removed.
        if scope["type"] != "http" or scope["path"].startswith("/_mock/") or not self.book.armed():
            await self.app(scope, receive, send)
            return
        rule = self.book.pick(scope["method"], scope["path"], bearer_key(scope["headers"]))
        if rule is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["fault"] = rule.id  # the journal names it
        await APPLY[rule.kind](rule, self.app, scope, receive, send)


Apply = Callable[[FaultRule, ASGIApp, Scope, Receive, Send], Awaitable[None]]


async def _latency(
    rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Wait ``latency_ms``, then answer normally."""
    await anyio.sleep(rule.latency_ms / 1000)
    await app(scope, receive, send)


async def _slow_answer(
    rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve the request, then wait ``latency_ms`` before answering.

    What a client with a timeout sees of a slow sync-mode submission or a slow
    gateway: the work is done (a job made, a charge taken) whether or not it is
    still there to read the answer, so a client that posts again on its timeout
    (the official Go SDK does, up to six times) makes a job, and a charge, each time.
    """
    held: list[Message] = []

    async def hold(message: Message) -> None:
        held.append(message)

    await app(scope, receive, hold)
    await anyio.sleep(rule.latency_ms / 1000)
    for message in held:
        await send(message)


async def _status(
    rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``status`` in the error envelope, with ``Retry-After`` when the rule has one."""
    message = f"injected fault {rule.id!r}: HTTP {rule.status}"
    body = json.dumps(error_body(rule.status, message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if rule.retry_after is not None:
        headers.append((b"retry-after", str(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _malformed(
    rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer 200 with a JSON body cut short."""
    body = b'{"code": 200, "message": "success", "data": {"id": '
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Promise a body, send part of it, then give up on the connection."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"code": 200', "more_body": True})
    raise ConnectionAbortedError(f"injected fault {rule.id!r}: connection dropped")


#: What each kind of fault does to a request. A new kind is a member of
#: :class:`FaultKind` and one entry here; a kind without one fails at import.
APPLY: dict[FaultKind, Apply] = {
    FaultKind.LATENCY: _latency,
    FaultKind.STATUS: _status,
    FaultKind.MALFORMED: _malformed,
    FaultKind.DROP: _drop,
    FaultKind.SLOW_ANSWER: _slow_answer,
}
if set(APPLY) != set(FaultKind):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError(f"fault kinds without a handler: {sorted(set(FaultKind) - set(APPLY))}")


def bearer_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The API key in a request's ``Authorization: Bearer`` header, if it has one."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return (key.strip() or None) if scheme.lower() == "bearer" else None
    return None


_FAULT_FIELDS = {
    "id",
    "kind",
    "method",
    "path",
    "api_key",
    "status",
    "retry_after",
    "latency_ms",
    "times",
    "share",
    "seed",
}


def fault_from_dict(data: dict[str, Any]) -> FaultRule:
    """Build a rule from its JSON/YAML form; raises ValueError naming the bad field."""
    kind = rule_head(data, kind="fault", fields=_FAULT_FIELDS, key="kind", choices=FaultKind)
    fields = {k: v for k, v in data.items() if k not in ("id", "kind", "api_key")}
    return FaultRule(id=str(data["id"]), kind=kind, account=data.get("api_key"), **fields)


# A store rebuilds stored fault rules from the moment this module is imported, not only
# once a book exists (a process may read a store before it makes a book).
register_rule_kind("fault", fault_from_dict)
