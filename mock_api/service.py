"""The fake's behaviour, between the HTTP edge and the pure cores.

:class:`MockService` is the jobs' service: it reads the submitted media,
prices the job with :mod:`mock_api.billing`, plans its life with
:mod:`mock_api.planning`, has it charged and stores it; it answers for jobs,
the history, price quotes, outputs and samples. Routes only translate HTTP to
these calls and back.

It is the one way to the state: nothing else holds its store
(``tests/test_architecture.py``). It is composed of small services, one
concern each, which callers use by their named operations:

* ``accounts`` (:class:`~mock_api.accounts.Accounts`): keys to accounts,
  balances, the ledger, charges, quotas' settings;
* ``uploads`` (:class:`~mock_api.uploads.Uploads`): uploaded files, tickets;
* ``scenarios``, ``faults``, ``stubs``: the rule books (add, remove, list);
* ``webhooks``: the dispatcher (deliveries, pump);
* ``journal`` (the request journal), ``clock``, and ``spec`` (validation).

Each keeps what it needs in the store protocol of its own concern
(:mod:`mock_api.storage`), and nothing more.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mock_api import billing, hints, quotas
from mock_api.accounts import Accounts
from mock_api.clock import Clock, ManualClock, OffsetClock, SystemClock
from mock_api.datauri import is_data_uri, read_data_uri
from mock_api.errors import (
    InvalidInput,
    MediaError,
    NotFound,
    RateLimited,
    TaskError,
    ValidationFailed,
    Violation,
)
from mock_api.faults import FaultBook
from mock_api.fetch import fetch_remote
from mock_api.history import HistoryPage, HistoryQuery
from mock_api.history import page as history_page
from mock_api.journal import Journal
from mock_api.json_input import check_storable
from mock_api.lifecycle import NEVER_MS, Outcome, Status, status_at
from mock_api.media import (
    MediaInfo,
    probe_audio,
    probe_image,
    probe_video,
    write_mp4,
)
from mock_api.models import DEFAULT_MODEL, ModelSpec, Registry, load_registry
from mock_api.planning import Directive, choose_outcome, job_key, plan_job
from mock_api.records import Job, MediaKind
from mock_api.samples import Sample, silence
from mock_api.scenarios import ScenarioBook
from mock_api.settings import Settings
from mock_api.spec import RequestInvalid, Spec, default_spec
from mock_api.storage import READ_SCOPE, Store
from mock_api.storage.memory import MemoryStore
from mock_api.stubs import StubBook
from mock_api.uploads import Uploads
from mock_api.urls import FILES_PREFIX, OUTPUTS_PREFIX, SAMPLES_PREFIX, Urls
from mock_api.views import prediction
from mock_api.webhooks import (
    SECRET_PREFIX,
    Delivery,
    WebhookDispatcher,
    deleted_reason,
    payload_bytes,
)

_PROBES = {"video": probe_video, "audio": probe_audio, "image": probe_image}


@dataclass(frozen=True)
class _Media:
    info: MediaInfo
    digest: str
    #: The bytes of an input given inline (a ``data:`` URI), kept as a file with the job.
    inline: bytes | None = None


def _capability_id() -> str:
    """An id that grants access on its own (an upload's URL, a webhook secret): 128 bits
    from the system's CSPRNG, never from ``random_seed``."""
    return secrets.token_hex(16)


class MockService:
    def __init__(
        self,
        settings: Settings | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        spec: Spec | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock = clock or SystemClock()
        self.store: Store = store if store is not None else MemoryStore()
        self.spec = spec or default_spec()
        #: The models this service serves: those its spec defines (mock_api.models).
        self.models: Registry = load_registry(self.spec)
        # Per process, even when several share one store.
        self.journal = Journal(max_bytes=self.settings.journal_max_bytes)
        self.accounts = Accounts(self.settings, self.clock, self.store.accounts, self.store.limits)
        # Upload ids are capability URLs (whoever has one reads the file): never seeded.
        self.uploads = Uploads(self.settings, self.clock, self.store.files, _capability_id)
        self.scenarios = ScenarioBook(self.store.rules)
        self.faults = FaultBook(self.store.rules)
        self.stubs = StubBook(self.store.rules)
        self.webhooks = WebhookDispatcher(
            self.clock,
            self._webhook_payload,
            self.webhook_secret,
            store=self.store.deliveries,
            allow_private=self.settings.webhook_allow_private,
        )
        seed = self.settings.random_seed
        # Seeded ids replay on a fresh store; a service opening a store that
        # others opened before (another worker, an earlier run) draws a sequence
        # of its own, so its ids never collide with theirs.
        instance = self.store.next_instance()
        self._rng_seed = seed if seed is None or instance == 0 else f"{seed}/{instance}"
        self._rng = (
            random.Random(self._rng_seed)  # noqa: S311
            if seed is not None
            else random.SystemRandom()
        )
        self._rng_lock = threading.Lock()
        self._directives: deque[Directive] = deque()

    def reset(self) -> None:
        """Forget all state (jobs, files, accounts, journal); the clock and settings stay."""
        self.store.reset()
        self.journal.clear()
        self.scenarios.clear()
        self.faults.clear()
        self.stubs.clear()
        self.webhooks.clear()
        with self._rng_lock:
            self._directives.clear()
            if self._rng_seed is not None:
                self._rng.seed(self._rng_seed)

    def _new_id(self) -> str:
        """A job's or a delivery's id: seeded with ``random_seed``, so runs replay."""
        with self._rng_lock:
            return f"{self._rng.getrandbits(128):032x}"

    # jobs

    def job(self, account: str, job_id: str) -> Job:
        job = self.store.jobs.job(job_id)
        if job is None or job.account != account:
            raise NotFound(f"prediction {job_id} not found")
        return job

    def jobs(self, account: str | None = None) -> list[Job]:
        """Stored jobs in submission order: every account's, or one account's."""
        return self.store.jobs.jobs(account)

    def any_job(self, job_id: str) -> Job | None:
        """A job whoever owns it (the control API and test handles see every account)."""
        return self.store.jobs.job(job_id)

    @property
    def shares_state(self) -> bool:
        """Other processes may change the state (SQLite): reads need a per-request scope."""
        return self.store.shared

    @property
    def state_may_wait(self) -> bool:
        """Reaching the state may wait (PostgreSQL): requests run off the event loop."""
        return self.store.blocking

    def close(self) -> None:
        """Release the store (checkpoint and close a database); the service is done."""
        self.store.close()

    def check_state(self) -> None:
        """Read the state as a request would, but outside any read scope, so a store that
        others share asks its database (one round trip on PostgreSQL) rather than a cache.
        Raises what such a request would meet (:class:`Unavailable`, or the driver's
        error) when the state cannot answer. What a readiness check asks
        (:mod:`mock_api.routes.health`)."""
        outside = READ_SCOPE.set(None)
        try:
            self.store.clock.clock_state()
        finally:
            READ_SCOPE.reset(outside)

    def run_until_idle(self) -> list[str]:
        """Move time to when every job that will finish has finished; return their ids.

        Jobs held on purpose (a ``stuck-created`` or ``stuck-processing`` scenario)
        never finish, so they are left where they are and do not move the clock.
        Only a clock that can be steered (manual or offset) moves; on the system
        clock this raises ValueError.
        """
        clock = self.clock
        if not isinstance(clock, ManualClock | OffsetClock):
            raise ValueError("the system clock cannot be steered")
        now = clock.now_ms()
        due = [
            job
            for job in self.store.jobs.jobs()
            if not status_at(job.plan, now).terminal and job.plan.finished_ms < NEVER_MS
        ]
        finish = max((job.plan.finished_ms for job in due), default=now)
        if finish > now:
            clock.set(finish)
        return [job.id for job in due]

    def queue_directive(self, directive: Directive, count: int = 1) -> None:
        """Apply ``directive`` to the next ``count`` submissions without a header."""
        with self._rng_lock:
            self._directives.extend([directive] * count)

    def _next_directive(self) -> Directive | None:
        with self._rng_lock:
            return self._directives.popleft() if self._directives else None

    async def submit(
        self,
        account: str,
        body: Mapping[str, Any],
        *,
        urls: Urls,
        directive: Directive | None = None,
        webhook: str | None = None,
        model: ModelSpec = DEFAULT_MODEL,
    ) -> Job:
        """Accept a job of ``model``: read its media, price it, charge for it, plan it.

        The body has already passed the model's schema in the spec. Inputs that cannot be read, a
        source video over the limit, or audio over the maximum under the
        reject policy do not fail the request: they make a job that fails
        with a task code and costs nothing. What the job does is decided, in
        order, by ``directive`` (the request's header), the queue a test
        filled, the scenario rules, then the seeded rates.
        """
        self._check_rate(account, self.clock.now_ms())  # before fetching any media
        body = self._known_inputs(model, body)
        inputs = {**model.default_inputs(), **body}
        inputs.pop("enable_sync_mode", None)
        inputs.pop("webhook_url", None)
        seed = inputs["seed"]
        if seed == -1:
            with self._rng_lock:
                seed = self._rng.randint(0, 2**31 - 1)
        stored_input = {**inputs, "seed": seed}
        # Everything the transaction writes is checked and converted before it opens.
        check_storable(stored_input)
        if webhook is not None:
            check_storable(webhook, "webhook")

        media: dict[str, _Media] = {}
        quote: billing.Quote | None = None
        failure: TaskError | None = None
        try:
            for name, kind in model.media_inputs:
                if inputs.get(name):  # "" is an unused optional input (README: empty inputs)
                    media[name] = await self._read_media(name, inputs[name], kind, urls)
            quote = self._price(model, media, inputs)
        except TaskError as exc:
            failure = exc

        canonical = {k: (media[k].digest if k in media else v) for k, v in inputs.items()}
        canonical["seed"] = seed
        key = job_key(seed, json.dumps(canonical, sort_keys=True, default=str))

        queued: Directive | None = None
        try:
            with self.store.transaction():
                now = self.clock.now_ms()
                # The quotas are decided in the transaction that inserts the job, so
                # workers sharing a database cannot each take the last free place.
                self._check_rate(account, now)
                if quote is not None:
                    self.accounts.check_funds(account, quote.cost_micros, now)
                # Only a job that is accepted uses up a queued outcome or a counted rule
                # (a rule's count is a write the transaction takes back if it fails).
                if directive is None:
                    queued = self._next_directive()
                directive = (
                    directive
                    or queued
                    or self.scenarios.directive_for(account, inputs)
                    or Directive()
                )
                # Inline media become files, as the real service keeps them: the job's
                # input names each by URL (history's `inputs`, `input`, webhooks).
                kept = {
                    name: self.uploads.store_file(account, f"{name}.{m.info.container}", m.inline)
                    for name, m in media.items()
                    if m.inline is not None
                }
                stored_input = {
                    **stored_input,
                    **{name: urls.file(f.id, f.filename) for name, f in kept.items()},
                }
                job = self._insert(
                    model, account, stored_input, seed, key, quote, failure, directive, now
                )
                if webhook is not None:
                    self.webhooks.register(
                        Delivery(
                            id=f"msg_{self._new_id()}",
                            job_id=job.id,
                            account=account,
                            url=webhook,
                            base_url=urls.base,
                            next_attempt_ms=job.plan.finished_ms,
                        )
                    )
        except BaseException:
            if queued is not None:  # not used up after all: the next submission gets it
                with self._rng_lock:
                    self._directives.appendleft(queued)
            raise
        return job

    def _insert(
        self,
        model: ModelSpec,
        account: str,
        stored_input: Mapping[str, Any],
        seed: int,
        key: str,
        quote: billing.Quote | None,
        failure: TaskError | None,
        directive: Directive,
        now: int,
    ) -> Job:
        """Plan, charge and store the job (in :meth:`submit`'s transaction)."""
        output_seconds = quote.output_seconds if quote else Decimal(0)
        if failure is not None:
            outcome = Outcome(Status.FAILED, code=failure.code, error=failure.message)
        else:
            outcome = choose_outcome(directive.outcome, self.settings.outcomes, key)
        plan = plan_job(
            created_ms=now,
            output_seconds=output_seconds,
            pace=self.settings.pace,
            key=key,
            outcome=outcome,
            directive=directive,
            not_before_ms=self._free_slot_ms(account, now, directive),
        )
        job = Job(
            id=self._new_id(),
            account=account,
            model=model.id,
            input=stored_input,
            seed=seed,
            plan=plan,
            quote=quote,
            output_ms=int(output_seconds * 1000),
            variant=int(key[:8], 16),
        )
        if quote is not None:
            self.accounts.charge(job, quote, now)
        self.store.jobs.add_job(job)
        return job

    def history(self, account: str, query: HistoryQuery) -> HistoryPage:
        """One page of the account's predictions of the last 7 days (:mod:`mock_api.history`)."""
        now = self.clock.now_ms()
        return history_page(self.store.jobs, account, query, now)

    def delete_predictions(self, account: str, job_ids: list[str]) -> int:
        """Delete the account's predictions among ``job_ids``; how many there were.

        Others' ids and unknown ids count as nothing and change nothing, so the
        answer reveals no one else's jobs. Its webhook deliveries still pending end as
        failed, with that reason. A deleted job answers 404 from then on
        and leaves the history; its charge (and planned refund) stay in the ledger.
        """
        with self.store.transaction():
            deleted = self.store.jobs.delete_jobs(account, job_ids)
            for job_id in deleted:
                self.webhooks.job_deleted(job_id)
        return len(deleted)

    async def quote(self, model: ModelSpec, inputs: Mapping[str, Any], urls: Urls) -> billing.Quote:
        """What submitting ``inputs`` would be charged: the same probing and rule as the charge.

        Inputs may be partial, as WaveSpeed's pricing endpoint takes them: a
        priced audio left out counts as 0 s, so no inputs at all quote the
        minimum (the catalogue's ``base_price``). What cannot be priced is a 400
        naming ``inputs.<field>``: media that cannot be read (where a submission
        would make a failed job instead), an ``order`` that is not one, a video
        over the length limit, a ``resolution`` the model does not have.
        """
        inputs = self._known_inputs(model, inputs, prefix="inputs.", platform=False)
        choices = {
            "order": [o.value for o in billing.Order] if model.two_speakers else [],
            "resolution": list(model.pricing.resolutions),
        }
        for field, allowed in choices.items():
            value = inputs.get(field)
            if allowed and field in inputs and (not isinstance(value, str) or value not in allowed):
                raise ValidationFailed(
                    field=f"inputs.{field}", reason="must be one of " + ", ".join(allowed)
                )
        media: dict[str, _Media] = {}
        for name, kind in model.media_inputs:
            value = inputs.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ValidationFailed(
                    field=f"inputs.{name}", reason="must be an http(s) URL or a base64 data: URI"
                )
            try:
                media[name] = await self._read_media(name, value, kind, urls)
            except MediaError as exc:
                raise ValidationFailed(
                    field=f"inputs.{name}", reason=f"cannot be read: {exc.reason}"
                ) from None
        try:
            return self._price(model, media, {**model.default_inputs(), **inputs})
        except InvalidInput as exc:
            raise ValidationFailed(field=f"inputs.{exc.field}", reason=exc.reason) from None

    def _known_inputs(
        self,
        model: ModelSpec,
        body: Mapping[str, Any],
        *,
        prefix: str = "",
        platform: bool = True,
    ) -> Mapping[str, Any]:
        """``body`` less the fields ``model`` does not take: dropped, or refused under
        ``strict_inputs`` (a 400 naming each, with the model's inputs)."""
        unknown = model.unknown_fields(body, platform=platform)
        if not unknown:
            return body
        if self.settings.strict_inputs:
            takes = ", ".join(model.fields)
            known = self._takes(model, platform)
            raise RequestInvalid(
                [
                    Violation(
                        prefix + name,
                        f"is not an input of {model.id}{hints.did_you_mean(name, known)} "
                        f"(it takes: {takes})",
                    )
                    for name in unknown
                ]
            )
        ignored = set(unknown)  # a list here made a body of 40,000 names take 5 s
        return {name: value for name, value in body.items() if name not in ignored}

    @staticmethod
    def _takes(model: ModelSpec, platform: bool) -> tuple[str, ...]:
        return (*model.fields, *(model.platform_fields if platform else ()))

    def ignored_inputs(
        self, model: ModelSpec, body: Mapping[str, Any], *, prefix: str = "", platform: bool = True
    ) -> list[str]:
        """A note per field of ``body`` that ``model`` does not take, which an accepted
        submission (or quote) ignored: what it was, and the field it most likely misspells
        (:mod:`mock_api.hints`). None under ``strict_inputs``, which refuses them."""
        if self.settings.strict_inputs:
            return []
        unknown = model.unknown_fields(body, platform=platform)
        if not unknown:
            return []
        known = self._takes(model, platform)
        elsewhere = {f for other in self.models.models for f in other.fields} - set(known)
        return hints.ignored_field_notes(model.id, unknown, known, elsewhere, prefix)

    # quotas

    def _check_rate(self, account: str, now: int) -> None:
        limits = self.accounts.limits(account)
        if limits.videos_per_minute is None:
            return  # unlimited: no need to read the account's jobs
        submitted = self.store.jobs.created_after(account, now - quotas.WINDOW_MS)
        wait_ms = quotas.retry_after_ms(submitted, now, limits)
        if wait_ms:
            seconds = -(-wait_ms // 1000)
            raise RateLimited(
                f"rate limit: {limits.videos_per_minute} video submissions per minute; "
                f"retry in {seconds} s",
                retry_after_seconds=seconds,
            )

    def _free_slot_ms(self, account: str, now: int, directive: Directive) -> int:
        limits = self.accounts.limits(account)
        if limits.max_concurrent is None:
            return 0
        queue = self.settings.pace.queue_ms if directive.queue_ms is None else directive.queue_ms
        in_flight = self.store.jobs.finishing_after(account, now + queue)
        return quotas.start_slot_ms(in_flight, now + queue, limits)

    # webhooks

    def webhook_secret(self, account: str) -> str:
        # From the system's CSPRNG whatever --seed says: a seed steers outcomes, and every
        # server started with --seed 7 once handed out the same first secret.
        return self.store.accounts.webhook_secret(
            account, lambda: f"{SECRET_PREFIX}{_capability_id()}"
        )

    def _webhook_payload(self, delivery: Delivery) -> bytes | None:
        """The delivery's body once its job has finished; NotFound if the job was deleted."""
        job = self.store.jobs.job(delivery.job_id)
        now = self.clock.now_ms()
        if job is None:
            raise NotFound(deleted_reason(delivery.job_id))
        if not status_at(job.plan, now).terminal:
            return None
        body = prediction(job, now, Urls(delivery.base_url))
        return payload_bytes({**body, "input": dict(job.input)})

    async def _read_media(self, name: str, url: str, kind: MediaKind, urls: Urls) -> _Media:
        """Fetch and probe one input; a :class:`MediaError` names the input."""
        try:
            if is_data_uri(url):  # inline media: the same size limit as an upload of its kind
                data = read_data_uri(url, max_bytes=self.settings.upload_limits[kind])
            elif urls.is_own(url):
                data = self._local_media(url)
            else:
                limit = self.settings.upload_limits[kind]
                data = await fetch_remote(url, self.settings.remote_fetch, max_bytes=limit)
            info = _PROBES[kind](data)
        except MediaError as exc:
            raise exc.for_input(name) from None
        return _Media(
            info, "sha256:" + hashlib.sha256(data).hexdigest(), data if is_data_uri(url) else None
        )

    def _price(
        self, model: ModelSpec, media: Mapping[str, _Media], inputs: Mapping[str, Any]
    ) -> billing.Quote:
        """The job's quote; raises :class:`InvalidInput` for what cannot be billed.

        ``inputs`` have the model's defaults filled in; ``order`` counts only for a
        two-speaker model and ``resolution`` only for one that has it.
        """
        video = _seconds(media, "video")
        if video > self.settings.max_video_seconds:
            raise InvalidInput(
                field="video",
                reason=f"the video lasts {video} s; the longest accepted is "
                f"{self.settings.max_video_seconds} s",
            )
        quote = model.quote(
            {name: _seconds(media, name) for name in model.audio_inputs},
            self.settings.billing,
            # A one-speaker model has no order: one it is sent is stored, never read.
            order=billing.Order(inputs.get("order") or billing.Order.MEANWHILE)
            if model.two_speakers
            else billing.Order.MEANWHILE,
            resolution=inputs.get("resolution"),
        )
        if quote.rejected:
            raise InvalidInput(field=", ".join(model.audio_inputs), reason=quote.rule)
        return quote

    def _local_media(self, url: str) -> bytes:
        """The bytes behind one of the fake's own URLs, with no network."""
        parts = urlsplit(url)
        path = parts.path
        if path.startswith(FILES_PREFIX):
            file_id = path[len(FILES_PREFIX) :].split("/", 1)[0]
            stored = self.uploads.file(file_id)
            if stored is None:
                raise MediaError(f"no uploaded file at {url}")
            return stored.data
        if path.startswith(OUTPUTS_PREFIX):
            job_id = path[len(OUTPUTS_PREFIX) :].split("/", 1)[0]
            data = self.output_bytes(job_id)
            if data is None:
                raise MediaError(f"no completed output at {url}")
            return data
        if path.startswith(SAMPLES_PREFIX):
            query = dict(parse_qsl(parts.query))
            try:
                return self.sample(unquote(path[len(SAMPLES_PREFIX) :]), query)
            except (ValidationFailed, NotFound) as exc:
                raise MediaError(f"{url}: {exc.message}") from None
        raise MediaError(f"the mock serves no media at {path}")

    def output_bytes(self, job_id: str) -> bytes | None:
        """A completed job's output video; ``None`` before it completes."""
        job = self.store.jobs.job(job_id)
        if job is None or status_at(job.plan, self.clock.now_ms()) is not Status.COMPLETED:
            return None
        return write_mp4(max(job.output_ms, 1), variant=job.variant)

    def sample(self, name: str, query: Mapping[str, str]) -> bytes:
        """Generated test media, whole: what a job reads when an input names one."""
        return self.sample_media(name, query).read()

    def sample_media(self, name: str, query: Mapping[str, str]) -> Sample:
        """Generated test media: ``silence.wav`` or ``video.mp4`` of any length, as a
        :class:`~mock_api.samples.Sample` (its answer streams: never held whole)."""
        if name == "silence.wav":
            params = self.spec.parse_query("getSilence", query)
            # Any seconds > 0 is valid: a length under one sample gets one sample, not a 500.
            return silence(params["seconds"], sample_rate=params["sample_rate"])
        if name == "video.mp4":
            params = self.spec.parse_query("getSampleVideo", query)
            return Sample("video/mp4", write_mp4(max(1, int(params["seconds"] * 1000))))
        raise NotFound(f"no sample named {name!r}: try silence.wav or video.mp4")


def _seconds(media: Mapping[str, _Media], name: str) -> Decimal:
    """How long an input lasts; 0 s when it was not given (a partial price quote)."""
    found = media.get(name)
    return (found.info.duration if found else None) or Decimal(0)
