"""uvicorn's httptools protocol, letting a request framed two ways reach the app.

httptools' parser (llhttp) refuses a request that carries both ``Content-Length``
and ``Transfer-Encoding`` itself, and uvicorn then answers a plain-text 400 ("Invalid
HTTP request received."): not the documented error envelope naming the header that
:class:`mock_api.guard.HostGuard` answers on h11. With llhttp's ``chunked_length``
leniency such a request is framed by its chunked body, as h11 frames it, and reaches
the guard, which refuses it (400, naming ``Transfer-Encoding``) with ``Connection:
close``: uvicorn then closes the connection, so nothing sent after it is read as a
request.

The leniency also lets through a request whose ``Transfer-Encoding`` does not end in
``chunked`` (its body would run to the end of the connection): that one is refused
here, as llhttp and h11 refuse it, with uvicorn's plain 400. So is an HTTP/1.1
request without ``Host``, which llhttp passes on and h11 refuses (RFC 9112 section
3.2: a server must answer it 400), so that a client missing it fails on either
stack. Every other request is parsed as uvicorn's own protocol parses it.

Imported only when httptools is installed (``serve`` and
:class:`mock_api.server.LiveServer` name it by its import path).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Uvicorn

__all__ = ["HttpToolsProtocol"]


class HttpToolsProtocol(_Uvicorn):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parser.set_dangerous_leniencies(lenient_chunked_length=True)

    _refused = False

    def on_headers_complete(self) -> None:
        # Answered here, not raised: an error raised in a parser callback reached uvloop
        # as a fatal transport error now and then (the connection closed with no answer).
        refusal = self._refusal()
        if refusal is not None:
            self._refused = True
            self.send_400_response(refusal)  # closes the connection
            return
        super().on_headers_complete()

    def _refusal(self) -> str | None:
        host = False
        codings: list[bytes] = []
        for name, value in self.headers:
            if name == b"host":
                host = True
            elif name == b"transfer-encoding":
                codings.append(value)
        if codings and b",".join(codings).rsplit(b",", 1)[-1].strip().lower() != b"chunked":
            return "A request's Transfer-Encoding must end in chunked."
        if not host and self.parser.get_http_version() == "1.1":
            return "A request in HTTP version 1.1 must name its Host."
        return None

    # Nothing of a refused request is read further: the rest of its bytes are dropped.

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()
