"""The control API: steer the fake from a test, a script or another language.

Everything under ``/_mock/`` (a prefix WaveSpeed's API cannot clash with):
reset; read and steer the clock; list and inspect jobs; add, list and remove
scenario, fault and stub rules; read ledgers and set balances; set quotas; read the
webhook delivery log; read the request journal.

It is on by default for a server on loopback. ``serve`` turns it off when it
listens beyond loopback unless ``--control-token`` is given, and then every
call must carry ``X-Mock-Token``.

A web page the developer opens can send requests to loopback too, so the
control API refuses (403) any request a browser marks as coming from another
origin: an ``Origin`` header other than the mock's own, or ``Sec-Fetch-Site``
``cross-site`` or ``same-site`` (another port of localhost is the same site).
Tools and test clients send neither. A body must be ``application/json``
(403 otherwise): a page can send ``text/plain`` without asking first (no CORS
preflight), but never ``application/json``.
"""

from __future__ import annotations

import hmac
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mock_api.billing import format_usd, micros_to_usd, usd_to_micros
from mock_api.clock import ManualClock, OffsetClock, iso_ms
from mock_api.errors import ControlDenied, NotFound, Unauthorized, ValidationFailed
from mock_api.events import short_account
from mock_api.faults import fault_from_dict
from mock_api.http import Service, get_urls, json_body
from mock_api.lifecycle import NEVER_MS, Status, status_at
from mock_api.quotas import Level, Limits
from mock_api.records import Job, LedgerEntry, account_id
from mock_api.rulebook import RuleInvalid
from mock_api.scenarios import rule_from_dict
from mock_api.service import MockService
from mock_api.settings import MAX_BALANCE_MICROS, Settings
from mock_api.stubs import StubInvalid, stub_from_dict
from mock_api.urls import Urls
from mock_api.views import envelope, usd_number

TOKEN_HEADER = "X-Mock-Token"  # noqa: S105 - a header name
PREFIX = "/_mock"


