"""The thin HTTP edge shared by every route.

One place maps the exception hierarchy to the one error envelope, reads the
service and the caller's account from a request, and parses JSON bodies, so
routes stay a few lines each.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mock_api.errors import RequestError, Unauthorized, ValidationFailed
from mock_api.journal import SpecViolation
from mock_api.service import MockService
from mock_api.urls import Urls

logger = logging.getLogger("mock_api")


def error_body(
    status: int, message: str, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": status, "message": message, "error": message, "data": None}
    if details:
        body["details"] = details
    return body


def _violations(exc: RequestError) -> list[SpecViolation]:
    """How a refused request broke the contract, for the journal."""
    found = getattr(exc, "violations", None)
    if found is not None:
        return [SpecViolation(v.field, v.reason, v.location) for v in found]
    if isinstance(exc, ValidationFailed):
        return [SpecViolation(exc.field or "", exc.reason or exc.message, exc.location)]
    if isinstance(exc, Unauthorized):
        return [SpecViolation("Authorization", exc.message, "header")]
    return []


def error_response(exc: RequestError) -> JSONResponse:
    details: list[dict[str, str]] | None = None
    violations = getattr(exc, "violations", None)
    if violations is not None:
        details = [v.as_dict() for v in violations]
    elif isinstance(exc, ValidationFailed):
        details = [{"field": exc.field or "", "reason": exc.reason or "", "location": exc.location}]
    return JSONResponse(
        error_body(exc.status_code, exc.message, details), exc.status_code, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestError)
        request.state.violations = _violations(exc)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = {
            404: f"no route {request.method} {request.url.path}",
            405: f"method {request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        if exc.status_code in (404, 405):
            request.state.violations = [SpecViolation("path", message, "path")]
        return JSONResponse(
            error_body(exc.status_code, message), exc.status_code, headers=exc.headers
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error in the mock: {exc!r}"), 500)

    app.add_exception_handler(RequestError, on_request_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_crash)


def get_service(request: Request) -> MockService:
    service: MockService = request.app.state.service
    return service


def get_account(request: Request) -> str:
    account = get_service(request).authenticate(request.headers.get("authorization"))
    request.state.account = account
    return account


def get_urls(request: Request) -> Urls:
    public = get_service(request).settings.public_url
    return Urls((public or str(request.base_url)).rstrip("/"))


Service = Annotated[MockService, Depends(get_service)]
Account = Annotated[str, Depends(get_account)]
BaseUrls = Annotated[Urls, Depends(get_urls)]


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ValidationFailed(field="body", reason="is required: send a JSON object")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(field="body", reason=f"is not valid JSON ({exc})") from None
