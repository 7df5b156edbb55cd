"""Schemathesis, configured from ``openapi.yaml`` for every target.

Why this exists: the spec is the single source of truth, so the suite loads
it from the repository (never from the target) and lets schemathesis derive
every request from it: the spec's own examples, the coverage phase's
boundary and negative cases, fuzzed bodies, and stateful sequences that
follow the spec's links (submission -> result, upload ticket -> PUT).

Everything is bounded and seeded, so a run is reproducible and fits in CI.
Every built-in check is on; the two places where one is narrowed are in
:data:`NARROWED`, each with its reason, and the operations whose coverage
phase is left out are in :data:`WITHOUT_COVERAGE_PHASE`, with theirs. Nothing
target-specific is decided here: the target is bound at run time (:func:`bind`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import requests
import schemathesis
from requests.adapters import HTTPAdapter
from schemathesis import Case
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.transport.requests import SameHostRedirectsSession

from mock_api.contract.bounds import Bounds, body_bound, decoded, too_large
from mock_api.contract.target import Target
from mock_api.models import DEFAULT_MODEL, MODELS
from mock_api.spec import SPEC_PATH

__all__ = [
    "BASE64_WITH_WEBHOOK",
    "COVERED_MODELS",
    "EXCLUDED_TAGS",
    "MAX_EXAMPLES",
    "MEDIA_FIELDS",
    "NARROWED",
    "SEED",
    "STATEFUL_EXAMPLES",
    "STATEFUL_STEPS",
    "WEBHOOK_SINK",
    "WITHOUT_COVERAGE_PHASE",
    "bind",
    "bind_operation",
    "bounded_session",
    "contract_config",
    "is_submission",
    "load_schema",
    "make_unfetchable",
    "prepare_submission",
]

#: Fixed, so every run generates the same requests (with ``deterministic``).
SEED = 20_240_601
#: Fuzzed examples per operation; the examples and coverage phases add their own.
MAX_EXAMPLES = 12
#: Stateful scenarios, and steps in each.
STATEFUL_EXAMPLES = 12
STATEFUL_STEPS = 6

#: Statuses schemathesis accepts for schema-valid data unless told otherwise.
_VALID_DATA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

#: Checks narrowed for one operation: extra statuses a schema-valid request may
#: get, and why the schema cannot say more.
NARROWED: dict[str, tuple[tuple[str, ...], str]] = {
    "createUploadTicket": (
        ("413",),
        "a schema-valid size can still be over the limit of its content_type (images "
        "20 MB, videos 100 MB, audio 50 MB, others 20 MB); the limits depend on another "
        "field, so the spec states them in prose and documents the 413",
    ),
    "putUploadTicket": (
        ("400", "413"),
        "the body must be exactly the size declared on its ticket; a schema cannot tie a "
        "body to an earlier response, so a generated body of another length is rightly "
        "refused (400 shorter, 413 longer), as the operation documents",
    ),
}

#: The submissions the coverage phase runs on: ours, and the first model with a
#: ``resolution`` (ours has none). Between them they take every component any
#: model's request is built from (MediaInput, OptionalMediaInput, Prompt, Seed,
#: SpeakingOrder, Resolution, SyncMode, Base64Output, the webhook's MediaUrl).
COVERED_MODELS = (
    DEFAULT_MODEL,
    next(m for m in MODELS if m is not DEFAULT_MODEL and m.default_resolution() is not None),
)
#: Operations run without the coverage phase (examples and fuzzing only), and why.
WITHOUT_COVERAGE_PHASE: dict[str, str] = {
    model.operation_id: (
        f"{model.id}'s request is built from the same components as "
        f"{' and '.join(m.id for m in COVERED_MODELS)}, whose every boundary and broken "
        f"constraint the coverage phase sends; here the spec's examples and {MAX_EXAMPLES} "
        "fuzzed requests, valid and invalid, hold it to the spec (the coverage phase of all "
        "submissions doubled the time `verify` takes)"
    )
    for model in MODELS
    if model not in COVERED_MODELS
} | {
    legacy: (
        f"the v3 operation {v3} under its legacy /api/v2 path (the same handler); the "
        "coverage phase runs on the v3 path"
    )
    for legacy, v3 in (
        ("submitV2", "of each model"),
        ("getPredictionResultV2", "getPredictionResult"),
        ("uploadBinaryV2", "uploadBinary"),
    )
}

#: Inputs of any model's submission that name media to fetch (from the model registry).
MEDIA_FIELDS = tuple(dict.fromkeys(name for m in MODELS for name, _ in m.media_inputs))
#: Where the models are submitted (from the model registry).
SUBMIT_PATHS = frozenset(m.api_path for m in MODELS)
#: ``MediaUrl``'s pattern in ``openapi.yaml``: a value that matches stays valid when swapped.
#: Matched whole (``fullmatch``): Python's ``$`` would also match before a final newline.
_MEDIA_URL = re.compile(r"https?://[^\s\x1c-\x1f\x85\ufeff]+")  # used with fullmatch
#: RFC 2606 reserves ``.invalid``: no such host resolves, so no media can be read from it.
UNFETCHABLE = "https://media.invalid/contract-suite/{field}"
#: ``DataUri``'s pattern: inline media, which a paid target would read (and charge for).
_DATA_URI = re.compile(r"data:[-A-Za-z0-9!#$&^_.+/=;]*;base64,[A-Za-z0-9+/]*={0,2}")


def contract_config() -> schemathesis.Config:
    """All phases, all checks, seeded, bounded; see NARROWED and WITHOUT_COVERAGE_PHASE."""
    operations: list[dict[str, Any]] = [
        {
            "include-operation-id": operation_id,
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [*_VALID_DATA_STATUSES, *statuses]
                }
            },
        }
        for operation_id, (statuses, _why) in NARROWED.items()
    ]
    operations += [
        {"include-operation-id": operation_id, "phases": {"coverage": {"enabled": False}}}
        for operation_id in WITHOUT_COVERAGE_PHASE
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # A placeholder that resolves nowhere: the real target is bound at run
            # time, and a request sent before that fails instead of reaching the
            # spec's first server (the real, paid service).
            "base-url": "http://unbound-target.invalid",
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
            "checks": {"enabled": True},
            "operations": operations,
        }
    )


#: Operations left out on every target, and why.
EXCLUDED_TAGS = {
    "control": "the fake's own test-control surface under /_mock/ (reset, clock, faults, "
    "balances), not WaveSpeed's API: fuzzing it would reset, re-time and fault the very "
    "fake under test, and no real endpoint has it",
}


def load_schema() -> BaseSchema:
    """``openapi.yaml`` from the repository, configured, minus :data:`EXCLUDED_TAGS`."""
    schema: BaseSchema = schemathesis.openapi.from_path(SPEC_PATH, config=contract_config())
    for tag in EXCLUDED_TAGS:
        schema = schema.exclude(tag=tag)
    return schema


@contextmanager
def bind(schema: BaseSchema, target: Target) -> Iterator[BaseSchema]:
    """Point ``schema``'s requests at ``target`` for the duration of a block.

    In-process the requests go to the target's instant-pace app through
    schemathesis's ASGI transport; by URL, to the target's base URL.
    """
    previous_app, previous_url = schema.app, schema.config.base_url
    schema.app = target.schema_app
    schema.config.base_url = target.base_url
    try:
        yield schema
    finally:
        schema.app = previous_app
        schema.config.base_url = previous_url


def bind_operation(operation: APIOperation[Any, Any, Any, Any], target: Target) -> None:
    """Point one already-collected operation at ``target``.

    ``@schema.parametrize()`` clones the schema and creates its operations at
    collection time, each with its own copy of the app and the base URL; the
    target is chosen after collection, so each case's operation is bound when
    it runs (probes that re-send a request go through ``operation.schema``).
    """
    operation.app = operation.schema.app = target.schema_app
    operation.base_url = target.base_url
    operation.schema.config.base_url = target.base_url


def is_submission(method: str, path: str) -> bool:
    return method.upper() == "POST" and path in SUBMIT_PATHS


def _valid_url(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 4096 and bool(_MEDIA_URL.fullmatch(value))


def _valid_media(value: object) -> bool:
    """A media input the spec accepts as given: an http(s) URL or a base64 ``data:`` URI."""
    if _valid_url(value):
        return True
    return isinstance(value, str) and bool(_DATA_URI.fullmatch(value))


def make_unfetchable(body: object) -> object:
    """The same body with every valid media URL or data: URI swapped for an ``.invalid`` URL.

    Used against paid targets: a job whose media cannot be read fails (task
    code 1402) and is not charged, so generated submissions cost nothing.
    Only values that already match the spec's URL pattern are swapped, so a
    negative case stays exactly as invalid as it was generated.
    """
    if not isinstance(body, dict):
        return body
    swapped = dict(body)
    for field in MEDIA_FIELDS:
        if _valid_media(swapped.get(field)):
            swapped[field] = UNFETCHABLE.format(field=field)
    return swapped


#: Where generated webhooks go. Nothing listens on the loopback discard port, so a
#: delivery is refused at once and never leaves the machine, whichever server
#: sends it; a generated URL could name any host on the internet.
WEBHOOK_SINK = "http://127.0.0.1:9/contract-suite-webhook"

#: A submission the spec refuses in prose: a schema cannot relate a query
#: parameter to a body field, so such cases are left out of generation.
BASE64_WITH_WEBHOOK = (
    "a webhook (the ``webhook`` query parameter or ``webhook_url``) with "
    "``enable_base64_output: true`` is refused with 400, as the operation documents"
)


def prepare_submission(case: Case[Any], *, by_url: bool) -> str | None:
    """Make a generated submission safe to send; the reason to leave it out, if any.

    Webhook URLs that match the spec go to :data:`WEBHOOK_SINK` on every
    target. On a target by URL, media URLs move to ``.invalid`` hosts as well
    (:func:`make_unfetchable`): a paid one then cannot charge for them, and a
    fake started with ``--allow-remote-fetch`` cannot be sent to a random host.
    (In-process the fake never fetches remote media, so they stay as
    generated and fail the job with task code 1402.) Values that break the
    pattern are left alone, so negative cases stay negative.
    """
    body: Any = case.body
    query: dict[str, Any] = case.query if isinstance(case.query, dict) else {}
    webhook = "webhook" in query or (isinstance(body, dict) and "webhook_url" in body)
    if webhook and isinstance(body, dict) and body.get("enable_base64_output") is True:
        return BASE64_WITH_WEBHOOK
    if _valid_url(query.get("webhook")):
        case.query = {**query, "webhook": WEBHOOK_SINK}
    if isinstance(body, dict):
        safe = cast("dict[str, Any]", make_unfetchable(body)) if by_url else dict(body)
        if _valid_url(safe.get("webhook_url")):
            safe["webhook_url"] = WEBHOOK_SINK
        if safe != body:
            case.body = safe
    return None


#: How much of a generated request's answer is read per step (one read of the socket).
_READ_STEP = 64 * 1024


class _BoundedAdapter(HTTPAdapter):
    """requests' adapter, held to the run's :class:`~mock_api.contract.bounds.Bounds`.

    Schemathesis sends with requests, not through the suite's httpx transport: each
    answer is read here, a socket read at a time, its raw and decoded size bounded by
    its type (:func:`~mock_api.contract.bounds.body_bound`: the fake's ``/media/``
    samples are media) and its time by the request's and the run's ends. (Until the
    headers have come, only each read is bounded; the run's limit still cuts the check:
    :class:`~mock_api.contract.bounds.RunWatch`.)
    """

    def __init__(self, bounds: Bounds) -> None:
        super().__init__()
        self.bounds = bounds

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        where = f"{request.method} {request.url}"
        bounds = self.bounds
        bounds.check_run(f"during {where}")
        at = time.monotonic() + bounds.request_seconds
        run_end = bounds.run_deadline
        if run_end is not None and run_end < at:
            at = run_end
        left = max(at - time.monotonic(), 0.001)
        bounded: float | tuple[float, float]
        if isinstance(timeout, tuple):
            connect, read = (left if t is None else min(t, left) for t in timeout)
            bounded = (connect, read)
        else:
            bounded = left if timeout is None else min(timeout, left)
        response = super().send(
            request, stream=True, timeout=bounded, verify=verify, cert=cert, proxies=proxies
        )
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" in content_type:
            return response  # schemathesis reads an event stream itself, for a bounded time
        limit = body_bound(content_type)
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(_READ_STEP, decode_content=False):
                size += len(chunk)
                if size > limit:
                    raise too_large(where, limit)
                chunks.append(chunk)
                if time.monotonic() >= at:
                    if at == run_end:
                        raise bounds.run_over(f"during {where}")
                    raise requests.exceptions.ReadTimeout(
                        f"{where}: {bounds.too_slow()}", request=request
                    )
        except BaseException:
            response.close()
            raise
        body = decoded(b"".join(chunks), response.headers.get("content-encoding", ""), limit, where)
        response.raw.release_conn()
        # As schemathesis does for event streams: the body, read and decoded once.
        response._content = body
        response._content_consumed = True
        return response


@contextmanager
def bounded_session(target: Target) -> Iterator[requests.Session]:
    """Schemathesis's session (same-host redirects only), its answers bounded as the
    suite's own are (:class:`_BoundedAdapter`)."""
    with SameHostRedirectsSession() as session:
        adapter = _BoundedAdapter(target.bounds)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        yield session
