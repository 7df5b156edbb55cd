"""``serve --proxy-to URL``: the WaveSpeed API forwarded, validated, and optionally recorded.

Every request under ``/api/`` goes to the upstream (the real service, say) with
the client's own headers, key included, and its answer comes back unchanged;
the fake's state plays no part in it. The control API (``/_mock/``), the docs
and the sample media stay the fake's own. On the way, the request (a JSON
body) and the answer are held to ``openapi.yaml``: each violation goes to the
request journal (``GET /_mock/journal?invalid=true``) and to the console,
because a response that breaks the spec is either the service drifting or the
spec being wrong, and both are news.

``--record DIR`` appends each exchange, sanitised as parity snapshots are
(:mod:`mock_api.parity.sanitise`: no key, secret or signature reaches the
disk; ids, moments, URLs and balances become stable placeholders across the
whole recording), as one JSON line to ``DIR/exchanges.jsonl`` as it happens.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api.errors import Violation
from mock_api.parity.sanitise import Sanitiser, media_summary
from mock_api.spec import Operation, RequestInvalid, Spec
from mock_api.tls import tls_context

__all__ = ["ProxyMiddleware", "Recorder", "upstream_client"]

LOGGER = logging.getLogger("wavespeed_mock.proxy")
#: The largest request body forwarded (the 100 MB video limit, with room for a form).
MAX_FORWARDED_BODY = 110 * 1024 * 1024
#: The largest JSON body recorded as JSON; a larger one is recorded by size and digest.
MAX_RECORDED_JSON = 64 * 1024
#: Headers that describe one hop, not the message (RFC 9110 7.6.1), and those httpx sets.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        # The proxy's own server writes these: the upstream's would come twice.
        "date",
        "server",
    }
)


def upstream_client(upstream: str) -> httpx.AsyncClient:
    """The client a proxy forwards with; its owner closes it (the app's lifespan)."""
    return httpx.AsyncClient(
        base_url=upstream.rstrip("/"), timeout=httpx.Timeout(120.0), verify=tls_context()
    )


class Recorder:
    """Appends sanitised exchanges to ``DIR/exchanges.jsonl``, one line each.

    JSON bodies over :data:`MAX_RECORDED_JSON` are kept by size and digest only, as
    media are: a recording cannot be made to grow by whatever a client sends.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "exchanges.jsonl"
        self.path.touch()
        self.sanitiser = Sanitiser()

    def write(
        self,
        method: str,
        path: str,
        request: bytes,
        request_type: str,
        key: str | None,
        response: httpx.Response,
        violations: list[Violation],
    ) -> None:
        if key and key not in self.sanitiser.secrets:
            self.sanitiser.secrets = (*self.sanitiser.secrets, key)
        answer_type = response.headers.get("content-type")
        line = {
            "request": {
                "method": method,
                "path": self.sanitiser.url(path),
                **self._body(request, request_type),
            },
            "response": {
                "status": response.status_code,
                "headers": self.sanitiser.headers(response.headers),
                **self._body(response.content, answer_type),
            },
            "violations": [
                {"field": v.field, "reason": v.reason, "location": v.location} for v in violations
            ],
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")

    def _body(self, content: bytes, content_type: str | None) -> dict[str, Any]:
        if not content:
            return {}
        if "json" in (content_type or "") and len(content) <= MAX_RECORDED_JSON:
            try:
                return {"json": self.sanitiser.json(json.loads(content))}
            except ValueError:
                pass
        return {"body": media_summary(content)}


class ProxyMiddleware:
    """Forwards ``/api/`` to the upstream; everything else to the fake."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: httpx.AsyncClient,
        spec: Spec,
        recorder: Recorder | None = None,
    ) -> None:
        self.app = app
        self.spec = spec
        self.recorder = recorder
        self.client = client
        self._routes = [
            (op, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path)) + "$"))
            for op in sorted(spec.operations, key=lambda op: "{" in op.path)
        ]

    def operation(self, method: str, path: str) -> Operation | None:
        """The spec's operation for a request (literal paths before templated ones)."""
        method = method.lower()
        return next(
            (op for op, pattern in self._routes if op.method == method and pattern.match(path)),
            None,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if len(body) > MAX_FORWARDED_BODY or not message.get("more_body"):
                break
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in _HOP
        ]
        request_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        key = next(
            (v.partition(" ")[2].strip() for k, v in headers if k.lower() == "authorization"),
            None,
        )
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        try:
            answer = await self.client.request(
                scope["method"], target, content=bytes(body), headers=headers
            )
        except httpx.HTTPError as exc:
            await _send(send, 502, [("content-type", "application/json")], _bad_gateway(exc))
            return
        violations = self._violations(scope["method"], scope["path"], bytes(body), request_type)
        violations += self._answer_violations(scope["method"], scope["path"], answer)
        scope.setdefault("state", {})["violations"] = violations
        for violation in violations:
            LOGGER.warning(
                "%s %s -> %s breaks openapi.yaml: %s %s (%s)",
                scope["method"],
                scope["path"],
                answer.status_code,
                violation.field,
                violation.reason,
                violation.location,
                extra={
                    "event": "proxy_violation",
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": answer.status_code,
                        **violation.as_dict(),
                    },
                },
            )
        if self.recorder is not None:
            self.recorder.write(
                scope["method"], target, bytes(body), request_type, key, answer, violations
            )
        out = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP]
        await _send(send, answer.status_code, out, answer.content)

    def _violations(
        self, method: str, path: str, body: bytes, content_type: str
    ) -> list[Violation]:
        op = self.operation(method, path)
        if op is None:
            return [Violation("path", f"{method} {path} is not in openapi.yaml", "request")]
        if "json" not in content_type or "requestBody" not in op.definition:
            return []
        try:
            self.spec.validate_body(op.operation_id, json.loads(body or b"null"))
        except RequestInvalid as exc:
            return [Violation(v.field, v.reason, "request") for v in exc.violations]
        except ValueError:
            return [Violation("body", "is not JSON", "request")]
        return []

    def _answer_violations(self, method: str, path: str, answer: httpx.Response) -> list[Violation]:
        op = self.operation(method, path)
        if op is None or "json" not in answer.headers.get("content-type", ""):
            return []
        try:
            body = answer.json()
        except ValueError:
            return [Violation("body", "is not JSON though it says so", "response")]
        return self.spec.response_violations(op.operation_id, answer.status_code, body)


def _bad_gateway(exc: httpx.HTTPError) -> bytes:
    message = f"the upstream did not answer: {type(exc).__name__}: {exc}"
    error = {"code": 502, "message": message, "error": message, "error_code": "bad_gateway"}
    return json.dumps({**error, "data": None}, separators=(",", ":")).encode()


async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    start: Message = {"type": "http.response.start", "status": status, "headers": raw}
    await send(start)
    await send({"type": "http.response.body", "body": body})
