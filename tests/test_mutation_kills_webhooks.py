"""Webhook signing edges that mutation testing (``benchmarks/mutation.py``) found no
test for. The scheme (README, Webhooks; ``shared/reference/wavespeed-api.md``):
``v3,<hex HMAC-SHA256>`` of ``{id}.{timestamp}.{body}``, keyed by the secret without
``whsec_``, timestamps within 300 s of now."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from mock_api.webhooks import sign, signing_key, verify

SECRET = "whsec_k3y"


def _headers(timestamp: int, body: bytes = b"{}", msg_id: str = "m") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(SECRET, msg_id, timestamp, body),
    }


def test_the_key_is_the_secret_without_its_prefix() -> None:
    assert signing_key("whsec_k3y") == b"k3y"
    assert signing_key("k3y") == b"k3y"  # a secret given without it is used as is
    assert signing_key("whsec_whsec_x") == b"whsec_x"  # only the prefix goes


def test_the_signature_is_v3_and_the_hex_digest() -> None:
    expected = hmac.new(b"k3y", b"m.17.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, "m", 17, b"{}") == f"v3,{expected}"


def test_a_timestamp_from_the_future_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^timestamp 5000 is more than 300 s from now$"):
        verify(SECRET, _headers(5000), b"{}", now=1000)


def test_the_tolerance_can_be_chosen() -> None:
    verify(SECRET, _headers(1000), b"{}", now=1010, tolerance=10)
    with pytest.raises(ValueError, match="more than 10 s from now"):
        verify(SECRET, _headers(1000), b"{}", now=1011, tolerance=10)


def test_without_now_the_wall_clock_decides() -> None:
    verify(SECRET, _headers(int(time.time())), b"{}")
    with pytest.raises(ValueError, match="more than 300 s from now"):
        verify(SECRET, _headers(int(time.time()) - 400), b"{}")


def test_any_of_several_signatures_may_match() -> None:
    headers = _headers(1000)
    headers["webhook-signature"] = f"v3,00 {headers['webhook-signature']} v3,ff"
    verify(SECRET, headers, b"{}", now=1000)


def test_a_signature_of_another_message_id_is_refused() -> None:
    headers = _headers(1000, msg_id="m1")
    headers["webhook-id"] = "m2"
    with pytest.raises(ValueError, match=r"^no signature matches$"):
        verify(SECRET, headers, b"{}", now=1000)


@pytest.mark.parametrize(
    "broken",
    [
        {"webhook-timestamp": "soon"},
        {"webhook-timestamp": ""},
    ],
)
def test_a_malformed_timestamp_is_named(broken: dict[str, str]) -> None:
    headers = {**_headers(1000), **broken}
    with pytest.raises(ValueError, match=r"^missing or malformed webhook-\* headers$"):
        verify(SECRET, headers, b"{}", now=1000)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(missing: str) -> None:
    headers = _headers(1000)
    del headers[missing]
    with pytest.raises(ValueError, match=r"^missing or malformed webhook-\* headers$"):
        verify(SECRET, headers, b"{}", now=1000)


def test_header_names_are_read_in_any_case() -> None:
    headers = {k.title(): v for k, v in _headers(1000).items()}
    verify(SECRET, headers, b"{}", now=1000)


def test_now_and_tolerance_are_keyword_only() -> None:
    # A positional 1000 could be read as either: the signature refuses to guess.
    with pytest.raises(TypeError):
        verify(SECRET, _headers(1000), b"{}", 1000)  # type: ignore[call-arg]
