"""Files served by URL: uploads, outputs, and generated sample media.

These stand for the real service's CDN, so, like it, they need no API key:
the unguessable id in the URL is the capability.

Samples stream (:mod:`mock_api.samples`): 20 minutes of silence is 38 MB, and
an answer built whole stayed in memory for as long as its client took to read
it, or forever if it never did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from mock_api.errors import NotFound
from mock_api.http import Service
from mock_api.samples import Sample

router = APIRouter()


@router.get("/media/files/{file_id}/{filename}")
async def get_file(file_id: str, filename: str, service: Service) -> Response:
    stored = service.uploads.file(file_id)
    if stored is None:
        raise NotFound(f"file {file_id} not found")
    return Response(stored.data, media_type=stored.content_type)


@router.get("/media/outputs/{id}/output.mp4")
async def get_output(id: str, service: Service) -> Response:
    data = service.output_bytes(id)
    if data is None:
        raise NotFound(f"no output for prediction {id}: unknown, or not completed yet")
    return Response(data, media_type="video/mp4")


@router.get("/media/samples/silence.wav")
async def get_silence(request: Request, service: Service) -> Response:
    return _streamed(service.sample_media("silence.wav", request.query_params))


@router.get("/media/samples/video.mp4")
async def get_sample_video(request: Request, service: Service) -> Response:
    return _streamed(service.sample_media("video.mp4", request.query_params))


def _streamed(sample: Sample) -> StreamingResponse:
    """The sample a block at a time, each sent when the client has taken the last."""

    async def chunks() -> AsyncIterator[bytes]:  # async: no thread hop per block
        for chunk in sample.chunks():
            yield chunk

    return StreamingResponse(
        chunks(), media_type=sample.media_type, headers={"content-length": str(sample.size)}
    )
