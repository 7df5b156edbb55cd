"""The models the fake serves, as data: the model registry.

A model is one :class:`ModelSpec` in :data:`MODELS`. Everything else follows
from that entry: its submit route (``routes/predictions.py`` adds one POST per
entry), the validation of its body (the entry names its operation in
``openapi.yaml``, which stays the contract: the schema lives there, never
copied here), which inputs are media of which kind, which audio sets the
duration and how (one track, or two with ``order``), its defaults, its price
(per second, by resolution where it has one; its minimum), its output (as long
as the priced speech), the catalogue (``GET /api/v3/models``), price quotes
(``POST /api/v3/model/price``), ``wavespeed-mock price --model`` and the
contract suite's job builder (:mod:`mock_api.contract.jobs`).
``tests/test_models.py`` proves each entry and ``openapi.yaml`` agree.

How :attr:`~mock_api.settings.Settings.billing` (the CLI's ``--min-seconds``,
``--padding-tolerance``, ``--over-max``) applies: it is our model's policy
whole, exactly as before the family came; for the others its padding
tolerance, maximum and over-maximum handling apply too (they are the fake's
readings of rules the docs leave open, the same for the whole family), while
rate and minimum are each model's documented ones (:meth:`Pricing.policy`).

``base_price`` in the catalogue is the model's floor at its default
resolution (the minimum billed seconds at the rate), which is what WaveSpeed's
catalogue means by it: its pricing formulas scale ``base_price`` by the billed
duration over the minimum (``$max([5, ...]) / 5 * base_price``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from mock_api import billing
from mock_api.billing import BillingPolicy, Order, Quote
from mock_api.settings import MODEL_ID
from mock_api.store import MediaKind

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "MODELS_BY_ID",
    "ModelSpec",
    "Pricing",
    "models_in",
]

#: The audio inputs of a two-speaker model, in the order ``left``/``right`` name them.
TWO_SPEAKERS = ("left_audio", "right_audio")


@dataclass(frozen=True)
class Pricing:
    """A model's documented price: a rate per billed second, by resolution, and a minimum."""

    minimum_seconds: int
    #: Micro-dollars per billed second, by the value of the ``resolution`` input; a
    #: model without that input has one rate, under ``""``.
    rates: tuple[tuple[str, int], ...]
    #: Rate and minimum are :attr:`Settings.billing`'s rather than these (our model,
    #: whose policy the CLI's flags have always set; the values here are its defaults).
    follows_settings: bool = False

    @property
    def resolutions(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.rates if name)

    def rate(self, resolution: str | None) -> int:
        """The rate at ``resolution``; the first (default) one for none or one not listed."""
        return dict(self.rates).get(resolution or "", self.rates[0][1])

    def policy(self, base: BillingPolicy, resolution: str | None = None) -> BillingPolicy:
        """``base`` (the settings' policy) with this model's rate and minimum."""
        if self.follows_settings:
            return base
        return replace(
            base,
            rate_micros_per_second=self.rate(resolution),
            minimum_seconds=min(self.minimum_seconds, base.maximum_seconds),
        )


