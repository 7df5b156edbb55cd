"""The registry read from ``openapi.yaml`` is the family the real catalogue lists.

The expected values come from the recorded real answer
(``fixtures/real-catalog-infinitetalk.json``) and from numbers stated here, never
from the spec the registry is read from: a wrong price block in the spec must
fail these tests. No test names the list of models or counts them: adding a
model to the spec and to the recorded catalogue is enough.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mock_api.billing import BillingPolicy, Order
from mock_api.models import (
    DEFAULT_MODEL,
    MODELS,
    MODELS_BY_ID,
    RegistryError,
    load_registry,
)
from mock_api.settings import MODEL_ID
from mock_api.spec import Spec, default_spec

CATALOGUE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "real-catalog-infinitetalk.json").read_text()
)
REAL: dict[str, dict[str, Any]] = {m["model_id"]: m for m in CATALOGUE["models"]}
#: What each input of the family is, by name: the kind of media it must be.
MEDIA_KIND = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "left_audio": "audio",
    "right_audio": "audio",
    "mask_image": "image",
}
by_model = pytest.mark.parametrize("model_id", sorted(REAL))


def test_the_registry_is_the_recorded_family_with_ours_the_default() -> None:
    assert sorted(MODELS_BY_ID) == sorted(REAL)
    assert DEFAULT_MODEL.id == MODEL_ID
    assert len({m.operation_id for m in MODELS}) == len(MODELS)
    assert len({m.sort_order for m in MODELS}) == len(MODELS)
    assert DEFAULT_MODEL is MODELS[0]  # the catalogue lists ours first


@by_model
def test_inputs_required_and_defaults_are_the_real_schemas(model_id: str) -> None:
    model, real = MODELS_BY_ID[model_id], REAL[model_id]["request_schema"]
    assert sorted(model.fields) == sorted(real["properties"])
    assert list(model.required) == real["required"]
    assert model.default_inputs() == {
        name: prop["default"] for name, prop in real["properties"].items() if "default" in prop
    }
    assert model.default_inputs()["seed"] == -1
    assert dict(model.media_inputs) == {
        name: MEDIA_KIND[name] for name in real["properties"] if name in MEDIA_KIND
    }
    # In the catalogue's order (the x-order-properties of the real schema).
    order = [name for name in real["x-order-properties"] if name in MEDIA_KIND]
    assert [name for name, _ in model.media_inputs] == order


@by_model
def test_each_model_prices_as_the_real_catalogue_says(model_id: str) -> None:
    """base_price per 5 s, x2 at 720p, 5 s minimum, 600 s cap, durations as the formula."""
    model, real = MODELS_BY_ID[model_id], REAL[model_id]
    base_rate = int(Decimal(str(real["base_price"])) * 1_000_000 / 5)
    assert base_rate in (15_000, 30_000)  # $0.015/s fast, $0.03/s standard
    doubles = 'resolution = "720p" ? 2' in real["formula"]
    rates = {"480p": base_rate, "720p": 2 * base_rate} if doubles else {"": base_rate}
    tracks = sorted(set(re.findall(r"get_duration_v3\((\w+)\)", real["formula"])))
    assert sorted(model.audio_inputs) == tracks
    assert model.formula == real["formula"]
    assert model.base_price == Decimal(str(real["base_price"]))
    base = BillingPolicy()
    for resolution, rate in rates.items():
        policy = model.policy(base, resolution or None)
        assert (policy.rate_micros_per_second, policy.minimum_seconds) == (rate, 5)
        assert (policy.maximum_seconds, policy.padding_tolerance) == (600, Decimal("0.050"))
        seven = model.quote(dict.fromkeys(tracks, Decimal(7)), base, resolution=resolution)
        assert (seven.billed_seconds, seven.cost_micros) == (7, 7 * rate)
        assert seven.output_seconds == Decimal(7)
        assert seven.tracks == len(tracks)
        assert model.quote({}, base, resolution=resolution).cost_micros == 5 * rate
    if not doubles:
        assert model.pricing.resolutions == ()


def test_settings_billing_is_ours_whole_and_the_familys_open_readings() -> None:
    """Ours takes every knob; the others take tolerance, maximum and over-max, not rate or floor."""
    custom = BillingPolicy(rate_micros_per_second=20_000, minimum_seconds=2, maximum_seconds=60)
    assert DEFAULT_MODEL.policy(custom) == custom
    other = MODELS_BY_ID["wavespeed-ai/infinitetalk/multi"].policy(custom, "720p")
    assert other.rate_micros_per_second == 60_000
    assert other.minimum_seconds == 5
    assert other.maximum_seconds == 60
    assert other.over_maximum is custom.over_maximum
    assert other.padding_tolerance == custom.padding_tolerance


def test_a_one_speaker_quote_says_audio_and_a_sequential_two_speaker_one_adds_up() -> None:
    base = BillingPolicy()
    single = MODELS_BY_ID["wavespeed-ai/infinitetalk-fast/video-to-video"]
    q = single.quote({"audio": Decimal("7.2")}, base)
    assert q.rule.startswith("audio = 7.200 s")
    assert (q.billed_seconds, q.output_seconds) == (8, Decimal("7.2"))
    multi = MODELS_BY_ID["wavespeed-ai/infinitetalk/video-to-video-multi"]
    seconds = {"left_audio": Decimal(4), "right_audio": Decimal(6)}
    q = multi.quote(seconds, base, order=Order.LEFT_RIGHT, resolution="720p")
    assert (q.billed_seconds, q.cost_micros, q.output_seconds) == (10, 600_000, Decimal(10))


def test_every_submission_takes_the_platform_fields_beside_its_inputs() -> None:
    for model in MODELS:
        assert set(model.platform_fields) == {
            "enable_sync_mode",
            "enable_base64_output",
            "webhook_url",
        }
        assert model.unknown_fields({"mask_image": "", "enable_sync_mode": True, "x": 1}) == [
            name for name in ("mask_image", "x") if name not in model.fields
        ]


def _spec_with(change: Any) -> Spec:
    document = copy.deepcopy(default_spec().document)
    change(document["paths"][f"/api/v3/{MODEL_ID}"]["post"])
    return Spec(document, "")


def _set(key: str, value: Any) -> Any:
    def change(op: dict[str, Any]) -> None:
        op["x-price"][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (_set("base_price", "0.0750001"), "not a whole number"),
        (_set("base_price", "-1"), "base_price >= 0"),
        (_set("minimum_seconds", 700), "minimum_seconds <= maximum_seconds"),
        (_set("priced_by", ["video"]), "priced_by must name one or two audio inputs"),
        (_set("priced_by", []), "priced_by"),
        (_set("resolution_factors", {"1080p": 3}), "unknown resolution"),
        (lambda op: op["x-price"].pop("formula"), "formula"),
        (lambda op: op.update({"x-price": "free"}), "must both be objects"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_model_block_that_cannot_be_served_stops_the_load_naming_it(
    change: Any, names: str
) -> None:
    with pytest.raises(RegistryError) as caught:
        load_registry(_spec_with(change))
    assert "submitInfiniteTalkFastVideoToVideoMulti" in str(caught.value)
    assert names in str(caught.value)


def test_a_spec_without_models_is_refused() -> None:
    document = copy.deepcopy(default_spec().document)
    for item in document["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("x-model", None)
    with pytest.raises(RegistryError, match="defines no model"):
        load_registry(Spec(document, ""))
