"""The account behind an API key."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mock_api.http import Account, Service
from mock_api.views import envelope, usd_number

router = APIRouter()


@router.get("/api/v3/account/balance")  # the docs' other path; one CLI asks here first
@router.get("/api/v3/balance")
async def balance(service: Service, account: Account) -> JSONResponse:
    return JSONResponse(
        envelope({"balance": usd_number(service.accounts.balance(account)), "currency": "USD"})
    )


@router.get("/api/v3/webhook/secret")
async def webhook_secret(service: Service, account: Account) -> JSONResponse:
    return JSONResponse(envelope({"secret": service.webhook_secret(account)}))