@dataclass(frozen=True)
class ModelSpec:
    """One model as the catalogue lists it, the router serves it and billing prices it."""

    id: str  # the path after /api/v3/
    name: str  # the display name
    #: The category: ``type`` to the official clients, ``category`` in the docs.
    type: str
    description: str
    #: The ``operationId`` of its submit operation in ``openapi.yaml``.
    operation_id: str
    #: The ``components/schemas`` entry of ``openapi.yaml`` that is its request body.
    input_schema: str
    #: The inputs that name media to read, and the kind of media each must be.
    media_inputs: tuple[tuple[str, MediaKind], ...]
    #: The inputs a submission must carry (the schema's ``required``).
    required: tuple[str, ...]
    #: The audio inputs whose durations set the price and the output's length: one
    #: (``audio``: the output lasts as long as it), or ``left_audio, right_audio``
    #: combined by ``order`` (the longer one for ``meanwhile``, both in turn otherwise).
    audio_inputs: tuple[str, ...]
    #: Inputs a submission leaves out take these values (and are stored with the job).
    defaults: tuple[tuple[str, Any], ...]
    pricing: Pricing

    @property
    def api_path(self) -> str:
        return f"/api/v3/{self.id}"

    @property
    def two_speakers(self) -> bool:
        return len(self.audio_inputs) == 2

    def default_inputs(self) -> dict[str, Any]:
        return dict(self.defaults)

    def default_resolution(self) -> str | None:
        value = self.default_inputs().get("resolution")
        return value if isinstance(value, str) else None

    def policy(self, base: BillingPolicy, resolution: str | None = None) -> BillingPolicy:
        """The policy a job at ``resolution`` (``None``: the default) is billed by."""
        return self.pricing.policy(base, resolution or self.default_resolution())

    def quote(
        self,
        seconds: Mapping[str, Decimal],
        base: BillingPolicy,
        *,
        order: Order = Order.MEANWHILE,
        resolution: str | None = None,
    ) -> Quote:
        """Price a job from its audio inputs' durations (an input left out counts as 0 s)."""
        policy = self.policy(base, resolution)
        tracks = [seconds.get(name) or Decimal(0) for name in self.audio_inputs]
        if self.two_speakers:
            return billing.quote(tracks[0], tracks[1], order, policy)
        return billing.quote_single(tracks[0], policy)

    def base_price_micros(self, base: BillingPolicy) -> int:
        """The least a job costs: no speech at all, at the default resolution."""
        return self.quote({}, base).cost_micros

    def formula(self, base: BillingPolicy) -> str:
        """The price as a JSONata expression, in the form WaveSpeed's catalogue gives it.

        Descriptive only (the fake prices with :mod:`mock_api.billing`), for
        clients that read which inputs move the price: WaveSpeed's CLI and MCP
        server parse the variable names out of it. It leaves out the padding
        tolerance, which has no JSONata counterpart.
        """
        durations = [f"get_duration_v3({name})" for name in self.audio_inputs]
        if self.two_speakers:
            left, right = durations
            spoken = f'(order = "meanwhile" ? $max([{left}, {right}]) : {left} + {right})'
        else:
            spoken = durations[0]
        policy = self.policy(base)
        low, high = policy.minimum_seconds, policy.maximum_seconds
        scale = ""
        if len(self.pricing.resolutions) > 1:
            default = policy.rate_micros_per_second
            factors = [
                f'resolution = "{name}" ? {Decimal(rate) / default:g}'
                for name, rate in self.pricing.rates
                if rate != default
            ]
            scale = " * (" + " : ".join([*factors, "1"]) + ")"
        return (
            f'{{"total_price": $max([{low}, $min([$ceil({spoken}), {high}])]) '
            f"/ {low} * base_price{scale}}}"
        )


_SEED = ("seed", -1)
_ORDER = ("order", Order.MEANWHILE.value)
_RESOLUTION = ("resolution", "480p")
#: The standard models' documented rates: $0.03/s at 480p, $0.06/s at 720p.
_STANDARD_RATES = (("480p", 30_000), ("720p", 60_000))
#: The fast models': $0.015/s, no resolution to choose.
_FAST_RATES = (("", 15_000),)
_MASK: tuple[str, MediaKind] = ("mask_image", "image")


def _inputs(visual: MediaKind, audio: tuple[str, ...]) -> tuple[tuple[str, MediaKind], ...]:
    return ((visual, visual), *((name, "audio") for name in audio), _MASK)


def _family_member(
    *,
    id: str,
    name: str,
    operation_id: str,
    input_schema: str,
    visual: MediaKind,
    audio: tuple[str, ...],
    fast: bool,
    minimum_seconds: int,
    description: str,
    follows_settings: bool = False,
) -> ModelSpec:
    """One InfiniteTalk model: what varies across the family is named, the rest shared."""
    defaults = [_SEED] + ([_ORDER] if len(audio) == 2 else []) + ([] if fast else [_RESOLUTION])
    return ModelSpec(
        id=id,
        name=name,
        type="image-to-video" if visual == "image" else "video-to-video",
        description=description,
        operation_id=operation_id,
        input_schema=input_schema,
        media_inputs=_inputs(visual, audio),
        required=(visual, *audio),
        audio_inputs=audio,
        defaults=tuple(defaults),
        pricing=Pricing(
            minimum_seconds=minimum_seconds,
            rates=_FAST_RATES if fast else _STANDARD_RATES,
            follows_settings=follows_settings,
        ),
    )


_ONE = ("audio",)
_STANDARD_PRICE = "$0.03/s at 480p, $0.06/s at 720p"

