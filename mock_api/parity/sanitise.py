"""What an exchange looks like once it may be written to disk and compared.

Two recordings of the same flow, made on different days from different
accounts, must compare equal, and neither may hold a credential. So:

* **never written**: API keys (no request header is recorded, and a key found
  in a body is replaced), webhook secrets (``whsec_…``) and signatures;
* **replaced by stable placeholders**, numbered in order of first sight, so that
  which values were the same survives (``<prediction:1>`` everywhere one id
  appears, in ``data.id``, in ``urls.get``, in an output URL): 32-hex ids,
  ISO 8601 moments, the base URL of every URL, balances, drawn seeds, webhook
  ids and unix timestamps; durations that depend on the machine (``timings``,
  ``executionTime``) become ``<ms>``;
* **media** are recorded by size and SHA-256, never by content.

Pure: the :class:`Sanitiser` holds only its placeholder tables.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["SECRET", "SIGNATURE", "Sanitiser", "media_summary"]

SECRET = "<secret>"  # noqa: S105 - the placeholder that stands for one
SIGNATURE = "<signature>"

_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX_IN_PATH = re.compile(r"(?<=/)[0-9a-f]{32}(?=/|$)")
_HEX_IN_TEXT = re.compile(r"\b[0-9a-f]{32}\b")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_URL = re.compile(r"^https?://[^/\s]+")
_SECRET_TEXT = re.compile(r"whsec_[A-Za-z0-9_+/=-]+")
#: Keys whose values hold money or a moment that differ from run to run.
_BALANCE_KEYS = frozenset({"balance"})
_DURATION_KEYS = frozenset({"inference", "executionTime"})
#: Keys whose values are credentials, wherever they appear.
_SECRET_KEYS = frozenset({"secret", "api_key", "authorization", "webhook-signature"})
#: Query parameters that carry credentials, whatever their value.
_SECRET_QUERY = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "secret", "signature"}
)
#: What each kind of id is, by where it is first seen (the key holding it, or the path).
_ID_KINDS = {"ticket_id": "ticket", "file_id": "file"}
_PATH_KINDS = (
    ("/media/files/", "file"),
    ("/media/upload-tickets/", "ticket"),
    ("/media/outputs/", "prediction"),
    ("/predictions/", "prediction"),
)


def media_summary(content: bytes) -> dict[str, Any]:
    """A body that is media, or anything not JSON: its size and digest only."""
    return {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


class Sanitiser:
    """Replaces volatile values by placeholders, the same value by the same one."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        #: Raw strings never to be written, whatever key holds them (the API keys).
        self.secrets = tuple(s for s in secrets if s)
        self._tables: dict[str, dict[str, str]] = {}

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    @secrets.setter
    def secrets(self, value: tuple[str, ...]) -> None:
        # Whole tokens only: a one-letter key must not eat that letter out of every word
        # (and so spell itself out to whoever reads the recording).
        self._secrets = value
        alternatives = "|".join(re.escape(s) for s in sorted(value, key=len, reverse=True))
        self._secret_pattern = (
            re.compile(rf"(?<![A-Za-z0-9_-])(?:{alternatives})(?![A-Za-z0-9_-])") if value else None
        )

    def placeholder(self, kind: str, raw: object) -> str:
        table = self._tables.setdefault(kind, {})
        key = str(raw)
        if key not in table:
            table[key] = f"<{kind}:{len(table) + 1}>"
        return table[key]

    def url(self, url: str) -> str:
        """``<base>`` for the origin, placeholders for the ids in the path; the query kept."""
        parts = urlsplit(url)
        path = parts.path
        kind = next((k for prefix, k in _PATH_KINDS if prefix in path), "id")
        path = _HEX_IN_PATH.sub(lambda m: self.placeholder(kind, m.group(0)), path)
        pairs = [
            (name, SECRET if name.lower() in _SECRET_QUERY else self.text(value, name))
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        query = f"?{urlencode(pairs, safe='<>:/')}" if pairs else ""
        return f"<base>{path}{query}"

    def text(self, value: str, key: str = "") -> str:
        if self._secret_pattern is not None:
            value = self._secret_pattern.sub(SECRET, value)
        value = _SECRET_TEXT.sub(SECRET, value)
        if _HEX_ID.match(value):
            return self.placeholder(_ID_KINDS.get(key, "prediction"), value)
        if _MOMENT.match(value):
            return self.placeholder("time", value)
        if value.startswith("data:"):
            return f"<data-uri:{hashlib.sha256(value.encode()).hexdigest()[:16]}>"
        if _URL.match(value):
            return self.url(value)
        # An id inside a sentence ("prediction 0123... not found") is the same id.
        return _HEX_IN_TEXT.sub(lambda m: self.placeholder("prediction", m.group(0)), value)

    def json(self, value: Any, key: str = "") -> Any:
        """A JSON value with every volatile or secret part replaced."""
        lowered = key.lower()
        if lowered in _SECRET_KEYS:
            return SECRET if value not in (None, "") else value
        if isinstance(value, Mapping):
            return {str(k): self.json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            if key == "ids":
                return [self.text(str(v), "id") for v in value]
            return [self.json(v, key) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            if key in _BALANCE_KEYS:
                return self.placeholder("balance", value)
            if key in _DURATION_KEYS:
                return "<ms>" if value else 0
            if key == "seed" and value != -1:
                return "<seed>"
            return value
        if isinstance(value, str):
            return self.text(value, key)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers worth comparing, sanitised; credentials never kept."""
        kept: dict[str, str] = {}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered in ("authorization", "cookie", "x-mock-token"):
                continue
            if lowered == "webhook-signature":
                kept[lowered] = SIGNATURE
            elif lowered == "webhook-id":
                kept[lowered] = self.placeholder("webhook", value)
            elif lowered == "webhook-timestamp":
                kept[lowered] = "<unix-time>"
            elif lowered in ("content-type", "retry-after"):
                kept[lowered] = self.text(value)
        return kept
