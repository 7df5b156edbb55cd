"""Our webhook signatures, checked by an independent implementation of the documented scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from mock_api.webhooks import sign, verify
from tests.receiver import independent_signature

SECRET = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM"


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "body"),
    [
        ("msg_1", 1_700_000_000, b'{"id":"abc","status":"completed"}'),
        ("x", 0, b""),
        ("ü", 5, "ü".encode()),
    ],
)
def test_signature_matches_the_documented_scheme(msg_id: str, timestamp: int, body: bytes) -> None:
    assert sign(SECRET, msg_id, timestamp, body) == independent_signature(
        SECRET, msg_id, str(timestamp), body
    )


def test_key_is_not_base64_decoded() -> None:
    decoded_key = base64.b64decode(SECRET[len("whsec_") :] + "==")
    wrong = "v3," + hmac.new(decoded_key, b"m.1.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, "m", 1, b"{}") != wrong


def _headers(msg_id: str, timestamp: int, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def test_verify_accepts_a_fresh_signed_body() -> None:
    verify(SECRET, _headers("m", 1000, b"{}"), b"{}", now=1000)
    verify(SECRET, {k.upper(): v for k, v in _headers("m", 1000, b"{}").items()}, b"{}", now=1299)


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (_headers("m", 1000, b"{}"), b"{ }", 1000, "no signature matches"),
        (_headers("m", 1000, b"{}", secret="whsec_other"), b"{}", 1000, "no signature matches"),
        (_headers("m", 1000, b"{}"), b"{}", 1301, "more than 300 s"),
        ({"webhook-id": "m"}, b"{}", 1000, "missing or malformed"),
    ],
)
def test_verify_refuses(headers: dict[str, str], body: bytes, now: int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        verify(SECRET, headers, body, now=now)
