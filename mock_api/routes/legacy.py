"""The ``/api/v2`` routes WaveSpeed's older ComfyUI nodes call: the v3 operations, under v2.

What the evidence says (README: "The legacy /api/v2 routes"): WaveSpeed's own
ComfyUI nodes submitted to ``/api/v2/{model}`` until August 2025 and kept
polling ``/api/v2/predictions/{id}/result`` and uploading to
``/api/v2/media/upload/binary`` until June 2026, when WaveSpeed's pull request
moving them to v3 said the v3 routes use "the identical ``{code, message,
data}`` envelope", so the change was "path-only", and that accounts made since
then are refused v1/v2 by the service's legacy gate (HTTP 403). So the fake
serves v2 as v3 by default (an installed older node works against it, as it
does against the service for an older account), and ``serve --legacy-v2
refuse`` answers as the service does for a new account: 403, naming the v3
path to call instead. ``urls.get`` in the answers names the v3 path, the one
the service documents.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.convertors import PathConvertor, register_url_convertor

from mock_api import hints
from mock_api.errors import NotFound, RequestError
from mock_api.http import get_account, get_service, get_urls
from mock_api.routes.predictions import get_result, submit_endpoint
from mock_api.routes.uploads import upload_binary

router = APIRouter()

V2 = "/api/v2/"


class _ModelPath(PathConvertor):
    """A model id in a v2 submission path: any path but the v2 routes of other resources.

    Model ids are ``owner/name[/variant]``; ``/api/v2/predictions/...`` and
    ``/api/v2/media/...`` are the poll and upload routes, so a POST there is theirs
    (a 405 naming their methods), not a submission to a model named so.
    """

    regex = "(?!predictions/|media/).+"


register_url_convertor("model_path", _ModelPath())


class LegacyRefused(RequestError):
    """The service's legacy gate: v1/v2 closed to accounts made since mid-2026."""

    status_code = 403


def _gate(request: Request) -> None:
    """Authenticate as v3 does, then refuse if this fake closes v2 (``--legacy-v2 refuse``)."""
    service = get_service(request)
    get_account(request, service)
    if not service.settings.legacy_v2:
        v3 = "/api/v3/" + request.url.path.removeprefix(V2)
        raise LegacyRefused(
            f"the /api/v2 routes are closed to this account (WaveSpeed's legacy gate refuses "
            f"them to accounts made since 2026-06): call {request.method} {v3} instead",
            field="path",
            reason="is a legacy /api/v2 route",
        )


@router.post("/api/v2/media/upload/binary", operation_id="uploadBinaryV2")
async def upload_binary_v2(request: Request) -> JSONResponse:
    _gate(request)
    service = get_service(request)
    return await upload_binary(
        request, service, get_account(request, service), get_urls(request, service)
    )


@router.get("/api/v2/predictions/{id}/result", operation_id="getPredictionResultV2")
async def get_result_v2(request: Request) -> Response:
    _gate(request)
    return await get_result(request)


@router.post("/api/v2/{model:model_path}", operation_id="submitV2")
async def submit_v2(request: Request, model: str) -> JSONResponse:
    _gate(request)
    service = get_service(request)
    spec = service.models.by_id.get(model)
    if spec is None:
        raise NotFound(
            f"no model {model!r} is served here {hints.models_hint(model, service.models.by_id)}",
            field="model",
            reason="is not a model this server serves",
        )
    account = get_account(request, service)
    return await submit_endpoint(spec)(request, service, account, get_urls(request, service))
