"""Submitting a job and reading it back."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_api.http import Account, BaseUrls, Service, json_body
from mock_api.lifecycle import status_at
from mock_api.planning import OUTCOME_HEADER, Directive, parse_outcome
from mock_api.settings import MODEL_ID
from mock_api.store import Job
from mock_api.views import envelope, prediction

router = APIRouter()

#: How long a sync-mode submission waits for its job, in wall-clock seconds.
SYNC_WAIT_SECONDS = 60.0
SYNC_TIMEOUT_CODE = 5004


@router.post(f"/api/v3/{MODEL_ID}")
async def submit(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    body = await json_body(request)
    service.spec.validate_body("submitInfiniteTalkFastVideoToVideoMulti", body)
    header = request.headers.get(OUTCOME_HEADER)
    directive = Directive(outcome=parse_outcome(header)) if header is not None else None
    job = await service.submit(account, body, urls=urls, directive=directive)
    if body.get("enable_sync_mode") is True:
        return JSONResponse(envelope(await _wait_for(job, service, urls)))
    return JSONResponse(envelope(prediction(job, service.clock.now_ms(), urls)))


async def _wait_for(job: Job, service: Service, urls: BaseUrls) -> dict[str, object]:
    """Sync mode: hold the answer until the job finishes or the wait runs out.

    Polls the service's clock, so a test that advances a manual clock from
    elsewhere releases the request as soon as the job is done.
    """
    deadline = time.monotonic() + SYNC_WAIT_SECONDS
    while True:
        now = service.clock.now_ms()
        if status_at(job.plan, now).terminal:
            return prediction(job, now, urls)
        remaining_ms = job.plan.finished_ms - now
        if time.monotonic() >= deadline:
            view = prediction(job, now, urls)
            view["code"] = SYNC_TIMEOUT_CODE
            view["error"] = (
                f"Sync mode timed out after {SYNC_WAIT_SECONDS:g} s; the task is still "
                f"{view['status']}. Query the result at {urls.result(job.id)}"
            )
            return view
        await asyncio.sleep(min(max(remaining_ms, 1) / 1000, 0.05))


@router.get("/api/v3/predictions/{id}/result")
async def get_result(id: str, service: Service, account: Account, urls: BaseUrls) -> JSONResponse:
    job = service.job(account, id)
    return JSONResponse(envelope(prediction(job, service.clock.now_ms(), urls)))


@router.get("/api/v3/predictions/{id}")
async def get_prediction(
    id: str, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    return await get_result(id, service, account, urls)
