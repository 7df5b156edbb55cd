"""The catalogue of models and price quotes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_api.billing import Quote
from mock_api.errors import NotFound
from mock_api.http import Account, BaseUrls, Service, json_body
from mock_api.models import ModelSpec
from mock_api.views import envelope, model_entry, price_quote, pricing_quote

router = APIRouter()


@router.get("/api/v3/models")
async def list_models(request: Request, service: Service, account: Account) -> JSONResponse:
    query = service.spec.parse_query("listModels", request.query_params)
    models = service.models.of_type(query.get("type"))
    if "category" in query:  # the docs' name for the same filter: both must hold
        models = [m for m in models if m in service.models.of_type(query["category"])]
    return JSONResponse(envelope([model_entry(model, service.spec) for model in models]))


@router.post("/api/v3/model/price")
async def quote_price(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    model, quote = await _quote(request, service, urls, "quoteModelPrice")
    return JSONResponse(envelope(price_quote(model, quote)))


@router.post("/api/v3/model/pricing")
async def quote_pricing(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    """The older name of the quote, answering ``unit_price`` (WaveSpeed's CLI, desktop app)."""
    model, quote = await _quote(request, service, urls, "quoteModelPricing")
    return JSONResponse(envelope(pricing_quote(model, quote)))


async def _quote(
    request: Request, service: Service, urls: BaseUrls, operation_id: str
) -> tuple[ModelSpec, Quote]:
    body = await json_body(request)
    service.spec.validate_body(operation_id, body)
    model = service.models.by_id.get(body["model_id"])
    if model is None:
        reason = "is not a model this server serves (GET /api/v3/models lists them)"
        raise NotFound(f'model_id "{body["model_id"]}" {reason}', field="model_id", reason=reason)
    return model, await service.quote(model, body.get("inputs") or {}, urls)
