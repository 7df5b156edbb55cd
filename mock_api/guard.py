"""The outermost check of every request: who it is addressed to, and how it is framed.

Why this exists:

* **DNS rebinding.** A web page on ``evil.example`` whose name is made to
  resolve to 127.0.0.1 talks to a mock on the developer's machine as its own
  origin: ``Host`` and ``Origin`` both say ``evil.example``, so the control
  API's cross-site check passes, and the page could read every account's
  ledger, freeze the clock, reset, or submit jobs whose webhooks reach the LAN.
  A rebinding page can forge neither its ``Host`` header's name nor an IP
  literal of its own, so :class:`HostGuard` answers only requests addressed to
  names the server was told it answers to (``allowed_hosts``: the loopback
  names, ``--host``, ``--public-url``'s host, ``--allowed-host``), or to an IP
  address, which a page cannot rebind. Anything else is a 403 naming the option.
* **Request smuggling.** A request with both ``Content-Length`` and
  ``Transfer-Encoding`` is framed two ways; a proxy in front may read one and
  the fake the other. RFC 9112 section 6.3 says to treat it as an error or
  close the connection after it: it is answered 400, naming the headers, with
  ``Connection: close``.

Both answer in the documented error envelope (:func:`mock_api.errors.error_body`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_api.errors import error_body

__all__ = ["ALLOW_ANY", "HostGuard", "host_allowed", "host_name"]

#: In ``allowed_hosts``: answer any ``Host`` (behind a proxy that checks it already).
ALLOW_ANY = "*"
#: How many distinct ``Host`` headers a guard remembers its answer for.
MAX_KNOWN_HOSTS = 256


def host_name(header: str) -> str:
    """The name in a ``Host`` header: lower case, without the port or IPv6 brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header[1:]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str, allowed: Iterable[str]) -> bool:
    """Whether a request whose ``Host`` is ``header`` is one this server answers.

    ``allowed`` holds names (``mock.internal``), leading-dot suffixes
    (``.example.com``: any name under it) or :data:`ALLOW_ANY`. ``localhost``
    and its subdomains (RFC 6761: they resolve to loopback) and IP literals
    are always answered.
    """
    name = host_name(header)
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost") or _is_ip(name):
        return True
    for given in allowed:
        entry = given.lower()
        if entry in (ALLOW_ANY, name):
            return True
        if entry.startswith(".") and (name.endswith(entry) or name == entry[1:]):
            return True
    return False


class HostGuard:
    """Refuses requests addressed to names the server does not answer to, and requests
    framed by both ``Content-Length`` and ``Transfer-Encoding``."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        #: ``None``: every ``Host`` is answered (the library's default: tests).
        self.allowed_hosts = allowed_hosts
        # host_allowed of each Host header seen, the first MAX_KNOWN_HOSTS of them (the
        # header is the client's: the memo stays bounded). Parsing the name as an IP
        # address took a tenth of a poll's own time.
        self._known: dict[bytes, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = b""  # the last Host header, as a dict of the headers would keep
        length = chunked = False
        for raw, value in scope["headers"]:
            name = raw.lower()
            if name == b"host":
                host = value
            elif name == b"content-length":
                length = True
            elif name == b"transfer-encoding":
                chunked = True
        if length and chunked:
            reason = (
                "is sent with Content-Length: a request framed two ways is refused "
                "(RFC 9112 section 6.3), and the connection closed"
            )
            body = error_body(
                400,
                f'header "Transfer-Encoding" {reason}',
                [{"field": "Transfer-Encoding", "reason": reason, "location": "header"}],
            )
            await JSONResponse(body, 400, headers={"Connection": "close"})(scope, receive, send)
            return
        if self.allowed_hosts is not None and not self._answers(host):
            shown = host_name(host.decode("latin-1"))
            message = (
                f"this mock does not answer to the host {shown or '(none)'!r}: "
                "a web page can point a name of its own at it (DNS rebinding). Start it "
                f"with --allowed-host {shown or 'NAME'} if that name is yours"
            )
            body = error_body(
                403,
                message,
                [{"field": "Host", "reason": message, "location": "header"}],
            )
            await JSONResponse(body, 403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _answers(self, host: bytes) -> bool:
        known = self._known.get(host)
        if known is None:
            assert self.allowed_hosts is not None
            known = host_allowed(host.decode("latin-1"), self.allowed_hosts)
            if len(self._known) < MAX_KNOWN_HOSTS:
                self._known[host] = known
        return known
