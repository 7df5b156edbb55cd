"""A webhook receiver on loopback, for tests that check what the fake posts."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    """Answers from a script of statuses (then 200), after ``delay`` seconds."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a burst of deliveries from several instances
    # overflowed it, and the attempts the kernel dropped failed (ReadError) and were retried.
    request_queue_size = 256


@contextmanager
def running_receiver(path: str = "/hook") -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            time.sleep(state.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def independent_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The documented scheme, written from the reference text alone (not from the fake's
    code): key = the secret minus ``whsec_``, used as is; HMAC-SHA256 over
    ``id.timestamp.body``; ``v3,`` and the hex digest."""
    key = secret.removeprefix("whsec_").encode("utf-8")
    message = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_as_documented(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Does a delivery's ``webhook-signature`` header match :func:`independent_signature`?"""
    expected = independent_signature(
        secret, headers["webhook-id"], headers["webhook-timestamp"], body
    )
    return hmac.compare_digest(expected, headers["webhook-signature"])
