"""Submitting a job and reading it back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mock_api.errors import RequestError, ValidationFailed
from mock_api.http import (
    OUTCOME_HEADER,
    Account,
    BaseUrls,
    Service,
    get_account,
    get_service,
    get_urls,
    json_body,
    outcome_from_header,
    warn_ignored,
)
from mock_api.lifecycle import status_at
from mock_api.models import ModelSpec
from mock_api.planning import Directive
from mock_api.records import Job
from mock_api.storage import read_scope
from mock_api.views import envelope, prediction, prediction_answer
from mock_api.webhooks import control_path_refusal

SYNC_TIMEOUT_CODE = 5004
#: The documented answer to a webhook with base64 output (HTTP 400).
BASE64_WITH_WEBHOOK = (
    "webhook callback does not support base64 output, please use the normal API to use "
    "base64 output"
)


def submit_endpoint(model: ModelSpec) -> Callable[..., Awaitable[JSONResponse]]:
    """The submit operation of ``model``: its body checked against its own schema."""

    async def submit(
        request: Request, service: Service, account: Account, urls: BaseUrls
    ) -> JSONResponse:
        body = await json_body(request)
        service.spec.validate_body(model.operation_id, body)
        query = service.spec.parse_query(model.operation_id, request.query_params)
        webhook = query.get("webhook") or body.get("webhook_url")
        if webhook and (refusal := control_path_refusal(webhook)) is not None:
            in_query = bool(query.get("webhook"))
            raise ValidationFailed(
                field="webhook" if in_query else "webhook_url",
                reason=refusal,
                location="query" if in_query else "body",
            )
        if webhook and body.get("enable_base64_output") is True:
            raise RequestError(
                BASE64_WITH_WEBHOOK, field="enable_base64_output", reason="not with a webhook"
            )
        header = request.headers.get(OUTCOME_HEADER)
        directive = Directive(outcome=outcome_from_header(header)) if header is not None else None
        job = await service.submit(
            account, body, urls=urls, directive=directive, webhook=webhook, model=model
        )
        request.app.state.job_log.accepted(job)
        if body.get("enable_sync_mode") is True:
            view = await _wait_for(job, service, urls)
        else:
            view = prediction(job, service.clock.now_ms(), urls)
        return warn_ignored(
            request, JSONResponse(envelope(view)), service.ignored_inputs(model, body)
        )

    return submit


def submit_router(models: Iterable[ModelSpec]) -> APIRouter:
    """One POST per model of the service's registry, named by its operationId.

    Built per app from the models of the spec the service was given
    (:func:`mock_api.models.load_registry`), so a spec with one more model
    block serves one more route.
    """
    router = APIRouter()
    for model in models:
        router.add_api_route(
            model.api_path,
            submit_endpoint(model),
            methods=["POST"],
            name=model.operation_id,
            operation_id=model.operation_id,
        )
    return router


async def _wait_for(job: Job, service: Service, urls: BaseUrls) -> dict[str, object]:
    """Sync mode: hold the answer until the job finishes or the wait runs out.

    Polls the service's clock, so a test that advances a manual clock from
    elsewhere releases the request as soon as the job is done; each look is a
    read scope of its own, so an advance through another worker counts too.
    """
    limit = service.settings.sync_timeout_seconds
    deadline = time.monotonic() + limit
    while True:
        with read_scope():
            now = service.clock.now_ms()
        if status_at(job.plan, now).terminal:
            return prediction(job, now, urls)
        remaining_ms = job.plan.finished_ms - now
        if time.monotonic() >= deadline:
            view = prediction(job, now, urls)
            view["code"] = SYNC_TIMEOUT_CODE
            view["error"] = (
                f"Sync mode timed out after {limit:g} s; the task is still "
                f"{view['status']}. Query the result at {urls.result(job.id)}"
            )
            return view
        await asyncio.sleep(min(max(remaining_ms, 1) / 1000, 0.05))


async def get_result(request: Request) -> Response:
    service = get_service(request)
    account = get_account(request, service)
    urls = get_urls(request, service)
    job = service.job(account, request.path_params["id"])
    answer = prediction_answer(job, service.clock.now_ms(), urls)
    return Response(answer, media_type=JSONResponse.media_type)


class _Endpoint:
    """``handler`` as the plain ASGI app of a route.

    A function endpoint gets Starlette's request-response wrapper, which looks
    up the route's exception handlers and wraps ``send`` once more; these routes
    have none of their own, and the app's handlers (outside the router) answer
    what they raise the same way.
    """

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


class _PredictionId(StringConvertor):
    """A job id in a poll path: any segment but ``delete``.

    ``/api/v3/predictions/delete`` is the delete operation's path; a GET there is
    a 405 for it, not a lookup of a job named "delete" (ids are 32 hex digits).
    """

    regex = "(?!delete$)[^/]+"


register_url_convertor("prediction_id", _PredictionId())


def _get(path: str) -> Route:
    route = Route(path, _Endpoint(get_result), methods=["GET"])
    route.methods = {"GET"}  # not HEAD as well: the same methods as every other route
    return route


#: The paths clients poll, as plain Starlette routes that ``create_app`` matches
#: before any router. FastAPI's layer over a route (dependency solving, matching
#: through included routers) was a quarter of each poll's cost (measured with
#: ``benchmarks/run.py``; the figures are in the README's performance section).
#: They raise the same errors, which the app's handlers answer the same way.
POLL_ROUTES = (
    _get("/api/v3/predictions/{id}/result"),
    _get("/api/v3/predictions/{id:prediction_id}"),
)
