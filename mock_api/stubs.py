"""Stub rules: matching requests get the user's own status, headers and body.

What WireMock calls a stub. A client must cope with answers the fake never
gives on its own: a field the service added yesterday and the spec does not
know yet, a body that is text where JSON was promised, a status nobody
documented. A :class:`StubRule` picks requests as a fault rule does (method,
path glob, API key), optionally also by query parameters and by fields of a
JSON body, and answers them with exactly what it holds. Like the other rules
it fires for its next ``times`` matches, or for a seeded ``share``
(:mod:`mock_api.rulebook`), and it is kept in the store with its counters.

A stub's answer is not checked against ``openapi.yaml``: breaking it is what
a stub is for. It is marked instead, so nobody takes it for the fake's own:
the answer carries ``x-mock-stub: <rule id>``, the journal entry names the
rule (``stub``), and each way the answer breaks what the spec documents for
that operation is in the entry's violations (location ``response``), as the
validating proxy writes them.

What a stub may hold is bounded and checked when it is added, so that every
stub can be sent: a body of at most :data:`MAX_BODY_BYTES`, at most
:data:`MAX_HEADERS` headers, a final status (1xx answers are interim: no HTTP
server sends one as the answer), and none of the headers that frame the
message, which the server writes itself.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api.errors import Violation
from mock_api.faults import bearer_key
from mock_api.rulebook import (
    RuleBook,
    RuleInvalid,
    RuleStore,
    check_counts,
    check_method_path,
    register_rule_kind,
    used_up,
)
from mock_api.spec import Operation, Spec

__all__ = [
    "FORBIDDEN_HEADERS",
    "MAX_BODY_BYTES",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_VALUE",
    "MAX_ID_LENGTH",
    "MAX_MATCHED_BODY",
    "MAX_MATCH_FIELDS",
    "STUB_HEADER",
    "StubBook",
    "StubInvalid",
    "StubMiddleware",
    "StubRule",
    "answer_violations",
    "stub_from_dict",
]

#: The largest body a stub answers with (bytes, after base64 decoding): the journal
#: keeps JSON bodies up to this size (:data:`mock_api.journal.MAX_KEPT_BODY`), so
#: every stubbed JSON answer is in it.
MAX_BODY_BYTES = 64 * 1024
#: The most headers a stub sets, the longest value, and all names and values together:
#: a client's parser must read the answer's head (Node's and h11's stop at 16 KiB).
MAX_HEADERS = 32
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 2048
MAX_HEADER_BYTES = 8 * 1024
#: The longest id: it is sent back in the ``x-mock-stub`` header.
MAX_ID_LENGTH = 200
#: The most ``query`` and ``input`` fields one stub matches on.
MAX_MATCH_FIELDS = 32
#: The largest request body read to match ``input`` (bytes); a larger one matches no
#: stub that has ``input``, and is passed on as it came.
MAX_MATCHED_BODY = 64 * 1024
#: The header that marks an answer as a stub's.
STUB_HEADER = "x-mock-stub"

#: Headers the server writes from the body and the connection (RFC 9110 7.6.1's
#: hop-by-hop fields and ``Content-Length``): a stub setting them would break the
#: answer's framing, or announce a connection the server does not keep.
FORBIDDEN_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        STUB_HEADER,
    }
)
#: Statuses whose answer has no body (RFC 9110 15.3.5, 15.3.6, 15.4.5).
NO_BODY_STATUSES = frozenset({204, 205, 304})
#: The body forms a stub takes, and the Content-Type each sends unless ``headers`` set one.
BODY_FORMS = {
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "base64": "application/octet-stream",
}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")  # printable ASCII and tab: no CR, LF, NUL
_PRINTABLE = re.compile(r"[\x20-\x7e]+")


class StubInvalid(RuleInvalid):
    """A stub rule that cannot be kept or sent; ``field`` names the part at fault."""


@dataclass(frozen=True)
class StubRule:
    id: str
    method: str | None = None  # None: any method
    path: str = "/api/v3/*"  # fnmatch glob over the request path
    account: str | None = None  # an API key (``api_key`` in JSON); None: anyone
    query: Mapping[str, str] = field(default_factory=dict)  # parameters that must equal
    input: Mapping[str, Any] = field(default_factory=dict)  # JSON body fields that must equal
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The body: which form (``json``, ``text``, ``base64``) and its value; None: empty.
    form: str | None = None
    value: Any = None
    times: int | None = None  # the next N matching requests; None: every one
    share: float = 1.0  # the seeded share of matching requests it answers
    seed: int = 0
    matched: int = field(default=0, compare=False)
    applied: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        _check_id(self.id)
        try:
            check_counts(self.times, self.share)
        except ValueError as exc:
            raise StubInvalid(str(exc).split()[0], str(exc)) from None
        try:
            check_method_path(self.method, self.path)
        except RuleInvalid as exc:
            raise StubInvalid(exc.field, exc.reason) from None
        if self.account is not None and not isinstance(self.account, str):
            raise StubInvalid("api_key", "must be a string")
        _check_fields("query", self.query, lambda value: isinstance(value, str))
        _check_fields("input", self.input, lambda value: True)
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise StubInvalid("status", "must be an integer")
        if not 200 <= self.status <= 599:
            raise StubInvalid(
                "status",
                f"must be from 200 to 599, not {self.status}: a 1xx answer is interim "
                "(HTTP servers cannot send one as the answer)",
            )
        _check_headers(self.headers)
        if self.form is not None and self.status in NO_BODY_STATUSES:
            raise StubInvalid(self.form, f"must be left out: a {self.status} answer has no body")
        self.body  # noqa: B018 - encodes it once, raising StubInvalid if it cannot be sent

    @functools.cached_property
    def body(self) -> bytes:
        """The answer's body, as sent."""
        return _encode(self.form, self.value)

    @functools.cached_property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The answer's headers as the server sends them: the rule's, a Content-Type for
        its body unless it sets one, the stub's mark and the body's length."""
        headers = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        if self.form is not None and not any(k == b"content-type" for k, _ in headers):
            headers.append((b"content-type", BODY_FORMS[self.form].encode()))
        headers.append((STUB_HEADER.encode(), self.id.encode()))
        if self.status not in NO_BODY_STATUSES:
            headers.append((b"content-length", str(len(self.body)).encode()))
        return headers

    @property
    def content_type(self) -> str:
        return next((v.decode() for k, v in self.raw_headers if k == b"content-type"), "").lower()

    def matches_head(self, method: str, path: str, api_key: str | None, query: bytes) -> bool:
        """Does the request's line and headers match? (``input`` needs the body as well.)"""
        return (
            (self.method in (None, "*") or self.method.upper() == method)
            and fnmatch.fnmatchcase(path, self.path)
            and (self.account is None or self.account == api_key)
            and (not self.query or _query_holds(query, self.query))
        )

    def matches_body(self, body: Any) -> bool:
        """Does the request's JSON body (``None``: none, or not JSON) hold ``input``?"""
        if not self.input:
            return True
        return isinstance(body, dict) and all(
            name in body and body[name] == value for name, value in self.input.items()
        )

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "api_key": self.account,
            "query": dict(self.query),
            "input": dict(self.input),
            "status": self.status,
            "headers": dict(self.headers),
        }
        if self.form is not None:  # one body form, or none: "json": null is a JSON null
            shown[self.form] = self.value
        shown.update(
            times=self.times,
            share=self.share,
            seed=self.seed,
            matched=self.matched,
            applied=self.applied,
        )
        return shown


