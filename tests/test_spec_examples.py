"""openapi.yaml's examples point nowhere real, and the suite never follows one.

Prism (or any mock serving the spec's examples) hands out the examples' URLs as
if they were its own: an upload ticket, an output, ``urls.get``. They once named
``127.0.0.1:8000``, so a run against Prism sent requests to whatever listened
there, typically the user's own ``wavespeed-mock serve``, and ``api.wavespeed.ai``,
the real service. Now they name hosts under ``.invalid``, which never resolve
(RFC 6761), and the contract's transport refuses such a host before sending.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from mock_api.contract.bounds import Bounds, GuardedTransport, is_reserved_invalid
from mock_api.spec import SPEC_PATH


def _example_urls(node: Any, inside: bool = False) -> Iterator[str]:
    """Every http(s) URL under an ``example`` or ``examples`` key of the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _example_urls(value, inside or key in ("example", "examples"))
    elif isinstance(node, list):
        for value in node:
            yield from _example_urls(value, inside)
    elif inside and isinstance(node, str) and node.startswith(("http://", "https://")):
        yield node


EXAMPLE_URLS = sorted(set(_example_urls(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))))


def test_every_example_url_is_on_a_host_that_never_resolves() -> None:
    assert len(EXAMPLE_URLS) >= 10  # media, upload tickets, outputs, urls.get
    elsewhere = [url for url in EXAMPLE_URLS if not is_reserved_invalid(httpx.URL(url).host)]
    assert elsewhere == []


class _Recorder(httpx.BaseTransport):
    def __init__(self) -> None:
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return httpx.Response(200, stream=httpx.ByteStream(b"{}"), request=request)


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_an_example_url_is_never_requested(method: str) -> None:
    recorder = _Recorder()
    transport = GuardedTransport(recorder, Bounds(), body_bytes=1024)
    with httpx.Client(transport=transport) as client:
        for url in EXAMPLE_URLS:
            with pytest.raises(httpx.ConnectError) as refused:
                client.request(method, url, content=b"x" if method == "PUT" else None)
            assert str(refused.value).startswith(f"cannot reach {method} {url}: a host under ")
        assert client.get("http://127.0.0.1:1/ok").status_code == 200  # others pass through
    assert recorder.sent == ["http://127.0.0.1:1/ok"]


@pytest.mark.parametrize(
    ("host", "reserved"),
    [
        ("media.example.invalid", True),
        ("INVALID", True),
        ("x.invalid.", True),
        ("invalid.example.com", False),
        ("example.com", False),
        ("127.0.0.1", False),
    ],
)
def test_reserved_invalid_names(host: str, reserved: bool) -> None:
    assert is_reserved_invalid(host) is reserved
