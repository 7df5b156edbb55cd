"""A target that is not a WaveSpeed API is named as such, first, before any budget.

Pointed at a static file server, a web page, Prism or a wrong port, the suite
used to count whatever answered as the paid service and lead with a budget plan
("refusing to start: this run could spend up to $3.705..."); the reason came last,
in a parenthesis. Now the first line says what the target is and why it cannot be
used, and the next what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mock_api.contract.options import TargetOptions
from mock_api.contract.recognise import KeyRefused, NotWavespeed, recognise, spec_source
from mock_api.contract.session import ContractSession
from mock_api.spec import SPEC_PATH

BASE = "http://127.0.0.1:8080"
PRISM_404 = (
    b'{"type":"https://stoplight.io/prism/errors#NO_PATH_MATCHED_ERROR","title":"Route not '
    b'resolved, no path matched","status":404,"detail":"The route /openapi.yaml hasn\'t been '
    b'found in the specification file"}'
)


def _answer(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    request = httpx.Request("GET", f"{BASE}/api/v3/balance")
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return httpx.Response(status, content=body, headers=named, request=request)


NOT_WAVESPEED = f"{BASE} is not a WaveSpeed API: GET /api/v3/balance answered"


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            _answer(
                404,
                b"<!DOCTYPE HTML>\n<html><title>Error response</title></html>",
                content_type="text/html;charset=utf-8",
                server="SimpleHTTP/0.6 Python/3.11.7",
            ),
            f"{NOT_WAVESPEED} 404 with HTML (Server: SimpleHTTP/0.6 Python/3.11.7)",
        ),
        (_answer(200, b"<html><body>Welcome</body></html>"), f"{NOT_WAVESPEED} 200 with HTML"),
        (
            _answer(404, b'{"detail":"Not Found"}', content_type="application/json"),
            f"{NOT_WAVESPEED} 404 with JSON that is not WaveSpeed's envelope "
            '({"code", "message", "data"})',
        ),
        (_answer(200), f"{NOT_WAVESPEED} 200 with an empty body"),
        (_answer(200, b"hello", content_type="text/plain"), f"{NOT_WAVESPEED} 200 with text"),
        (
            _answer(200, b"\x00\x01", content_type="application/octet-stream"),
            f"{NOT_WAVESPEED} 200 with a body of type application/octet-stream",
        ),
        (
            _answer(302, location="https://login.example.invalid/?next=/api/v3/balance"),
            f"{BASE} is not a WaveSpeed API at this URL: GET /api/v3/balance answered 302, "
            "redirecting to https://login.example.invalid/?next=/api/v3/balance",
        ),
        (
            # What the target says is shown on one line, printable, and not at any length.
            _answer(404, b"<html>", server="evil\r\nX-Injected: 1" + "x" * 200),
            f"{NOT_WAVESPEED} 404 with HTML (Server: evil??X-Injected: 1{'x' * 58}...)",
        ),
    ],
    ids=["http-server", "web-page", "other-json", "empty", "text", "binary", "redirect", "server"],
)
def test_what_is_not_a_wavespeed_api_is_named(answer: httpx.Response, said: str) -> None:
    with pytest.raises(NotWavespeed) as raised:
        recognise(BASE, answer, None)
    assert str(raised.value) == said
    assert not raised.value.prism


def test_prism_is_named_by_its_own_errors() -> None:
    spec = _answer(404, PRISM_404, content_type="application/problem+json")
    balance = _answer(200, b'{"code":200,"message":"success","data":{"balance":99.925}}')
    with pytest.raises(NotWavespeed) as raised:
        recognise(BASE, balance, spec)
    assert str(raised.value) == (
        f"{BASE} is a Prism mock server, not a WaveSpeed API: it answers the spec's examples "
        "and keeps no state, so no job it accepts ever runs (GET /openapi.yaml answered "
        "Prism's NO_PATH_MATCHED_ERROR)"
    )
    assert raised.value.prism
    assert "--base-url" in raised.value.advice("--base-url")


@pytest.mark.parametrize("status", [401, 403])
def test_a_wavespeed_api_that_refuses_the_key_says_so(status: int) -> None:
    body = b'{"code":401,"message":"Invalid API key","data":null}'
    with pytest.raises(KeyRefused) as raised:
        recognise(BASE, _answer(status, body), None)
    assert str(raised.value) == (
        f"{BASE} refused the API key: GET /api/v3/balance answered {status}: Invalid API key"
    )


@pytest.mark.parametrize("status", [404, 405])
def test_a_wavespeed_error_that_there_is_no_balance_here_is_not_left_to_the_budget(
    status: int,
) -> None:
    # Before: an enveloped 404 (the fake itself, at a base URL ending in /api/v3) passed
    # as a WaveSpeed API, and the run was refused for its budget instead.
    body = b'{"code":404,"message":"no route GET /api/v3/balance","data":null}'
    with pytest.raises(NotWavespeed) as raised:
        recognise(BASE, _answer(status, body, server="uvicorn"), None)
    assert str(raised.value) == (
        f"{BASE} is not a WaveSpeed API at this URL: GET /api/v3/balance answered {status}: "
        "no route GET /api/v3/balance (Server: uvicorn)"
    )


@pytest.mark.parametrize(
    ("base_url", "advice"),
    [
        (
            "http://127.0.0.1:8732/api/v3",
            "--base-url should be the origin, e.g. http://127.0.0.1:8732: it ends in /api/v3, "
            "which the suite adds itself.",
        ),
        (
            "https://proxy.example/api/v2/",
            "--base-url should be the origin, e.g. https://proxy.example: it ends in /api/v2, "
            "which the suite adds itself.",
        ),
        (
            "http://127.0.0.1:8732/a/b?x=1",
            "--base-url should be the origin, e.g. http://127.0.0.1:8732: it has a path (/a/b), "
            "and the suite adds /api/v3/... to it.",
        ),
        (
            "http://127.0.0.1:8732/",
            "Is --base-url right? The real service is https://api.wavespeed.ai; "
            "`wavespeed-mock serve` listens on http://127.0.0.1:8000 unless told otherwise.",
        ),
    ],
    ids=["api-v3", "api-v2", "a-path", "origin"],
)
def test_the_advice_names_a_base_url_with_a_path_as_the_likely_cause(
    base_url: str, advice: str
) -> None:
    assert NotWavespeed("x").advice("--base-url", base_url) == advice


@pytest.mark.parametrize(
    "answer",
    [
        _answer(200, b'{"code":200,"message":"success","data":{"balance":12.5}}'),
        # An error in WaveSpeed's envelope is a WaveSpeed API: the balance read judges it.
        _answer(503, b'{"code":503,"message":"busy","data":null}'),
        _answer(200, b'{"data":{"balance":"lots"}}'),
    ],
    ids=["balance", "busy", "odd-balance"],
)
def test_a_wavespeed_answer_is_left_to_the_balance_read(answer: httpx.Response) -> None:
    recognise(BASE, answer, _answer(404))


class _Recording(SimpleHTTPRequestHandler):
    """``python -m http.server`` serving an empty directory, noting each request."""

    seen: list[str]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.seen.append(f"{self.command} {self.path}")

    def log_message(self, *args: object) -> None:
        """Quiet: nothing on stderr."""


@contextmanager
def file_server(root: Path) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Recording,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_file_server_is_refused_first_and_asked_two_things_only(tmp_path: Path) -> None:
    # Before: "refusing to start: this run could spend up to $3.705 on a paid endpoint,
    # over the budget of $0.00." and the whole plan, as if it were the real service.
    with file_server(tmp_path) as (url, seen):
        state = ContractSession(TargetOptions(base_url=url, api_key="k"))
        with pytest.raises(NotWavespeed) as raised:
            state.open([])
    first, advice = str(raised.value).splitlines()
    assert first.startswith(
        f"{url} is not a WaveSpeed API: GET /api/v3/balance answered 404 with HTML "
        "(Server: SimpleHTTP/0.6 Python/"
    ), first
    assert advice.startswith("Is --wavespeed-base-url right? The real service is ")
    assert seen == ["GET /openapi.yaml", "GET /api/v3/balance"]


def test_the_spec_is_named_for_where_it_comes_from() -> None:
    # In a checkout, its file; installed, the wheel's (tests/test_wheel.py reads that one).
    assert spec_source() == f"this checkout's openapi.yaml ({SPEC_PATH})"
