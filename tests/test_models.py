"""The model registry and ``openapi.yaml`` agree, entry by entry and both ways.

``openapi.yaml`` is the contract and :mod:`mock_api.models` the registry the
fake runs from; neither is generated from the other, so this is what keeps
them one description: each entry's path and operation, its request schema,
which inputs are media of which kind (``x-media`` in the spec), which are
required, the speaking order and resolution inputs and their defaults; and no
submission in the spec without an entry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mock_api.billing import BillingPolicy, Order
from mock_api.models import DEFAULT_MODEL, MODELS, MODELS_BY_ID, ModelSpec
from mock_api.settings import MODEL_ID
from mock_api.spec import default_spec

SPEC = default_spec()
SCHEMAS: dict[str, Any] = SPEC.document["components"]["schemas"]
SUBMITTED = "#/components/responses/Submitted"
FAMILY = [
    "wavespeed-ai/infinitetalk",
    "wavespeed-ai/infinitetalk/multi",
    "wavespeed-ai/infinitetalk/video-to-video",
    "wavespeed-ai/infinitetalk/video-to-video-multi",
    "wavespeed-ai/infinitetalk-fast/multi",
    "wavespeed-ai/infinitetalk-fast/video-to-video",
    "wavespeed-ai/infinitetalk-fast/video-to-video-multi",
]

by_model = pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)


def _schema(model: ModelSpec) -> dict[str, Any]:
    schema: dict[str, Any] = SCHEMAS[model.input_schema]
    return schema


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    return {**SCHEMAS[ref.rsplit("/", 1)[1]], **node} if ref else node


def test_the_registry_is_the_whole_family_with_ours_the_default() -> None:
    assert sorted(MODELS_BY_ID) == sorted(FAMILY)
    assert len(MODELS) == len(FAMILY)
    assert DEFAULT_MODEL.id == MODEL_ID
    assert len({m.operation_id for m in MODELS}) == len(MODELS)


@by_model
def test_each_entry_has_its_path_operation_and_schema_in_the_spec(model: ModelSpec) -> None:
    op = SPEC.operation(model.operation_id)
    assert (op.method, op.path) == ("post", model.api_path)
    body = op.definition["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model.input_schema}"}
    assert op.definition["responses"]["200"] == {"$ref": SUBMITTED}


@by_model
def test_the_spec_media_fields_and_kinds_are_the_entrys(model: ModelSpec) -> None:
    properties = _schema(model)["properties"]
    in_spec = {name: prop["x-media"] for name, prop in properties.items() if "x-media" in prop}
    assert in_spec == dict(model.media_inputs)
    # Exactly the fields the spec reads as media: by URL or data: URI.
    media_refs = {
        name
        for name, prop in properties.items()
        if prop.get("$ref", "").endswith(("/MediaInput", "/OptionalMediaInput"))
    }
    assert media_refs == set(in_spec)


@by_model
def test_the_spec_required_inputs_are_the_entrys(model: ModelSpec) -> None:
    schema = _schema(model)
    assert schema["required"] == list(model.required)
    assert set(model.audio_inputs) <= set(model.required)
    for name in model.required:  # a required media input cannot be left empty
        assert schema["properties"][name]["$ref"].endswith("/MediaInput")


@by_model
def test_order_and_resolution_are_inputs_exactly_where_the_entry_prices_them(
    model: ModelSpec,
) -> None:
    properties = _schema(model)["properties"]
    defaults = model.default_inputs()
    if model.two_speakers:
        order = _resolved(properties["order"])
        assert order["enum"] == [o.value for o in Order]
        assert defaults["order"] == order["default"] == "meanwhile"
    else:
        assert "order" not in properties
        assert "order" not in defaults
    if model.pricing.resolutions:
        resolution = _resolved(properties["resolution"])
        assert resolution["enum"] == list(model.pricing.resolutions)
        assert defaults["resolution"] == resolution["default"] == "480p"
    else:
        assert "resolution" not in properties
        assert "resolution" not in defaults
    assert defaults["seed"] == _resolved(properties["seed"])["default"] == -1


def test_no_submission_in_the_spec_lacks_an_entry() -> None:
    submissions = {
        op.operation_id
        for op in SPEC.operations
        if op.definition["responses"].get("200") == {"$ref": SUBMITTED}
        or op.operation_id.startswith("submit")
    }
    assert submissions == {m.operation_id for m in MODELS}


def test_the_price_request_names_every_model() -> None:
    assert SCHEMAS["PriceRequest"]["properties"]["model_id"]["enum"] == [m.id for m in MODELS]


STANDARD = {"480p": 30_000, "720p": 60_000}


@pytest.mark.parametrize(
    ("model_id", "rates", "minimum", "tracks"),
    [
        ("wavespeed-ai/infinitetalk", STANDARD, 3, 1),
        ("wavespeed-ai/infinitetalk/multi", STANDARD, 5, 2),
        ("wavespeed-ai/infinitetalk/video-to-video", STANDARD, 3, 1),
        ("wavespeed-ai/infinitetalk/video-to-video-multi", STANDARD, 5, 2),
        ("wavespeed-ai/infinitetalk-fast/multi", {"": 15_000}, 5, 2),
        ("wavespeed-ai/infinitetalk-fast/video-to-video", {"": 15_000}, 5, 1),
        ("wavespeed-ai/infinitetalk-fast/video-to-video-multi", {"": 15_000}, 5, 2),
    ],
)
def test_each_entry_prices_as_its_page_says(
    model_id: str, rates: dict[str, int], minimum: int, tracks: int
) -> None:
    model = MODELS_BY_ID[model_id]
    base = BillingPolicy()
    assert len(model.audio_inputs) == tracks
    for resolution, rate in rates.items():
        policy = model.policy(base, resolution or None)
        assert (policy.rate_micros_per_second, policy.minimum_seconds) == (rate, minimum)
        assert (policy.maximum_seconds, policy.padding_tolerance) == (600, Decimal("0.050"))
        long = model.quote(
            dict.fromkeys(model.audio_inputs, Decimal(7)), base, resolution=resolution
        )
        spoken = 7  # one track of 7 s, or two of 7 s at once (meanwhile)
        assert (long.billed_seconds, long.cost_micros) == (spoken, spoken * rate)
        assert long.output_seconds == Decimal(spoken)
        assert long.tracks == tracks
        assert model.quote({}, base, resolution=resolution).cost_micros == minimum * rate


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
