"""Fetch a job's input from a remote URL, without becoming an SSRF proxy.

Job inputs are URLs. URLs that point at the fake itself are resolved
elsewhere; this module fetches every other URL, which the fake does only when
the user turns remote fetching on (:class:`RemoteFetchPolicy`, off by
default, so the fake never touches the network unless asked).

The threat is server-side request forgery: whoever can submit a job chooses
the URL, and the fake usually runs on a developer's machine or inside a CI or
cloud network. Fetching blindly would let a job read ``http://127.0.0.1:...``
services, the LAN, or the cloud metadata endpoint (169.254.169.254), and hand
the bytes back through the job's result or error. So :func:`fetch_remote`

* accepts only ``http`` and ``https`` URLs with a host and no credentials;
* resolves the host itself (through an injectable :data:`Resolver`), refuses
  unless *every* address is public -- classified with :mod:`ipaddress`, never
  by string matching, including IPv4 embedded in IPv6 and odd literal forms
  such as ``http://2130706433/`` -- and then connects to the vetted address,
  not to the name, so a second DNS answer cannot rebind it (the original name
  travels in the ``Host`` header and, for https, in the ``sni_hostname``
  request extension that httpcore uses for SNI and certificate checks);
* follows redirects by hand, vetting every hop the same way;
* bounds the whole fetch in time and the body in bytes, stopping as soon as
  the cap is passed rather than reading the body first;
* raises :class:`~mock_api.errors.MediaError` with a human reason for every
  failure, never a raw httpx or socket exception.

Requests go straight to the transport, not through ``httpx.AsyncClient``, so no
proxy from the environment, cookie jar or URL credentials take part.
``allow_private`` lifts the address check for tests and closed lab networks;
it re-opens the SSRF hole and must not be used where untrusted users submit
jobs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import httpx

from mock_api.errors import MediaError
from mock_api.tls import tls_context

__all__ = [
    "DISABLED_REASON",
    "RemoteFetchPolicy",
    "Resolver",
    "VettedTarget",
    "fetch_remote",
    "system_resolver",
    "vet_target",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: ``await resolver(host, port)`` -> the IP addresses (as strings) to vet and connect to.
Resolver = Callable[[str, int], Awaitable[list[str]]]

DISABLED_REASON = (
    "remote fetching is disabled; upload the file to the mock "
    "(POST /api/v3/media/uploads) or start it with --allow-remote-fetch"
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class RemoteFetchPolicy:
    """What :func:`fetch_remote` may do; the default fetches nothing."""

    enabled: bool = False  # off by default: the fake never touches the network unless asked
    max_bytes: int = 100 * 1024 * 1024
    timeout_seconds: float = 15.0  # total, for all redirects together
    max_redirects: int = 3
    allow_private: bool = False  # DANGEROUS: lets jobs reach loopback, the LAN and cloud metadata


async def system_resolver(host: str, port: int) -> list[str]:
    """The default :data:`Resolver`: the system's ``getaddrinfo``."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def fetch_remote(
    url: str,
    policy: RemoteFetchPolicy,
    *,
    max_bytes: int | None = None,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """Return the body of ``url``, or raise :class:`MediaError` saying why not.

    ``max_bytes`` can only tighten ``policy.max_bytes``. ``transport`` is used
    as given and not closed; without it each hop gets its own
    ``httpx.AsyncHTTPTransport``, so no TLS connection is reused across names.
    """
    if not policy.enabled:
        raise MediaError(DISABLED_REASON)
    cap = policy.max_bytes if max_bytes is None else min(max_bytes, policy.max_bytes)
    resolve = system_resolver if resolver is None else resolver
    try:
        with anyio.fail_after(policy.timeout_seconds):
            target = url
            for hop in range(policy.max_redirects + 1):
                try:
                    current = _parse(target)
                    addresses = await _vetted_addresses(current, resolve, policy.allow_private)
                    outcome = await _hop(current, addresses, cap, transport, policy.timeout_seconds)
                except MediaError as exc:
                    if hop == 0:
                        raise
                    raise MediaError(f"{url} redirected to {target}: {exc.reason}") from None
                if isinstance(outcome, bytes):
                    return outcome
                target = str(outcome)
    except TimeoutError:
        raise MediaError(f"timed out after {policy.timeout_seconds:g}s fetching {url}") from None
    raise MediaError(f"too many redirects (more than {policy.max_redirects}) fetching {url}")


