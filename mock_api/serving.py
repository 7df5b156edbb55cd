"""What ``wavespeed-mock serve`` was asked for, in a form that crosses processes.

``serve --workers N`` runs N uvicorn worker processes, each of which builds its
own app by calling :func:`mock_api.app.create_app_from_env`. They learn the
command line's options from one environment variable, :data:`ENV_VAR`, which
holds a :class:`ServeOptions` as JSON; they share their state through the
database it names.

Where state lives: ``--db PATH``, else ``state.db`` inside ``--data-dir``
(default :data:`DEFAULT_DATA_DIR`, relative to the working directory, like
``.pytest_cache``); ``--db postgresql://...`` keeps it in a PostgreSQL database
that instances on several machines share; ``--db :memory:`` keeps it in this
process only.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_api import billing
from mock_api.clock import OffsetClock
from mock_api.fetch import RemoteFetchPolicy
from mock_api.planning import OutcomeRates, Pace
from mock_api.quotas import UNLIMITED, Level
from mock_api.service import MockService
from mock_api.settings import Settings
from mock_api.storage import Store
from mock_api.storage.chooser import is_postgres_url, open_database
from mock_api.storage.memory import MemoryStore
from mock_api.urls import is_loopback

ENV_VAR = "WAVESPEED_MOCK_SERVE"
DEFAULT_DATA_DIR = ".wavespeed-mock"
DB_FILENAME = "state.db"
MEMORY = ":memory:"
#: On SIGTERM, requests still running after this many seconds are ended (cancelled),
#: not waited for: one sleeping in a latency fault or waiting in sync mode would
#: otherwise keep the process alive as long as it sleeps. With the lifespan's own
#: shutdown after it, the server is gone within 5 seconds (README, "Limits").
SHUTDOWN_GRACE_SECONDS = 3


def billing_policy(
    min_seconds: int, padding_tolerance: float, over_max: str
) -> billing.BillingPolicy:
    return billing.BillingPolicy(
        minimum_seconds=min_seconds,
        padding_tolerance=Decimal(str(padding_tolerance)),
        over_maximum=billing.OverMaximum(over_max),
    )


@dataclass(frozen=True)
class ServeOptions:
    """``serve``'s options, as plain JSON-ready values (the CLI's defaults)."""

    host: str = "127.0.0.1"
    port: int = 8000
    pace: str = "fast"
    api_keys: tuple[str, ...] = ()
    initial_balance: str = "100"
    min_seconds: int = 5
    padding_tolerance: float = 0.05
    over_max: str = billing.OverMaximum.BILL_AT_CAP.value
    fail_rate: float = 0.0
    nsfw_rate: float = 0.0
    outcome_seed: int = 0
    random_seed: int | None = None
    public_url: str | None = None
    allow_remote_fetch: bool = False
    sync_timeout: float = 60.0
    level: str | None = None
    control_token: str | None = None
    journal_max_mb: int = 32
    strict_inputs: bool = False
    legacy_v2: str = "serve"
    proxy_to: str | None = None
    record: str | None = None
    #: None: allowed when serving on loopback only (local receivers are the common case).
    webhook_allow_private: bool | None = None
    #: Host names answered besides loopback names, --host and --public-url's host.
    allowed_hosts: tuple[str, ...] = ()
    #: The SQLite file (absolute once resolved), a PostgreSQL URL, or :data:`MEMORY`.
    db: str = MEMORY

    def settings(self) -> Settings:
        """The service's settings; raises ValueError naming what is wrong."""
        return Settings(
            billing=billing_policy(self.min_seconds, self.padding_tolerance, self.over_max),
            pace=Pace.parse(self.pace),
            initial_balance_micros=billing.usd_to_micros(self.initial_balance),
            api_keys=frozenset(self.api_keys) if self.api_keys else None,
            outcomes=OutcomeRates(
                fail_rate=self.fail_rate, nsfw_rate=self.nsfw_rate, seed=self.outcome_seed
            ),
            random_seed=self.random_seed,
            remote_fetch=RemoteFetchPolicy(enabled=self.allow_remote_fetch),
            public_url=self.public_url.rstrip("/") if self.public_url else None,
            sync_timeout_seconds=self.sync_timeout,
            limits=Level(self.level).limits if self.level else UNLIMITED,
            control_enabled=self.control_token is not None or is_loopback(self.host),
            control_token=self.control_token,
            journal_max_bytes=self.journal_max_mb * 1024 * 1024,
            strict_inputs=self.strict_inputs,
            legacy_v2=self.legacy_v2 == "serve",
            proxy_to=self.proxy_to.rstrip("/") if self.proxy_to else None,
            record_dir=str(Path(self.record).expanduser().resolve()) if self.record else None,
            webhook_allow_private=(
                is_loopback(self.host)
                if self.webhook_allow_private is None
                else self.webhook_allow_private
            ),
            allowed_hosts=self.answered_hosts(),
        )

    def answered_hosts(self) -> frozenset[str]:
        """The ``Host`` names this server answers to (:mod:`mock_api.guard`)."""
        names = {self.host, *self.allowed_hosts}
        if self.public_url:
            names.add(urlsplit(self.public_url).hostname or "")
        return frozenset(name.strip().lower() for name in names if name.strip())

    def with_db(self, db: str | Path | None, data_dir: str | Path) -> ServeOptions:
        """Resolve ``--db`` / ``--data-dir`` to one absolute path, making the directory."""
        if db is not None and str(db) == MEMORY:
            return replace(self, db=MEMORY)
        if is_postgres_url(db):
            return replace(self, db=str(db))
        path = Path(db) if db is not None else Path(data_dir) / DB_FILENAME
        path = path.expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return replace(self, db=str(path))

    def open_store(self) -> Store:
        if self.db == MEMORY:
            return MemoryStore()
        return open_database(self.db)

    def service(self) -> MockService:
        """The service ``serve`` runs: time flows by itself, and the control API can
        still freeze or advance it; on a database, the clock's state is stored there."""
        store = self.open_store()
        clock = OffsetClock(None if isinstance(store, MemoryStore) else store.clock)
        return MockService(self.settings(), clock, store)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        data: dict[str, Any] = json.loads(text)
        data["api_keys"] = tuple(data.get("api_keys") or ())
        return cls(**data)


