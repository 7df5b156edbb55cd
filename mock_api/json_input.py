"""JSON from clients, made safe to keep and to show again.

Python's ``json`` accepts three things no store or answer of the fake can hold:
``NaN`` and ``Infinity`` (not JSON numbers: ``JSONResponse`` refuses to write
them back), lone UTF-16 surrogates such as ``"\\ud800"`` (no UTF-8 encoding:
SQLite and every answer that echoes them fail), and nesting as deep as the
body is long (a 100,000-deep array is a ``RecursionError``). One client's
request holding any of them must not be charged and then break every later
read of the jobs or the journal, so :func:`parse_request_json` refuses them
at the edge with a 400 naming the field, and :func:`parse_kept_json` reads
what the journal kept, replacing what cannot be shown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from mock_api.errors import ValidationFailed

#: How deep a JSON body may nest (objects and arrays); deeper answers 400.
MAX_JSON_DEPTH = 64

#: A JSON string (skipped whole, brackets inside it are text) or a bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
#: Where a surrogate can hide in JSON text: a \uD800-\uDFFF escape.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NON_FINITE = ("NaN", "Infinity", "-Infinity")


class _NonFinite(str):
    """What ``NaN``/``Infinity`` parse to, so the walk can name the field that held it."""


def _too_deep(raw: bytes, limit: int) -> bool:
    # Most bodies have fewer brackets in all than the limit: one count, no scan.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (it then has no UTF-8 encoding)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """``text`` with lone surrogates escaped: safe to put in an answer or a log."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _problems(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, _NonFinite) or (isinstance(value, float) and not math.isfinite(value)):
        yield path, f"is {value}: JSON numbers are finite, send a number or a string"
    elif isinstance(value, str):
        if has_surrogate(value):
            yield path, "holds a lone UTF-16 surrogate, which no UTF-8 text can hold"
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{printable(key)}" if path != "body" else printable(key)
            if has_surrogate(key):
                yield child, "is a name holding a lone UTF-16 surrogate"
            yield from _problems(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, f"{path}.{index}" if path != "body" else str(index))


def parse_request_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A request's JSON body, or :class:`ValidationFailed` naming the field and reason."""
    if _too_deep(raw, max_depth):
        raise ValidationFailed(
            field="body", reason=f"nests deeper than {max_depth} levels of objects and arrays"
        )
    constants: list[str] = []

    def non_finite(name: str) -> _NonFinite:
        constants.append(name)
        return _NonFinite(name)

    def number(text: str) -> float | _NonFinite:
        # A literal past the float range (1e400) parses to infinity: as unstorable as the
        # Infinity constant, and named as sent.
        value = float(text)
        return value if math.isfinite(value) else non_finite(text)

    try:
        # UTF-8 only (RFC 8259 section 8.1): then a surrogate can only come from an escape.
        value = json.loads(raw.decode("utf-8-sig"), parse_constant=non_finite, parse_float=number)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(field="body", reason=f"is not UTF-8 text ({exc.reason})") from None
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed(field="body", reason=f"is not valid JSON ({exc})") from None
    if constants or _SURROGATE_ESCAPE.search(raw):
        for field, reason in _problems(value, "body"):
            raise ValidationFailed(field=field, reason=reason)
    return value


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if has_surrogate(value) else value
    if isinstance(value, dict):
        return {_shown(k): _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _kept_number(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def parse_kept_json(raw: bytes) -> Any:
    """JSON the journal kept, as something an answer can hold; ``None`` if it is not JSON.

    What a refused request sent may be anything: ``NaN`` comes back as the
    string ``"NaN"`` (and ``1e400``, past the float range, as ``"1e400"``), a
    lone surrogate as ``?``, and a body nested too deep is ``None`` like any
    other body the journal cannot show.
    """
    if _too_deep(raw, MAX_JSON_DEPTH):
        return None
    try:
        value = json.loads(raw.decode("utf-8-sig"), parse_constant=str, parse_float=_kept_number)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return _shown(value) if _SURROGATE_ESCAPE.search(raw) else value


def check_storable(value: Any, field: str = "body") -> None:
    """Raise :class:`ValidationFailed` unless ``value`` encodes as finite JSON in UTF-8.

    What a store keeps and every answer shows is JSON text in UTF-8; a value
    that cannot become one is refused before anything is written.
    """
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeEncodeError: a ValueError
        for name, reason in _problems(value, field):
            raise ValidationFailed(field=name, reason=reason) from None
        raise ValidationFailed(field=field, reason=f"cannot be stored as JSON ({exc})") from None
