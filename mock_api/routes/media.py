"""Files served by URL: uploads, outputs, and generated sample media.

These stand for the real service's CDN, so, like it, they need no API key:
the unguessable id in the URL is the capability.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mock_api.errors import NotFound
from mock_api.http import Service

router = APIRouter()

_SAMPLE_TYPES = {"silence.wav": "audio/wav", "video.mp4": "video/mp4"}


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
    return Response(service.sample("silence.wav", request.query_params), media_type="audio/wav")


@router.get("/media/samples/video.mp4")
async def get_sample_video(request: Request, service: Service) -> Response:
    return Response(service.sample("video.mp4", request.query_params), media_type="video/mp4")