def _check_id(rule_id: object) -> None:
    if not isinstance(rule_id, str) or not rule_id:
        raise StubInvalid("id", "must be a non-empty string")
    if len(rule_id) > MAX_ID_LENGTH or not _PRINTABLE.fullmatch(rule_id):
        raise StubInvalid(
            "id",
            f"must be 1 to {MAX_ID_LENGTH} printable ASCII characters (it is sent back in "
            f"the {STUB_HEADER} header)",
        )


def _check_fields(name: str, fields: object, valid: Callable[[Any], bool]) -> None:
    if not isinstance(fields, Mapping):
        raise StubInvalid(name, "must be an object")
    if len(fields) > MAX_MATCH_FIELDS:
        raise StubInvalid(name, f"matches at most {MAX_MATCH_FIELDS} fields")
    for key, value in fields.items():
        if not isinstance(key, str) or not valid(value):
            raise StubInvalid(f"{name}.{key}", "must be a string")


def _check_headers(headers: object) -> None:
    if not isinstance(headers, Mapping):
        raise StubInvalid("headers", "must be an object of header names and string values")
    if len(headers) > MAX_HEADERS:
        raise StubInvalid("headers", f"sets at most {MAX_HEADERS} headers, not {len(headers)}")
    seen: set[str] = set()
    total = 0
    for name, value in headers.items():
        where = f"headers.{name}"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name) or len(name) > MAX_HEADER_NAME:
            raise StubInvalid(
                where,
                f"is not a header name (1 to {MAX_HEADER_NAME} letters, digits or !#$%&'*+-.^_`|~)",
            )
        lower = name.lower()
        if lower in FORBIDDEN_HEADERS:
            why = (
                "the fake marks every stubbed answer with it"
                if lower == STUB_HEADER
                else "the server writes it for the body and the connection, and a stub's "
                "would break the answer's framing"
            )
            raise StubInvalid(where, f"cannot be set by a stub: {why}")
        if lower in seen:
            raise StubInvalid(where, "is set twice (header names are case-insensitive)")
        seen.add(lower)
        if not isinstance(value, str):
            raise StubInvalid(where, "must be a string")
        if len(value) > MAX_HEADER_VALUE or not _FIELD_VALUE.fullmatch(value):
            raise StubInvalid(
                where,
                f"must be at most {MAX_HEADER_VALUE} printable ASCII characters (no line breaks)",
            )
        total += len(name) + len(value)
    if total > MAX_HEADER_BYTES:
        raise StubInvalid(
            "headers", f"hold {total} bytes of names and values; at most {MAX_HEADER_BYTES}"
        )