@dataclass(frozen=True)
class VettedTarget:
    """Where to send a request once its URL passed the guard: connect to ``url`` (its
    host the vetted address), saying ``headers`` (the name, as ``Host``) and with
    ``extensions`` (the name for TLS, as SNI), so DNS cannot rebind it in between."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, object]


async def vet_target(
    raw: str, *, allow_private: bool, resolver: Resolver | None = None
) -> VettedTarget:
    """Check ``raw`` by :func:`fetch_remote`'s rules (http(s), no credentials, and unless
    ``allow_private`` only public addresses); :class:`MediaError` says why not.

    Webhook deliveries use it: whoever submits a job chooses where its webhook goes.
    """
    url = _parse(raw)
    addresses = await _vetted_addresses(url, resolver or system_resolver, allow_private)
    extensions: dict[str, object] = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return VettedTarget(
        url.copy_with(host=addresses[0]), {"Host": url.netloc.decode("ascii")}, extensions
    )


def _parse(raw: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise MediaError(f"{raw!r} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        scheme = f"the {url.scheme}: scheme" if url.scheme else "no scheme"
        raise MediaError(f"{raw} uses {scheme}; only http and https URLs can be fetched")
    if not url.host:
        raise MediaError(f"{raw} has no host")
    if url.userinfo:
        raise MediaError(
            f"{url.copy_with(userinfo=b'')} carries credentials (user:password@); refused"
        )
    return url


def _literal_ip(host: str) -> tuple[IPAddress, bool] | None:
    """The address a host spells literally, and whether it is spelled canonically.

    ``inet_aton`` accepts the legacy forms that resolvers and browsers treat as
    IPv4 (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``).
    """
    try:
        return ipaddress.ip_address(host), True
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host)), False
    except (OSError, ValueError):
        return None


def _refusal(ip: IPAddress) -> str | None:
    """Why the fake will not connect to ``ip`` (a noun phrase), or ``None`` if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        for label, v4 in (
            ("an IPv4-mapped", ip.ipv4_mapped),
            ("a 6to4", ip.sixtofour),
            ("a NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None),
        ):
            if v4 is not None and (inner := _refusal(v4)) is not None:
                return f"{label} IPv6 address for {v4}, {inner}"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip in _METADATA, "a link-local address (the cloud metadata service)"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _CGNAT, "a carrier-grade NAT (shared, 100.64.0.0/10) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (not ip.is_global, "a non-public address"),
    )
    return next((reason for hit, reason in checks if hit), None)


async def _vetted_addresses(url: httpx.URL, resolve: Resolver, allow_private: bool) -> list[str]:
    """Every address ``url``'s host stands for, once each has been checked."""
    host = url.raw_host.decode("ascii")
    literal = _literal_ip(host)
    if literal is not None:
        ip, canonical = literal
        why = _refusal(ip)
        if why is not None and not allow_private:
            spelled = f"{url.host} is" if canonical else f"{url.host} is {ip},"
            raise MediaError(f"{spelled} {why}; refused")
        return [str(ip)]
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        found = [ipaddress.ip_address(address) for address in await resolve(host, port)]
    except OSError as exc:
        raise MediaError(f"could not resolve {url.host}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise MediaError(f"could not resolve {url.host}: {exc}") from None
    if not found:
        raise MediaError(f"could not resolve {url.host}: no addresses")
    for ip in found:
        why = _refusal(ip)
        if why is not None and not allow_private:
            raise MediaError(f"{url.host} resolves to {ip}, {why}; refused")
    return [str(ip) for ip in found]


async def _hop(
    url: httpx.URL,
    addresses: list[str],
    cap: int,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
) -> bytes | httpx.URL:
    """GET ``url`` from the first address that connects: its body, or where it redirects."""
    headers = {
        "Host": url.netloc.decode("ascii"),
        "User-Agent": "wavespeed-mock (remote fetch)",
        "Accept": "*/*",
        "Accept-Encoding": "identity",
    }
    extensions: dict[str, object] = {
        "timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)
    }
    if url.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    connect_error: Exception | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            if transport is None:
                transport = await stack.enter_async_context(
                    httpx.AsyncHTTPTransport(verify=tls_context())
                )
            for address in addresses:
                request = httpx.Request(
                    "GET", url.copy_with(host=address), headers=headers, extensions=extensions
                )
                try:
                    response = await transport.handle_async_request(request)
                except httpx.ConnectError as exc:
                    connect_error = exc
                    continue
                try:
                    return await _read(url, response, cap)
                finally:
                    await response.aclose()
    except httpx.TimeoutException:
        raise MediaError(f"timed out fetching {url}") from None
    except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, OSError) as exc:
        raise MediaError(f"could not fetch {url}: {exc or type(exc).__name__}") from exc
    raise MediaError(f"could not connect to {url.host}: {connect_error or 'no address'}")


async def _read(url: httpx.URL, response: httpx.Response, cap: int) -> bytes | httpx.URL:
    status = response.status_code
    if status in _REDIRECT_STATUSES and "location" in response.headers:
        return url.join(response.headers["location"])
    if not 200 <= status < 300:
        raise MediaError(f"HTTP {status} from {url}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise MediaError(
            f"{url} was sent with Content-Encoding {encoding}; only identity is accepted"
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise MediaError(f"{url} is {int(declared):,} bytes, over the {cap:,}-byte limit")
    body = bytearray()
    async for chunk in response.aiter_bytes():  # identity only, so no decoding
        body += chunk
        if len(body) > cap:
            raise MediaError(f"{url} is over the {cap:,}-byte limit; stopped reading")
    return bytes(body)
