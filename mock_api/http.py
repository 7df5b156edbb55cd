"""The thin HTTP edge shared by every route.

One place maps the exception hierarchy to the one error envelope, reads the
service and the caller's account from a request, and parses JSON bodies, so
routes stay a few lines each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_api import events, hints
from mock_api.errors import RequestError, Unauthorized, ValidationFailed, Violation, error_body
from mock_api.json_input import parse_request_json
from mock_api.lifecycle import COMPLETED, Outcome
from mock_api.planning import DEFAULT_FAILURE_CODE, MAX_TASK_CODE, NSFW, failure
from mock_api.service import MockService
from mock_api.storage import READ_SCOPE
from mock_api.urls import Urls

logger = logging.getLogger("mock_api")


def _violations(exc: RequestError) -> list[Violation]:
    """How a refused request broke the contract, for the journal."""
    found = getattr(exc, "violations", None)
    if found is not None:
        return [Violation(v.field, v.reason, v.location) for v in found]
    if isinstance(exc, ValidationFailed):
        return [Violation(exc.field or "", exc.reason or exc.message, exc.location)]
    if isinstance(exc, Unauthorized):
        return [Violation("Authorization", exc.message, "header")]
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


def _log_refusal(request: Request, status: int, message: str) -> None:
    account = events.account_of(request.state, request.scope["headers"])
    violations = getattr(request.state, "violations", ())
    events.refused(request.method, request.url.path, status, message, account, violations)


def install_error_handlers(app: FastAPI) -> None:
    async def on_request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestError)
        request.state.violations = _violations(exc)
        _log_refusal(request, exc.status_code, exc.message)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = {
            404: f"no route {request.method} {request.url.path}{_where_instead(request)}",
            405: f"method {request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        if exc.status_code in (404, 405):
            request.state.violations = [Violation("path", message, "path")]
        _log_refusal(request, exc.status_code, message)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(error_body(exc.status_code, message), exc.status_code, headers=headers)

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error in the mock: {exc!r}"), 500)

    app.add_exception_handler(RequestError, on_request_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_crash)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

#: Where a model's submit path begins (``POST /api/v3/<model id>``).
_MODEL_PREFIX = "/api/v3/"


def _where_instead(request: Request) -> str:
    """What a 404 for no route adds: the path meant, where one is plain.

    A trailing slash names the path without it (Starlette's ``redirect_slashes``
    answered those with an empty 307, which some clients follow with a GET and no
    body); a POST under ``/api/v3/`` is a submission to a model no route serves,
    so it names where the models are listed, and the closest model id.
    """
    path = request.url.path
    if path.endswith("/") and path.strip("/"):
        bare = path.rstrip("/")
        if _route_exists(request, bare):
            return f": the path is {bare}, without the trailing slash"
    near = hints.closest(path, _fixed_paths(request), cutoff=hints.PATH_CUTOFF)
    served = get_service(request).models.by_id
    if near is not None and near.removeprefix(_MODEL_PREFIX) not in served:
        return f" (did you mean {request.method} {near}?)"  # POST /api/v3/uploads: /upload
    if request.method == "POST" and path.startswith(_MODEL_PREFIX):
        model = path.removeprefix(_MODEL_PREFIX)
        return f": no model {hints.shown(model)} is served here {hints.models_hint(model, served)}"
    return ""


def _route_exists(request: Request, path: str) -> bool:
    """Whether some route serves ``path``, with this method or another (a partial match)."""
    scope = {**request.scope, "path": path}
    return any(route.matches(scope)[0] is not Match.NONE for route in request.app.router.routes)


def _fixed_paths(request: Request) -> list[str]:
    """The paths without parameters that some route serves with the request's method."""
    return [
        path
        for route in _leaves(request.app.router.routes)
        if request.method in (getattr(route, "methods", None) or ())
        and "{" not in (path := getattr(route, "path", "{"))
    ]


