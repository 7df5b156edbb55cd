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
``--wavespeed-video URL``       ``WAVESPEED_VIDEO``     a real video of two people
``--wavespeed-second-api-key``  ``WAVESPEED_SECOND_     another account's key, for the
                                API_KEY``               isolation checks
``--wavespeed-webhook-url URL``                         a public URL forwarded to the
                                                        suite's webhook receiver
``--wavespeed-webhook-port N``                          the receiver's local port (0: any)
==============================  ======================  ==================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from mock_api.contract.budget import parse_budget

__all__ = ["OPTIONS", "OptionError", "TargetOptions", "add_options", "resolve"]


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
        "it plans for the job, or 120 s plus 30 s per second of output elsewhere).",
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
    )
