"""The fake's catalogue is the recorded real one, field for field.

``fixtures/real-catalog-infinitetalk.json`` holds the InfiniteTalk entries of a
real ``GET /api/v3/models`` answer (where it was recorded, and how, is in the
file). The generator that recorded it flattened
``api_schema.api_schemas[0].request_schema`` to ``request_schema``; everything
else is as the service sent it. If the fake's catalogue drifts from it (a model
left out or added without evidence, a price, a description, a schema field, a
default, an enum), this fails naming the model and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.contract.target import SyncASGITransport

RECORDED = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "real-catalog-infinitetalk.json").read_text()
)
REAL: dict[str, dict[str, Any]] = {m["model_id"]: m for m in RECORDED["models"]}


@pytest.fixture(scope="module")
def served() -> dict[str, dict[str, Any]]:
    app = create_app(service=MockService(Settings(), ManualClock()))
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as client:
        answer = client.get("/api/v3/models", headers={"Authorization": "Bearer k"})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["code"], body["message"]) == (200, "success")
    assert isinstance(body["data"], list)  # as recorded: data is the list itself
    return {entry["model_id"]: entry for entry in body["data"]}


def test_the_fake_serves_exactly_the_recorded_models(served: dict[str, Any]) -> None:
    assert sorted(served) == sorted(REAL)


def _as_recorded(entry: dict[str, Any]) -> dict[str, Any]:
    """A served entry in the recorder's form: the request schema lifted, ``sort_order`` apart."""
    flat = {k: v for k, v in entry.items() if k not in ("api_schema", "sort_order")}
    [schema] = entry["api_schema"]["api_schemas"]
    return {**flat, "request_schema": schema["request_schema"]}


@pytest.mark.parametrize("model_id", sorted(REAL))
@pytest.mark.parametrize(
    "field", ["model_id", "name", "type", "description", "base_price", "formula"]
)
def test_each_field_is_the_recorded_one(served: dict[str, Any], model_id: str, field: str) -> None:
    assert _as_recorded(served[model_id])[field] == REAL[model_id][field]


@pytest.mark.parametrize("model_id", sorted(REAL))
def test_each_request_schema_is_the_recorded_one(served: dict[str, Any], model_id: str) -> None:
    mine = _as_recorded(served[model_id])["request_schema"]
    real = REAL[model_id]["request_schema"]
    assert set(mine) == set(real)
    assert mine["required"] == real["required"]
    assert mine["x-order-properties"] == real["x-order-properties"]
    assert sorted(mine["properties"]) == sorted(real["properties"])
    for name, prop in real["properties"].items():
        assert mine["properties"][name] == prop, name
    assert mine == real


def test_nothing_but_the_recorded_fields_and_sort_order(served: dict[str, Any]) -> None:
    for model_id, entry in served.items():
        assert set(_as_recorded(entry)) == set(REAL[model_id]), model_id
        assert isinstance(entry["sort_order"], int)
