"""The outermost guard: names the server answers to (DNS rebinding), and requests framed
two ways (Content-Length with Transfer-Encoding)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, Settings, create_app
from mock_api.guard import HostGuard, host_allowed
from mock_api.server import LiveServer
from mock_api.serving import ServeOptions
from tests.helpers import AUTH, BASE

pytestmark = pytest.mark.anyio

SERVED = frozenset({"127.0.0.1", "mock.internal", ".corp.example"})


@pytest.mark.parametrize(
    ("host", "answered"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("LOCALHOST", True),
        ("app.localhost:8000", True),  # RFC 6761: resolves to loopback
        ("[::1]:8000", True),
        ("192.168.1.5:8000", True),  # an IP literal: a web page cannot rebind it
        ("mock.internal", True),
        ("Mock.Internal:8000", True),
        ("api.corp.example", True),  # '.corp.example': any name under it
        ("corp.example", True),
        ("evil.example", False),  # a name a page points at 127.0.0.1
        ("evil.example:8000", False),
        ("mock.internal.evil.example", False),
        ("localhost.evil.example", False),
        ("notcorp.example", False),
        ("", False),
    ],
)
def test_which_hosts_are_answered(host: str, answered: bool) -> None:
    assert host_allowed(host, SERVED) is answered


def test_a_star_answers_any_name() -> None:
    assert host_allowed("anything.example", {"*"})


def _app(allowed: frozenset[str] | None) -> httpx.AsyncClient:
    app = create_app(Settings(allowed_hosts=allowed), clock=ManualClock())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_mock/ledger?api_key=test-key"),
        ("POST", "/_mock/reset"),
        ("POST", "/_mock/clock"),
        ("GET", "/api/v3/balance"),
    ],
)
async def test_a_rebound_name_reaches_neither_the_control_api_nor_the_api(
    method: str, path: str
) -> None:
    # Before: Host and Origin both evil.example passed the control API's browser check
    # (the request looked same-origin), so a page could read ledgers, reset, re-time.
    async with _app(frozenset({httpx.URL(BASE).host})) as client:
        await client.get("/api/v3/balance", headers=AUTH)  # opens the account
        headers = {
            **AUTH,
            "Host": "evil.example:8000",
            "Origin": "http://evil.example:8000",
            "Content-Type": "application/json",
        }
        body = b'{"action": "freeze"}' if path == "/_mock/clock" else b"{}"
        refused = await client.request(method, path, content=body, headers=headers)
        assert refused.status_code == 403, refused.text
        answer = refused.json()
        assert answer["error_code"] == "forbidden"
        assert "--allowed-host evil.example" in answer["message"]
        assert answer["details"][0]["field"] == "Host"
        clock = (await client.get("/_mock/clock")).json()["data"]
        assert clock["frozen"] is True  # a manual clock: never changed by the refusal
        jobs = (await client.get("/_mock/ledger", params={"api_key": "test-key"})).status_code
        assert jobs == 200  # the mock's own name still answers


async def test_the_names_it_was_told_still_answer() -> None:
    async with _app(
        ServeOptions(host="0.0.0.0", allowed_hosts=("mock.internal",)).settings().allowed_hosts
    ) as client:
        for host in ("mock.internal:8000", "localhost", "10.0.0.7:8000"):
            answer = await client.get("/api/v3/balance", headers={**AUTH, "Host": host})
            assert answer.status_code == 200, (host, answer.text)


def test_serve_answers_its_host_its_public_url_and_the_names_it_is_given() -> None:
    options = ServeOptions(
        host="box.lan", public_url="https://Mock.Example.com:8443/base", allowed_hosts=("ci",)
    )
    assert options.settings().allowed_hosts == frozenset({"box.lan", "mock.example.com", "ci"})


def test_the_library_answers_any_name_unless_told() -> None:
    assert Settings().allowed_hosts is None


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_a_request_framed_two_ways_is_refused_and_the_connection_closed(http: str) -> None:
    # Before: served by its chunked body, the connection kept open (RFC 9112 6.3: an
    # error, or close after it), so a proxy reading Content-Length could smuggle the rest.
    # On httptools, uvicorn's own protocol answered a plain-text 400 before the guard saw
    # it, without the envelope or the header's name (mock_api.httptools_protocol).
    with LiveServer(create_app(Settings()), http=http) as server:
        url = httpx.URL(server.url)
        with socket.create_connection((url.host, url.port), timeout=5) as sock:
            sock.sendall(
                b"POST /api/v3/media/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer test-key\r\nContent-Type: application/json\r\n"
                b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\n{}\r\n0\r\n\r\n"
                b"GET /api/v3/balance HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer test-key\r\n\r\n"
            )
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), received[:300]
        assert b"connection: close" in head.lower()
        assert b'"field":"Transfer-Encoding"' in body.replace(b" ", b"")
        assert received.count(b"HTTP/1.1 ") == 1  # the smuggled GET was never answered


def test_a_guard_remembers_256_host_names_and_answers_every_name_right() -> None:
    # The Host header is the client's: what the guard remembers of it stays bounded,
    # and names past the bound are still checked.
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = HostGuard(inner, frozenset({"mock.internal"}))

    def status(host: str) -> int:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"host", host.encode())],
        }
        asyncio.run(guard(scope, None, send))  # type: ignore[arg-type]
        return int(sent[0]["status"])

    for n in range(300):
        assert status(f"evil{n}.example") == 403
        assert len(guard._known) <= 256
    assert len(guard._known) == 256
    for host in ("mock.internal:8000", "MOCK.internal", "10.0.0.7:1", "evil0.example", "x.y"):
        assert status(host) == (403 if "example" in host or host == "x.y" else 200)
        assert status(host) == (403 if "example" in host or host == "x.y" else 200)
