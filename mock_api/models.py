"""The models the fake serves, read from ``openapi.yaml``: the model registry.

``openapi.yaml`` is the one place a model is defined. Each submit operation
that carries an ``x-model`` extension is a model:

* its path (``/api/v3/<model id>``) and ``operationId``;
* its request schema (the ``requestBody`` schema): which inputs it takes and
  requires, their defaults and enums, which are media of which kind
  (``x-media``), in the order the catalogue shows them (``x-order-properties``);
* ``x-model``: what the catalogue (``GET /api/v3/models``) says of it besides
  (``type``, ``description``, ``sort_order``);
* ``x-price``: its tariff, as WaveSpeed's catalogue states it: ``base_price``
  (USD per ``per_seconds`` of output at the default resolution, a decimal
  string: money is never a float), the ``minimum_seconds`` and
  ``maximum_seconds`` billed, the audio inputs whose durations are priced
  (``priced_by``: one, or ``left_audio, right_audio`` combined by ``order``),
  ``resolution_factors`` (720p costs twice 480p on the standard models) and the
  catalogue's ``formula`` text, verbatim.

:func:`load_registry` turns those blocks into :class:`ModelSpec` entries when
the service starts (a :class:`~mock_api.service.MockService` reads the spec it
is given, so a copy of the spec with one more block serves one more model).
Everything else follows from an entry: its submit route, the validation of its
body, its price, its output (as long as the priced speech), the catalogue,
price quotes (``POST /api/v3/model/price`` and ``/model/pricing``),
``wavespeed-mock price --model`` and the contract suite's job builder
(:mod:`mock_api.contract.jobs`). The contract suite keeps its own tariff of
each model (:mod:`mock_api.contract.rule`) apart on purpose: a price read from
here could not catch a wrong price here.

How :attr:`~mock_api.settings.Settings.billing` (the CLI's ``--min-seconds``,
``--padding-tolerance``, ``--over-max``) applies: it is our model's policy
whole, exactly as before the family came; for the others its padding
tolerance and over-maximum handling apply too (the fake's readings of rules
the docs leave open, the same for the whole family), while rate, minimum and
maximum are each model's own (:meth:`Pricing.policy`).

The real catalogue's formulas have no ``$ceil``: the fake still bills whole
seconds, rounded up, as the family's product pages say (the formula's
``get_duration_v3`` may well round; nothing recorded says it does not). The
README's "The InfiniteTalk family" has the evidence behind each reading.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from mock_api import billing
from mock_api.billing import MICROS_PER_USD, BillingPolicy, Order, Quote
from mock_api.records import MediaKind
from mock_api.settings import MODEL_ID
from mock_api.spec import Spec, default_spec

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "MODELS_BY_ID",
    "ModelSpec",
    "Pricing",
    "Registry",
    "RegistryError",
    "load_registry",
]

API_PREFIX = "/api/v3/"
MEDIA_KINDS: tuple[MediaKind, ...] = ("audio", "image", "video")


class RegistryError(ValueError):
    """A model block of the spec that cannot be served, and why."""


@dataclass(frozen=True)
class Pricing:
    """A model's tariff: a rate per billed second, by resolution, a minimum and a maximum."""

    minimum_seconds: int
    #: Micro-dollars per billed second, by the value of the ``resolution`` input; a
    #: model without that input has one rate, under ``""``.
    rates: tuple[tuple[str, int], ...]
    maximum_seconds: int = 600
    #: Rate and minimum are :attr:`Settings.billing`'s rather than these (our model,
    #: whose policy the CLI's flags have always set; the spec's values are its defaults).
    follows_settings: bool = False

    @property
    def resolutions(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.rates if name)

    def rate(self, resolution: str | None) -> int:
        """The rate at ``resolution``; the first (default) one for none or one not listed."""
        return dict(self.rates).get(resolution or "", self.rates[0][1])

    def policy(self, base: BillingPolicy, resolution: str | None = None) -> BillingPolicy:
        """``base`` (the settings' policy) with this model's rate and minimum, and the lower
        of the two maximums."""
        if self.follows_settings:
            return base
        maximum = min(self.maximum_seconds, base.maximum_seconds)
        return replace(
            base,
            rate_micros_per_second=self.rate(resolution),
            minimum_seconds=min(self.minimum_seconds, maximum),
            maximum_seconds=maximum,
        )


