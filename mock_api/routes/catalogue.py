"""The catalogue of models and price quotes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_api import hints
from mock_api.billing import Quote
from mock_api.errors import NotFound
from mock_api.http import Account, BaseUrls, Service, json_body, warn_ignored
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
    model, quote, ignored = await _quote(request, service, urls, "quoteModelPrice")
    return warn_ignored(request, JSONResponse(envelope(price_quote(model, quote))), ignored)


@router.post("/api/v3/model/pricing")
async def quote_pricing(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    """The older name of the quote, answering ``unit_price`` (WaveSpeed's CLI, desktop app)."""
    model, quote, ignored = await _quote(request, service, urls, "quoteModelPricing")
    return warn_ignored(request, JSONResponse(envelope(pricing_quote(model, quote))), ignored)


async def _quote(
    request: Request, service: Service, urls: BaseUrls, operation_id: str
) -> tuple[ModelSpec, Quote, list[str]]:
    """The model, its quote, and a note per field of ``inputs`` the quote ignored."""
    body = await json_body(request)
    service.spec.validate_body(operation_id, body)
    model = service.models.by_id.get(body["model_id"])
    if model is None:
        served = service.models.by_id
        reason = f"is not a model this server serves {hints.models_hint(body['model_id'], served)}"
        raise NotFound(f'model_id "{body["model_id"]}" {reason}', field="model_id", reason=reason)
    inputs = body.get("inputs") or {}
    quote = await service.quote(model, inputs, urls)
    return model, quote, service.ignored_inputs(model, inputs, prefix="inputs.", platform=False)
