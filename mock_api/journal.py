"""The request journal: what clients actually sent, and what they got back.

Every request that reaches the app is recorded, with the account it came
from, the status it got, how long it took, and each way it broke the spec
(field, rule). Tests assert on it ("the client polled at most once a second",
"no request was invalid"); the pytest plugin can fail a test whose client
sent anything the spec forbids.

Bodies are kept only when they are JSON and at most :data:`MAX_KEPT_BODY`
bytes each, so the journal of a test that uploads a 100 MB video stays small;
and the journal as a whole holds at most ``max_bytes`` (``serve
--journal-max-mb``) as well as at most ``limit`` entries, dropping the oldest
first: 30,000 refused 60 KB submissions once grew a server from 77 MB to 1.8 GB.
Bodies are kept as sent and parsed when first read: parsing every answer as
it left took a tenth of each GET, and the parsed objects tripled the journal's
memory and the garbage collector's pauses on a long-running server
(benchmarks/run.py).
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api.clock import Clock
from mock_api.errors import Violation
from mock_api.faults import bearer_key
from mock_api.json_input import parse_kept_json
from mock_api.records import account_id

#: The largest body (request or response) the journal keeps, in bytes.
MAX_KEPT_BODY = 64 * 1024
#: What the journal may hold by default, in bytes (``serve --journal-max-mb``).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: What one entry costs beyond its strings and bodies: the tuple, the ints and
#: floats, the deque's slot (measured with tracemalloc, rounded up).
_ENTRY_OVERHEAD = 400


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
    violations: tuple[Violation, ...] = ()
    # The fault rule that fired on the request, if one did. A ``drop`` keeps the
    # status it began to send: the client saw the connection cut, not that status.
    fault: str | None = None
    # The stub rule that answered the request instead of the fake, if one did.
    stub: str | None = None
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
        if self.stub is not None:  # not the fake's answer: say whose it was
            line += f" (stub {self.stub!r})"
        if self.violations:
            line += " [" + "; ".join(str(v) for v in self.violations) + "]"
        return line


#: What the middleware appends per request: the fields of a :class:`JournalEntry`
#: after ``seq``, with the query and kept headers still as bytes. Only plain values,
#: which the garbage collector stops tracking: a journal of JournalEntry objects made
#: every full collection walk it, a 20-40 ms pause once it held 50,000 entries.
_Record = tuple[
    int, str, str, bytes, str | None, int, float, tuple[Violation, ...], str | None,
    str | None, tuple[bytes, ...], bytes | None, bytes | None,
]  # fmt: skip


class Journal:
    """The last ``limit`` requests holding at most ``max_bytes``, oldest first out.

    A request only appends a tuple; :class:`JournalEntry` objects are made when
    the journal is read, which tests and the control API do far less often than
    clients send requests (building them as requests left took a fifth of a GET).
    """

    def __init__(self, limit: int = 100_000, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if limit < 1 or max_bytes < 1:
            raise ValueError("a journal holds at least one entry and one byte")
        self._items: deque[tuple[int, _Record, int]] = deque()  # (seq, record, size)
        self._limit = limit
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._seq = 0
        #: Tells this journal from another worker's or instance's, whose ``seq`` numbers
        #: overlap this one's: a reader asking for entries ``after`` a seq checks it.
        self.id = secrets.token_hex(8)

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def size(self) -> int:
        """What the entries held now take, by the journal's own count (bytes)."""
        return self._bytes

    def record(self, **fields: Any) -> JournalEntry:
        """Add an entry made of ``fields`` (:class:`JournalEntry`'s, but ``seq``)."""
        like = JournalEntry(seq=0, **fields)  # checks the fields, fills the defaults
        headers = tuple(
            part
            for name, value in like.headers.items()
            for part in (name.encode("latin-1"), value.encode("latin-1"))
        )
        record: _Record = (
            like.at_ms, like.method, like.path, like.query.encode("latin-1"), like.account,
            like.status, like.duration_ms, like.violations, like.fault, like.stub, headers,
            like.request_body, like.response_body,
        )  # fmt: skip
        return _entry((self._add(record), record, 0))

    def _add(self, record: _Record) -> int:
        """Append a record as the middleware makes it; returns its ``seq``."""
        size = _size(record)
        with self._lock:
            self._seq += 1
            items = self._items
            items.append((self._seq, record, size))
            self._bytes += size
            while len(items) > self._limit or (self._bytes > self._max_bytes and len(items) > 1):
                self._bytes -= items.popleft()[2]
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def entries(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        account: str | None = None,
        status: int | None = None,
        invalid: bool | None = None,
        after: int | None = None,
    ) -> list[JournalEntry]:
        """Entries in arrival order; ``path`` matches a prefix; ``after``: only those whose
        ``seq`` is greater (a poll that has the rest reads only what is new)."""
        with self._lock:
            if after is None:
                found = [_entry(item) for item in self._items]
            else:
                found = [_entry(item) for item in _newer(self._items, after)]
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


