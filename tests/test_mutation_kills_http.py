"""The bearer header, read directly: edges that mutation testing
(``benchmarks/mutation.py``) found no test for. Every ``/api/v3`` call sends
``Authorization: Bearer <key>`` (``shared/reference/wavespeed-api.md``); HTTP auth
schemes are case-insensitive (RFC 9110, section 11.1)."""

from __future__ import annotations

import pytest

from mock_api.errors import Unauthorized
from mock_api.http import api_key


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_case_insensitive(scheme: str) -> None:
    assert api_key(f"{scheme} k-1") == "k-1"


def test_the_key_is_what_follows_the_scheme_trimmed() -> None:
    assert api_key("Bearer   k-1  ") == "k-1"
    assert api_key("Bearer k 1") == "k 1"


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_says_what_to_send(header: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        api_key(header)
    assert caught.value.message == (
        "missing Authorization header: send 'Authorization: Bearer <API key>'"
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",  # sorts before "bearer"
        "Token k-1",  # and after it
        "Digest k-1",
        "k-1",
        "Bearerk-1",
        " Bearer k",
    ],
)
def test_a_malformed_header_says_what_is_expected(header: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        api_key(header)
    assert caught.value.message == "malformed Authorization header: expected 'Bearer <API key>'"
