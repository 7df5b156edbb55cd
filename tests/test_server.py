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
import socket

import httpx

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
