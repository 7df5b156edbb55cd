"""The URLs the fake hands out, and recognising them when they come back.

Responses carry absolute URLs (``urls.get``, outputs, upload targets). They are
built from the base URL the client used (or ``--public-url``), and a job input
that points back at one of them is read from memory, never over the network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

FILES_PREFIX = "/media/files/"
OUTPUTS_PREFIX = "/media/outputs/"
TICKETS_PREFIX = "/media/upload-tickets/"
SAMPLES_PREFIX = "/media/samples/"


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_port(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower(), port


@dataclass(frozen=True)
class Urls:
    base: str  # scheme://host[:port], no trailing slash
    #: Other bases that reach this fake too: with ``--public-url``, the one the request
    #: used (media named either way are the fake's own).
    also: tuple[str, ...] = ()

    def result(self, job_id: str) -> str:
        return f"{self.base}/api/v3/predictions/{job_id}/result"

    def output(self, job_id: str) -> str:
        return f"{self.base}{OUTPUTS_PREFIX}{job_id}/output.mp4"

    def file(self, file_id: str, filename: str) -> str:
        return f"{self.base}{FILES_PREFIX}{file_id}/{quote(filename, safe='')}"

    def ticket(self, ticket_id: str) -> str:
        return f"{self.base}{TICKETS_PREFIX}{ticket_id}"

    def is_own(self, url: str) -> bool:
        """Does ``url`` point at this fake? Loopback names count as one host."""
        theirs = _host_port(url)
        return theirs is not None and any(
            _same_host(_host_port(base), theirs) for base in (self.base, *self.also)
        )


def _same_host(mine: tuple[str, int] | None, theirs: tuple[str, int]) -> bool:
    if mine is None:
        return False
    if mine == theirs:
        return True
    return mine[1] == theirs[1] and is_loopback(mine[0]) and is_loopback(theirs[0])
