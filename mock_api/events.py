"""What the fake says while it works: refused requests, and each job's start and end.

A server that only prints access lines leaves a user guessing why a request
got a 400, and when a job finished. At ``info``, ``serve`` logs one line per
refused request, with the reason its error body gives (as Prism's violation
log does), and one line per job when it is accepted and when it ends: id,
account, billed seconds, cost, outcome. ``--log-format json`` writes the same
events as JSON lines (:class:`JsonFormatter`), each with its fields as keys.

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


def _job_fields(job: Job) -> dict[str, Any]:
    quote = job.quote
    return {
        "job": job.id,
        "account": short_account(job.account),
        "billed_seconds": quote.billed_seconds if quote else 0,
        "cost_usd": str(billing.micros_to_usd(quote.cost_micros)) if quote else "0",
    }


def _outcome(job: Job) -> str:
    outcome = job.plan.outcome
    if outcome.status.refunded:
        return f"{outcome.status.value} (code {outcome.code}: {outcome.error}; refunded)"
    return f"{outcome.status.value}{', nsfw' if outcome.nsfw else ''}"


def _cost(job: Job) -> str:
    return billing.format_usd(job.quote.cost_micros) if job.quote else "$0.00"


class JobLog:
    """Logs each job this process accepts, then again when its planned end comes."""

    def __init__(self, clock: Clock, find_job: Callable[[str], Job | None]) -> None:
        self._clock = clock
        self._find_job = find_job  # None once a reset forgot the job
        self._pending: list[tuple[int, str, Job]] = []  # a heap by planned end

    def accepted(self, job: Job) -> None:
        if not LOGGER.isEnabledFor(logging.INFO):
            return
        billed = job.quote.billed_seconds if job.quote else 0
        never = job.plan.finished_ms >= NEVER_MS
        plan = "never ends (stuck)" if never else f"will end {_outcome(job)}"
        LOGGER.info(
            "job %s accepted (%s): billed %d s, cost %s; %s",
            job.id,
            short_account(job.account),
            billed,
            _cost(job),
            plan,
            extra={
                "event": "job_accepted",
                "fields": {**_job_fields(job), "planned_outcome": job.plan.outcome.status.value},
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
                LOGGER.info(
                    "job %s ended (%s): %s, billed %d s, cost %s",
                    job.id,
                    short_account(job.account),
                    _outcome(job),
                    job.quote.billed_seconds if job.quote else 0,
                    _cost(job) if not job.plan.outcome.status.refunded else "$0.00 (refunded)",
                    extra={
                        "event": "job_ended",
                        "fields": {
                            **_job_fields(job),
                            "outcome": job.plan.outcome.status.value,
                            "code": job.plan.outcome.code or None,
                            "error": job.plan.outcome.error or None,
                            "refunded": job.plan.outcome.status.refunded,
                        },
                    },
                )
        return ended

    async def run(self, interval: float = 0.1) -> None:
        """Log ends as they come, for as long as the server runs (the app's lifespan)."""
        while True:
            self.log_ended()
            await asyncio.sleep(interval)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, message, and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


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
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "formatter": "access",
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