@dataclass(frozen=True)
class ModelSpec:
    """One model as the catalogue lists it, the router serves it and billing prices it."""

    id: str  # the path after /api/v3/
    #: The catalogue's ``type`` (``digital-human`` for the whole family).
    type: str
    description: str
    #: Where the catalogue puts it: WaveSpeed's CLI lists models with a ``sort_order``
    #: as ``models --popular``, smallest first.
    sort_order: int
    #: The ``operationId`` of its submit operation in ``openapi.yaml``.
    operation_id: str
    #: The ``components/schemas`` entry of ``openapi.yaml`` that is its request body.
    input_schema: str
    #: The model's own inputs (its schema's properties, the platform's fields apart).
    fields: tuple[str, ...]
    #: What every submission takes beside them (the schema's ``allOf`` parts:
    #: ``enable_sync_mode``, ``enable_base64_output``, ``webhook_url``).
    platform_fields: tuple[str, ...]
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
    #: The catalogue's ``base_price``: USD per :attr:`per_seconds` at the default resolution.
    base_price: Decimal
    per_seconds: int
    #: The catalogue's price formula (JSONata), verbatim from the spec.
    formula: str

    @property
    def name(self) -> str:
        """The catalogue's ``name``: the model id, as the real catalogue gives it."""
        return self.id

    @property
    def api_path(self) -> str:
        return f"{API_PREFIX}{self.id}"

    @property
    def two_speakers(self) -> bool:
        return len(self.audio_inputs) == 2

    def default_inputs(self) -> dict[str, Any]:
        return dict(self.defaults)

    def unknown_fields(self, body: Mapping[str, Any], *, platform: bool = True) -> list[str]:
        """The fields of ``body`` that are not this model's inputs (nor, with ``platform``,
        the platform's fields), in the order they came."""
        known = {*self.fields, *(self.platform_fields if platform else ())}
        return [name for name in body if name not in known]

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


@dataclass(frozen=True)
class Registry:
    """Every model one spec defines, in the catalogue's order (``sort_order``)."""

    models: tuple[ModelSpec, ...]

    @functools.cached_property
    def by_id(self) -> dict[str, ModelSpec]:
        return {model.id: model for model in self.models}

    @property
    def default(self) -> ModelSpec:
        """The model of the fake's defaults (``MODEL_ID``), or the first one listed."""
        return self.by_id.get(MODEL_ID, self.models[0])

    def of_type(self, wanted: str | None) -> list[ModelSpec]:
        """The catalogue, or the part of it of one ``type`` (exact, ignoring case)."""
        if wanted is None:
            return list(self.models)
        wanted = wanted.strip().lower()
        return [model for model in self.models if model.type.lower() == wanted]


def load_registry(spec: Spec) -> Registry:
    """The models of ``spec``: one per operation with an ``x-model`` block.

    Raises :class:`RegistryError` naming the operation and the field when a
    block cannot be served (a price that is not whole micro-dollars a second,
    a priced input that is not audio, a path outside ``/api/v3/``...), so a
    wrong edit of the spec stops the server at start-up, not a request later.
    """
    models = [_model(spec, op.operation_id) for op in spec.operations if "x-model" in op.definition]
    if not models:
        raise RegistryError("the spec defines no model (no operation has an x-model block)")
    return Registry(tuple(sorted(models, key=lambda m: (m.sort_order, m.id))))


