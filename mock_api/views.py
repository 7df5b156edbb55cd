"""What the API answers, built from records and the clock.

Pure functions: a job plus a moment gives the prediction object, exactly as
WaveSpeed documents it, so the same job read twice at the same moment is the
same JSON, byte for byte. :func:`prediction_answer` keeps the JSON of the last
answers for the next poll.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.responses import JSONResponse

from mock_api.billing import MICROS_PER_USD, Quote
from mock_api.clock import iso_ms, iso_ns
from mock_api.history import HistoryPage, created_ns
from mock_api.lifecycle import Status, status_at
from mock_api.media import write_mp4
from mock_api.models import ModelSpec
from mock_api.records import Job, StoredFile
from mock_api.spec import Spec
from mock_api.urls import Urls


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": data}


def prediction(job: Job, now_ms: int, urls: Urls) -> dict[str, Any]:
    return _prediction(job, status_at(job.plan, now_ms), urls)


def _prediction(job: Job, status: Status, urls: Urls) -> dict[str, Any]:
    """The prediction object: a function of the record, its status and the base URL only."""
    outcome = job.plan.outcome
    completed = status is Status.COMPLETED
    body: dict[str, Any] = {
        "id": job.id,
        "model": job.model,
        "outputs": [_output(job, urls)] if completed else [],
        "urls": {"get": urls.result(job.id)},
        "has_nsfw_contents": [outcome.nsfw] if completed else [],
        "status": status.value,
        "created_at": iso_ms(job.plan.created_ms),
        "error": outcome.error if status.refunded else "",
        "timings": {"inference": job.plan.inference_ms} if status.terminal else {},
        # What WaveSpeed's history sample, MCP server, n8n node and Swift clients read:
        # milliseconds of processing once finished, 0 before (some clients declare it
        # non-optional, so it is always there).
        "executionTime": job.plan.inference_ms if status.terminal else 0,
        # What was submitted, media by URL (inline media were kept as files): the Go
        # SDK's prediction declares it, and the documented webhook payload carries it.
        "input": dict(job.input),
    }
    if status.refunded:
        body["code"] = outcome.code
    return body


#: The most poll answers :func:`prediction_answer` keeps (each about a kilobyte): then
#: it starts again, empty.
MAX_KEPT_ANSWERS = 1024
#: An answer larger than this is made anew at each poll (a video inline, in base64).
MAX_KEPT_ANSWER_BYTES = 64 * 1024
_answers: dict[str, tuple[Job, Status, str, bytes]] = {}


def prediction_answer(job: Job, now_ms: int, urls: Urls) -> bytes:
    """The JSON body of a poll of ``job``: ``envelope(prediction(job, now_ms, urls))``.

    Clients poll a job many times in each status, and the answer depends on the
    record, the status and the base URL only (:func:`_prediction`): the last
    answer made for each job is kept, with the record it was made from, and
    given again while the record is the same object and the status and the base
    the same. Making the dict and its JSON again was the largest part of a
    poll's own time (``benchmarks/run.py``). A record read anew (another worker
    wrote, the store was reset) is another object, so its answer is made anew.
    """
    status = status_at(job.plan, now_ms)
    kept = _answers.get(job.id)
    if kept is not None and kept[0] is job and kept[1] is status and kept[2] == urls.base:
        return kept[3]
    # Starlette's own rendering, so the bytes are those a JSONResponse of it sends.
    body = bytes(JSONResponse(envelope(_prediction(job, status, urls))).body)
    if len(body) <= MAX_KEPT_ANSWER_BYTES:
        if len(_answers) >= MAX_KEPT_ANSWERS:
            _answers.clear()
        _answers[job.id] = (job, status, urls.base, body)
    return body


def history_page(
    page: HistoryPage, now_ms: int, urls: Urls, *, include_inputs: bool = False
) -> dict[str, Any]:
    """``data`` of ``POST /api/v3/predictions``: the shape WaveSpeed's desktop app and CLI read."""
    return {
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "items": [history_item(job, now_ms, urls, include_inputs) for job in page.jobs],
    }


