"""``wavespeed-mock``: the command line, a thin layer over the library.

``serve`` runs the fake under uvicorn; ``price`` applies a model's billing
rule (``--model``, any of the family) to durations or audio files without a
server.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sqlite3
import stat
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from mock_api import billing
from mock_api.errors import MediaError, Unavailable
from mock_api.models import DEFAULT_MODEL, MODELS, MODELS_BY_ID, ModelSpec
from mock_api.planning import Pace
from mock_api.quotas import Level
from mock_api.serving import (
    DB_FILENAME,
    DEFAULT_DATA_DIR,
    ENV_VAR,
    HTTP_CHOICES,
    LOOP_CHOICES,
    MEMORY,
    SHUTDOWN_GRACE_SECONDS,
    ServeOptions,
    stack,
)
from mock_api.serving import billing_policy as _policy
from mock_api.settings import UPLOAD_LIMITS
from mock_api.storage import redact

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mock_api.rules import FileRules
    from mock_api.service import MockService
    from mock_api.serving import Stack
    from mock_api.settings import Settings
    from mock_api.spec import Spec
    from mock_api.watch import RulesWatcher, Signature

F = TypeVar("F", bound=Callable[..., Any])

#: Every ``serve`` option can also come from the environment, as container users
#: expect: ``--port`` from ``WAVESPEED_MOCK_PORT``, ``--api-key`` from
#: ``WAVESPEED_MOCK_API_KEY`` (keys separated by spaces), and so on.
ENV_PREFIX = "WAVESPEED_MOCK_"


class _Usd(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 only
    """An amount of US dollars: a plain decimal number, at most micro-dollar precise."""

    name = "USD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().removeprefix("$")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            self.fail(f"{value!r} is not an amount in USD: expected a number such as 100 or 2.50")
        try:
            billing.usd_to_micros(amount)
        except ValueError as exc:
            self.fail(str(exc))
        return text


def _billing_options(func: F) -> F:
    """The billing policy's knobs, shared by ``serve`` and ``price``."""
    options = [
        click.option(
            "--min-seconds",
            type=click.IntRange(1, 600),
            default=5,
            show_default=True,
            help="Minimum billed seconds of wavespeed-ai/infinitetalk-fast/video-to-video-multi "
            "(newer sibling pages say 3); the other models bill their documented minimums.",
        ),
        click.option(
            "--padding-tolerance",
            type=click.FloatRange(0, 0.999),
            default=0.05,
            show_default=True,
            help="Seconds of encoder padding forgiven per audio track before rounding up.",
        ),
        click.option(
            "--over-max",
            type=click.Choice([m.value for m in billing.OverMaximum]),
            default=billing.OverMaximum.BILL_AT_CAP.value,
            show_default=True,
            help="Audio over 600 s: bill 600 s and cut the output, or fail the job (code 1401).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wavespeed-mock", prog_name="wavespeed-mock")
def main() -> None:
    """A local stand-in for WaveSpeed AI's InfiniteTalk Fast video-to-video multi API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--pace", default="fast", show_default=True, help=f"How long jobs take: {Pace.PRESETS_HELP}."
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help="Accept only this key (repeatable). Default: any non-empty key is its own account.",
)
@click.option(
    "--initial-balance",
    type=_Usd(),
    default="100",
    show_default=True,
    help="USD every new account starts with.",
)
@_billing_options
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of jobs that fail (task code 5000), drawn from --outcome-seed.",
)
@click.option(
    "--nsfw-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of jobs whose output is NSFW-flagged, drawn from --outcome-seed.",
)
@click.option(
    "--outcome-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the fail and NSFW draws; the same seed replays the same outcomes.",
)
@click.option(
    "--seed",
    "random_seed",
    type=int,
    default=None,
    help="Seed job ids and the seeds picked for seed=-1, for reproducible runs.",
)
@click.option(
    "--public-url",
    default=None,
    help="Base URL to put in responses (default: the one each request used).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests addressed to this host name (repeatable; '.example.com' "
    "takes any name under it, '*' any name). Loopback names, IP addresses, --host and "
    "--public-url's host are always answered; any other name is refused 403, so a web "
    "page cannot point a name of its own at the mock (DNS rebinding).",
)
@click.option(
    "--allow-remote-fetch",
    is_flag=True,
    help="Fetch job inputs from other hosts (public addresses only). Off by default.",
)
@click.option(
    "--strict-inputs",
    is_flag=True,
    help="Refuse (400) a submission field the model does not take; by default it is "
    "ignored. The platform's fields (enable_sync_mode, enable_base64_output, "
    "webhook_url) are always taken.",
)
@click.option(
    "--proxy-to",
    default=None,
    metavar="URL",
    help="Forward the WaveSpeed API (/api/...) to URL with each client's own key, "
    "validating requests and answers against openapi.yaml (violations in the journal "
    "and the log); the control API and sample media stay local.",
)
@click.option(
    "--record",
    default=None,
    metavar="DIR",
    help="With --proxy-to: append each exchange, sanitised (no key, secret or signature; "
    "ids, times, URLs, balances as placeholders), to DIR/exchanges.jsonl.",
)
@click.option(
    "--legacy-v2",
    type=click.Choice(["serve", "refuse"]),
    default="serve",
    show_default=True,
    help="The /api/v2 routes older ComfyUI nodes call: serve them as v3, or refuse them "
    "(403, naming the v3 path) as the service does for accounts made since mid-2026.",
)
@click.option(
    "--sync-timeout",
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    help="Seconds a sync-mode submission waits before answering code 5004.",
)
@click.option(
    "--level",
    type=click.Choice([lvl.value for lvl in Level]),
    default=None,
    help="Give every account a real account level's quotas (default: unlimited).",
)
@click.option(
    "--rules",
    "--scenarios",
    "scenarios_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    # The older names still work: --scenarios, and WAVESPEED_MOCK_SCENARIOS.
    envvar=["WAVESPEED_MOCK_RULES", "WAVESPEED_MOCK_SCENARIOS"],
    show_envvar=True,
    help="YAML file of scenario, fault and stub rules to load at start-up.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="With --rules: read the file again when it changes (checked every 0.5 s). A good "
    "edit replaces the file's rules (those added through the control API stay; unchanged "
    "rules keep their counters); a bad one is logged, and the rules in force stay.",
)
@click.option(
    "--control-token",
    default=None,
    help="Require this X-Mock-Token on the control API (/_mock). Without it, the control "
    "API is off when --host is not a loopback address.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    envvar="WAVESPEED_MOCK_DATA_DIR",
    help=f"Directory of the state database ({DB_FILENAME}), made if missing. "
    "Env: WAVESPEED_MOCK_DATA_DIR.",
)
@click.option(
    "--db",
    metavar="PATH|URL",
    default=None,
    envvar="WAVESPEED_MOCK_DB",
    help=f"The SQLite file to keep state in (default: DATA_DIR/{DB_FILENAME}), or a "
    "postgresql://user@host/dbname URL that several instances share (needs the postgres "
    f"extra); '{MEMORY}' keeps it in memory, lost on exit. Env: WAVESPEED_MOCK_DB.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes, sharing one database (not with --db :memory:).",
)
@click.option(
    "--webhook-allow-private/--no-webhook-allow-private",
    default=None,
    help="Let webhooks go to loopback, private and link-local addresses. Default: on when "
    "--host is loopback, off otherwise (then only public addresses, as remote fetching).",
)
@click.option(
    "--journal-max-mb",
    type=click.IntRange(1, 65536),
    default=32,
    show_default=True,
    help="Most memory the request journal holds, per worker; the oldest entries go first.",
)
@click.option(
    "--http",
    type=click.Choice(HTTP_CHOICES),
    default="auto",
    show_default=True,
    help="uvicorn's HTTP parser: auto is httptools (C) where it is installed, else h11 "
    "(pure Python). The answers are the same; httptools costs less per request.",
)
@click.option(
    "--loop",
    type=click.Choice(LOOP_CHOICES),
    default="auto",
    show_default=True,
    help="The event loop: auto is uvloop where it is installed (not on Windows), else "
    "asyncio's own.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="At info: one line per refused request (with its reason) and per job accepted "
    "and ended, besides uvicorn's access lines.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: every log line as one JSON object, with the event's fields as keys.",
)
def serve(
    host: str,
    port: int,
    pace: str,
    api_keys: tuple[str, ...],
    initial_balance: str,
    min_seconds: int,
    padding_tolerance: float,
    over_max: str,
    fail_rate: float,
    nsfw_rate: float,
    outcome_seed: int,
    random_seed: int | None,
    public_url: str | None,
    allowed_hosts: tuple[str, ...],
    allow_remote_fetch: bool,
    strict_inputs: bool,
    proxy_to: str | None,
    record: str | None,
    legacy_v2: str,
    sync_timeout: float,
    level: str | None,
    scenarios_file: Path | None,
    watch: bool,
    control_token: str | None,
    data_dir: Path,
    db: str | None,
    workers: int,
    webhook_allow_private: bool | None,
    journal_max_mb: int,
    http: str,
    loop: str,
    log_level: str,
    log_format: str,
) -> None:
    """Start the mock server (uvicorn).

    State (jobs, files, balances and ledgers, rules, webhook deliveries, the
    clock) is kept in a SQLite database and survives restarts; several
    --workers share it. The request journal is kept per worker.
    """
    import uvicorn
    import yaml

    from mock_api.app import create_app
    from mock_api.events import log_config
    from mock_api.server import serve_workers, url_host
    from mock_api.spec import SPEC_PATH, default_spec

    options = ServeOptions(
        host=host,
        port=port,
        pace=pace,
        api_keys=api_keys,
        initial_balance=initial_balance,
        min_seconds=min_seconds,
        padding_tolerance=padding_tolerance,
        over_max=over_max,
        fail_rate=fail_rate,
        nsfw_rate=nsfw_rate,
        outcome_seed=outcome_seed,
        random_seed=random_seed,
        public_url=public_url,
        allowed_hosts=allowed_hosts,
        allow_remote_fetch=allow_remote_fetch,
        strict_inputs=strict_inputs,
        proxy_to=proxy_to,
        record=record,
        legacy_v2=legacy_v2,
        sync_timeout=sync_timeout,
        level=level,
        control_token=control_token,
        journal_max_mb=journal_max_mb,
        webhook_allow_private=webhook_allow_private,
    )
    # Everything is checked before anything is made (a socket, a directory, a database).
    try:
        spec = default_spec()
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(f"cannot read the API contract {SPEC_PATH}: {exc}") from None
    try:
        settings = options.settings()
    except (ValueError, ArithmeticError) as exc:
        raise click.UsageError(str(exc)) from None
    _check_record_dir(settings.record_dir, record)
    rules, seen = _rules_option(spec, scenarios_file, watch, log_format)
    if workers > 1 and db == MEMORY:
        raise click.UsageError(f"--workers {workers} share a database file: not with --db {MEMORY}")
    runs_on = _stack(http, loop)
    listener = _listen(host, port)
    try:
        options = options.with_db(db, data_dir)
        service = options.service()
    except (OSError, RuntimeError, sqlite3.Error, Unavailable) as exc:
        listener.close()
        raise click.ClickException(f"cannot open the state database: {exc}") from None
    kept, watcher = _load_rules(service, scenarios_file, rules, seen, watch)
    port = listener.getsockname()[1]  # the one the system chose, for --port 0
    where = "memory (lost on exit)" if options.db == MEMORY else redact(options.db)
    control = _control_words(settings)
    kept += _rules_words(scenarios_file, watch)
    base = f"http://{url_host(_browser_host(host))}:{port}"
    # The dashboard is the control API's page: named only when the control API is on.
    dashboard = f"{base}/_mock/dashboard" if settings.control_enabled else None
    _say(
        log_format,
        "started",
        f"wavespeed-mock: state in {where}{kept}; "
        f"pace {settings.pace.name}, control API {control}, "
        f"{workers} worker{'s' if workers > 1 else ''} on {_stack_words(runs_on, http, loop)}, "
        f"docs at {base}/docs" + (f", dashboard at {dashboard}" if dashboard else ""),
        state=str(where),
        pace=settings.pace.name,
        control_api=settings.control_enabled,
        workers=workers,
        http=runs_on.http,
        loop=runs_on.loop,
        docs=f"{base}/docs",
        dashboard=dashboard,
        rules=None if scenarios_file is None else str(scenarios_file),
        watch=watch,
        control_token=bool(settings.control_token),
    )
    logs = log_config(log_level, log_format)
    if workers == 1:
        app = create_app(service=service, freeze_startup_heap=True)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=logs,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            http=runs_on.protocol,
            loop=runs_on.loop,
        )
        server = uvicorn.Server(config)
        with _watching(watcher):  # once the Config has set up the log the watcher writes to
            server.run(sockets=[listener])
        if not server.started:  # the app failed to start; uvicorn has said why
            raise SystemExit(3)
        return
    service.close()  # each worker opens its own connections
    os.environ[ENV_VAR] = options.to_json()
    config = uvicorn.Config(
        "mock_api.app:create_app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        log_config=logs,
        http=runs_on.protocol,
        loop=runs_on.loop,
    )
    with _watching(watcher):  # for every worker: the rules are in the database they share
        serve_workers(config, listener)


# Every serve option from the environment too: WAVESPEED_MOCK_ and the long name.
for _param in serve.params:
    if isinstance(_param, click.Option) and _param.envvar is None:
        _param.envvar = ENV_PREFIX + _param.opts[0].removeprefix("--").replace("-", "_").upper()
        _param.show_envvar = True


def _stack(http: str, loop: str) -> Stack:
    """What ``--http`` and ``--loop`` name, resolved; one not installed is a usage error."""
    try:
        stack(http, "asyncio")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--http") from None
    try:
        return stack(http, loop)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--loop") from None


def _stack_words(runs_on: Stack, http: str, loop: str) -> str:
    """The stack, saying so when ``auto`` fell back to pure Python for want of a package."""
    missing = [
        name
        for name, chosen, asked in (
            ("httptools", runs_on.http, http),
            ("uvloop", runs_on.loop, loop),
        )
        if asked == "auto" and chosen != name
    ]
    fallback = f" ({' and '.join(missing)} not installed: pure Python)" if missing else ""
    return f"{runs_on}{fallback}"


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a busy port stops ``serve`` before it makes anything."""
    from mock_api.server import tcp_listener

    try:
        sock = tcp_listener(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another server?): stop it, "
                f"or choose another port with --port or {ENV_PREFIX}PORT"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


def _check_record_dir(record_dir: str | None, given: str | None) -> None:
    """A ``--record`` folder that cannot be written is said at start-up, not at a request."""
    if record_dir is None:
        return
    try:
        Path(record_dir).mkdir(parents=True, exist_ok=True)
        (Path(record_dir) / "exchanges.jsonl").touch()
    except OSError as exc:
        raise click.UsageError(f"--record {given}: {exc.strerror or exc}") from None


def _say(log_format: str, event: str, message: str, level: str = "info", **fields: Any) -> None:
    """A line of ``serve``'s own before uvicorn starts: text, or JSON like the log's."""
    if log_format == "json":
        from mock_api.events import LOGGER, json_line

        click.echo(json_line(time.time(), level, LOGGER.name, event, message, fields), err=True)
    else:
        click.echo(message if level == "info" else f"{level}: {message}", err=True)


def _rules_option(
    spec: Spec, path: Path | None, watch: bool, log_format: str
) -> tuple[FileRules | None, Signature | None]:
    """The rules of ``--rules FILE``, if given, and the file's signature before it was read
    (an edit made meanwhile is then read again at ``--watch``'s first look)."""
    from mock_api.watch import signature

    if path is None:
        if watch:
            raise click.UsageError("--watch watches a rules file: give it with --rules FILE")
        return None, None
    seen = signature(path)
    return _rules_file(spec, path, log_format), seen


def _load_rules(
    service: MockService,
    path: Path | None,
    rules: FileRules | None,
    seen: Signature | None,
    watch: bool,
) -> tuple[str, RulesWatcher | None]:
    """Add the file's rules (those stored by an earlier run keep theirs, and their counters);
    returns what to say of the kept ones, and the file's watcher with ``--watch``."""
    from mock_api.rules import add_rules
    from mock_api.watch import RulesWatcher

    if path is None or rules is None:
        return "", None
    added = sum(add_rules(service, *rules, keep_existing=True))
    kept = f" ({rules.total - added} already stored, kept)" if added < rules.total else ""
    return kept, RulesWatcher(service, path, rules, seen) if watch else None


def _control_words(settings: Settings) -> str:
    """What the banner says of the control API."""
    if not settings.control_enabled:
        return "off (not loopback; see --control-token)"
    return "on (X-Mock-Token required)" if settings.control_token else "on"


def _rules_words(path: Path | None, watch: bool) -> str:
    """What the banner says of ``--rules``: the file, and whether its edits reload."""
    if path is None:
        return ""
    return f", rules from {path}" + (" (watched: edits reload)" if watch else "")


def _browser_host(host: str) -> str:
    """The host a browser on this machine opens for ``host``: a loopback address for
    the "every interface" ones (0.0.0.0, ::), which are no address to connect to."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name (localhost)
    if not address.is_unspecified:
        return host
    return "127.0.0.1" if address.version == 4 else "::1"


def _watching(watcher: RulesWatcher | None) -> AbstractContextManager[object]:
    """The watcher's thread runs while the block does (nothing without ``--watch``)."""
    from mock_api.watch import watching

    return watching(watcher)


def _rules_file(spec: Spec, path: Path, log_format: str) -> FileRules:
    """The rules in ``--rules FILE``; its errors name the file, the line and the key."""
    from mock_api.rules import read_rules

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--rules") from None
    try:
        rules = read_rules(spec, text)
    except ValueError as exc:
        raise click.BadParameter(f"{path}, {exc}", param_hint="--rules") from None
    if not rules.total:
        _say(log_format, "empty_rules", f"{path} holds no rules: nothing loaded from it", "warning")
    return rules


#: The longest duration ``price`` takes, in seconds (some 31,700 years). Every duration
#: over 600 s bills the 600 s cap; the bound keeps the rule's sums and millisecond
#: rounding exact within Decimal's 28 digits (13 + 6 here), and ``1e400`` out of them.
MAX_PRICE_SECONDS = Decimal(10**12)
#: A duration is read to the microsecond, as ffprobe and soxi print one: finer than
#: any audio sample (5.2 us at 192 kHz), and never exponent notation when printed.
MICROSECOND = Decimal("0.000001")


def _duration(value: str, side: str) -> Decimal:
    """Seconds given as a number, or read from an audio file's headers."""
    hint = f"--{side}"
    if not value.strip():
        raise click.BadParameter(
            "empty: give seconds (such as 7.3) or an audio file", param_hint=hint
        )
    try:
        seconds = Decimal(value)
    except InvalidOperation:
        return _file_seconds(value, hint)
    if not seconds.is_finite():
        raise click.BadParameter(
            f"{value} is not a number of seconds: give a finite one such as 7.3", param_hint=hint
        )
    if seconds < 0:
        raise click.BadParameter(
            f"{value} is below 0: a duration must be 0 or more seconds", param_hint=hint
        )
    if seconds > MAX_PRICE_SECONDS:
        raise click.BadParameter(
            f"{value} s is over the longest duration price takes, {MAX_PRICE_SECONDS} s "
            "(every duration over 600 s bills the 600 s cap)",
            param_hint=hint,
        )
    micro = seconds.quantize(MICROSECOND)  # exact: at most 19 digits under the bound
    if micro != seconds:
        raise click.BadParameter(
            f"{value} has more than 6 decimal places: durations are read to the microsecond",
            param_hint=hint,
        )
    return _plain(micro)


def _plain(seconds: Decimal) -> Decimal:
    """One plain form for every spelling: 1E+9 is 1000000000, 7.30 is 7.3, -0 is 0."""
    if not seconds:
        return Decimal(0)
    plain = seconds.normalize()
    return plain.quantize(Decimal(1)) if int(plain.as_tuple().exponent) > 0 else plain


def _file_seconds(value: str, hint: str) -> Decimal:
    """An audio file's duration, or a sentence saying what is wrong with the file."""

    def refuse(reason: str) -> NoReturn:
        raise click.BadParameter(reason, param_hint=hint)

    path = Path(value)
    try:
        found = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        refuse(f"{value}: not found (neither seconds nor an audio file)")
    except (OSError, ValueError) as exc:
        refuse(f"cannot read {value}: {getattr(exc, 'strerror', None) or exc}")
    if stat.S_ISDIR(found.st_mode):
        refuse(f"{value} is a directory, not an audio file")
    if not stat.S_ISREG(found.st_mode):
        refuse(f"{value} is not a regular file (a device, a pipe or a socket): give an audio file")
    limit = UPLOAD_LIMITS["audio"]
    if found.st_size > limit:  # not read: the API would refuse its upload
        refuse(f"{value} is {found.st_size} bytes: over the {limit} bytes the API takes for audio")
    if not found.st_size:
        refuse(f"{value} is empty")
    try:
        data = path.read_bytes()
    except OSError as exc:
        refuse(f"cannot read {value}: {exc.strerror or exc}")
    from mock_api.media import probe_audio

    try:
        info = probe_audio(data)
    except MediaError as exc:
        refuse(f"{value} is not audio price can read: {exc.reason}")
    assert info.duration is not None
    return _plain(info.duration)  # 12, as a typed duration prints, not 12.000


@main.command()
@click.option(
    "--model",
    "model_id",
    type=click.Choice([m.id for m in MODELS]),
    default=DEFAULT_MODEL.id,
    show_default=True,
    help="The model to price (its rate, minimum and audio inputs).",
)
@click.option("--left", default=None, help="Left audio (two-speaker models): seconds or a file.")
@click.option("--right", default=None, help="Right audio (two-speaker models): seconds or a file.")
@click.option("--audio", default=None, help="The audio (one-speaker models): seconds or a file.")
@click.option(
    "--order",
    type=click.Choice([o.value for o in billing.Order]),
    default="meanwhile",
    show_default=True,
    help="Speaking order (two-speaker models).",
)
@click.option(
    "--resolution",
    type=click.Choice(["480p", "720p"]),
    default=None,
    help="Output resolution (the standard models; default 480p).",
)
@_billing_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def price(
    ctx: click.Context,
    model_id: str,
    left: str | None,
    right: str | None,
    audio: str | None,
    order: str,
    resolution: str | None,
    min_seconds: int,
    padding_tolerance: float,
    over_max: str,
    as_json: bool,
) -> None:
    """Print the billed seconds and cost of one job, with the rule that produced them."""
    model = MODELS_BY_ID[model_id]
    policy = _policy(min_seconds, padding_tolerance, over_max)
    seconds = _price_durations(
        ctx, model, left=left, right=right, audio=audio, resolution=resolution
    )
    q = model.quote(seconds, policy, order=billing.Order(order), resolution=resolution)
    rate = model.policy(policy, resolution).rate_micros_per_second
    shown_resolution = resolution or model.default_resolution()
    if as_json:
        # The quote's one JSON form (tracks 1: a one-speaker model's audio is
        # left_seconds), with the model and the rate it was priced at.
        context: dict[str, Any] = {"model": model.id}
        if shown_resolution is not None:
            context["resolution"] = shown_resolution
        context["rate_usd_per_second"] = str(billing.micros_to_usd(rate))
        shown = q.as_dict()
        for name in ("left_seconds", "right_seconds", "spoken_seconds", "output_seconds"):
            shown[name] = str(_plain(Decimal(shown[name])))  # "4.2", as the text says it
        click.echo(json.dumps({**context, **shown}, indent=2))
        return
    click.echo(f"model:          {model.id}")
    if shown_resolution is not None:
        click.echo(f"resolution:     {shown_resolution}")
    if model.two_speakers:
        click.echo(f"order:          {q.order.value}")
        click.echo(f"left audio:     {q.left_seconds} s")
        click.echo(f"right audio:    {q.right_seconds} s")
    else:
        click.echo(f"audio:          {q.left_seconds} s")
    click.echo(f"spoken:         {q.spoken_seconds} s")
    if q.rejected:
        click.echo("billed:         rejected (over the maximum), nothing charged")
    else:
        click.echo(f"billed:         {q.billed_seconds} s")
        click.echo(f"cost:           {billing.format_usd(q.cost_micros)}")
        click.echo(f"output video:   {_plain(q.output_seconds)} s")
    click.echo(f"rule:           {q.rule}")


def _price_durations(
    ctx: click.Context,
    model: ModelSpec,
    *,
    left: str | None,
    right: str | None,
    audio: str | None,
    resolution: str | None,
) -> dict[str, Decimal]:
    """The durations of ``model``'s audio inputs; options it does not take are refused."""

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT

    if model.two_speakers:
        if audio is not None:
            raise click.UsageError(f"{model.id} takes --left and --right, not --audio")
        if left is None or right is None:
            raise click.UsageError(f"{model.id} needs --left and --right")
        durations = {
            "left_audio": _duration(left, "left"),
            "right_audio": _duration(right, "right"),
        }
    else:
        if left is not None or right is not None or given("order"):
            raise click.UsageError(
                f"{model.id} has one audio input: give --audio (no --left, --right or --order)"
            )
        if audio is None:
            raise click.UsageError(f"{model.id} needs --audio")
        durations = {model.audio_inputs[0]: _duration(audio, "audio")}
    if resolution is not None and resolution not in model.pricing.resolutions:
        raise click.UsageError(f"{model.id} has no resolution to choose")
    if given("min_seconds") and not model.pricing.follows_settings:
        raise click.UsageError(
            f"--min-seconds sets {DEFAULT_MODEL.id}'s minimum only; {model.id} bills its "
            f"documented {model.pricing.minimum_seconds} s minimum"
        )
    return durations


def _require_verify_extra(command: str) -> None:
    from mock_api.extras import require

    require("verify", command)


def _missing_extra(error: ImportError, command: str) -> str:
    """``verify needs the verify extra (schemathesis is missing): pip install "..."``."""
    from mock_api.extras import MissingExtra

    if isinstance(error, MissingExtra):
        return str(error)
    return str(MissingExtra("verify", command, error.name or str(error)))


def _cache_dir() -> Path:
    """This tool's cache: ``$XDG_CACHE_HOME/wavespeed-mock``, else ``~/.cache/wavespeed-mock``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wavespeed-mock"


@main.command()
@click.option("--base-url", required=True, envvar="WAVESPEED_BASE_URL", help="The server to check.")
@click.option("--api-key", required=True, envvar="WAVESPEED_API_KEY", help="Its API key.")
@click.option(
    "--budget",
    default="0",
    show_default=True,
    envvar="WAVESPEED_BUDGET",
    help="USD a paid endpoint may be charged; the fake needs none.",
)
@click.option(
    "-k", "select", default=None, help="Only the checks matching this pytest -k expression."
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between polls (default: 0.05 on the fake, 5 elsewhere).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds any one job may take (default: what the fake says it plans, at most 120 s "
    "plus 30 s per second of output, the default elsewhere), and any one request, from "
    "connecting to its last byte (default: 90).",
)
@click.option(
    "--max-run-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds the whole run may take; the check running then is cut and the run "
    "stops, saying which (default: 3600).",
)
@click.option(
    "--allow-upload-host",
    "allow_upload_hosts",
    multiple=True,
    metavar="HOST",
    help="A host besides the target's own origin that its upload tickets may send the "
    "bytes to, with the ticket's headers: HOST, HOST:PORT or *.DOMAIN (repeatable). "
    "A ticket naming any other host is a failure, and nothing is sent.",
)
@click.option(
    "--video", default=None, help="A real video of two people to submit instead of a synthetic one."
)
@click.option(
    "--second-api-key",
    default=None,
    envvar="WAVESPEED_SECOND_API_KEY",
    help="A second account's key, for the isolation checks (else a derived key where the "
    "target accepts any key, or those checks skip).",
)
@click.option(
    "--webhook-url",
    default=None,
    help="A public URL forwarding to the suite's webhook receiver, for a target that cannot "
    "reach this machine (else the webhook check skips there).",
)
@click.option(
    "--webhook-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="The local port the suite's webhook receiver listens on (0: any free port).",
)
def verify(
    base_url: str,
    api_key: str,
    budget: str,
    select: str | None,
    poll_interval: float | None,
    timeout: float | None,
    video: str | None,
    second_api_key: str | None,
    webhook_url: str | None,
    webhook_port: int,
    max_run_seconds: float | None,
    allow_upload_hosts: tuple[str, ...],
) -> None:
    """Run the contract suite against a server and report every check."""
    try:  # the suite needs the verify extra: say so, not an import traceback
        _require_verify_extra("verify")
        from mock_api.contract.budget import parse_budget
        from mock_api.contract.options import OptionError, parse_upload_hosts
        from mock_api.verify import run
    except ImportError as exc:
        raise click.ClickException(_missing_extra(exc, "verify")) from None
    try:
        parse_budget(budget)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--budget") from None
    try:
        hosts = parse_upload_hosts(allow_upload_hosts)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-upload-host") from None
    # Hypothesis caches what it learns (the constants it draws from this package) under
    # .hypothesis/ in the working directory: right for a project's test suite, litter for
    # a command. verify keeps it in the user's cache directory, unless told otherwise.
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(_cache_dir() / "hypothesis"))
    raise SystemExit(
        run(
            base_url,
            api_key,
            budget,
            select=select,
            poll_interval=poll_interval,
            timeout=timeout,
            video_url=video,
            second_api_key=second_api_key,
            webhook_url=webhook_url,
            webhook_port=webhook_port,
            max_run_seconds=max_run_seconds,
            allow_upload_hosts=hosts,
        )
    )


@main.group()
def parity() -> None:
    """Record the parity scenarios from a target, or check a target against them.

    Each scenario is the cheapest flow that shows one behaviour (a 5 s minimum job
    per order, the padding band, the cap, a refund, a 402, a 429, two accounts, a
    webhook refused then retried, sync mode, the family's tariffs, the error shapes,
    an upload, the catalogue); its snapshot is one JSON file in --snapshots,
    sanitised (no key, secret or signature; ids, times, URLs and balances as stable
    placeholders). On a paid target both record and check are priced before they
    start and held to --budget.
    """


def _parity_target(
    base_url: str | None,
    api_key: str | None,
    second_api_key: str | None = None,
    upload_hosts: tuple[str, ...] = (),
) -> Any:
    try:  # the scenarios drive targets with the contract's machinery: the verify extra
        _require_verify_extra("parity")
        from mock_api.contract.options import OptionError, parse_upload_hosts
        from mock_api.contract.target import TargetUnreachable, TargetUnusable
        from mock_api.parity.runner import open_target
    except ImportError as exc:
        raise click.ClickException(_missing_extra(exc, "parity")) from None

    try:
        hosts = parse_upload_hosts(upload_hosts)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-upload-host") from None
    try:
        return open_target(base_url, api_key, second_api_key=second_api_key, upload_hosts=hosts)
    except (TargetUnreachable, TargetUnusable, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


_SNAPSHOTS = click.option(
    "--snapshots",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("fixtures/parity"),
    show_default=True,
    help="The folder of snapshot files (one JSON file per scenario).",
)
_ONLY = click.option(
    "--only", multiple=True, help="Only this scenario (repeatable); default: all of them."
)
_SECOND_KEY = click.option(
    "--second-api-key",
    default=None,
    envvar="WAVESPEED_SECOND_API_KEY",
    help="A second account's key, for the two-accounts scenario (skipped without one).",
)
_UPLOAD_HOSTS = click.option(
    "--allow-upload-host",
    "upload_hosts",
    multiple=True,
    metavar="HOST",
    help="A host besides the target's own origin that its upload tickets may send the "
    "bytes to, with the ticket's headers: HOST, HOST:PORT or *.DOMAIN (repeatable).",
)


def _budget_option(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--budget",
        default=default,
        show_default=True,
        envvar="WAVESPEED_BUDGET",
        help="USD a paid endpoint may be charged (priced before it starts); the fake needs none.",
    )


def _micros(budget: str) -> int:
    from mock_api.contract.budget import parse_budget

    try:
        return parse_budget(budget)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--budget") from None


@parity.command("record")
@click.option("--base-url", required=True, envvar="WAVESPEED_BASE_URL", help="The target.")
@click.option("--api-key", required=True, envvar="WAVESPEED_API_KEY", help="Its API key.")
@_SECOND_KEY
@_UPLOAD_HOSTS
@_budget_option("0")
@_SNAPSHOTS
@_ONLY
def parity_record(
    base_url: str,
    api_key: str,
    second_api_key: str | None,
    upload_hosts: tuple[str, ...],
    budget: str,
    directory: Path,
    only: tuple[str, ...],
) -> None:
    """Record the scenarios from a target into --snapshots (the real service: within --budget)."""
    budget_micros = _micros(budget)
    target = _parity_target(base_url, api_key, second_api_key, upload_hosts)
    from mock_api.contract.budget import BudgetExceeded
    from mock_api.parity.runner import record_snapshots
    from mock_api.parity.snapshots import ScenarioBroke

    try:
        record_snapshots(target, directory, budget_micros=budget_micros, only=only, say=click.echo)
    except ScenarioBroke as exc:
        raise click.ClickException(f"not recorded, the flow broke off: {exc}") from None
    except (BudgetExceeded, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        target.close()


@parity.command("check")
@click.option(
    "--base-url",
    default=None,
    envvar="WAVESPEED_BASE_URL",
    help="The target (default: the fake, in this process).",
)
@click.option("--api-key", default=None, envvar="WAVESPEED_API_KEY", help="Its API key.")
@_SECOND_KEY
@_UPLOAD_HOSTS
@_budget_option("0")
@_SNAPSHOTS
@_ONLY
def parity_check(
    base_url: str | None,
    api_key: str | None,
    second_api_key: str | None,
    upload_hosts: tuple[str, ...],
    budget: str,
    directory: Path,
    only: tuple[str, ...],
) -> None:
    """Run the scenarios against a target and diff it against the snapshots, path by path."""
    if not directory.is_dir():
        raise click.ClickException(
            f"no snapshots in {directory}: record them with `wavespeed-mock parity record`"
        )
    budget_micros = _micros(budget)
    target = _parity_target(base_url, api_key, second_api_key, upload_hosts)
    from mock_api.contract.budget import BudgetExceeded
    from mock_api.parity.runner import check_snapshots, report

    try:
        results = check_snapshots(
            target, directory, only=only, budget_micros=budget_micros, say=click.echo
        )
    except (BudgetExceeded, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        target.close()
    for line in report(results, target.description):
        click.echo(line)
    if any(result.verdict in ("differs", "not recorded") for result in results):
        raise SystemExit(1)


# Last: `python -m mock_api.cli` must see every command (parity's group is defined above).
if __name__ == "__main__":
    main()
