"""How a run picks its target: pytest options, each with an environment fallback.

Why this exists: the suite must never hard-code a target. With no option and
no environment variable it runs against the fake in-process; a URL makes it
run against any server. :func:`resolve` is pure (options and environment in,
:class:`TargetOptions` out) so the precedence is unit-tested on its own.

==============================  ======================  ==================================
option                          environment             meaning
==============================  ======================  ==================================
``--wavespeed-base-url URL``    ``WAVESPEED_BASE_URL``  the server (default: the fake,
                                                        in-process)
``--wavespeed-api-key KEY``     ``WAVESPEED_API_KEY``   its key (required with a URL)
``--wavespeed-budget USD``      ``WAVESPEED_BUDGET``    most a paid run may spend (0)
``--wavespeed-poll-interval S``                         between polls (fake 0.05, else 5)
``--wavespeed-timeout S``                               per job (default: derived per
                                                        job, see ``Target.job_timeout``)
                                                        and per request, whole (90)
``--wavespeed-max-run-seconds S``                       the whole run by URL (3600)
``--wavespeed-allow-upload-host``                       hosts besides the target's own
                                                        that upload tickets may name
``--wavespeed-video URL``       ``WAVESPEED_VIDEO``     a real video of two people
``--wavespeed-second-api-key``  ``WAVESPEED_SECOND_     another account's key, for the
                                API_KEY``               isolation checks
``--wavespeed-webhook-url URL``                         a public URL forwarded to the
                                                        suite's webhook receiver
``--wavespeed-webhook-port N``                          the receiver's local port (0: any)
==============================  ======================  ==================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx
import pytest

from mock_api.contract.budget import parse_budget

__all__ = [
    "OPTIONS",
    "OptionError",
    "TargetOptions",
    "add_options",
    "parse_upload_hosts",
    "resolve",
    "upload_host_allowed",
]


class OptionError(ValueError):
    """The target options are inconsistent or malformed."""


@dataclass(frozen=True)
class Option:
    flag: str
    env: str | None
    metavar: str
    help: str

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


OPTIONS = (
    Option(
        "--wavespeed-base-url",
        "WAVESPEED_BASE_URL",
        "URL",
        "Run the contract suite against this server instead of the fake in-process.",
    ),
    Option("--wavespeed-api-key", "WAVESPEED_API_KEY", "KEY", "API key for --wavespeed-base-url."),
    Option(
        "--wavespeed-budget",
        "WAVESPEED_BUDGET",
        "USD",
        "Most a run against a paid endpoint may spend (default 0: a paid run is opt-in).",
    ),
    Option("--wavespeed-poll-interval", None, "S", "Seconds between polls of a job."),
    Option(
        "--wavespeed-timeout",
        None,
        "S",
        "Seconds any one job may take before its check fails (default: what the fake says "
        "it plans for the job, at most 120 s plus 30 s per second of output, which is also "
        "the default elsewhere), and any one request, from connecting to its last byte "
        "(default 90).",
    ),
    Option(
        "--wavespeed-max-run-seconds",
        None,
        "S",
        "Seconds a run by URL may take in all; the check running then is cut and the run "
        "stops (default 3600).",
    ),
    Option(
        "--wavespeed-allow-upload-host",
        None,
        "HOST[,HOST...]",
        "Hosts besides the target's own origin that its upload tickets may send the bytes "
        "to, with the ticket's headers (HOST, HOST:PORT or *.DOMAIN); any other is a "
        "contract violation, and nothing is sent.",
    ),
    Option(
        "--wavespeed-video",
        "WAVESPEED_VIDEO",
        "URL",
        "A real video of two people to submit (the synthetic one may fail on the real model).",
    ),
    Option(
        "--wavespeed-second-api-key",
        "WAVESPEED_SECOND_API_KEY",
        "KEY",
        "A second account's key: its jobs and balance must stay apart from the first's.",
    ),
    Option(
        "--wavespeed-webhook-url",
        None,
        "URL",
        "A public URL that forwards to the suite's webhook receiver (for a target that "
        "cannot reach this machine).",
    ),
    Option(
        "--wavespeed-webhook-port",
        None,
        "PORT",
        "The local port the suite's webhook receiver listens on (default: any free port).",
    ),
)


@dataclass(frozen=True)
class TargetOptions:
    base_url: str | None = None
    api_key: str | None = None
    budget_micros: int = 0
    poll_interval: float | None = None
    timeout: float | None = None
    video_url: str | None = None
    second_api_key: str | None = None
    webhook_url: str | None = None
    webhook_port: int = 0
    max_run_seconds: float | None = None
    allow_upload_hosts: tuple[str, ...] = ()

    @property
    def in_process(self) -> bool:
        return self.base_url is None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("wavespeed", "WaveSpeed contract suite target")
    for option in OPTIONS:
        fallback = f" Env: {option.env}." if option.env else ""
        group.addoption(
            option.flag, dest=option.dest, metavar=option.metavar, help=option.help + fallback
        )


def _seconds(name: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{name} {text!r} is not a number of seconds") from None
    if not value > 0:
        raise OptionError(f"{name} must be > 0, not {text}")
    return value


#: ``HOST``, ``HOST:PORT`` or ``*.DOMAIN``: a DNS name, an IPv4 address, or an IPv6 one
#: in brackets; never a URL (no scheme, path or credentials).
_UPLOAD_HOST = re.compile(
    r"(?P<host>(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?"
)


def parse_upload_hosts(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Hosts an upload ticket may name, from ``HOST[,HOST...]`` (or several values),
    lower-cased; raises :class:`OptionError` naming the one that is not a host."""
    values = [text] if isinstance(text, str) else list(text or ())
    hosts: list[str] = []
    for value in values:
        for item in re.split(r"[,\s]+", value.strip()):
            if not item:
                continue
            found = _UPLOAD_HOST.fullmatch(item)
            port = found.group("port") if found else None
            if found is None or (port is not None and not 0 < int(port) <= 65535):
                raise OptionError(
                    f"upload host {item!r} is not HOST, HOST:PORT or *.DOMAIN (a host, "
                    "not a URL: no scheme, path or credentials)"
                )
            hosts.append(item.lower())
    return tuple(dict.fromkeys(hosts))