INFINITETALK = _family_member(
    id="wavespeed-ai/infinitetalk",
    name="InfiniteTalk",
    operation_id="submitInfiniteTalk",
    input_schema="InfiniteTalkImageInput",
    visual="image",
    audio=_ONE,
    fast=False,
    # README "The InfiniteTalk family": the newer revision's 3 s minimum, on the two
    # one-speaker standard pages (no copy of that revision was found to say which).
    minimum_seconds=3,
    description=(
        "Makes the person in one image speak or sing one audio track, with lip sync and "
        f"matching head and body motion. Billed per second of audio: {_STANDARD_PRICE}, "
        "3 s minimum, 600 s maximum."
    ),
)
INFINITETALK_MULTI = _family_member(
    id="wavespeed-ai/infinitetalk/multi",
    name="InfiniteTalk Multi",
    operation_id="submitInfiniteTalkMulti",
    input_schema="InfiniteTalkImageMultiInput",
    visual="image",
    audio=TWO_SPEAKERS,
    fast=False,
    minimum_seconds=5,
    description=(
        "Makes the two people in one image speak, one audio track each, with a speaking "
        "order (meanwhile, left_right, right_left). Billed per second of speech: "
        f"{_STANDARD_PRICE}, 5 s minimum, 600 s maximum."
    ),
)
INFINITETALK_V2V = _family_member(
    id="wavespeed-ai/infinitetalk/video-to-video",
    name="InfiniteTalk Video-to-Video",
    operation_id="submitInfiniteTalkVideoToVideo",
    input_schema="InfiniteTalkVideoInput",
    visual="video",
    audio=_ONE,
    fast=False,
    minimum_seconds=3,
    description=(
        "Lip-syncs the person in a video to one audio track. Billed per second of audio: "
        f"{_STANDARD_PRICE}, 3 s minimum, 600 s maximum."
    ),
)
INFINITETALK_V2V_MULTI = _family_member(
    id="wavespeed-ai/infinitetalk/video-to-video-multi",
    name="InfiniteTalk Video-to-Video Multi",
    operation_id="submitInfiniteTalkVideoToVideoMulti",
    input_schema="InfiniteTalkVideoMultiInput",
    visual="video",
    audio=TWO_SPEAKERS,
    fast=False,
    minimum_seconds=5,
    description=(
        "Lip-syncs a video of two people to one audio track per person, with a speaking "
        "order (meanwhile, left_right, right_left). Billed per second of speech: "
        f"{_STANDARD_PRICE}, 5 s minimum, 600 s maximum."
    ),
)
INFINITETALK_FAST_MULTI = _family_member(
    id="wavespeed-ai/infinitetalk-fast/multi",
    name="InfiniteTalk Fast Multi",
    operation_id="submitInfiniteTalkFastMulti",
    input_schema="InfiniteTalkFastImageMultiInput",
    visual="image",
    audio=TWO_SPEAKERS,
    fast=True,
    minimum_seconds=5,
    description=(
        "Makes the two people in one image speak, one audio track each, with a speaking "
        "order; speed-optimised, at half the cost of the standard model. Billed per second "
        "of speech: $0.015/s, 5 s minimum, 600 s maximum."
    ),
)
INFINITETALK_FAST_V2V = _family_member(
    id="wavespeed-ai/infinitetalk-fast/video-to-video",
    name="InfiniteTalk Fast Video-to-Video",
    operation_id="submitInfiniteTalkFastVideoToVideo",
    input_schema="InfiniteTalkFastVideoInput",
    visual="video",
    audio=_ONE,
    fast=True,
    minimum_seconds=5,
    description=(
        "Lip-syncs the person in a video to one audio track; speed-optimised, at half the "
        "cost of the standard model. Billed per second of audio: $0.015/s, 5 s minimum, "
        "600 s maximum."
    ),
)
INFINITETALK_FAST_V2V_MULTI = _family_member(
    id=MODEL_ID,
    name="InfiniteTalk Fast Video-to-Video Multi",
    operation_id="submitInfiniteTalkFastVideoToVideoMulti",
    input_schema="InfiniteTalkInput",
    visual="video",
    audio=TWO_SPEAKERS,
    fast=True,
    minimum_seconds=5,
    follows_settings=True,
    description=(
        "Lip-syncs a video of two people to one audio track per person, with a speaking "
        "order (meanwhile, left_right, right_left); speed-optimised, at half the cost of "
        "the standard model. Billed per second of speech: $0.015/s, 5 s minimum, 600 s "
        "maximum."
    ),
)

#: The model of the fake's defaults (``MODEL_ID``): its policy is ``Settings.billing``.
DEFAULT_MODEL = INFINITETALK_FAST_V2V_MULTI

#: Every model the fake serves, in the order the catalogue lists them.
MODELS: tuple[ModelSpec, ...] = (
    INFINITETALK,
    INFINITETALK_MULTI,
    INFINITETALK_V2V,
    INFINITETALK_V2V_MULTI,
    INFINITETALK_FAST_MULTI,
    INFINITETALK_FAST_V2V,
    INFINITETALK_FAST_V2V_MULTI,
)
MODELS_BY_ID: dict[str, ModelSpec] = {model.id: model for model in MODELS}


def models_in(category: str | None) -> list[ModelSpec]:
    """The catalogue, or the part of it in one category (exact, case-insensitive)."""
    if category is None:
        return list(MODELS)
    wanted = category.strip().lower()
    return [model for model in MODELS if model.type.lower() == wanted]
