"""Servers that break the contract in one way, for the harness's own tests.

Each wraps a correct fake (an ASGI app) and changes what a client sees on the
wire, so the rest of the contract still holds and the one check under test
is what must catch it. Also: a recorder of the headers a second host is
sent, and a server that stops answering after a number of requests.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api import MockService, Settings, create_app
from mock_api.contract.jobs import SUBMIT_PATH
from mock_api.server import LiveServer
from tests.test_contracts_by_url import BRISK, KEY

SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"
_PREDICTION = re.compile(r"^/api/v3/predictions/([^/]+)(/result)?$")

Rewrite = Callable[[Scope, dict[str, Any]], dict[str, Any]]


def rewrite_json(
    app: ASGIApp, rewrite: Rewrite, *, answer: Callable[[Scope], Any] | None = None
) -> ASGIApp:
    """``app`` with each JSON answer passed through ``rewrite(scope, body)``.

    ``answer(scope)``, if given and not ``None`` for a request, is sent as a
    200 JSON answer instead of asking ``app`` at all (a canned answer).
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        canned = answer(scope) if answer is not None else None
        if canned is not None:
            body = json.dumps(canned).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            kind = dict(headers).get(b"content-type", b"")
            if kind.startswith(b"application/json") and body:
                body = json.dumps(rewrite(scope, json.loads(body))).encode()
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, capture)

    return wrapped


def stateless(kind: str, app: ASGIApp) -> ASGIApp:
    """The fake, but its predictions are canned, as a stateless mock (Prism) answers them.

    ``canned``: every submission answers one fixed id and every read of any id
    answers that same canned job. ``echo``: every submission answers a fresh
    id and every read answers a canned job carrying whatever id was asked.
    Submissions are still validated by the fake, so only statefulness is missing.
    """
    fixed = secrets.token_hex(16)
    template: dict[str, Any] = {}

    def rewrite(scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data")
        if scope["method"] == "POST" and scope["path"] == SUBMIT and isinstance(data, dict):
            job_id = fixed if kind == "canned" else secrets.token_hex(16)
            data = {**data, "id": job_id}
            data["urls"] = {"get": f"{_base(scope)}/api/v3/predictions/{job_id}/result"}
            template.update(data)
            return {**body, "data": data}
        return body

    def answer(scope: Scope) -> Any:
        match = _PREDICTION.match(scope["path"])
        if scope["method"] != "GET" or match is None or not template:
            return None
        if dict(scope["headers"]).get(b"authorization") != f"Bearer {KEY}".encode():
            return None  # the fake refuses it, as Prism checks the security scheme
        job_id = fixed if kind == "canned" else match.group(1)
        urls = {"get": f"{_base(scope)}/api/v3/predictions/{job_id}/result"}
        return {"code": 200, "message": "success", "data": {**template, "id": job_id, "urls": urls}}

    return rewrite_json(app, rewrite, answer=answer)


def _base(scope: Scope) -> str:
    host, port = scope["server"]
    return f"{scope['scheme']}://{host}:{port}"


class HeaderRecorder:
    """An ASGI app that notes each request's path and Authorization header, then forwards it.

    Forwarded with ``KEY`` put in (a CDN or presigned URL needs no key from
    the client): the fake behind it answers, so a run goes on to the end.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self.seen: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the app's own server runs its lifespan
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization")
        with self._lock:
            self.seen.append((scope["method"], scope["path"], auth.decode() if auth else None))
        assert self.app is not None
        headers[b"authorization"] = f"Bearer {KEY}".encode()
        await self.app({**scope, "headers": list(headers.items())}, receive, send)


@contextmanager
def fake_with_urls_elsewhere() -> Iterator[tuple[str, HeaderRecorder, MockService]]:
    """The fake, handing out ``urls.get``, outputs and upload URLs on a second loopback
    origin (its ``public_url``), which records what it is sent and serves the same fake."""
    recorder = HeaderRecorder()
    elsewhere = LiveServer(recorder)  # bound already: its URL is known before it starts
    settings = Settings(
        random_seed=7, pace=BRISK, api_keys=frozenset({KEY}), public_url=elsewhere.url
    )
    app = create_app(settings)
    recorder.app = app
    with elsewhere, LiveServer(app) as server:
        yield server.url, recorder, app.state.service


class StopsAfter:
    """An ASGI app that shuts its server down for good once it has seen ``submissions``
    job submissions (``POST`` to our model's path).

    Counting submissions, not requests, makes the point of stopping independent of
    how many polls a job took: every check before the one that submits last has
    finished. The request that crosses the limit is still answered (a server going
    away finishes what it has); every later connection is refused.
    """

    def __init__(self, app: ASGIApp, submissions: int) -> None:
        self.app = app
        self.submissions = submissions
        self.submitted = 0
        self.server: LiveServer | None = None
        self._stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == SUBMIT_PATH:
            self.submitted += 1
            if self.submitted >= self.submissions and not self._stopping and self.server:
                self._stopping = True
                # stop() joins the server's thread, which is this one: from another thread.
                threading.Thread(target=self.server.stop, daemon=True).start()
        await self.app(scope, receive, send)


@contextmanager
def stops_after(submissions: int) -> Iterator[tuple[str, StopsAfter]]:
    """The fake on a loopback port that stops answering after ``submissions`` jobs."""
    app = create_app(Settings(random_seed=7, pace=BRISK, api_keys=frozenset({KEY})))
    stopper = StopsAfter(app, submissions)
    server = LiveServer(stopper)
    stopper.server = server
    with server:
        yield server.url, stopper
