"""Prediction history and deletion.

``GET /api/v3/predictions/{id}`` (one of the
:data:`~mock_api.routes.predictions.POLL_ROUTES`, matched first) does not match
the literal ``delete``, so ``/api/v3/predictions/delete`` belongs to the delete
operation alone: a GET there is a 405, not a lookup of a job named "delete".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_api.clock import parse_iso_ns
from mock_api.errors import ValidationFailed
from mock_api.history import HistoryQuery
from mock_api.http import Account, BaseUrls, Service, json_body
from mock_api.lifecycle import Status
from mock_api.views import envelope, history_page

router = APIRouter()


@router.post("/api/v3/predictions")
async def list_predictions(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    body = await json_body(request)
    service.spec.validate_body("listPredictions", body)
    page = service.history(account, _query(body))
    include = body.get("include_inputs") is True
    data = history_page(page, service.clock.now_ms(), urls, include_inputs=include)
    return JSONResponse(envelope(data))


@router.post("/api/v3/predictions/delete")
async def delete_predictions(request: Request, service: Service, account: Account) -> JSONResponse:
    body = await json_body(request)
    service.spec.validate_body("deletePredictions", body)
    deleted = service.delete_predictions(account, list(body["ids"]))
    return JSONResponse(envelope({"deleted_count": deleted}))


def _query(body: dict[str, Any]) -> HistoryQuery:
    """The body (already checked against the spec) as a query; dates to nanoseconds."""
    moments: dict[str, int | None] = {}
    for name in ("created_after", "created_before"):
        text = body.get(name)
        try:
            moments[name] = None if text is None else parse_iso_ns(text)
        except ValueError as exc:
            raise ValidationFailed(field=name, reason=str(exc)) from None
    status = body.get("status")
    return HistoryQuery(
        # JSON Schema's integers include 1.0: the spec takes it, so the fake reads it as 1.
        page=int(body["page"]),
        page_size=int(body["page_size"]),
        model=body.get("model") or None,
        status=None if status is None else Status(status),
        created_after_ns=moments["created_after"],
        created_before_ns=moments["created_before"],
    )