def history_item(job: Job, now_ms: int, urls: Urls, include_inputs: bool = False) -> dict[str, Any]:
    """A prediction as the history lists it: ``created_at`` in nanoseconds, as the docs' sample.

    Its inputs only when asked (``include_inputs: true``, as WaveSpeed's CLI asks, then
    showing ``inputs.prompt``), under ``inputs``; without, none.
    """
    item = {**prediction(job, now_ms, urls), "created_at": iso_ns(created_ns(job))}
    inputs = item.pop("input")
    if include_inputs:
        item["inputs"] = inputs
    return item


def model_entry(model: ModelSpec, spec: Spec) -> dict[str, Any]:
    """One model of ``GET /api/v3/models``, field for field as the real catalogue lists it.

    ``model_id, name, type, description, base_price, formula`` and
    ``api_schema.api_schemas[0].request_schema`` are what the recorded real answer
    carries (``fixtures/real-catalog-infinitetalk.json``; ``tests/test_catalogue_real.py``
    holds this to it). ``sort_order`` is added because WaveSpeed's CLI reads it
    (``models --popular``). ``base_price`` is the spec's (``x-price``), per block of
    ``per_seconds`` at the default resolution, as the real one means it (also when
    ``--min-seconds`` bills our model otherwise: the catalogue describes the service).
    """
    return {
        "model_id": model.id,
        "name": model.name,
        "type": model.type,
        "description": model.description,
        "base_price": usd_number(int(model.base_price * MICROS_PER_USD)),
        "formula": model.formula,
        "sort_order": model.sort_order,
        "api_schema": {
            "api_schemas": [{"request_schema": spec.catalogue_schema(model.input_schema)}]
        },
    }


def price_quote(model: ModelSpec, priced: Quote) -> dict[str, Any]:
    """``data`` of ``POST /api/v3/model/price``, the shape WaveSpeed's MCP server reads.

    The fake has no discounts: ``discounted_price`` is the price and
    ``discount_rate`` 0. ``billed_seconds`` and ``rule`` are the fake's own, to
    show how the price was reached.
    """
    price = usd_number(priced.cost_micros)
    return {
        "model_id": model.id,
        "price": price,
        "discounted_price": price,
        "discount_rate": 0,
        "currency": "USD",
        "billed_seconds": priced.billed_seconds,
        "rule": priced.rule,
    }


def pricing_quote(model: ModelSpec, priced: Quote) -> dict[str, Any]:
    """``data`` of ``POST /api/v3/model/pricing``: what WaveSpeed's CLI and desktop app read."""
    return {"model_id": model.id, "unit_price": usd_number(priced.cost_micros), "currency": "USD"}


def _output(job: Job, urls: Urls) -> str:
    """The output's URL, or with ``enable_base64_output`` the video itself as a data URI."""
    if job.input.get("enable_base64_output") is True:
        video = write_mp4(max(job.output_ms, 1), variant=job.variant)
        return "data:video/mp4;base64," + base64.b64encode(video).decode()
    return urls.output(job.id)


def stored_file(stored: StoredFile, urls: Urls) -> dict[str, Any]:
    return {
        "type": stored.kind,
        "download_url": urls.file(stored.id, stored.filename),
        "filename": stored.filename,
        "size": len(stored.data),
        "content_type": stored.content_type,
    }


def usd_number(micros: int) -> float:
    """Dollars as a JSON number without float noise.

    One correctly rounded division gives the float nearest the exact amount,
    and Python writes a float as the shortest text that reads back as it:
    for any amount under a billion dollars (fewer than 16 significant digits)
    that text is the exact decimal, ``99.925075`` and not ``99.92507499999``.
    """
    return micros / MICROS_PER_USD