def _encode(form: str | None, value: Any) -> bytes:
    if form is None:
        return b""
    if form == "json":
        try:
            body = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            encoded = body.encode("utf-8")
        except (TypeError, ValueError) as exc:  # NaN, a lone surrogate, a non-JSON value
            raise StubInvalid("json", f"cannot be sent as JSON ({exc})") from None
    elif form == "text":
        if not isinstance(value, str):
            raise StubInvalid("text", "must be a string")
        try:
            encoded = value.encode("utf-8")
        except UnicodeEncodeError:
            raise StubInvalid("text", "holds a lone UTF-16 surrogate, which UTF-8 cannot") from None
    elif form == "base64":
        if not isinstance(value, str):
            raise StubInvalid("base64", "must be a string of base64")
        if len(value) > (MAX_BODY_BYTES + 2) // 3 * 4 + 4:  # no need to decode a huge one
            raise StubInvalid("base64", f"decodes to more than {MAX_BODY_BYTES} bytes")
        try:
            encoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StubInvalid("base64", f"is not base64 ({exc})") from None
    else:
        raise StubInvalid("body", f"unknown body form {form!r}; one of {', '.join(BODY_FORMS)}")
    if len(encoded) > MAX_BODY_BYTES:
        raise StubInvalid(form, f"is {len(encoded)} bytes; a stub answers at most {MAX_BODY_BYTES}")
    return encoded


def _query_holds(raw: bytes, wanted: Mapping[str, str]) -> bool:
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return all((name, value) in pairs for name, value in wanted.items())


_STUB_FIELDS = frozenset(
    [
        "id",
        "method",
        "path",
        "api_key",
        "query",
        "input",
        "status",
        "headers",
        *BODY_FORMS,
        "times",
        "share",
        "seed",
    ]
)


def stub_from_dict(data: Mapping[str, Any]) -> StubRule:
    """Build a stub from its JSON/YAML form; raises :class:`StubInvalid` naming the field."""
    if not isinstance(data, Mapping):
        raise StubInvalid("body", "a stub rule is an object")
    unknown = sorted(set(data) - _STUB_FIELDS)
    if unknown:
        expected = ", ".join(sorted(_STUB_FIELDS))
        raise StubInvalid(unknown[0], f"is not a field of a stub rule; expected one of {expected}")
    if "id" not in data:
        raise StubInvalid("id", "is required")
    forms = [name for name in BODY_FORMS if name in data]
    if len(forms) > 1:
        raise StubInvalid(
            forms[1],
            f"cannot be given with {forms[0]!r}: a stub answers with one body, given as "
            f"one of {', '.join(BODY_FORMS)}",
        )
    fields = {k: v for k, v in data.items() if k not in ("api_key", *BODY_FORMS) and v is not None}
    for name in ("query", "input", "headers"):  # copies: the rule is frozen, its maps too
        if isinstance(fields.get(name), Mapping):
            fields[name] = dict(fields[name])
    form = forms[0] if forms else None
    return StubRule(
        account=data.get("api_key"),
        form=form,
        value=data[form] if form else None,
        **fields,
    )


class StubBook(RuleBook[StubRule]):
    def __init__(self, store: RuleStore) -> None:
        super().__init__("stub", store, stub_from_dict)


