"""Webhook deliveries as a receiver sees them, and the documented way to trust one.

Why this exists: a receiver that verifies signatures the documented way must
accept every delivery the service sends, and refuse any other. The scheme,
from WaveSpeed's docs: headers ``webhook-id``, ``webhook-timestamp`` (unix
seconds) and ``webhook-signature: v3,<hex>``, the hex being HMAC-SHA256 over
``"{webhook-id}.{webhook-timestamp}.{raw body}"`` keyed with the secret from
``GET /api/v3/webhook/secret`` minus its ``whsec_`` prefix, used as is (not
base64-decoded); timestamps older than :data:`TOLERANCE_SECONDS` are refused.
The payload is the bare prediction object, no envelope.

:func:`verify_delivery` is that reference verifier, written from the docs
alone; :class:`WebhookReceiver` is a loopback HTTP server the suite starts to
collect deliveries (or that a user exposes with ``--wavespeed-webhook-url``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

__all__ = [
    "TOLERANCE_SECONDS",
    "Delivery",
    "WebhookReceiver",
    "WebhookRejected",
    "reference_signature",
    "verify_delivery",
]

#: Receivers refuse deliveries stamped further than this from their own clock.
TOLERANCE_SECONDS = 300
#: A delivery's body is read up to this size; a prediction is a few kB. A larger one is
#: refused (413) and nothing of it is kept.
MAX_BODY = 1_000_000
#: How long the receiver waits on each read of a delivery before it gives up on it.
READ_SECONDS = 10.0
_LENGTH = re.compile(r"[0-9]{1,10}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")
#: Where the receiver listens on loopback.
PATH = "/contract-suite-webhook"


class WebhookRejected(AssertionError):
    """A delivery the documented verifier refuses, and why."""


def reference_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``v3,`` and the hex HMAC-SHA256 of ``id.timestamp.body``, keyed by the secret."""
    key = secret.removeprefix("whsec_").encode("utf-8")
    message = b".".join((msg_id.encode("utf-8"), timestamp.encode("utf-8"), body))
    return "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_delivery(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> None:
    """Accept a delivery as a careful receiver would, or raise :class:`WebhookRejected`."""
    lower = {name.lower(): value for name, value in headers.items()}
    missing = [
        h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if h not in lower
    ]
    if missing:
        raise WebhookRejected(f"the delivery lacks the header(s) {', '.join(missing)}")
    msg_id, stamp, signature = (
        lower["webhook-id"],
        lower["webhook-timestamp"],
        lower["webhook-signature"],
    )
    if not stamp.isdigit():
        raise WebhookRejected(f"webhook-timestamp {stamp!r} is not unix seconds")
    skew = abs((time.time() if now is None else now) - int(stamp))
    if skew > TOLERANCE_SECONDS:
        raise WebhookRejected(
            f"webhook-timestamp {stamp} is {skew:.0f} s from now; receivers refuse more than "
            f"{TOLERANCE_SECONDS} s (unix seconds expected)"
        )
    expected = reference_signature(secret, msg_id, stamp, body)
    # The header may carry several space-separated signatures (key rotation).
    if not any(hmac.compare_digest(expected, given) for given in signature.split()):
        raise WebhookRejected(
            f"webhook-signature {signature[:80]!r} is not HMAC-SHA256 of "
            "'{webhook-id}.{webhook-timestamp}.{body}' keyed with the secret minus 'whsec_'"
        )


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float


@dataclass
class WebhookReceiver:
    """A loopback HTTP server that records every POST and answers 200.

    ``port`` 0 picks a free one. ``public_url`` is what the target is told
    (a tunnel's URL for a target off this machine); by default the local one.

    Only a whole, well-framed body is kept: ``Content-Length`` (digits only, at
    most :data:`MAX_BODY`) or chunked, never both; anything else is answered 400
    (413 over the size, 408 when a read waits more than ``read_seconds``) and
    nothing of it is kept.
    """

    port: int = 0
    public_url: str | None = None
    read_seconds: float = READ_SECONDS
    deliveries: list[Delivery] = field(default_factory=list)
    #: Paths (as :meth:`url` gives them) whose next N deliveries are answered 500, to
    #: see the target deliver again.
    fail_first: dict[str, int] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self.public_url:
            return self.public_url
        assert self._server is not None, "start the receiver first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def url_for(self, name: str, *, failing: int = 0) -> str:
        """A URL of its own under :attr:`url` (``/<name>``), whose first ``failing``
        deliveries are answered 500."""
        path = f"{urlsplit(self.url).path.rstrip('/')}/{name}"
        with self._lock:
            self.fail_first[path] = failing
        return f"{self.url.rstrip('/')}/{name}"

    def received(self, accept: Callable[[Delivery], bool]) -> list[Delivery]:
        with self._lock:
            return [delivery for delivery in self.deliveries if accept(delivery)]

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            timeout = receiver.read_seconds  # per read of the socket (StreamRequestHandler)

            def do_POST(self) -> None:
                try:
                    body = self._body()
                except TimeoutError:
                    self._refuse(408)
                    return
                if body is None:
                    return
                delivery = Delivery(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                with receiver._lock:
                    receiver.deliveries.append(delivery)
                    receiver._lock.notify_all()
                    path = self.path.split("?", 1)[0]
                    failing = receiver.fail_first.get(path, 0)
                    if failing:
                        receiver.fail_first[path] = failing - 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _refuse(self, status: int) -> None:
                """Answer ``status`` and close: what is left of the body is never read."""
                self.close_connection = True
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            def _body(self) -> bytes | None:
                """The whole body, or ``None`` once refused (see the class)."""
                lengths = self.headers.get_all("Content-Length") or []
                coding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
                if len(lengths) > 1 or (lengths and coding) or coding not in ("", "chunked"):
                    self._refuse(400)  # framed two ways, or a way not known
                    return None
                if coding == "chunked":
                    return self._chunked()
                if not lengths:
                    return b""
                if not _LENGTH.fullmatch(lengths[0].strip()):
                    self._refuse(400)  # "-1", "1e3", "0x10": not a length
                    return None
                size = int(lengths[0])
                if size > MAX_BODY:
                    self._refuse(413)
                    return None
                body = self.rfile.read(size)
                if len(body) == size:
                    return body
                self._refuse(400)  # it closed before the length it stated
                return None

            def _chunked(self) -> bytes | None:
                body = bytearray()
                while True:
                    line = self.rfile.readline(1026)
                    size_text = line.split(b";", 1)[0].strip()
                    if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
                        self._refuse(400)
                        return None
                    size = int(size_text, 16)
                    if size == 0:
                        break
                    if len(body) + size > MAX_BODY:
                        self._refuse(413)
                        return None
                    chunk = self.rfile.read(size)
                    if len(chunk) < size or self.rfile.readline(3).strip():
                        self._refuse(400)
                        return None
                    body += chunk
                for _ in range(32):  # trailers, up to the empty line
                    if self.rfile.readline(8194).strip() == b"":
                        return bytes(body)
                self._refuse(400)
                return None

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(
        self,
        accept: Callable[[Delivery], bool],
        timeout: float,
        *,
        nudge: Callable[[], object] | None = None,
    ) -> Delivery | None:
        """The first delivery ``accept`` takes, waiting up to ``timeout`` wall seconds.

        ``nudge`` runs between waits (the fake in-process: pump due deliveries).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for delivery in self.deliveries:
                    if accept(delivery):
                        return delivery
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(min(left, 0.05))
            if nudge is not None:
                nudge()
