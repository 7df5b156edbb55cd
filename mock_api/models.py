"""The models the fake serves, as data.

``GET /api/v3/models`` (the catalogue), ``POST /api/v3/model/price`` (which
models can be quoted) and the submit path all read this one table, so a model
added here is listed, priced and (once it has a route) served alike. Each entry
says what the catalogue shows about a model and where its inputs are defined:
the request schema itself stays in ``openapi.yaml`` (the contract) and is
named here, never copied.

A model's price is deliberately not a number in its entry: it is the billing
policy the service charges with (:attr:`~mock_api.settings.Settings.billing`,
which users can change), so the catalogue's ``base_price``, the quote and the
charge cannot disagree. ``base_price`` is that policy's floor (the minimum
billed seconds at the rate), which is what WaveSpeed's catalogue means by it:
its pricing formulas scale ``base_price`` by the billed duration over the
minimum (``$max([5, ...]) / 5 * base_price``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_api.billing import BillingPolicy
from mock_api.settings import MODEL_ID
from mock_api.store import MediaKind


@dataclass(frozen=True)
class ModelSpec:
    """One model as the catalogue lists it and the service runs it."""

    id: str  # the path after /api/v3/
    name: str  # the display name
    #: The category: ``type`` to the official clients, ``category`` in the docs.
    type: str
    description: str
    #: The ``components/schemas`` entry of ``openapi.yaml`` that is its request body.
    input_schema: str
    #: The inputs that name media to read, and the kind of media each must be.
    media_inputs: tuple[tuple[str, MediaKind], ...]
    #: The inputs whose media durations set the price (the rest only have to be readable).
    priced_inputs: tuple[str, ...]

    @property
    def api_path(self) -> str:
        return f"/api/v3/{self.id}"

    def formula(self, policy: BillingPolicy) -> str:
        """The price as a JSONata expression, in the form WaveSpeed's catalogue gives it.

        Descriptive only (the fake prices with :func:`mock_api.billing.quote`), for
        clients that read which inputs move the price: WaveSpeed's CLI and MCP
        server parse the variable names out of it. It leaves out the padding
        tolerance, which has no JSONata counterpart.
        """
        left, right = ("get_duration_v3(left_audio)", "get_duration_v3(right_audio)")
        spoken = f'(order = "meanwhile" ? $max([{left}, {right}]) : {left} + {right})'
        low, high = policy.minimum_seconds, policy.maximum_seconds
        return (
            f'{{"total_price": $max([{low}, $min([$ceil({spoken}), {high}])]) '
            f"/ {low} * base_price}}"
        )


INFINITETALK_FAST_V2V_MULTI = ModelSpec(
    id=MODEL_ID,
    name="InfiniteTalk Fast Video-to-Video Multi",
    type="video-to-video",
    description=(
        "Lip-syncs a video of two people to one audio track per person, with a speaking "
        "order (meanwhile, left_right, right_left); speed-optimised, at half the cost of "
        "the standard model. Billed per second of speech: $0.015/s, 5 s minimum, 600 s "
        "maximum."
    ),
    input_schema="InfiniteTalkInput",
    media_inputs=(
        ("video", "video"),
        ("left_audio", "audio"),
        ("right_audio", "audio"),
        ("mask_image", "image"),
    ),
    priced_inputs=("left_audio", "right_audio"),
)

#: Every model the fake serves, in the order the catalogue lists them.
MODELS: tuple[ModelSpec, ...] = (INFINITETALK_FAST_V2V_MULTI,)
MODELS_BY_ID: dict[str, ModelSpec] = {model.id: model for model in MODELS}


def models_in(category: str | None) -> list[ModelSpec]:
    """The catalogue, or the part of it in one category (exact, case-insensitive)."""
    if category is None:
        return list(MODELS)
    wanted = category.strip().lower()
    return [model for model in MODELS if model.type.lower() == wanted]
