"""Everything a user can change about the fake, in one frozen object.

The CLI's ``serve`` options, the pytest plugin and ``create_app`` all build a
:class:`Settings`; nothing else reads the environment or argv.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mock_api.billing import BillingPolicy
from mock_api.fetch import RemoteFetchPolicy
from mock_api.journal import DEFAULT_MAX_BYTES
from mock_api.planning import PACES, OutcomeRates, Pace
from mock_api.quotas import UNLIMITED, Limits

MB = 1_000_000

#: Documented upload limits of the real service, by media kind, in bytes.
UPLOAD_LIMITS: dict[str, int] = {
    "image": 20 * MB,
    "video": 100 * MB,
    "audio": 50 * MB,
    "other": 20 * MB,  # not documented; the strictest of the three
}

MODEL_ID = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"

#: The largest balance an account can be given (micro-dollars): a billion dollars, so
#: every sum of a ledger stays far inside SQLite's 64-bit integers.
MAX_BALANCE_MICROS = 1_000_000_000 * 1_000_000


@dataclass(frozen=True)
class Settings:
    billing: BillingPolicy = field(default_factory=BillingPolicy)
    pace: Pace = PACES["fast"]
    #: Every new account starts with this balance (micro-dollars): $100.
    initial_balance_micros: int = 100_000_000
    #: ``None``: any non-empty key is its own account. Otherwise only these keys.
    api_keys: frozenset[str] | None = None
    outcomes: OutcomeRates = field(default_factory=OutcomeRates)
    #: Seeds ids and the seeds picked for ``seed: -1``; ``None`` draws from the OS.
    random_seed: int | None = None
    remote_fetch: RemoteFetchPolicy = field(default_factory=RemoteFetchPolicy)
    #: The base URL put in ``urls.get``, outputs and uploads; ``None``: the request's own.
    public_url: str | None = None
    upload_limits: dict[str, int] = field(default_factory=lambda: dict(UPLOAD_LIMITS))
    #: How long an upload ticket stays usable.
    ticket_ttl_ms: int = 3_600_000
    #: The longest source video accepted, in seconds (the product's 10 minutes).
    max_video_seconds: int = 600
    #: How long a sync-mode submission waits for its job (wall-clock seconds).
    sync_timeout_seconds: float = 60.0
    #: Quotas of every account unless the control API sets others. Unlimited by
    #: default, so nothing is throttled unless asked (``--level bronze`` imitates
    #: a new real account: 2 videos a minute, 2 at once).
    limits: Limits = UNLIMITED
    #: The control API (``/_mock/...``): off, or guarded by this token when set.
    control_enabled: bool = True
    control_token: str | None = None
    #: Webhooks may go to loopback, private and link-local addresses (local receivers:
    #: tests, a developer's machine). ``serve`` turns it off beyond loopback.
    webhook_allow_private: bool = True
    #: The most the request journal holds (bytes); the oldest entries go first.
    journal_max_bytes: int = DEFAULT_MAX_BYTES
    #: A submission's (or quote's) field that is neither one of the model's inputs
    #: nor a platform field (sync mode, base64 output, the webhook): ``False`` ignores
    #: it (not read, not stored), as one integration says the platform does; ``True``
    #: refuses it with a 400 naming it, as another says (README: unknown fields).
    strict_inputs: bool = False
    #: Serve the ``/api/v2`` routes older ComfyUI nodes call, as v3 (``True``), or
    #: refuse them with 403 as the service does for accounts made since mid-2026.
    legacy_v2: bool = True
    #: Forward ``/api/`` to this server instead of serving it (``serve --proxy-to``),
    #: validating both ways against the spec (:mod:`mock_api.proxy`).
    proxy_to: str | None = None
    #: With ``proxy_to``: append each exchange, sanitised, to ``<record_dir>/exchanges.jsonl``.
    record_dir: str | None = None
    #: The ``Host`` names answered (:mod:`mock_api.guard`: DNS rebinding); ``None``: any,
    #: as in tests. ``serve`` sets the loopback names, ``--host``, ``--public-url``'s host
    #: and ``--allowed-host``; ``localhost`` names and IP literals are always answered.
    allowed_hosts: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.initial_balance_micros <= MAX_BALANCE_MICROS:
            raise ValueError(
                f"the initial balance must be from 0 to {MAX_BALANCE_MICROS // 1_000_000} USD"
            )
        if self.api_keys is not None and not all(self.api_keys):
            raise ValueError("api_keys cannot contain an empty key")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must be an http(s) URL")
        if self.proxy_to is not None and not self.proxy_to.startswith(("http://", "https://")):
            raise ValueError("--proxy-to (proxy_to) must be an http(s) URL")
        if self.record_dir is not None and self.proxy_to is None:
            raise ValueError("recording (--record) needs --proxy-to: it records what is proxied")
        if self.sync_timeout_seconds < 0:
            raise ValueError("sync_timeout_seconds must be >= 0")
