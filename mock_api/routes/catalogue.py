"""The catalogue of models and price quotes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_api.http import Account, BaseUrls, Service, json_body
from mock_api.models import MODELS_BY_ID, models_in
from mock_api.views import envelope, model_entry, price_quote

router = APIRouter()


@router.get("/api/v3/models")
async def list_models(request: Request, service: Service, account: Account) -> JSONResponse:
    query = service.spec.parse_query("listModels", request.query_params)
    policy, spec = service.settings.billing, service.spec
    models = models_in(query.get("category"))
    return JSONResponse(envelope([model_entry(model, policy, spec) for model in models]))


@router.post("/api/v3/model/price")
async def quote_price(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    body = await json_body(request)
    service.spec.validate_body("quoteModelPrice", body)
    model = MODELS_BY_ID[body["model_id"]]  # the spec's enum holds exactly these ids
    quote = await service.quote(model, body.get("inputs") or {}, urls)
    return JSONResponse(envelope(price_quote(model, quote)))
