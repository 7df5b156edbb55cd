"""The HTTP servers the GET benchmark loads, each started by ``run.py`` in its own process.

All run under the same uvicorn command line (1 worker, ``--log-level warning``,
``--no-access-log``, and the stack's ``--http`` and ``--loop``), so on one stack
the only difference between them is the application:

* ``servers:bare_app``: a bare Starlette app answering the prediction path with a
  constant JSON body of the same shape and size as the fake's: the ceiling for
  the stack (uvicorn + Starlette + the JSON encoder);
* ``servers:fake_app`` (``--factory``): the fake with its state in memory, as
  ``create_app()`` and the pytest plugin build it (default settings, an
  ``OffsetClock``), served as ``serve`` serves it (``freeze_startup_heap``), but
  with jobs finishing at once (``--pace instant``), so the
  job ``run.py`` submits is completed and every GET answers with its outputs, as
  Prism's example does;
* ``servers:fake_db_app`` (``--factory``): :func:`fake_on_database` of the database
  in ``$BENCH_DB``: a SQLite file, or a PostgreSQL URL (``$WAVESPEED_BENCH_PG``).
  Several processes on one database are instances sharing their state, as
  ``serve --workers N`` runs them; ``run.py`` gives each its own port.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mock_api.app import create_app
from mock_api.clock import OffsetClock
from mock_api.planning import PACES
from mock_api.service import MockService
from mock_api.serving import ServeOptions
from mock_api.settings import Settings

MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"


def _prediction(request: Request, job_id: str) -> dict[str, Any]:
    base = f"{request.url.scheme}://{request.url.netloc}"
    media = f"{base}/media/samples"
    return {
        "code": 200,
        "message": "success",
        "data": {
            "id": job_id,
            "model": MODEL,
            "outputs": [f"{base}/media/outputs/{job_id}/output.mp4"],
            "urls": {"get": f"{base}/api/v3/predictions/{job_id}/result"},
            "has_nsfw_contents": [False],
            "status": "completed",
            "created_at": "2026-01-01T00:00:00.000Z",
            "error": "",
            "timings": {"inference": 0},
            "executionTime": 0,
            "input": {
                "order": "left_right",
                "seed": 7,
                "video": f"{media}/video.mp4?seconds=5",
                "left_audio": f"{media}/silence.wav?seconds=5",
                "right_audio": f"{media}/silence.wav?seconds=3",
            },
        },
    }


async def _result(request: Request) -> JSONResponse:
    return JSONResponse(_prediction(request, request.path_params["id"]))


bare_app = Starlette(routes=[Route("/api/v3/predictions/{id}/result", _result)])


def fake_app() -> Any:
    """The fake in memory, as ``create_app()`` and the pytest plugin build it, at instant pace."""
    service = MockService(Settings(pace=PACES["instant"]), OffsetClock())
    return create_app(service=service, freeze_startup_heap=True)  # as serve does


def fake_on_database(db: str) -> Any:
    """The fake with ``serve --pace instant``'s settings, its state in ``db``.

    ``db``: a SQLite file, or (once the PostgreSQL store exists) a
    ``postgresql://`` URL: whatever ``create_app(db=...)`` opens.
    """
    settings = ServeOptions(pace="instant").settings()
    return create_app(settings, db=db, freeze_startup_heap=True)


def fake_db_app() -> Any:
    """:func:`fake_on_database` of ``$BENCH_DB`` (uvicorn ``--factory``)."""
    return fake_on_database(os.environ["BENCH_DB"])