def _leaves(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI 0.16x keeps an included router
    whole, as ``original_router``, where older versions copied its routes in)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _leaves(inner.routes) if inner is not None else (route,)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (RFC 9110's ``Allow``).

    Starlette's 405 names the methods of the first route whose path matched only:
    ``OPTIONS /_mock/scenarios`` said ``Allow: GET``, hiding POST and DELETE.
    """
    allowed: set[str] = set()
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.add(method)
    return sorted(allowed)


class CrashMiddleware:
    """Answers the fake's own bugs with a 500 and keeps the connection open.

    Starlette's outermost layer answers an unhandled exception, then raises it
    again for the server to log, and uvicorn closes the connection on seeing it:
    a client whose request hit a bug lost its keep-alive connection too. Caught
    here, inside the journal (which records the 500), the exception ends with
    its answer. One raised after the answer began cannot be answered: it goes
    on, and the server cuts the connection, as it must for half an answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except asyncio.CancelledError:
            # The server is stopping and ended this request (SIGTERM, after the grace
            # period): say so, rather than the server's bare 500, then stop.
            if not started:
                message = "the mock is shutting down; this request was ended: retry elsewhere"
                await JSONResponse(error_body(503, message), 503)(scope, receive, send)
            raise
        except Exception as exc:
            if started:
                raise
            logger.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = JSONResponse(error_body(500, f"internal error in the mock: {exc!r}"), 500)
            await response(scope, receive, send)


class ReadScopeMiddleware:
    """Each request is one read scope (:func:`mock_api.storage.read_scope`).

    On SQLite a poll reads the clock three times, the account, the job and the
    fault rules; checking for other workers' commits once per request instead of
    before each read made polls ~10% faster (``benchmarks/run.py``). The app has
    it only on a store that others write to (``Store.shared``): in memory it would
    cost a poll 4 us for nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = READ_SCOPE.set(object())  # read_scope(), without its generator's 2 us
        try:
            await self.app(scope, receive, send)
        finally:
            READ_SCOPE.reset(token)


def get_service(request: Request) -> MockService:
    service: MockService = request.app.state.service
    return service


def api_key(authorization: str | None) -> str:
    """The API key in an ``Authorization: Bearer <key>`` header; Unauthorized otherwise."""
    if not authorization:
        raise Unauthorized("missing Authorization header: send 'Authorization: Bearer <API key>'")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("malformed Authorization header: expected 'Bearer <API key>'")
    return key


def get_account(request: Request, service: MockService | None = None) -> str:
    """The caller's account (``service``: the request's, if the caller has it already)."""
    service = service or get_service(request)
    account = service.accounts.open(api_key(_header(request.scope, b"authorization")))
    # What request.state.account = account does, without making a State for it.
    request.scope.setdefault("state", {})["account"] = account
    return account


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower case), as ``request.headers.get``
    reads it, without building the request's Headers for one look."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


#: The request header that tells the fake how the submitted job ends.
OUTCOME_HEADER = "X-Mock-Outcome"


def outcome_from_header(value: str) -> Outcome:
    """Read ``X-Mock-Outcome``: ``complete``, ``nsfw``, or ``fail[:CODE[:MESSAGE]]``.

    Raises ValidationFailed naming the header, as any other bad input.
    """
    kind, _, rest = value.strip().partition(":")
    kind = kind.lower()
    if kind in ("complete", "completed") and not rest:
        return COMPLETED
    if kind == "nsfw" and not rest:
        return NSFW
    if kind == "fail":
        code_text, _, message = rest.partition(":")
        if code_text and not code_text.isdigit():
            code_text = "0"  # reported below as out of range, with the text given
        try:
            return failure(int(code_text) if code_text else DEFAULT_FAILURE_CODE, message)
        except ValueError:
            raise ValidationFailed(
                field=OUTCOME_HEADER,
                reason=f"task code {rest.partition(':')[0]!r} is not a number from 1 to "
                f"{MAX_TASK_CODE}",
                location="header",
            ) from None
    raise ValidationFailed(
        field=OUTCOME_HEADER,
        reason=f"{value!r} is not complete, nsfw, or fail[:CODE[:MESSAGE]]",
        location="header",
    )


def get_urls(request: Request, service: MockService | None = None) -> Urls:
    public = (service or get_service(request)).settings.public_url
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    # Building ``request.base_url`` (two URL parses) took a tenth of a GET; the Urls are
    # a function of these fields only, and a server sees few distinct ones.
    key = (
        public,
        scope.get("scheme"),
        tuple(server) if server else None,
        scope.get("app_root_path"),
        scope.get("root_path"),
        host,
    )
    found = _URLS.get(key)
    if found is None:
        own = str(request.base_url).rstrip("/")
        found = Urls(public.rstrip("/"), also=(own,)) if public else Urls(own)
        if len(_URLS) < _MAX_URLS:
            _URLS[key] = found
    return found


_URLS: dict[tuple[object, ...], Urls] = {}
_MAX_URLS = 256  # the Host header is the client's: keep the cache bounded


# The dependencies are coroutines although they never await: FastAPI runs a plain
# ``def`` dependency in the thread pool, and three thread hops per request cost
# more than the whole route does (``benchmarks/run.py`` measures it).
async def _service_dependency(request: Request) -> MockService:
    return get_service(request)


async def _account_dependency(request: Request) -> str:
    return get_account(request)


async def _urls_dependency(request: Request) -> Urls:
    return get_urls(request)


Service = Annotated[MockService, Depends(_service_dependency)]
Account = Annotated[str, Depends(_account_dependency)]
BaseUrls = Annotated[Urls, Depends(_urls_dependency)]


#: The largest JSON body read (bytes): a job's input or a rule is a few hundred.
MAX_JSON_BODY = 1024 * 1024


async def json_body(request: Request) -> Any:
    """The request's JSON body, read up to :data:`MAX_JSON_BODY` bytes and checked
    (:func:`mock_api.json_input.parse_request_json`)."""
    too_big = ValidationFailed(
        field="body", reason=f"is over {MAX_JSON_BODY} bytes, the most a JSON body may be"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_JSON_BODY:
        raise too_big  # refused before a byte of it is read
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_JSON_BODY:
            raise too_big
    raw = request._body = bytes(received)  # as request.body() keeps it, for later reads
    if not raw.strip():
        raise ValidationFailed(
            field="body",
            reason="is required: send a JSON object, with Content-Type: application/json",
        )
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not _is_json(media_type):
        # WaveSpeed's docs mark Content-Type: application/json as required on every
        # request with a body. Read as JSON anyway, a form's "a=1" said only that the
        # body "is not valid JSON (Expecting value: line 1 column 1 (char 0))".
        raise ValidationFailed(
            field="Content-Type",
            reason=hints.content_type_reason(media_type, raw),
            location="header",
        )
    return parse_request_json(raw)


def _is_json(media_type: str) -> bool:
    """``application/json``, or a JSON type by its ``+json`` suffix (RFC 6839)."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def warn_ignored(request: Request, response: JSONResponse, notes: list[str]) -> JSONResponse:
    """Say what an accepted request's body held that the fake ignored: in ``X-Mock-Warning``
    and in one log line (``info``; the event ``ignored_fields``, each note in ``fields``).

    The answer's status and body stay those of the request as if the fields were not
    there: the real service's handling of unknown fields is not recorded, and the fake
    ignores them by default (README: unknown fields).
    """
    if not notes:
        return response
    response.headers[hints.WARNING_HEADER] = hints.warning_header(notes)
    if events.LOGGER.isEnabledFor(logging.INFO):
        account = events.account_of(request.state, request.scope["headers"])
        events.LOGGER.info(
            "ignored fields of %s %s (%s): %s",
            request.method,
            request.url.path,
            events.short_account(account),
            "; ".join(notes),
            extra={
                "event": "ignored_fields",
                "fields": {
                    "method": request.method,
                    "path": request.url.path,
                    "account": events.short_account(account),
                    "ignored": notes,
                },
            },
        )
    return response
