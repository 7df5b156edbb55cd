"""Serves the dashboard's page and its two assets at ``/_mock/dashboard``.

The files hold no data (everything the page shows it asks the control API for,
with the control token when one is set), so the page itself needs no token: it
asks for one when the control API says it is missing. What it does need:

* the control API on (otherwise 403, as every ``/_mock/`` call answers);
* no other page can embed it (``frame-ancestors 'none'``, ``X-Frame-Options``:
  a page that framed it could trick clicks into it) or load its files (a
  request a browser marks as coming from another site is refused, unless it is
  the user following a link to the page);
* it runs only its own script and talks only to its own origin
  (``Content-Security-Policy``), so a job's input or a journaled body shown
  on the page can never run as code.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mock_api.errors import NotFound
from mock_api.routes.control import PREFIX, refuse_browsers_elsewhere, refuse_if_off

__all__ = ["PAGE", "router"]

#: Where the page is served; ``GET /`` leads here when the control API is on.
PAGE = f"{PREFIX}/dashboard"

#: The files the page is made of, and their types.
_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # A new version of the package serves new files: never a stale script.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@functools.cache
def _read(name: str) -> bytes:
    return (resources.files("mock_api.dashboard") / "static" / name).read_bytes()


def _serve(request: Request, name: str) -> Response:
    settings = request.app.state.service.settings
    refuse_if_off(settings)
    headers = request.headers
    followed_link = (
        headers.get("sec-fetch-mode") == "navigate" and headers.get("sec-fetch-dest") == "document"
    )
    if not followed_link:
        refuse_browsers_elsewhere(request, settings.public_url)
    return Response(_read(name), media_type=_FILES[name], headers=_HEADERS)


@router.get(PAGE)
async def page(request: Request) -> Response:
    return _serve(request, "index.html")


@router.get(PAGE + "/{name}")
async def asset(name: str, request: Request) -> Response:
    if name not in _FILES or name == "index.html":
        raise NotFound(f"the dashboard has no file {name!r}: the page is at {PAGE}")
    return _serve(request, name)
