"""The contract itself, and Swagger UI over it, served offline."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mock_api.dashboard import routes as dashboard
from mock_api.http import Service

router = APIRouter(include_in_schema=False)

DOCS_STATIC = "/docs/static"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>WaveSpeed InfiniteTalk mock: API docs</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{
  url: "/openapi.yaml", dom_id: "#swagger-ui",
  persistAuthorization: true  // the bearer key survives a reload of the page
}});</script>
</body></html>"""


@router.get("/openapi.yaml")
async def openapi_yaml(service: Service) -> Response:
    return Response(service.spec.text, media_type="application/yaml")


@router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(_PAGE.format(static=DOCS_STATIC))


@router.get("/")
async def home(service: Service) -> RedirectResponse:
    """The root leads where a person who opens the server's URL wants to be: the dashboard
    (what the fake holds and did) while the control API is on, else the docs."""
    return RedirectResponse(
        dashboard.PAGE if service.settings.control_enabled else "/docs", status_code=307
    )
