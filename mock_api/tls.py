"""One TLS context for every request the package sends out.

httpx builds a fresh context for each client or transport it creates unless
given one, and loading the CA bundle into it costs about 30 ms of CPU each
time. The fake sends webhooks (a client per pump) and fetches remote media (a
transport per fetch), and the contract suite opens clients and probes per
target: built each time, the contexts cost the fake 16 s of CPU in one
``verify`` run. The context is built on first use, as httpx would build it
(certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set then), and
is safe to share between threads and event loops.
"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The shared client context: certificates verified, as httpx's default."""
    return httpx.create_ssl_context()