def upload_host_allowed(url: httpx.URL, hosts: Iterable[str]) -> str | None:
    """The entry of ``hosts`` (see :func:`parse_upload_hosts`) that allows ``url``, if any."""
    host = url.host.lower()
    port = url.port if url.port is not None else {"http": 80, "https": 443}.get(url.scheme)
    for entry in hosts:
        found = _UPLOAD_HOST.fullmatch(entry)
        if found is None:
            continue
        name = found.group("host").strip("[]")
        if found.group("port") is not None and int(found.group("port")) != port:
            continue
        if name == host or (name.startswith("*.") and host.endswith(name[1:])):
            return entry
    return None


def resolve(cli: Mapping[str, str | None], env: Mapping[str, str]) -> TargetOptions:
    """Options win over the environment; an empty value counts as unset."""
    values: dict[str, str | None] = {}
    for option in OPTIONS:
        value = cli.get(option.dest)
        if not value and option.env:
            value = env.get(option.env)
        values[option.dest] = value or None
    base_url = values["wavespeed_base_url"]
    api_key = values["wavespeed_api_key"]
    if base_url is not None:
        if not base_url.startswith(("http://", "https://")):
            raise OptionError(f"--wavespeed-base-url {base_url!r} is not an http(s) URL")
        if api_key is None:
            raise OptionError(
                "--wavespeed-base-url needs an API key: pass --wavespeed-api-key "
                "or set WAVESPEED_API_KEY"
            )
    try:
        budget = parse_budget(values["wavespeed_budget"] or "0")
    except ValueError as exc:
        raise OptionError(f"--wavespeed-budget: {exc}") from None
    webhook_url = values["wavespeed_webhook_url"]
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise OptionError(f"--wavespeed-webhook-url {webhook_url!r} is not an http(s) URL")
    port_text = values["wavespeed_webhook_port"] or "0"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise OptionError(f"--wavespeed-webhook-port {port_text!r} is not a port (0-65535)")
    try:
        upload_hosts = parse_upload_hosts(values["wavespeed_allow_upload_host"])
    except OptionError as exc:
        raise OptionError(f"--wavespeed-allow-upload-host: {exc}") from None
    return TargetOptions(
        base_url=base_url.rstrip("/") if base_url else None,
        # The in-process fake has its own key; a key in the environment is for URLs.
        api_key=api_key if base_url else None,
        budget_micros=budget,
        poll_interval=_seconds("--wavespeed-poll-interval", values["wavespeed_poll_interval"]),
        timeout=_seconds("--wavespeed-timeout", values["wavespeed_timeout"]),
        video_url=values["wavespeed_video"],
        second_api_key=values["wavespeed_second_api_key"] if base_url else None,
        webhook_url=webhook_url,
        webhook_port=int(port_text),
        max_run_seconds=_seconds(
            "--wavespeed-max-run-seconds", values["wavespeed_max_run_seconds"]
        ),
        allow_upload_hosts=upload_hosts,
    )