def _model(spec: Spec, operation_id: str) -> ModelSpec:
    op = spec.operation(operation_id)
    where = f"{operation_id} ({op.method.upper()} {op.path})"
    if op.method != "post" or not op.path.startswith(API_PREFIX):
        raise RegistryError(f"{where}: a model's operation is a POST under {API_PREFIX}")
    about, price = op.definition["x-model"], op.definition.get("x-price")
    if not isinstance(about, Mapping) or not isinstance(price, Mapping):
        raise RegistryError(f"{where}: x-model and x-price must both be objects")
    try:
        ref = op.definition["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    except (KeyError, TypeError):
        raise RegistryError(f"{where}: its request body must be a $ref to a schema") from None
    input_schema = str(ref).rsplit("/", 1)[1]
    schema = spec.document["components"]["schemas"][input_schema]
    properties: Mapping[str, Any] = schema.get("properties", {})
    media, defaults = _inputs(spec, schema, where)
    model_id = op.path[len(API_PREFIX) :]
    tariff = _Tariff.read(price, where)
    priced_by = tuple(price.get("priced_by") or ())
    if len(priced_by) not in (1, 2) or any(dict(media).get(f) != "audio" for f in priced_by):
        raise RegistryError(f"{where}: x-price.priced_by must name one or two audio inputs")
    if len(priced_by) == 2 and "order" not in properties:
        raise RegistryError(f"{where}: a model priced by two tracks needs an order input")
    resolution = spec.resolved_schema(properties.get("resolution", {}))
    return ModelSpec(
        id=model_id,
        type=str(about.get("type", "")),
        description=str(about.get("description", "")),
        sort_order=int(about.get("sort_order", 0)),
        operation_id=operation_id,
        input_schema=input_schema,
        fields=tuple(properties),
        platform_fields=tuple(
            name
            for part in schema.get("allOf", ())
            for name in spec.resolved_schema(part).get("properties", {})
        ),
        media_inputs=media,
        required=tuple(schema.get("required", ())),
        audio_inputs=priced_by,
        defaults=defaults,
        pricing=Pricing(
            minimum_seconds=tariff.minimum,
            maximum_seconds=tariff.maximum,
            rates=tariff.rates(resolution, price.get("resolution_factors") or {}, where),
            follows_settings=model_id == MODEL_ID,
        ),
        base_price=tariff.base_price,
        per_seconds=tariff.per_seconds,
        formula=tariff.formula,
    )


def _inputs(
    spec: Spec, schema: Mapping[str, Any], where: str
) -> tuple[tuple[tuple[str, MediaKind], ...], tuple[tuple[str, Any], ...]]:
    """The media inputs (``x-media``) and the defaults, in the catalogue's order."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    media: list[tuple[str, MediaKind]] = []
    defaults: list[tuple[str, Any]] = []
    for field in schema.get("x-order-properties", list(properties)):
        if field not in properties:
            continue  # the real catalogue orders a field one model lacks (its resolution)
        resolved = spec.resolved_schema(properties[field])
        kind = resolved.get("x-media")
        if kind is not None:
            if kind not in MEDIA_KINDS:
                raise RegistryError(f"{where}: {field}: x-media must be one of {MEDIA_KINDS}")
            media.append((field, cast(MediaKind, kind)))
        if "default" in resolved:
            defaults.append((field, resolved["default"]))
    return tuple(media), tuple(defaults)


@dataclass(frozen=True)
class _Tariff:
    """``x-price``, checked: whole micro-dollars a second, a minimum within the maximum."""

    base_price: Decimal
    per_seconds: int
    minimum: int
    maximum: int
    formula: str

    @classmethod
    def read(cls, price: Mapping[str, Any], where: str) -> _Tariff:
        try:
            tariff = cls(
                base_price=Decimal(str(price["base_price"])),
                per_seconds=int(price["per_seconds"]),
                minimum=int(price["minimum_seconds"]),
                maximum=int(price["maximum_seconds"]),
                formula=str(price["formula"]),
            )
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            raise RegistryError(
                f"{where}: x-price needs base_price, per_seconds, minimum_seconds, "
                f"maximum_seconds and formula ({exc!r})"
            ) from None
        if not tariff.base_price.is_finite() or tariff.base_price < 0 or tariff.per_seconds < 1:
            raise RegistryError(f"{where}: x-price needs base_price >= 0, per_seconds >= 1")
        if not 0 < tariff.minimum <= tariff.maximum:
            raise RegistryError(f"{where}: x-price needs 0 < minimum_seconds <= maximum_seconds")
        if tariff.rate != tariff.rate.to_integral_value():
            raise RegistryError(
                f"{where}: x-price.base_price / per_seconds is {tariff.rate} micro-dollars "
                "a second, not a whole number"
            )
        return tariff

    @property
    def rate(self) -> Decimal:
        """Micro-dollars per second at the default resolution."""
        return self.base_price * MICROS_PER_USD / self.per_seconds

    def rates(
        self, resolution: Mapping[str, Any], factors: Mapping[str, Any], where: str
    ) -> tuple[tuple[str, int], ...]:
        """The rate at each resolution, the default first (``""``: the model has none)."""
        choices = list(resolution.get("enum", []))
        if set(factors) - set(choices):
            raise RegistryError(f"{where}: x-price.resolution_factors names an unknown resolution")
        default = resolution.get("default")
        if default in choices:
            choices.remove(default)
            choices.insert(0, default)
        if not choices:
            return (("", int(self.rate)),)
        return tuple(
            (name, int(self.rate * Decimal(str(factors.get(name, 1))))) for name in choices
        )


#: The project's own ``openapi.yaml``'s models (a service reads its own spec's).
REGISTRY = load_registry(default_spec())
#: The model of the fake's defaults (``MODEL_ID``): its policy is ``Settings.billing``.
DEFAULT_MODEL = REGISTRY.default
#: Every model the fake serves, in the order the catalogue lists them.
MODELS: tuple[ModelSpec, ...] = REGISTRY.models
MODELS_BY_ID: dict[str, ModelSpec] = REGISTRY.by_id