# --- answering ---------------------------------------------------------------------------


class StubMiddleware:
    """Answers a request with the first stub that matches it and applies; the rest pass."""

    def __init__(self, app: ASGIApp, book: StubBook, spec: Spec) -> None:
        self.app = app
        self.book = book
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The control API stays reachable whatever the rules say, so they can be removed.
        # The common case, no stub: one read of the rules, nothing parsed, nothing counted.
        # The control API stays reachable whatever the rules say, so they can be removed.
        rules = self.book.rules() if scope["type"] == "http" else []
        if not rules or scope["path"].startswith("/_mock/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        key = bearer_key(scope["headers"])
        query = scope.get("query_string", b"")
        candidates = [
            r for r in rules if not used_up(r) and r.matches_head(method, path, key, query)
        ]
        if not candidates:
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        body: Any = None
        if any(r.input for r in candidates):
            read, body = await _read_json(scope, receive)
        rule = self.book.fire(
            lambda r: r.matches_head(method, path, key, query) and r.matches_body(body)
        )
        if rule is None:
            await self.app(scope, _replay(read, receive), send)
            return
        state = scope.setdefault("state", {})
        state["stub"] = rule.id  # the journal names it
        state["violations"] = answer_violations(self.spec, method, path, rule)
        await send(
            {"type": "http.response.start", "status": rule.status, "headers": rule.raw_headers}
        )
        await send({"type": "http.response.body", "body": rule.body})


async def _read_json(scope: Scope, receive: Receive) -> tuple[list[Message], Any]:
    """The request's first messages, up to :data:`MAX_MATCHED_BODY` bytes, and its
    body parsed, when it is JSON and all of it was read (else ``None``)."""
    read: list[Message] = []
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return read, None  # the client left
        size += len(message.get("body", b""))
        if size > MAX_MATCHED_BODY:
            return read, None
        if not message.get("more_body", False):
            break
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    if b"json" not in content_type.lower():
        return read, None
    try:
        return read, json.loads(b"".join(m.get("body", b"") for m in read))
    except (ValueError, RecursionError):
        return read, None


def _replay(read: list[Message], receive: Receive) -> Receive:
    """``receive`` with the messages already read given again first."""
    if not read:
        return receive
    pending = list(read)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


# --- how a stub's answer stands against the spec -------------------------------------------


@functools.cache
def _routes(spec: Spec) -> Sequence[tuple[Operation, re.Pattern[str]]]:
    """The spec's operations with a pattern of their path (literal paths first)."""
    return [
        (op, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path)) + "$"))
        for op in sorted(spec.operations, key=lambda op: "{" in op.path)
    ]


def _operation(spec: Spec, method: str, path: str) -> Operation | None:
    method = method.lower()
    return next(
        (op for op, pattern in _routes(spec) if op.method == method and pattern.match(path)),
        None,
    )


def answer_violations(spec: Spec, method: str, path: str, rule: StubRule) -> list[Violation]:
    """How a stub's answer to ``method path`` breaks ``openapi.yaml`` (none: it fits).

    A path the spec does not have is itself a violation, as the fake's own 404 for
    it is; so is a status the operation does not document, and a body that is not
    the JSON it documents.
    """
    op = _operation(spec, method, path)
    if op is None:
        return [Violation("path", f"{method} {path} is not in openapi.yaml", "path")]
    responses = op.definition.get("responses", {})
    documented = responses.get(str(rule.status)) or responses.get(f"{str(rule.status)[0]}XX")
    if documented is None:
        reason = f"{op.operation_id} documents no {rule.status} answer"
        return [Violation("status", reason, "response")]
    while "$ref" in documented:  # "#/components/responses/Name"
        *_, kind, name = documented["$ref"].split("/")
        documented = spec.document["components"][kind][name]
    content = documented.get("content", {})
    if "application/json" not in content:
        return []  # binary answers (media): nothing to hold the body to
    if "json" not in rule.content_type:
        shown = rule.content_type or "no Content-Type"
        reason = f"is {shown}, not the application/json {op.operation_id} documents"
        return [Violation("body", reason, "response")]
    try:
        value = json.loads(rule.body)
    except ValueError:
        return [Violation("body", "is not JSON though it says so", "response")]
    return spec.response_violations(op.operation_id, rule.status, value)


# A store rebuilds stored stubs from the moment this module is imported, not only once
# a book exists (a process may read a store before it makes a book).
register_rule_kind("stub", stub_from_dict)
