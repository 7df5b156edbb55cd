"""What the fake says while it works: refused requests, and each job's start and end.

A server that only prints access lines leaves a user guessing why a request
got a 400, and when a job finished. At ``info``, ``serve`` logs one line per
refused request, with the reason its error body gives (as Prism's violation
log does), and one line per job when it is accepted and when it ends: id,
account, billed seconds, cost, outcome, and what was refunded (only when
something was charged: a job that could not be priced, 1401 or 1402, never
was). ``--log-format json`` writes the same events as JSON lines
(:class:`JsonFormatter`), each with its fields as keys, saying what the text
says: the money in both is the ledger's, written alike (``$0.105`` and
``"0.105"``). Every JSON line, ``serve``'s own before uvicorn starts too, has
the one shape of :func:`json_line`, ``time`` first (ISO 8601, UTC, ms).

Everything goes to the ``wavespeed_mock`` logger. In a test process nothing
configures it, so it stays quiet (Python's default level is ``warning``) and
costs one level check per event; :class:`JobLog` keeps no jobs then.

A job's end is planned when it is accepted, so :class:`JobLog` needs no hook
in the store: it holds the jobs this process accepted and logs each when the
clock passes its planned end (the app's lifespan runs :meth:`JobLog.run`). A
job accepted by another worker is logged by that worker; one still running
when the server stops is not logged as ended.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mock_api import billing
from mock_api.clock import Clock
from mock_api.faults import bearer_key
from mock_api.lifecycle import NEVER_MS
from mock_api.records import Job, account_id
from mock_api.storage import read_scope

LOGGER = logging.getLogger("wavespeed_mock")
#: How much of an account id the log shows: ``acct_`` and 8 hex digits.
ACCOUNT_PREFIX = 13


def short_account(account: str | None) -> str:
    return account[:ACCOUNT_PREFIX] if account else "no key"


def account_of(scope_state: Any, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The account a request came from: as a route found it, else from its bearer key."""
    account = getattr(scope_state, "account", None)
    if account:
        return str(account)
    key = bearer_key(headers)
    return None if key is None else account_id(key)


def refused(
    method: str,
    path: str,
    status: int,
    message: str,
    account: str | None,
    violations: Sequence[object] = (),
) -> None:
    """One refused request, with the message its error body carries; when the request
    broke several rules, each of them too, as the journal and strict mode write them."""
    if LOGGER.isEnabledFor(logging.INFO):
        every = [str(v) for v in violations]
        LOGGER.info(
            "refused %s %s -> %d (%s): %s%s",
            method,
            path,
            status,
            short_account(account),
            message,
            f" [{'; '.join(every)}]" if len(every) > 1 else "",
            extra={
                "event": "refused",
                "fields": {
                    "method": method,
                    "path": path,
                    "status": status,
                    "account": short_account(account),
                    "reason": message,
                    "violations": every,
                },
            },
        )


def readiness_changed(reason: str | None) -> None:
    """The fake stopped being ready (``reason`` says why), or is ready again (``None``):
    logged when it changes, not at every health check (:mod:`mock_api.routes.health`)."""
    if reason is None:
        LOGGER.info("ready again: the state answers", extra={"event": "ready", "fields": {}})
    else:
        LOGGER.warning(
            "not ready: %s", reason, extra={"event": "not_ready", "fields": {"reason": reason}}
        )


def _usd(micros: int) -> str:
    """Money as the log writes it: ``0.105``, ``9.00``; the text puts ``$`` before the same."""
    return billing.format_usd(micros).removeprefix("$")


def _charged(job: Job) -> int:
    """What the job was charged when it was accepted: nothing when it could not be priced."""
    return job.quote.cost_micros if job.quote else 0


def _refund(job: Job) -> int:
    """What the job's end gives back: its whole charge when it does not complete."""
    return _charged(job) if job.plan.outcome.status.refunded else 0


def _job_fields(job: Job) -> dict[str, Any]:
    return {
        "job": job.id,
        "account": short_account(job.account),
        "billed_seconds": job.quote.billed_seconds if job.quote else 0,
        "cost_usd": _usd(_charged(job)),
    }


def _outcome(job: Job) -> str:
    """How the job ends, as both its lines say it: ``failed (code 1403: GPU fell over)``."""
    outcome = job.plan.outcome
    if outcome.status.refunded:
        return f"{outcome.status.value} (code {outcome.code}: {outcome.error})"
    return f"{outcome.status.value}{', nsfw' if outcome.nsfw else ''}"


