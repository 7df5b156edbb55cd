"""The request journal: what clients actually sent, and what they got back.

Every request that reaches the app is recorded, with the account it came
from, the status it got, how long it took, and each way it broke the spec
(field, rule). Tests assert on it ("the client polled at most once a second",
"no request was invalid"); the pytest plugin can fail a test whose client
sent anything the spec forbids.

Bodies are kept only when they are JSON and small, so the journal of a test
that uploads a 100 MB video stays small. They are kept as sent and parsed when
first read: parsing every answer as it left took a tenth of each GET, and the
parsed objects tripled the journal's memory and the garbage collector's pauses
on a long-running server (benchmarks/run.py).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api.clock import Clock
from mock_api.faults import bearer_key
from mock_api.store import account_id

#: The largest body (request or response) the journal keeps, in bytes.
MAX_KEPT_BODY = 64 * 1024


@dataclass(frozen=True)
class SpecViolation:
    field: str
    reason: str
    location: str = "body"

    def __str__(self) -> str:
        return f"{self.location} {self.field!r}: {self.reason}"


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at_ms: int  # the fake's clock when the request arrived
    method: str
    path: str
    query: str
    account: str | None
    status: int
    duration_ms: float  # wall-clock time spent answering
    violations: tuple[SpecViolation, ...] = ()
    # The fault rule that fired on the request, if one did. A ``drop`` keeps the
    # status it began to send: the client saw the connection cut, not that status.
    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes | None = field(default=None, repr=False)  # kept JSON, as sent
    response_body: bytes | None = field(default=None, repr=False)

    @functools.cached_property
    def request_json(self) -> Any:
        """The request's JSON body; ``None`` unless it was small, valid JSON."""
        return _parse(self.request_body)

    @functools.cached_property
    def response_json(self) -> Any:
        """The answer's JSON body; ``None`` unless it was small, valid JSON."""
        return _parse(self.response_body)

    @property
    def valid(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        query = f"?{self.query}" if self.query else ""
        line = f"#{self.seq} {self.method} {self.path}{query} -> {self.status}"
        if self.violations:
            line += " [" + "; ".join(str(v) for v in self.violations) + "]"
        return line


class Journal:
    def __init__(self, limit: int = 100_000) -> None:
        # A deque: dropping the oldest of 100,000 entries from a list moved them
        # all, on every request once the journal was full (+7 to 17% per GET).
        self._entries: deque[JournalEntry] = deque()
        self._lock = threading.Lock()
        self._seq = 0
        self.limit = limit

    def record(self, **fields: Any) -> JournalEntry:
        with self._lock:
            self._seq += 1
            entry = JournalEntry(seq=self._seq, **fields)
            self._entries.append(entry)
            while len(self._entries) > self.limit:  # oldest first out
                self._entries.popleft()
            return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        account: str | None = None,
        status: int | None = None,
        invalid: bool | None = None,
    ) -> list[JournalEntry]:
        """Entries in arrival order; ``path`` matches a prefix."""
        with self._lock:
            found: Iterable[JournalEntry] = list(self._entries)
        return [
            e
            for e in found
            if (method is None or e.method == method.upper())
            and (path is None or e.path.startswith(path))
            and (account is None or e.account == account)
            and (status is None or e.status == status)
            and (invalid is None or (not e.valid) == invalid)
        ]

    def violations(self) -> list[JournalEntry]:
        return self.entries(invalid=True)


_KEPT_HEADER_NAMES = frozenset(
    {
        b"content-type",
        b"user-agent",
        b"x-client-name",
        b"x-client-version",
        b"x-mock-outcome",
    }
)


class JournalMiddleware:
    """Pure ASGI middleware: tees small JSON bodies, times the answer, records it."""

    def __init__(self, app: ASGIApp, journal: Journal, clock: Clock) -> None:
        self.app = app
        self.journal = journal
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        arrived = self.clock.now_ms()
        request_body = bytearray()
        response_body = bytearray()
        status = 500
        response_type = ""

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(request_body) <= MAX_KEPT_BODY:
                request_body.extend(message.get("body", b""))
            return message

        async def tee_send(message: Message) -> None:
            nonlocal status, response_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        response_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                if (
                    response_type.startswith("application/json")
                    and len(response_body) <= MAX_KEPT_BODY
                ):
                    response_body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    # Before the last byte leaves: a client on a socket that has
                    # its answer must find the request in the journal already.
                    record()
            await send(message)

        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _KEPT_HEADER_NAMES  # servers give names in lower case (ASGI)
        }
        # Routes write the account and any spec violations here; sharing the dict
        # (not the scope, which routers may copy) lets this middleware read them.
        state = scope.setdefault("state", {})
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            self.journal.record(
                at_ms=arrived,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                # Routes that authenticate say whose request it was; for the others
                # (no route, a refused body, a fault), the bearer key does.
                account=state.get("account") or _account(scope["headers"]),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                violations=tuple(state.get("violations", ())),
                fault=state.get("fault"),
                headers=headers,
                request_body=_kept(request_body, headers.get("content-type", "")),
                response_body=_kept(response_body, response_type),
            )

        try:
            await self.app(scope, tee_receive, tee_send)
        finally:
            record()


def _account(headers: list[tuple[bytes, bytes]]) -> str | None:
    key = bearer_key(headers)
    return None if key is None else account_id(key)


def _kept(body: bytearray, content_type: str) -> bytes | None:
    if not body or len(body) > MAX_KEPT_BODY or "json" not in content_type:
        return None
    return bytes(body)


def _parse(body: bytes | None) -> Any:
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
