"""A model is one block of ``openapi.yaml``: a copy of the spec with one more is served whole.

The block below is what a contributor adds for a new model (README: where to
change what): a path with ``x-model`` and ``x-price``, and its request schema.
The app built on that spec lists it, prices it, takes its submissions, bills
them at its own rate and makes its output, with no other change anywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.contract.invariants import Poller
from mock_api.contract.jobs import balance_micros, submit, upload_job
from mock_api.contract.output import check_output_video
from mock_api.contract.target import SyncASGITransport, Target, TargetKind
from mock_api.spec import Spec, default_spec

NEW_ID = "wavespeed-ai/infinitetalk-test/one-voice"
#: $0.10 per 5 s: $0.02 a second, 20,000 micro-dollars; 720p at three times that.
NEW_BLOCK: dict[str, Any] = {
    "post": {
        "operationId": "submitInfiniteTalkTestOneVoice",
        "x-model": {"type": "digital-human", "sort_order": 42, "description": "A test model."},
        "x-price": {
            "base_price": "0.10",
            "per_seconds": 5,
            "minimum_seconds": 4,
            "maximum_seconds": 600,
            "priced_by": ["audio"],
            "resolution_factors": {"720p": 3},
            "formula": (
                '{"total_price": $max([4, $number(get_duration_v3(audio))]) / 5 * base_price}'
            ),
        },
        "parameters": [{"$ref": "#/components/parameters/Webhook"}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/TestOneVoiceInput"}}
            },
        },
        "responses": {
            "200": {"$ref": "#/components/responses/Submitted"},
            "400": {"$ref": "#/components/responses/BadRequest"},
        },
    }
}
NEW_SCHEMA = {
    "type": "object",
    "required": ["audio", "image"],
    "x-order-properties": ["image", "audio", "resolution", "seed"],
    "properties": {
        "audio": {"$ref": "#/components/schemas/Audio"},
        "image": {"$ref": "#/components/schemas/Image"},
        "resolution": {"$ref": "#/components/schemas/Resolution"},
        "seed": {"$ref": "#/components/schemas/Seed"},
    },
    "allOf": [{"$ref": "#/components/schemas/PlatformFields"}],
}


@pytest.fixture
def target() -> Iterator[Target]:
    document = copy.deepcopy(default_spec().document)
    document["paths"][f"/api/v3/{NEW_ID}"] = NEW_BLOCK
    document["components"]["schemas"]["TestOneVoiceInput"] = NEW_SCHEMA
    clock = ManualClock()
    keys = frozenset({"k"})
    service = MockService(Settings(random_seed=5, api_keys=keys), clock, spec=Spec(document, ""))
    made = Target(
        kind=TargetKind.IN_PROCESS,
        base_url="http://testserver",
        api_key="k",
        wait=clock.advance,
        poll_interval=0.25,
        transport=SyncASGITransport(create_app(service=service)),
        service=service,
    )
    yield made
    made.close()


def test_a_model_added_to_the_spec_is_listed_priced_submitted_and_billed(target: Target) -> None:
    api, cdn = target.client(), target.client(auth=False)
    assert target.service is not None
    model = target.service.models.by_id[NEW_ID]

    listed = {m["model_id"]: m for m in api.get("/api/v3/models").json()["data"]}
    entry = listed[NEW_ID]
    assert (entry["base_price"], entry["sort_order"], entry["type"]) == (0.1, 42, "digital-human")
    assert entry["formula"] == NEW_BLOCK["post"]["x-price"]["formula"]
    schema = entry["api_schema"]["api_schemas"][0]["request_schema"]
    assert schema["required"] == ["audio", "image"]
    assert schema["properties"]["resolution"]["enum"] == ["480p", "720p"]

    job = upload_job(api, cdn, model, (6_300,), resolution="720p")
    quoted = api.post("/api/v3/model/pricing", json={"model_id": NEW_ID, "inputs": job.body()})
    # 6.3 s rounds up to 7 s; at 720p, 3 x $0.02 = $0.06 a second: $0.42.
    assert quoted.json()["data"] == {"model_id": NEW_ID, "unit_price": 0.42, "currency": "USD"}
    floor = api.post("/api/v3/model/price", json={"model_id": NEW_ID, "inputs": {}})
    assert floor.json()["data"]["price"] == 0.08  # its own 4 s minimum at $0.02

    before = balance_micros(api)
    first = submit(api, job.body(seed=3), path=f"/api/v3/{NEW_ID}")
    assert first["model"] == NEW_ID
    assert before - balance_micros(api) == 420_000
    history = Poller(api, target.wait, target.poll_interval, target.timeout).follow(
        str(first["id"]), first
    )
    assert history[-1]["status"] == "completed"
    check_output_video(cdn, history[-1], 6_300)


def test_the_project_spec_does_not_serve_the_added_model() -> None:
    app = create_app(service=MockService(Settings(), ManualClock()))
    paths = {getattr(route, "path", "") for route in app.router.routes}
    assert f"/api/v3/{NEW_ID}" not in paths