class JobLog:
    """Logs each job this process accepts, then again when its planned end comes.

    Both lines say what the job was charged (``cost``) and, at its end, what was given
    back (``refunded``, only when something was): the same amounts as its ledger's
    entries, in the text and in the JSON fields alike.
    """

    def __init__(self, clock: Clock, find_job: Callable[[str], Job | None]) -> None:
        self._clock = clock
        self._find_job = find_job  # None once a reset forgot the job
        self._pending: list[tuple[int, str, Job]] = []  # a heap by planned end

    def accepted(self, job: Job) -> None:
        if not LOGGER.isEnabledFor(logging.INFO):
            return
        fields = _job_fields(job)
        never = job.plan.finished_ms >= NEVER_MS
        refund = 0 if never else _refund(job)
        if never:
            plan = "never ends (stuck)"
        else:
            plan = f"will end {_outcome(job)}"
            if refund:
                plan += f" and be refunded ${_usd(refund)}"
        outcome = job.plan.outcome
        LOGGER.info(
            "job %s accepted (%s): billed %d s, cost $%s; %s",
            job.id,
            fields["account"],
            fields["billed_seconds"],
            fields["cost_usd"],
            plan,
            extra={
                "event": "job_accepted",
                "fields": {
                    **fields,
                    "stuck": never,
                    "planned_outcome": None if never else outcome.status.value,
                    "planned_code": None if never else outcome.code or None,
                    "planned_error": None if never else outcome.error or None,
                    "nsfw": outcome.nsfw and not never,
                    "planned_refund_usd": _usd(refund),
                },
            },
        )
        if not never:
            heapq.heappush(self._pending, (job.plan.finished_ms, job.id, job))

    def log_ended(self) -> int:
        """Log every pending job whose planned end has passed; returns how many."""
        if not self._pending:
            return 0
        with read_scope():
            now = self._clock.now_ms()
            ended = 0
            while self._pending and self._pending[0][0] <= now:
                _, job_id, job = heapq.heappop(self._pending)
                if self._find_job(job_id) is None:  # forgotten by a reset
                    continue
                ended += 1
                self._ended(job)
        return ended

    @staticmethod
    def _ended(job: Job) -> None:
        fields = _job_fields(job)
        refund = _refund(job)
        outcome = job.plan.outcome
        LOGGER.info(
            "job %s ended (%s): %s, billed %d s, cost $%s%s",
            job.id,
            fields["account"],
            _outcome(job),
            fields["billed_seconds"],
            fields["cost_usd"],
            f", refunded ${_usd(refund)}" if refund else "",
            extra={
                "event": "job_ended",
                "fields": {
                    **fields,
                    "outcome": outcome.status.value,
                    "code": outcome.code or None,
                    "error": outcome.error or None,
                    "nsfw": outcome.nsfw,
                    "refunded": bool(refund),
                    "refunded_usd": _usd(refund),
                },
            },
        )

    async def run(self, interval: float = 0.1) -> None:
        """Log ends as they come, for as long as the server runs (the app's lifespan)."""
        while True:
            self.log_ended()
            await asyncio.sleep(interval)


def iso_time(seconds: float) -> str:
    """A moment as every JSON line writes it: ISO 8601, UTC, milliseconds
    (``2026-05-04T12:34:56.789Z``)."""
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)  # as logging's own msecs: truncated
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def json_line(
    created: float, level: str, logger: str, event: str, message: str, fields: dict[str, Any]
) -> str:
    """The one shape of a JSON log line: ``time``, ``level``, ``logger``, ``event``,
    ``message``, then the event's fields (none of which may replace those five).
    ``serve``'s own lines before uvicorn starts are written with it too."""
    line: dict[str, Any] = {
        "time": iso_time(created),
        "level": level,
        "logger": logger,
        "event": event,
        "message": message,
    }
    line.update((name, value) for name, value in fields.items() if name not in line)
    return json.dumps(line, default=str)


#: uvicorn's access line: its arguments, as the JSON line's fields.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per line (:func:`json_line`): time, level, logger, event, message,
    and the event's fields. uvicorn's access lines are the ``access`` event, with the
    client, method, path, HTTP version and status as fields."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None)
        fields: dict[str, Any] = dict(getattr(record, "fields", {}))
        args = record.args
        access = event is None and record.name == "uvicorn.access"
        if access and isinstance(args, tuple) and len(args) == len(_ACCESS_FIELDS):
            event = "access"
            fields = dict(zip(_ACCESS_FIELDS, args, strict=True))
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json_line(
            record.created,
            record.levelname.lower(),
            record.name,
            event or "log",
            record.getMessage(),
            fields,
        )


def log_config(level: str, log_format: str) -> dict[str, Any]:
    """uvicorn's ``log_config`` for ``serve``: its loggers and ours, as text or JSON lines."""
    json_lines = log_format == "json"
    plain: dict[str, Any] = (
        {"()": "mock_api.events.JsonFormatter"}
        if json_lines
        else {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"}
    )
    access: dict[str, Any] = (
        {"()": "mock_api.events.JsonFormatter"}
        if json_lines
        else {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        }
    )
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": plain, "access": access},
        # A health check that passed writes no access line (mock_api.routes.health).
        "filters": {"health_checks": {"()": "mock_api.routes.health.QuietHealthChecks"}},
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "formatter": "access",
                "filters": ["health_checks"],
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            LOGGER.name: {"handlers": ["default"], "level": level, "propagate": False},
            "mock_api": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
