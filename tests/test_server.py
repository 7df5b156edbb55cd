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

from mock_api.app import create_app
from mock_api.cli import _listen
from mock_api.server import LiveServer, tcp_listener


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