def _newer(items: deque[tuple[int, _Record, int]], after: int) -> list[tuple[int, _Record, int]]:
    """The items whose seq is greater than ``after``, oldest first, read from the newest end."""
    newer: list[tuple[int, _Record, int]] = []
    for item in reversed(items):
        if item[0] <= after:
            break
        newer.append(item)
    newer.reverse()
    return newer


def _size(record: _Record) -> int:
    """Roughly the bytes ``record`` holds: its strings and bodies, plus a fixed overhead."""
    path, query, violations, headers = record[2], record[3], record[7], record[10]
    request_body, response_body = record[11], record[12]
    size = _ENTRY_OVERHEAD + len(path) + len(query) + sum(map(len, headers))
    if violations:  # most requests have none: no generator to start for them
        size += sum(100 + len(v.field) + len(v.reason) for v in violations)
    if request_body:
        size += len(request_body)
    if response_body:
        size += len(response_body)
    return size


def _entry(item: tuple[int, _Record, int]) -> JournalEntry:
    seq, (at_ms, method, path, query, account, status, duration_ms, violations, fault, stub,
          headers, request_body, response_body), _ = item  # fmt: skip
    return JournalEntry(
        seq=seq,
        at_ms=at_ms,
        method=method,
        path=path,
        query=query.decode("latin-1"),
        account=account,
        status=status,
        duration_ms=duration_ms,
        violations=violations,
        fault=fault,
        stub=stub,
        headers={n.decode("latin-1"): v.decode("latin-1") for n, v in _pairs(headers)},
        request_body=request_body,
        response_body=response_body,
    )


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
        if scope["type"] != "http" or _unjournaled(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        arrived = self.clock.now_ms()
        # Routes write the account and any spec violations here; sharing the dict
        # (not the scope, which routers may copy) lets this middleware read them.
        state = scope.setdefault("state", {})
        request_body = bytearray()
        response_body: list[bytes] = []  # the answer's chunks, as sent: no copies
        kept_size = 0
        status = 500
        json_answer = False
        recorded = False

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(request_body) <= MAX_KEPT_BODY:
                request_body.extend(message.get("body", b""))
            return message

        async def tee_send(message: Message) -> None:
            nonlocal status, json_answer, kept_size
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        json_answer = value.startswith(b"application/json")
            elif message["type"] == "http.response.body":
                if json_answer and kept_size <= MAX_KEPT_BODY:
                    chunk = message.get("body", b"")
                    response_body.append(chunk)
                    kept_size += len(chunk)
                if not message.get("more_body", False):
                    # Before the last byte leaves: a client on a socket that has
                    # its answer must find the request in the journal already.
                    record()
            await send(message)

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            # Flat (name, value, name, value...): a tuple of bytes only, so the garbage
            # collector stops tracking it, and then the record holding it, at its
            # first look; (name, value) pairs from the server would keep both tracked.
            kept: list[bytes] = []
            request_type = b""
            for name, value in scope["headers"]:
                if name in _KEPT_HEADER_NAMES:
                    kept += (name, value)
                    if name == b"content-type":
                        request_type = value
            self.journal._add(
                (
                    arrived,
                    scope["method"],
                    scope["path"],
                    scope.get("query_string", b""),
                    # Routes that authenticate say whose request it was; for the
                    # others (no route, a refused body, a fault), the bearer key does.
                    state.get("account") or _account(scope["headers"]),
                    status,
                    (time.perf_counter() - started) * 1000,
                    tuple(state.get("violations", ())),
                    state.get("fault"),
                    state.get("stub"),
                    tuple(kept),
                    _kept(request_body, b"json" in request_type),
                    _kept(response_body, json_answer),
                )
            )

        try:
            await self.app(scope, tee_receive, tee_send)
        finally:
            record()


#: A read of the control API carrying this header (``X-Mock-Journal: skip``) is not
#: journaled: the dashboard polls with it several times a second, which would push the
#: client's own requests out of the journal within hours. Reads change nothing; every
#: other request is journaled, with or without it.
SKIP_HEADER = b"x-mock-journal"


def _unjournaled(scope: Scope) -> bool:
    if scope["method"] != "GET" or not scope["path"].startswith("/_mock/"):
        return False
    return any(
        name == SKIP_HEADER and value.strip().lower() == b"skip" for name, value in scope["headers"]
    )


def _pairs(flat: tuple[bytes, ...]) -> Iterable[tuple[bytes, bytes]]:
    return zip(flat[::2], flat[1::2], strict=True)


def _account(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    key = bearer_key(headers)
    return None if key is None else account_id(key)


def _kept(body: bytearray | list[bytes], is_json: bool) -> bytes | None:
    """A body worth keeping, as bytes: a JSON one, not empty and not too large."""
    if not is_json or not body:
        return None
    kept = bytes(body) if isinstance(body, bytearray) else b"".join(body)  # 1 chunk: no copy
    return kept if len(kept) <= MAX_KEPT_BODY else None


def _parse(body: bytes | None) -> Any:
    return None if body is None else parse_kept_json(body)