def _own_origins(request: Request, public_url: str | None) -> set[str]:
    """The origins this mock answers as: the one the request reached, and --public-url."""
    origins = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    if public_url:
        parts = urlsplit(public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def refuse_browsers_elsewhere(request: Request, public_url: str | None) -> None:
    """403 for a request a browser marks as coming from another page, or a body a page
    could send without asking first (the dashboard's page checks it too)."""
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        raise ControlDenied(
            f"the control API refuses requests from other web pages (Sec-Fetch-Site: {site})"
        )
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() not in _own_origins(request, public_url):
        raise ControlDenied(
            f"the control API refuses requests from other web pages (Origin: {origin})"
        )
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and _has_body(request):
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise ControlDenied(
                "the control API takes only JSON bodies, sent with Content-Type: "
                f"application/json, not {media_type or 'a body without Content-Type'} (a web "
                "page can send those without asking first)"
            )


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def refuse_if_off(settings: Settings) -> None:
    """403 when the control API is off (served beyond loopback without a token)."""
    if not settings.control_enabled:
        raise ControlDenied(
            "the control API is off: serve on loopback, or pass --control-token to use it "
            "beyond loopback"
        )


def guard(request: Request) -> None:
    settings = request.app.state.service.settings
    refuse_if_off(settings)
    token = settings.control_token
    given = request.headers.get(TOKEN_HEADER, "")
    if token is not None and not hmac.compare_digest(given.encode(), token.encode()):
        raise ControlDenied(f"missing or wrong {TOKEN_HEADER} header")
    refuse_browsers_elsewhere(request, settings.public_url)


router = APIRouter(prefix=PREFIX, dependencies=[Depends(guard)])
Body = Annotated[Any, Depends(json_body)]


def _ok(data: Any) -> JSONResponse:
    return JSONResponse(envelope(data))


@router.post("/reset")
async def reset(service: Service) -> JSONResponse:
    service.reset()
    return _ok({"reset": True})


def _clock_state(service: MockService) -> dict[str, Any]:
    clock = service.clock
    kind = {ManualClock: "manual", OffsetClock: "offset"}.get(type(clock), "system")
    now = clock.now_ms()
    frozen = kind == "manual" or (isinstance(clock, OffsetClock) and clock.frozen)
    return {"now_ms": now, "now": iso_ms(now), "kind": kind, "frozen": frozen}


@router.get("/clock")
async def get_clock(service: Service) -> JSONResponse:
    return _ok(_clock_state(service))


@router.post("/clock")
async def steer_clock(service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("steerClock", body)
    clock, action = service.clock, body["action"]
    if not isinstance(clock, ManualClock | OffsetClock):
        raise ValidationFailed(field="action", reason="the system clock cannot be steered")
    if action == "advance":
        try:
            clock.advance(float(body.get("seconds", 0)))
        except ValueError as exc:
            raise ValidationFailed(field="seconds", reason=str(exc)) from None
    elif action == "set":
        try:
            clock.set(int(body["now_ms"]))
        except KeyError:
            raise ValidationFailed(field="now_ms", reason="is required with action set") from None
        except ValueError as exc:
            raise ValidationFailed(field="now_ms", reason=str(exc)) from None
    elif action == "run_until_idle":
        try:
            service.run_until_idle()
        except ValueError as exc:  # past the clock's range
            raise ValidationFailed(field="action", reason=str(exc)) from None
    elif isinstance(clock, ManualClock):
        raise ValidationFailed(
            field="action",
            reason=f"a manual clock is always frozen; {action} needs a flowing clock",
        )
    elif action == "freeze":
        clock.freeze()
    else:
        clock.resume()
    await service.webhooks.pump()  # deliveries that just came due go out now
    return _ok(_clock_state(service))


def _job(service: MockService, job: Job, urls: Urls) -> dict[str, Any]:
    plan, now = job.plan, service.clock.now_ms()
    quote = job.quote
    status = status_at(plan, now)
    return {
        "id": job.id,
        "account": job.account,
        "model": job.model,
        "status": status.value,
        "created_at": iso_ms(plan.created_ms),
        "started_at": iso_ms(plan.started_ms) if plan.started_ms < NEVER_MS else None,
        "finished_at": iso_ms(plan.finished_ms) if plan.finished_ms < NEVER_MS else None,
        "outcome": {
            "status": plan.outcome.status.value,
            "nsfw": plan.outcome.nsfw,
            "code": plan.outcome.code,
            "error": plan.outcome.error,
        },
        "quote": None if quote is None else quote.as_dict(),
        "seed": job.seed,
        "input": dict(job.input),
        "output_url": urls.output(job.id) if status is Status.COMPLETED else None,
    }


def _accounts_named(params: dict[str, Any]) -> set[str] | None:
    """The accounts a query's ``api_key`` and ``account`` name (both: both must match);
    ``None`` when it names none, which reads every account."""
    named = {account_id(params["api_key"])} if params.get("api_key") else None
    if params.get("account"):
        named = {params["account"]} & named if named is not None else {params["account"]}
    return named


@router.get("/jobs")
async def list_jobs(request: Request, service: Service) -> JSONResponse:
    params = service.spec.parse_query("listJobs", request.query_params)
    named = _accounts_named(params)
    if named is None:
        jobs = service.jobs()
    else:
        jobs = [job for account in named for job in service.jobs(account)]
    status, now = params.get("status"), service.clock.now_ms()
    if status is not None:
        jobs = [job for job in jobs if status_at(job.plan, now).value == status]
    if "limit" in params:
        jobs = jobs[-params["limit"] :]
    urls = get_urls(request, service)
    return _ok({"jobs": [_job(service, job, urls) for job in jobs]})


@router.get("/jobs/{id}")
async def get_job(id: str, request: Request, service: Service) -> JSONResponse:
    job = service.any_job(id)
    if job is None:
        raise NotFound(f"prediction {id} not found")
    entries = [e for e in service.accounts.ledger(job.account) if e.job_id == job.id]
    return _ok(
        {
            **_job(service, job, get_urls(request, service)),
            "ledger": [_entry(service, e) for e in entries],
            "deliveries": [d.as_dict() for d in service.webhooks.deliveries(job_id=job.id)],
        }
    )


def _rule_error(exc: ValueError) -> ValidationFailed:
    if isinstance(exc, RuleInvalid):  # names its field: an id taken, a method, a path
        return ValidationFailed(field=exc.field, reason=exc.reason)
    return ValidationFailed(field="body", reason=str(exc))


@router.get("/scenarios")
async def list_scenarios(service: Service) -> JSONResponse:
    return _ok({"scenarios": [r.as_dict() for r in service.scenarios.rules()]})


@router.post("/scenarios")
async def add_scenario(service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("addScenario", body)
    try:
        rule = service.scenarios.add(rule_from_dict(body))
    except ValueError as exc:
        raise _rule_error(exc) from None
    return _ok(rule.as_dict())


@router.delete("/scenarios")
async def clear_scenarios(service: Service) -> JSONResponse:
    service.scenarios.clear()
    return _ok({"scenarios": []})


@router.delete("/scenarios/{rule_id}")
async def remove_scenario(rule_id: str, service: Service) -> JSONResponse:
    if not service.scenarios.remove(rule_id):
        raise NotFound(f"scenario rule {rule_id} not found")
    return _ok({"removed": rule_id})


@router.get("/faults")
async def list_faults(service: Service) -> JSONResponse:
    return _ok({"faults": [r.as_dict() for r in service.faults.rules()]})


@router.post("/faults")
async def add_fault(service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("addFault", body)
    try:
        rule = service.faults.add(fault_from_dict(body))
    except ValueError as exc:
        raise _rule_error(exc) from None
    return _ok(rule.as_dict())


@router.delete("/faults")
async def clear_faults(service: Service) -> JSONResponse:
    service.faults.clear()
    return _ok({"faults": []})


@router.delete("/faults/{rule_id}")
async def remove_fault(rule_id: str, service: Service) -> JSONResponse:
    if not service.faults.remove(rule_id):
        raise NotFound(f"fault rule {rule_id} not found")
    return _ok({"removed": rule_id})


@router.get("/stubs")
async def list_stubs(service: Service) -> JSONResponse:
    return _ok({"stubs": [r.as_dict() for r in service.stubs.rules()]})


@router.post("/stubs")
async def add_stub(service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("addStub", body)
    try:
        rule = service.stubs.add(stub_from_dict(body))
    except StubInvalid as exc:
        raise ValidationFailed(field=exc.field, reason=exc.reason) from None
    except ValueError as exc:
        raise _rule_error(exc) from None
    return _ok(rule.as_dict())


@router.delete("/stubs")
async def clear_stubs(service: Service) -> JSONResponse:
    service.stubs.clear()
    return _ok({"stubs": []})


@router.delete("/stubs/{rule_id}")
async def remove_stub(rule_id: str, service: Service) -> JSONResponse:
    if not service.stubs.remove(rule_id):
        raise NotFound(f"stub rule {rule_id} not found")
    return _ok({"removed": rule_id})


def _account_query(request: Request) -> str:
    key = request.query_params.get("api_key")
    if not key:
        raise ValidationFailed(field="api_key", reason="is required", location="query")
    return account_id(key)


def _entry(service: MockService, e: LedgerEntry) -> dict[str, Any]:
    return {
        "at": iso_ms(e.at_ms),
        "at_ms": e.at_ms,
        "kind": e.kind.value,
        "amount_usd": str(micros_to_usd(e.amount_micros)),
        "amount": format_usd(e.amount_micros),
        "job_id": e.job_id,
        "note": e.note,
        "in_effect": e.at_ms <= service.clock.now_ms(),
    }


def _ledger(service: MockService, account: str, entries: list[LedgerEntry]) -> dict[str, Any]:
    return {
        "account": account,
        "label": short_account(account),
        "balance": usd_number(service.accounts.balance(account)),
        "entries": [_entry(service, e) for e in entries],
    }


@router.get("/ledger")
async def ledger(request: Request, service: Service) -> JSONResponse:
    account = _account_query(request)
    return _ok(_ledger(service, account, service.accounts.ledger(account)))


@router.get("/accounts")
async def list_accounts(service: Service) -> JSONResponse:
    balances = service.accounts.balances()
    return _ok(
        {
            "accounts": [
                {"account": a, "label": short_account(a), "balance": usd_number(micros)}
                for a, micros in balances.items()
            ]
        }
    )


def _known_account(service: MockService, account: str) -> list[LedgerEntry]:
    """The ledger of an account that exists (every account has an opening entry)."""
    entries = service.accounts.ledger(account)
    if not entries:
        raise NotFound(f"account {account} not found: GET /_mock/accounts lists them")
    return entries


@router.get("/accounts/{account}")
async def read_account(account: str, service: Service) -> JSONResponse:
    return _ok(_ledger(service, account, _known_account(service, account)))


def _balance_micros(body: Any) -> int:
    """The ``balance`` of a body its schema has checked, in micro-dollars, within bounds."""
    try:
        micros = usd_to_micros(Decimal(str(body["balance"])))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(field="balance", reason=f"is not an amount of USD ({exc})") from None
    if not 0 <= micros <= MAX_BALANCE_MICROS:
        raise ValidationFailed(
            field="balance", reason=f"must be from 0 to {format_usd(MAX_BALANCE_MICROS)}"
        )
    return micros


def _set_balance(service: MockService, account: str, micros: int) -> JSONResponse:
    service.accounts.set_balance(account, micros)
    return _ok({"account": account, "balance": usd_number(service.accounts.balance(account))})


@router.put("/accounts/{account}/balance")
async def set_account_balance(account: str, service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("setAccountBalance", body)
    micros = _balance_micros(body)
    _known_account(service, account)
    return _set_balance(service, account, micros)


@router.put("/balance")
async def set_balance(service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("setBalance", body)
    micros = _balance_micros(body)
    try:
        account = service.accounts.open(body["api_key"])
    except Unauthorized as exc:  # the caller is fine; the key it names is not
        raise ValidationFailed(field="api_key", reason=f"names no account: {exc.message}") from None
    return _set_balance(service, account, micros)


@router.get("/limits")
async def get_limits(request: Request, service: Service) -> JSONResponse:
    key = request.query_params.get("api_key")
    limits = service.accounts.limits(account_id(key)) if key else service.accounts.default_limits
    return _ok(
        {"videos_per_minute": limits.videos_per_minute, "max_concurrent": limits.max_concurrent}
    )


@router.put("/limits")
async def set_limits(service: Service, body: Body) -> JSONResponse:
    service.spec.validate_body("setLimits", body)
    explicit = sorted({"videos_per_minute", "max_concurrent"} & set(body))
    if "level" in body and explicit:
        raise ValidationFailed(
            field=explicit[0], reason="cannot be given with level: give a level or explicit quotas"
        )
    if "level" in body:
        limits = Level(body["level"]).limits
    else:
        try:
            limits = Limits(body.get("videos_per_minute"), body.get("max_concurrent"))
        except ValueError as exc:
            raise ValidationFailed(field=str(exc).split()[0], reason=str(exc)) from None
    key = body.get("api_key")
    service.accounts.set_limits(account_id(key) if key else None, limits)
    return _ok(
        {"videos_per_minute": limits.videos_per_minute, "max_concurrent": limits.max_concurrent}
    )


@router.get("/webhooks")
async def webhook_log(request: Request, service: Service) -> JSONResponse:
    job_id = request.query_params.get("job_id")
    return _ok({"deliveries": [d.as_dict() for d in service.webhooks.deliveries(job_id=job_id)]})


@router.post("/webhooks/pump")
async def pump_webhooks(service: Service) -> JSONResponse:
    return _ok({"attempted": await service.webhooks.pump()})


@router.get("/journal")
async def journal(request: Request, service: Service) -> JSONResponse:
    params = service.spec.parse_query("readJournal", request.query_params)
    named = _accounts_named(params)
    entries = [
        e
        for e in service.journal.entries(
            method=params.get("method"),
            path=params.get("path"),
            status=params.get("status"),
            invalid=params.get("invalid"),
            after=params.get("after"),
        )
        if named is None or e.account in named
    ][-params["limit"] :]
    return _ok(
        {
            "journal": service.journal.id,
            "entries": [
                {
                    "seq": e.seq,
                    "at": iso_ms(e.at_ms),
                    "method": e.method,
                    "path": e.path,
                    "query": e.query,
                    "account": e.account,
                    "status": e.status,
                    "duration_ms": round(e.duration_ms, 3),
                    "fault": e.fault,
                    "stub": e.stub,
                    "violations": [
                        {"field": v.field, "reason": v.reason, "location": v.location}
                        for v in e.violations
                    ],
                    "request": e.request_json,
                    "response": e.response_json,
                }
                for e in entries
            ],
        }
    )
