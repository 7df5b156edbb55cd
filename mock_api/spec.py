"""``openapi.yaml`` as the fake's request validator.

The spec is the single source of truth: instead of restating the request
shapes as pydantic models (which drift), the routes ask this module to check
bodies and query strings against the very schemas in the file, and every
violation comes back as a :class:`~mock_api.errors.ValidationFailed` naming the
field and the rule, in words a person can act on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mock_api import hints
from mock_api.errors import ValidationFailed, Violation


def _spec_path() -> Path:
    """Where ``openapi.yaml`` is: in the package, where a wheel carries it (``setup.py``
    copies the top-level file in at build time), else at the top of a checkout.

    The repository holds one copy only, at its top (``mock_api/openapi.yaml`` is
    ignored by git), so an installed package and a checkout read the same file.
    """
    package = Path(__file__).resolve().parent
    packaged = package / "openapi.yaml"
    return packaged if packaged.is_file() else package.parent / "openapi.yaml"


SPEC_PATH = _spec_path()
# libyaml's safe loader when PyYAML has it: several times faster on this
# document, a cost every process that starts the fake pays (benchmarks/run.py).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

#: What the real catalogue shows of each input of a request schema.
_CATALOGUE_KEYWORDS = frozenset(
    {"type", "description", "default", "enum", "x-accept", "x-ui-component"}
)

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "a JSON object",
    "array": "an array",
    "null": "null",
}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # lower case
    path: str  # the template, as in the spec
    definition: Mapping[str, Any]


#: How many violations a 400's message spells out; ``details`` lists every one.
MAX_NAMED_VIOLATIONS = 5


class RequestInvalid(ValidationFailed):
    """Every violation of one request; the message names the first few, each in full.

    It once read ``field "order" must be one of meanwhile, left_right, right_left
    (and 1 more)``: a reader could not tell one more value from one more error.
    """

    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        super().__init__(field=first.field, reason=first.reason, location=first.location)
        self.violations = violations
        if len(violations) > 1:
            named = [
                ValidationFailed(field=v.field, reason=v.reason, location=v.location).message
                for v in violations[:MAX_NAMED_VIOLATIONS]
            ]
            self.message = "; ".join(named)
            others = len(violations) - len(named)
            if others:
                self.message += f"; and {others} other problems, each in details"
            self.args = (self.message,)


class Spec:
    """A loaded OpenAPI document with validators built on demand."""

    def __init__(self, document: Mapping[str, Any], text: str) -> None:
        self.document = document
        self.text = text
        self._operations = {op.operation_id: op for op in self._walk()}

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> Spec:
        text = path.read_text(encoding="utf-8")
        return cls(yaml.load(text, Loader=_SAFE_LOADER), text)  # noqa: S506 - a safe loader

    def _walk(self) -> Iterator[Operation]:
        for path, item in self.document["paths"].items():
            for method in HTTP_METHODS:
                if method in item:
                    op = item[method]
                    yield Operation(op["operationId"], method, path, op)

    @property
    def operations(self) -> list[Operation]:
        return list(self._operations.values())

    def operation(self, operation_id: str) -> Operation:
        return self._operations[operation_id]

    @functools.cache  # noqa: B019 - one Spec per process; validators are worth keeping
    def _validator(self, operation_id: str, content_type: str) -> jsonschema.Draft202012Validator:
        op = self.operation(operation_id)
        schema = op.definition["requestBody"]["content"][content_type]["schema"]
        return self._compile(schema)

    def _compile(self, schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
        # Local "#/components/..." references resolve against the root schema,
        # so carrying the components alongside is all the resolver needs.
        root = {**schema, "components": self.document["components"]}
        return jsonschema.Draft202012Validator(root)

    @functools.cache  # noqa: B019 - as above
    def _response_validator(
        self, operation_id: str, status: int
    ) -> jsonschema.Draft202012Validator:
        responses = self.operation(operation_id).definition["responses"]
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if response is None:
            raise KeyError(f"{operation_id} documents no {status} answer")
        resolved = self._resolved(response)  # "#/components/responses/Name"
        return self._compile(resolved["content"]["application/json"]["schema"])

    def response_violations(self, operation_id: str, status: int, body: object) -> list[Violation]:
        """How a JSON answer breaks what the operation documents for ``status`` (none: it fits).

        An undocumented status is itself a violation. Used by the contract suite
        to hold every answer it reads to the spec, whichever server sent it.
        """
        try:
            validator = self._response_validator(operation_id, status)
        except KeyError as exc:
            return [Violation("status", str(exc.args[0]), location="response")]
        found = (v for error in validator.iter_errors(body) for v in _violations(error))
        return [Violation(v.field, v.reason, "response") for v in dict.fromkeys(found)]

    def resolved_schema(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """A schema with its ``$ref`` chain followed: the keywords beside a ``$ref`` win."""
        merged: dict[str, Any] = {}
        while True:
            merged = {**{k: v for k, v in node.items() if k != "$ref"}, **merged}
            ref = node.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
                return merged
            node = self.document["components"]["schemas"][ref.rsplit("/", 1)[1]]

    def catalogue_schema(self, name: str) -> dict[str, Any]:
        """``components/schemas/<name>`` as WaveSpeed's catalogue gives a request schema.

        The real ``GET /api/v3/models`` shows each input's ``type``, ``description``,
        ``default`` and ``enum`` and its UI hints (``x-accept``, ``x-ui-component``),
        the ``required`` list and ``x-order-properties``; this project's bounds
        (patterns, lengths, ranges) and its own notes (``x-media``, ``x-reason``)
        validate submissions but are not part of that answer, and neither are the
        platform's fields (``allOf``: sync mode, base64 output, the webhook), which
        no real request schema lists.
        """
        schema = self.document["components"]["schemas"][name]
        properties = {
            field: {
                key: value
                for key, value in self.resolved_schema(node).items()
                if key in _CATALOGUE_KEYWORDS
            }
            for field, node in schema.get("properties", {}).items()
        }
        shown: dict[str, Any] = {
            "properties": properties,
            "required": list(schema.get("required", [])),
            "type": "object",
        }
        if "x-order-properties" in schema:
            shown["x-order-properties"] = list(schema["x-order-properties"])
        return shown

    def validate_body(
        self, operation_id: str, body: object, content_type: str = "application/json"
    ) -> None:
        """Raise :class:`RequestInvalid` unless ``body`` matches the operation's schema."""
        validator = self._validator(operation_id, content_type)
        found = (v for error in validator.iter_errors(body) for v in _violations(error))
        violations = sorted(
            dict.fromkeys(found),  # one "required" error is raised per missing field
            key=lambda v: (v.field != "body", v.field),  # stable: schema order within a field
        )
        if violations:
            raise RequestInvalid(violations)

    def _resolved(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """``node``, or what its ``$ref`` ("#/components/<kind>/<name>") names."""
        while "$ref" in node:
            *_, kind, name = node["$ref"].split("/")
            node = self.document["components"][kind][name]
        return node

    def parse_query(self, operation_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """Coerce and check an operation's query parameters; defaults filled in."""
        values: dict[str, Any] = {}
        violations: list[Violation] = []
        for declared in self.operation(operation_id).definition.get("parameters", []):
            param = self._resolved(declared)
            if param.get("in") != "query":
                continue
            name, schema = param["name"], param["schema"]
            if name not in query:
                if param.get("required"):
                    violations.append(Violation(name, "is required", "query"))
                elif "default" in schema:
                    values[name] = schema["default"]
                continue
            try:
                value = _coerce(query[name], schema.get("type", "string"))
            except ValueError as exc:
                violations.append(Violation(name, str(exc), "query"))
                continue
            for error in self._compile(schema).iter_errors(value):
                violations.extend(Violation(name, v.reason, "query") for v in _violations(error))
            values[name] = value
        if violations:
            raise RequestInvalid(violations)
        return values


def _coerce(raw: str, kind: str) -> Any:
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be an integer") from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return raw.lower() == "true"
    if kind == "number":
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return number
    return raw


def _violations(error: jsonschema.ValidationError) -> list[Violation]:
    path = ".".join(str(part) for part in error.absolute_path)
    keyword = str(error.validator)
    value: Any = error.validator_value
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "required" and isinstance(error.instance, Mapping):
        prefix = f"{path}." if path else ""
        holder = f'field "{path}"' if path else "the body"
        known = [*schema.get("properties", {})]
        present = [str(k) for k in error.instance]
        return [
            Violation(prefix + name, hints.required_reason(name, present, known, holder))
            for name in value
            if name not in error.instance
        ]
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        prefix = f"{path}." if path else ""
        known = [*schema.get("properties", {})]
        extra = [str(k) for k in error.instance if k not in known]
        reasons = hints.not_allowed_reasons(extra, known)
        return [Violation(prefix + k, reason) for k, reason in zip(extra, reasons, strict=True)]
    field = path or "body"
    if keyword in ("pattern", "anyOf") and "x-reason" in schema:
        return [Violation(field, str(schema["x-reason"]))]
    if keyword == "minLength" and value == 1:
        return [Violation(field, "must not be empty")]
    if keyword in ("anyOf", "oneOf") and isinstance(value, list):
        # The alternative of the value's own type says what is wrong with it ("must
        # match ..."); with none of its type, the types allowed are the reason.
        fitting = [sub for sub in error.context or () if sub.validator != "type"]
        if fitting:
            return _violations(min(fitting, key=lambda sub: len(sub.path)))
        return [Violation(field, _one_of_reason(value))]
    explain = _REASONS.get(keyword)
    if keyword == "enum" and isinstance(error.instance, str) and isinstance(value, list):
        allowed = [x for x in value if isinstance(x, str)]
        hint = hints.did_you_mean(error.instance, allowed)  # "Left_Right" -> "left_right"
        return [Violation(field, _REASONS["enum"](value) + hint)]
    if explain is not None:
        return [Violation(field, explain(value))]
    # jsonschema's own words begin with the value as Python writes it (True, None,
    # 'text'): the client sent JSON, so it is shown as JSON.
    message = error.message
    shown = repr(error.instance)
    if message.startswith(shown):
        message = json.dumps(error.instance, default=str)[:200] + message[len(shown) :]
    return [Violation(field, message)]


def _one_of_reason(alternatives: list[Any]) -> str:
    """``must be a number or a string``, from the alternatives' types where they all say one."""
    kinds: list[str] = []
    for alternative in alternatives:
        kind = alternative.get("type") if isinstance(alternative, Mapping) else None
        if kind is None:
            return "matches none of the forms the field allows"
        kinds += [kind] if isinstance(kind, str) else [str(k) for k in kind]
    return _type_reason(list(dict.fromkeys(kinds)))


def _type_reason(value: Any) -> str:
    wanted = value if isinstance(value, list) else [value]
    return "must be " + " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in wanted)


def _shown_value(value: Any) -> str:
    """An allowed value as the client would write it: text as is, the rest as JSON
    (``null``, not Python's ``None``)."""
    return value if isinstance(value, str) else json.dumps(value)


_REASONS: dict[str, Callable[[Any], str]] = {
    "type": _type_reason,
    "enum": lambda v: "must be one of " + ", ".join(_shown_value(x) for x in v),
    "const": lambda v: f"must be {v!r}",
    "minimum": lambda v: f"must be >= {v}",
    "maximum": lambda v: f"must be <= {v}",
    "exclusiveMinimum": lambda v: f"must be > {v}",
    "exclusiveMaximum": lambda v: f"must be < {v}",
    "minLength": lambda v: f"must be at least {v} characters",
    "maxLength": lambda v: f"must be at most {v} characters",
    "pattern": lambda v: f"must match {v}",
}


@functools.cache
def default_spec() -> Spec:
    """The project's ``openapi.yaml``, loaded once per process."""
    return Spec.load()
