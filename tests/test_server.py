"""Serving on a real socket: every connection sends its answers without waiting.

Before :func:`mock_api.server.tcp_listener`, the sockets of ``serve`` and of
:class:`LiveServer` were made with protocol 0, so asyncio left Nagle's
algorithm on for the connections they accepted: each request after the first
on a kept-alive connection then waited for the client's delayed ACK (about
40 ms on Linux), which made every SDK poll, every ``verify`` request and every
by-URL test 20 times slower than the fake itself. These tests read the
option on the server's side of real connections.
"""

from __future__ import annotations

import asyncio
import errno
import socket

import click
import httpx
import pytest
import uvloop

from mock_api.app import create_app
from mock_api.cli import _listen
from mock_api.server import LiveServer, tcp_listener
from mock_api.serving import stack


def _nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_connections_accepted_by_asyncio_from_the_listener_have_nodelay() -> None:
    accepted: list[bool] = []

    async def scenario() -> None:
        def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(_nodelay(writer.get_extra_info("socket")))
            writer.close()

        listener = tcp_listener("127.0.0.1", 0)
        server = await asyncio.start_server(handle, sock=listener)
        port = listener.getsockname()[1]
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if accepted:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(scenario())
    assert accepted == [True]


def test_the_listener_itself_has_nodelay_for_servers_that_do_not_set_it() -> None:
    # Linux copies the listener's TCP_NODELAY to the connections it accepts.
    with tcp_listener("127.0.0.1", 0) as listener:
        assert listener.proto == socket.IPPROTO_TCP
        assert _nodelay(listener)


def test_serve_listens_on_such_a_socket() -> None:
    with _listen("127.0.0.1", 0) as listener:
        assert listener.proto == socket.IPPROTO_TCP
        assert _nodelay(listener)


def test_a_live_servers_kept_alive_connections_have_nodelay() -> None:
    with LiveServer(create_app()) as live, httpx.Client(base_url=live.url) as client:
        for _ in range(3):  # one connection, kept alive
            assert client.get("/openapi.yaml").status_code == 200
        connections = live._server.server_state.connections
        sockets = [c.transport.get_extra_info("socket") for c in connections]
        assert sockets, "the server holds the kept-alive connection"
        assert all(_nodelay(sock) for sock in sockets)


def test_a_second_listener_on_the_same_port_is_refused_at_once() -> None:
    # Before: the first was bound but not listening until uvicorn started, and with
    # SO_REUSEADDR Linux let a second serve bind the same port: both said "started".
    with tcp_listener("127.0.0.1", 0) as first:
        port = first.getsockname()[1]
        with pytest.raises(OSError, match="in use") as refused:
            tcp_listener("127.0.0.1", port)
        assert refused.value.errno == errno.EADDRINUSE
        busy = f"port {port} on 127.0.0.1 is already in use"
        with pytest.raises(click.ClickException, match=busy):
            _listen("127.0.0.1", port)


def test_an_ipv6_live_server_has_a_url_that_works() -> None:
    # Before: http://::1:PORT, which no client can parse.
    with LiveServer(create_app(), host="::1") as live:
        assert live.url == f"http://[::1]:{live.port}"
        assert httpx.get(f"{live.url}/openapi.yaml").status_code == 200


def _submit(client: httpx.Client) -> str:
    body = {
        "video": f"{client.base_url}/media/samples/video.mp4?seconds=5",
        "left_audio": f"{client.base_url}/media/samples/silence.wav?seconds=5",
        "right_audio": f"{client.base_url}/media/samples/silence.wav?seconds=3",
    }
    answer = client.post("/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi", json=body)
    assert answer.status_code == 200, answer.text
    job_id: str = answer.json()["data"]["id"]
    return job_id


@pytest.mark.parametrize(
    ("http", "loop", "protocol", "loop_type"),
    [
        ("h11", "asyncio", "H11Protocol", asyncio.BaseEventLoop),
        ("httptools", "uvloop", "HttpToolsProtocol", uvloop.Loop),
    ],
    ids=["pure-python", "httptools-uvloop"],
)
def test_the_fake_answers_the_same_on_either_stack(
    http: str, loop: str, protocol: str, loop_type: type
) -> None:
    """The pure-Python fallback (where httptools and uvloop do not install) still serves."""
    headers = {"Authorization": "Bearer stack-key"}
    with (
        LiveServer(create_app(), http=http, loop=loop) as live,
        httpx.Client(base_url=live.url, headers=headers) as client,
    ):
        job_id = _submit(client)
        answer = client.get(f"/api/v3/predictions/{job_id}/result")
        assert answer.status_code == 200
        assert answer.json()["data"]["id"] == job_id
        missing = client.get("/api/v3/predictions/nope/result")
        assert missing.status_code == 404
        assert missing.json()["code"] == 404
        # What ran: the protocol of the kept-alive connection, and the server's loop.
        connections = live._server.server_state.connections
        assert {type(c).__name__ for c in connections} == {protocol}
        assert isinstance(live._server.servers[0].get_loop(), loop_type)
    assert str(live.stack) == f"{http} + {loop}"


def test_auto_is_httptools_and_uvloop_where_they_are_installed() -> None:
    assert str(stack()) == "httptools + uvloop"
    assert stack().fast
    assert stack().protocol == "mock_api.httptools_protocol:HttpToolsProtocol"
    assert stack("h11", "asyncio").protocol == "h11"


def test_auto_falls_back_to_pure_python_where_they_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mock_api.serving._installed", lambda module: False)
    assert str(stack()) == "h11 + asyncio"
    assert not stack().fast
    with pytest.raises(ValueError, match=r"httptools is not installed here \(pip install"):
        stack("httptools", "auto")
    with pytest.raises(ValueError, match=r"uvloop is not installed here"):
        stack("auto", "uvloop")
    with pytest.raises(ValueError, match="'zttp' is not one of auto, httptools, h11"):
        stack("zttp")


@pytest.mark.parametrize("http", ["h11", "httptools"])
@pytest.mark.parametrize(
    "request_bytes",
    [
        # Its body would run to the end of the connection: refused (RFC 9112 section 6.3).
        b"POST /api/v3/media/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer k\r\nTransfer-Encoding: gzip\r\n\r\n{}",
        b"POST /api/v3/media/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer k\r\nTransfer-Encoding: chunked, gzip\r\n\r\n{}",
        # HTTP/1.1 without Host (RFC 9112 section 3.2).
        b"GET /api/v3/balance HTTP/1.1\r\nAuthorization: Bearer k\r\n\r\n",
    ],
    ids=["te-gzip", "te-chunked-then-gzip", "no-host"],
)
def test_either_stack_refuses_a_request_h11_refuses(http: str, request_bytes: bytes) -> None:
    # Before: on httptools the first two reached the app (the leniency that lets a request
    # framed two ways reach the guard lets these through too), and the third was served.
    with (
        LiveServer(create_app(), http=http) as live,
        socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock,
    ):
        sock.sendall(request_bytes)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 "), received[:200]
    assert received.count(b"HTTP/1.1 ") == 1
