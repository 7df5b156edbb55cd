"""Remote fetching: off by default, SSRF-safe when on, and always a MediaError on failure.

Nothing here touches the internet: names resolve through a fake resolver and
requests go to ``httpx.MockTransport``, except for one local ``http.server``
on 127.0.0.1 that proves the real transport path works end to end.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest

from mock_api.errors import MediaError
from mock_api.fetch import DISABLED_REASON, RemoteFetchPolicy, fetch_remote

pytestmark = pytest.mark.anyio

ON = RemoteFetchPolicy(enabled=True)
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class FakeDNS:
    """A resolver answering from a table; unknown names fail like getaddrinfo does."""

    table: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


@dataclass
class Recorder:
    """A MockTransport handler that answers from a function and records every request."""

    answer: object = None
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            response = self.answer(request)
            assert isinstance(response, httpx.Response)
            return response
        return httpx.Response(200, content=b"media bytes")

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def dns(**table: str | list[str]) -> FakeDNS:
    return FakeDNS(
        {
            host.replace("_", "."): [ips] if isinstance(ips, str) else ips
            for host, ips in table.items()
        }
    )


async def refused(url: str, resolver: FakeDNS, policy: RemoteFetchPolicy = ON) -> str:
    recorder = Recorder()
    with pytest.raises(MediaError) as caught:
        await fetch_remote(url, policy, resolver=resolver, transport=recorder.transport)
    assert recorder.requests == [], "a refused fetch must not send anything"
    assert caught.value.input is None
    return caught.value.reason


# --- off by default ---------------------------------------------------------------------------


async def test_default_policy_fetches_nothing() -> None:
    resolver = dns(media_test=PUBLIC_V4)
    reason = await refused("http://media.test/clip.mp4", resolver, RemoteFetchPolicy())
    assert reason == DISABLED_REASON
    assert "--allow-remote-fetch" in reason
    assert "POST /api/v3/media/uploads" in reason
    assert resolver.calls == []


# --- address classes, via the resolver --------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.5.4", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("fd12:3456:789a::1", "a private address"),
        ("169.254.169.254", "a link-local address (the cloud metadata service)"),
        ("fd00:ec2::254", "a link-local address (the cloud metadata service)"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("233.1.2.3", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("100.64.0.1", "a carrier-grade NAT"),
        ("100.127.255.254", "a carrier-grade NAT"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("0.1.2.3", "a private address"),
        ("192.0.2.10", "a private address"),
        ("2001:db8::1", "a private address"),
        ("fec0::1", "a site-local address"),
        ("::ffff:127.0.0.1", "an IPv4-mapped IPv6 address for 127.0.0.1, a loopback address"),
        ("::ffff:10.0.0.1", "an IPv4-mapped IPv6 address for 10.0.0.1, a private address"),
        (
            "::ffff:169.254.169.254",
            "an IPv4-mapped IPv6 address for 169.254.169.254, a link-local address",
        ),
        ("::ffff:100.64.0.1", "an IPv4-mapped IPv6 address for 100.64.0.1, a carrier-grade"),
        ("64:ff9b::a00:1", "a NAT64 IPv6 address for 10.0.0.1, a private address"),
        ("2002:7f00:1::", "a 6to4 IPv6 address for 127.0.0.1, a loopback address"),
    ],
)
async def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = await refused("http://media.test/clip.mp4", dns(media_test=address))
    assert reason.startswith("media.test resolves to ")
    assert kind in reason
    assert reason.endswith("; refused")


async def test_the_documented_message_shape() -> None:
    reason = await refused("http://media.test/clip.mp4", dns(media_test="127.0.0.1"))
    assert reason == "media.test resolves to 127.0.0.1, a loopback address; refused"


async def test_every_address_is_checked_not_just_the_first() -> None:
    resolver = dns(media_test=[PUBLIC_V4, PUBLIC_V6, "10.0.0.7"])
    reason = await refused("https://media.test/clip.mp4", resolver)
    assert reason == "media.test resolves to 10.0.0.7, a private address; refused"


# --- literal addresses in the URL never reach the resolver -------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address; refused"),
        ("http://127.0.0.1:8000/x", "127.0.0.1 is a loopback address; refused"),
        ("http://[::1]/", "::1 is a loopback address; refused"),
        ("http://10.0.0.1:8080/", "10.0.0.1 is a private address; refused"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local address (the cloud metadata service); refused",
        ),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address; refused"),
        ("http://[::]/", ":: is an unspecified address; refused"),
        ("http://2130706433/", "2130706433 is 127.0.0.1, a loopback address; refused"),
        ("http://0x7f000001/", "0x7f000001 is 127.0.0.1, a loopback address; refused"),
        ("http://0177.0.1/", "0177.0.1 is 127.0.0.1, a loopback address; refused"),
        ("http://0177.0.0.1/", "is not a valid URL"),  # httpx rejects octal dotted quads
        ("http://127.1/", "127.1 is 127.0.0.1, a loopback address; refused"),
        ("http://0x7f.1/", "0x7f.1 is 127.0.0.1, a loopback address; refused"),
        ("http://2852039166/", "2852039166 is 169.254.169.254, a link-local address"),
        ("http://0/", "0 is 0.0.0.0, an unspecified address; refused"),
        (
            "http://[::ffff:127.0.0.1]/",
            "an IPv4-mapped IPv6 address for 127.0.0.1, a loopback address; refused",
        ),
        (
            "http://[::ffff:a9fe:a9fe]/",
            "an IPv4-mapped IPv6 address for 169.254.169.254, a link-local address",
        ),
        ("https://[fd00::5]/", "fd00::5 is a private address; refused"),
    ],
)
async def test_literal_ip_urls_are_refused(url: str, expected: str) -> None:
    resolver = FakeDNS()
    reason = await refused(url, resolver)
    assert expected in reason
    assert resolver.calls == []


# --- URL shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///etc/passwd", "uses the file: scheme; only http and https URLs can be fetched"),
        ("ftp://media.test/clip.mp4", "uses the ftp: scheme"),
        ("gopher://media.test:70/_x", "uses the gopher: scheme"),
        ("data:text/plain,hello", "uses the data: scheme"),
        ("javascript:alert(1)", "uses the javascript: scheme"),
        ("/api/v3/media/clip.mp4", "uses no scheme"),
        ("media.test/clip.mp4", "uses no scheme"),
        ("", "uses no scheme"),
        ("http:///clip.mp4", "has no host"),
        ("http://[::1/", "is not a valid URL"),
        ("http://user:secret@media.test/clip.mp4", "carries credentials"),
    ],
)
async def test_bad_urls_are_refused(url: str, expected: str) -> None:
    resolver = dns(media_test=PUBLIC_V4)
    reason = await refused(url, resolver)
    assert expected in reason
    assert "secret" not in reason
    assert resolver.calls == []


async def test_dns_failure() -> None:
    reason = await refused("http://nowhere.test/clip.mp4", FakeDNS())
    assert reason == "could not resolve nowhere.test: Name or service not known"


async def test_dns_answer_with_no_addresses() -> None:
    reason = await refused("http://media.test/clip.mp4", dns(media_test=[]))
    assert reason == "could not resolve media.test: no addresses"


# --- success: the vetted IP is what gets connected to ------------------------------------------


async def test_http_fetch_connects_to_the_vetted_ip_with_the_original_host() -> None:
    resolver = dns(media_test=PUBLIC_V4)
    recorder = Recorder()
    body = await fetch_remote(
        "http://media.test/clips/a.mp4?sig=1",
        ON,
        resolver=resolver,
        transport=recorder.transport,
    )
    assert body == b"media bytes"
    assert resolver.calls == [("media.test", 80)]
    (request,) = recorder.requests
    assert request.method == "GET"
    assert str(request.url) == f"http://{PUBLIC_V4}/clips/a.mp4?sig=1"
    assert request.headers["host"] == "media.test"
    assert "sni_hostname" not in request.extensions
    assert request.extensions["timeout"]["connect"] == ON.timeout_seconds


async def test_https_fetch_passes_the_name_for_sni_and_certificate_checks() -> None:
    resolver = dns(media_test=PUBLIC_V6)
    recorder = Recorder()
    body = await fetch_remote(
        "https://media.test:8443/a.wav", ON, resolver=resolver, transport=recorder.transport
    )
    assert body == b"media bytes"
    assert resolver.calls == [("media.test", 8443)]
    (request,) = recorder.requests
    assert request.url.scheme == "https"
    assert request.url.host == PUBLIC_V6
    assert request.url.port == 8443
    assert request.headers["host"] == "media.test:8443"
    assert request.extensions["sni_hostname"] == "media.test"


async def test_international_names_are_resolved_and_sent_in_idna_form() -> None:
    resolver = dns(**{"xn--bcher-kva_test": PUBLIC_V4})
    recorder = Recorder()
    await fetch_remote(
        "https://bücher.test/a.mp4", ON, resolver=resolver, transport=recorder.transport
    )
    assert resolver.calls == [("xn--bcher-kva.test", 443)]
    (request,) = recorder.requests
    assert request.headers["host"] == "xn--bcher-kva.test"
    assert request.extensions["sni_hostname"] == "xn--bcher-kva.test"


async def test_public_literal_ip_is_fetched_without_the_resolver() -> None:
    resolver = FakeDNS()
    recorder = Recorder()
    assert await fetch_remote(
        f"http://{PUBLIC_V4}:8080/a", ON, resolver=resolver, transport=recorder.transport
    )
    assert resolver.calls == []
    assert recorder.requests[0].headers["host"] == f"{PUBLIC_V4}:8080"


async def test_next_address_is_tried_when_one_does_not_connect() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_V6:
            raise httpx.ConnectError("Network is unreachable")
        return httpx.Response(200, content=b"via v4")

    recorder = Recorder(answer)
    body = await fetch_remote(
        "http://media.test/a",
        ON,
        resolver=dns(media_test=[PUBLIC_V6, PUBLIC_V4]),
        transport=recorder.transport,
    )
    assert body == b"via v4"
    assert [r.url.host for r in recorder.requests] == [PUBLIC_V6, PUBLIC_V4]


# --- redirects -----------------------------------------------------------------------------------


def redirect_to(location: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


async def test_redirect_to_a_private_address_is_refused() -> None:
    resolver = dns(media_test=PUBLIC_V4, internal_test="10.0.0.5")
    recorder = Recorder(lambda request: redirect_to("http://internal.test/admin"))
    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/a", ON, resolver=resolver, transport=recorder.transport
        )
    assert caught.value.reason == (
        "http://media.test/a redirected to http://internal.test/admin: "
        "internal.test resolves to 10.0.0.5, a private address; refused"
    )
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),
        ("file:///etc/passwd", "uses the file: scheme"),
        ("gopher://media.test/", "uses the gopher: scheme"),
    ],
)
async def test_redirects_are_vetted_like_the_first_url(location: str, expected: str) -> None:
    recorder = Recorder(lambda request: redirect_to(location))
    with pytest.raises(MediaError, match="redirected to") as caught:
        await fetch_remote(
            "http://media.test/a",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert expected in caught.value.reason
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_relative_redirect_resolves_against_the_current_url(status: int) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/dir/start":
            return redirect_to("../files/clip.mp4?x=1", status)
        return httpx.Response(200, content=b"clip")

    resolver = dns(media_test=PUBLIC_V4)
    recorder = Recorder(answer)
    body = await fetch_remote(
        "https://media.test/dir/start", ON, resolver=resolver, transport=recorder.transport
    )
    assert body == b"clip"
    second = recorder.requests[1]
    assert str(second.url) == f"https://{PUBLIC_V4}/files/clip.mp4?x=1"
    assert second.headers["host"] == "media.test"
    assert second.extensions["sni_hostname"] == "media.test"
    assert resolver.calls == [("media.test", 443), ("media.test", 443)]


async def test_redirect_to_another_host_switches_host_header_and_sni() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["host"] == "media.test":
            return redirect_to("https://cdn.test/clip.mp4")
        return httpx.Response(200, content=b"from cdn")

    recorder = Recorder(answer)
    body = await fetch_remote(
        "http://media.test/a",
        ON,
        resolver=dns(media_test=PUBLIC_V4, cdn_test=PUBLIC_V6),
        transport=recorder.transport,
    )
    assert body == b"from cdn"
    cdn = recorder.requests[1]
    assert cdn.url.host == PUBLIC_V6
    assert cdn.headers["host"] == "cdn.test"
    assert cdn.extensions["sni_hostname"] == "cdn.test"


async def test_redirect_loop_stops_after_max_redirects() -> None:
    recorder = Recorder(lambda request: redirect_to("/a"))
    policy = RemoteFetchPolicy(enabled=True, max_redirects=3)
    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/a",
            policy,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert caught.value.reason == "too many redirects (more than 3) fetching http://media.test/a"
    assert len(recorder.requests) == 4


async def test_exactly_max_redirects_is_allowed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        step = int(request.url.path.strip("/"))
        return redirect_to(f"/{step + 1}") if step < 2 else httpx.Response(200, content=b"ok")

    recorder = Recorder(answer)
    policy = RemoteFetchPolicy(enabled=True, max_redirects=2)
    body = await fetch_remote(
        "http://media.test/0",
        policy,
        resolver=dns(media_test=PUBLIC_V4),
        transport=recorder.transport,
    )
    assert body == b"ok"
    assert len(recorder.requests) == 3


async def test_no_redirects_allowed() -> None:
    recorder = Recorder(lambda request: redirect_to("/b"))
    with pytest.raises(MediaError, match="too many redirects"):
        await fetch_remote(
            "http://media.test/a",
            RemoteFetchPolicy(enabled=True, max_redirects=0),
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )


# --- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [204, 206])
async def test_any_2xx_is_success(status: int) -> None:
    recorder = Recorder(lambda request: httpx.Response(status, content=b""))
    body = await fetch_remote(
        "http://media.test/a", ON, resolver=dns(media_test=PUBLIC_V4), transport=recorder.transport
    )
    assert body == b""


@pytest.mark.parametrize("status", [300, 304, 400, 403, 404, 410, 429, 500, 503])
async def test_non_2xx_is_a_media_error(status: int) -> None:
    recorder = Recorder(lambda request: httpx.Response(status, content=b"nope"))
    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/clip.mp4",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert caught.value.reason == f"HTTP {status} from http://media.test/clip.mp4"


async def test_redirect_without_location_is_a_non_2xx() -> None:
    recorder = Recorder(lambda request: httpx.Response(302))
    with pytest.raises(MediaError, match=r"^HTTP 302 from http://media.test/a$"):
        await fetch_remote(
            "http://media.test/a",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )


# --- size cap ------------------------------------------------------------------------------------


@dataclass
class Dripper:
    """A streamed body of ``chunks`` chunks that records how many were consumed."""

    chunks: int
    size: int = 1024
    consumed: int = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.consumed += 1
            yield b"x" * self.size


async def test_content_length_over_the_cap_is_refused_before_reading() -> None:
    body = Dripper(chunks=1000)
    recorder = Recorder(
        lambda request: httpx.Response(
            200, headers={"Content-Length": str(10**12)}, content=body.stream()
        )
    )
    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/big.mp4",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert caught.value.reason == (
        "http://media.test/big.mp4 is 1,000,000,000,000 bytes, over the 104,857,600-byte limit"
    )
    assert body.consumed == 0


async def test_streamed_body_without_content_length_stops_as_soon_as_the_cap_is_passed() -> None:
    body = Dripper(chunks=1000)
    recorder = Recorder(lambda request: httpx.Response(200, content=body.stream()))
    policy = RemoteFetchPolicy(enabled=True, max_bytes=10 * 1024)
    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/big.mp4",
            policy,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert "content-length" not in recorder.requests[0].headers
    assert caught.value.reason == (
        "http://media.test/big.mp4 is over the 10,240-byte limit; stopped reading"
    )
    assert body.consumed == 11


async def test_lying_content_length_is_still_capped_while_streaming() -> None:
    body = Dripper(chunks=1000)
    recorder = Recorder(
        lambda request: httpx.Response(200, headers={"Content-Length": "10"}, content=body.stream())
    )
    with pytest.raises(MediaError, match="stopped reading"):
        await fetch_remote(
            "http://media.test/a",
            RemoteFetchPolicy(enabled=True, max_bytes=4096),
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert body.consumed == 5


async def test_body_exactly_at_the_cap_is_accepted() -> None:
    body = Dripper(chunks=4)
    recorder = Recorder(lambda request: httpx.Response(200, content=body.stream()))
    data = await fetch_remote(
        "http://media.test/a",
        RemoteFetchPolicy(enabled=True, max_bytes=4096),
        resolver=dns(media_test=PUBLIC_V4),
        transport=recorder.transport,
    )
    assert len(data) == 4096


@pytest.mark.parametrize(("policy_cap", "argument", "limit"), [(1000, 10, 10), (10, 1000, 10)])
async def test_max_bytes_argument_can_only_tighten_the_policy(
    policy_cap: int, argument: int, limit: int
) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, content=b"x" * 100))
    with pytest.raises(MediaError, match=rf"over the {limit}-byte limit"):
        await fetch_remote(
            "http://media.test/a",
            RemoteFetchPolicy(enabled=True, max_bytes=policy_cap),
            max_bytes=argument,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )


async def test_compressed_bodies_are_refused() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"\x1f")
    )
    with pytest.raises(MediaError, match="Content-Encoding gzip"):
        await fetch_remote(
            "http://media.test/a",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )
    assert recorder.requests[0].headers["accept-encoding"] == "identity"


# --- time and transport failures --------------------------------------------------------------


async def slow_handler(request: httpx.Request) -> httpx.Response:
    await anyio.sleep(30)
    return httpx.Response(200)  # pragma: no cover


async def slow_resolver(host: str, port: int) -> list[str]:
    await anyio.sleep(30)
    return [PUBLIC_V4]  # pragma: no cover


async def dripping_handler(request: httpx.Request) -> httpx.Response:
    async def drip() -> AsyncIterator[bytes]:
        while True:
            yield b"x"
            await anyio.sleep(0.01)

    return httpx.Response(200, content=drip())


@pytest.mark.parametrize(
    ("handler", "resolver"),
    [
        (slow_handler, dns(media_test=PUBLIC_V4)),
        (dripping_handler, dns(media_test=PUBLIC_V4)),
        (Recorder(), slow_resolver),
    ],
    ids=["slow-response", "slow-body", "slow-dns"],
)
async def test_timeout_covers_the_whole_fetch(handler: object, resolver: object) -> None:
    policy = RemoteFetchPolicy(enabled=True, timeout_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/a",
            policy,
            resolver=resolver,  # type: ignore[arg-type]
            transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        )
    assert caught.value.reason == "timed out after 0.2s fetching http://media.test/a"
    assert time.monotonic() - started < 5


async def test_timeout_is_total_across_redirects() -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.08)
        return redirect_to("/again")

    with pytest.raises(MediaError, match=r"timed out after 0\.2s"):
        await fetch_remote(
            "http://media.test/a",
            RemoteFetchPolicy(enabled=True, timeout_seconds=0.2, max_redirects=10),
            resolver=dns(media_test=PUBLIC_V4),
            transport=httpx.MockTransport(answer),
        )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            httpx.ConnectError("Connection refused"),
            "could not connect to media.test: Connection refused",
        ),
        (httpx.ReadTimeout("read timed out"), "timed out fetching http://media.test/a"),
        (
            httpx.RemoteProtocolError("peer closed"),
            "could not fetch http://media.test/a: peer closed",
        ),
        (httpx.ReadError("reset"), "could not fetch http://media.test/a: reset"),
        (ConnectionResetError(104, "Connection reset by peer"), "Connection reset by peer"),
    ],
)
async def test_transport_errors_become_media_errors(error: Exception, expected: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(MediaError) as caught:
        await fetch_remote(
            "http://media.test/a",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=httpx.MockTransport(answer),
        )
    assert expected in caught.value.reason


async def test_error_in_the_middle_of_the_body_becomes_a_media_error() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    recorder = Recorder(lambda request: httpx.Response(200, content=broken()))
    with pytest.raises(MediaError, match=r"could not fetch http://media\.test/a: peer closed"):
        await fetch_remote(
            "http://media.test/a",
            ON,
            resolver=dns(media_test=PUBLIC_V4),
            transport=recorder.transport,
        )


# --- the real transport, against a local server ------------------------------------------------


class LocalServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.hosts: list[str] = []
        hosts = self.hosts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hosts.append(self.headers["Host"])
                if self.path == "/hop":
                    self.send_response(302)
                    self.send_header("Location", "/clip.mp4")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"real bytes over a real socket"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@contextlib.contextmanager
def running(server: LocalServer) -> Iterator[LocalServer]:
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join()


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    with running(LocalServer()) as server:
        yield server


LAB = RemoteFetchPolicy(enabled=True, allow_private=True, timeout_seconds=10)


async def test_real_transport_fetches_from_a_local_server_when_private_is_allowed(
    local_server: LocalServer,
) -> None:
    url = f"http://127.0.0.1:{local_server.port}/hop"
    assert await fetch_remote(url, LAB) == b"real bytes over a real socket"
    assert local_server.hosts == [f"127.0.0.1:{local_server.port}"] * 2


async def test_real_transport_connects_to_the_resolved_ip_with_the_name_as_host(
    local_server: LocalServer,
) -> None:
    resolver = dns(media_test="127.0.0.1")
    body = await fetch_remote(
        f"http://media.test:{local_server.port}/clip.mp4", LAB, resolver=resolver
    )
    assert body == b"real bytes over a real socket"
    assert local_server.hosts == [f"media.test:{local_server.port}"]


async def test_real_transport_reports_a_closed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MediaError, match=r"^could not connect to 127\.0\.0\.1: "):
        await fetch_remote(f"http://127.0.0.1:{port}/", LAB)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (RemoteFetchPolicy(), DISABLED_REASON),
        (RemoteFetchPolicy(enabled=True), "127.0.0.1 is a loopback address; refused"),
    ],
    ids=["default", "enabled"],
)
async def test_local_server_is_refused_without_allow_private(
    local_server: LocalServer, policy: RemoteFetchPolicy, expected: str
) -> None:
    with pytest.raises(MediaError) as caught:
        await fetch_remote(f"http://127.0.0.1:{local_server.port}/clip.mp4", policy)
    assert caught.value.reason == expected
    assert local_server.hosts == []


async def test_localhost_by_name_is_refused_through_the_system_resolver(
    local_server: LocalServer,
) -> None:
    with pytest.raises(MediaError, match=r"^localhost resolves to .*, a loopback address; refused"):
        await fetch_remote(f"http://localhost:{local_server.port}/clip.mp4", ON)
    assert local_server.hosts == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_real_tls_uses_the_name_for_sni_and_certificate_checks(tmp_path: Path) -> None:
    """Connecting to the vetted IP must still verify the certificate against the name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=media.test"),
            *("-addext", "subjectAltName=DNS:media.test"),
        ],
        check=True,
        capture_output=True,
    )
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, context: sni.append(name)
    resolver = dns(media_test="127.0.0.1", other_test="127.0.0.1")
    with running(LocalServer(server_tls)) as server:
        async with httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=cert)) as tls:
            body = await fetch_remote(
                f"https://media.test:{server.port}/clip.mp4", LAB, resolver=resolver, transport=tls
            )
            with pytest.raises(MediaError, match=r"certificate is not valid for 'other\.test'"):
                await fetch_remote(
                    f"https://other.test:{server.port}/clip.mp4",
                    LAB,
                    resolver=resolver,
                    transport=tls,
                )
    assert body == b"real bytes over a real socket"
    assert sni == ["media.test", "other.test"]
    assert server.hosts == [f"media.test:{server.port}"]