#: The HTTP parsers and event loops ``serve --http`` and ``--loop`` choose from, by
#: uvicorn's names; ``auto`` is the first of the other two that is installed.
HTTP_CHOICES = ("auto", "httptools", "h11")
LOOP_CHOICES = ("auto", "uvloop", "asyncio")
#: Where httptools is used: uvicorn's protocol, letting a request framed two ways
#: reach the guard (:mod:`mock_api.httptools_protocol`).
HTTPTOOLS_PROTOCOL = "mock_api.httptools_protocol:HttpToolsProtocol"


@dataclass(frozen=True)
class Stack:
    """The HTTP parser and the event loop a server runs on, by uvicorn's names.

    httptools (C, llhttp) and uvloop (libuv) cost a request much less CPU than
    h11 and asyncio (pure Python): ``benchmarks/run.py`` measures both. The
    answers are the same.
    """

    http: str  # "httptools" or "h11"
    loop: str  # "uvloop" or "asyncio"

    @property
    def fast(self) -> bool:
        return (self.http, self.loop) == ("httptools", "uvloop")

    @property
    def protocol(self) -> str:
        """``uvicorn.Config``'s ``http`` for this stack (its ``loop`` is :attr:`loop`)."""
        return HTTPTOOLS_PROTOCOL if self.http == "httptools" else self.http

    def __str__(self) -> str:
        return f"{self.http} + {self.loop}"


def _installed(module: str) -> bool:
    """Whether ``module`` imports, as uvicorn's ``auto`` decides."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _resolve(choice: str, choices: tuple[str, ...], native: str, fallback: str) -> str:
    if choice not in choices:
        raise ValueError(f"{choice!r} is not one of {', '.join(choices)}")
    if choice == "auto":
        return native if _installed(native) else fallback
    if choice == native and not _installed(native):
        raise ValueError(
            f"{native} is not installed here (pip install {native}; it has no build for "
            f"every platform): auto falls back to {fallback}"
        )
    return choice


def stack(http: str = "auto", loop: str = "auto") -> Stack:
    """The stack ``http`` and ``loop`` name, ``auto`` resolved as uvicorn resolves it.

    Raises ValueError when a named one is unknown or not installed.
    """
    return Stack(
        _resolve(http, HTTP_CHOICES, "httptools", "h11"),
        _resolve(loop, LOOP_CHOICES, "uvloop", "asyncio"),
    )
