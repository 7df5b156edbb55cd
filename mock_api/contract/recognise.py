"""What a target is when it is not a WaveSpeed API: the first thing a refused run says.

Why this exists: pointed at the wrong thing (a static file server, a web page, Prism
mocking the spec, another service on that port), the suite used to treat whatever
answered as the paid service and lead with a budget plan, or fail deep inside some
check. A target that is not the fake (which serves our very ``openapi.yaml``) is
asked for its balance before anything else (before any budget); this reads that
answer, and the ``/openapi.yaml`` one, and says in one line what the target is and
why it cannot be used: ``http://127.0.0.1:8080 is not a WaveSpeed API: GET /api/v3/balance answered
404 with HTML (Server: SimpleHTTP/0.6 Python/3.11.7)``.

WaveSpeed's answers, errors included, are JSON in one envelope (``code``,
``message``, ``data``); an answer in it is left to the balance read, which judges
the value, unless it is a 401 or 403 (the key refused) or a 404 or 405 (no balance
at that path: a base URL with a path, ``http://127.0.0.1:8000/api/v3``, is named as
the likely cause). Anything else, or a redirect, is not a WaveSpeed API at that URL.
The fake by URL is held to the key's part only (it serves our very spec).
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from mock_api.contract.bounds import TargetUnusable
from mock_api.spec import SPEC_PATH

__all__ = [
    "PRISM_ERRORS",
    "KeyRefused",
    "NotWavespeed",
    "body_kind",
    "check_key",
    "not_wavespeed_prism",
    "path_advice",
    "prism_error",
    "recognise",
    "recognise_by_url",
    "spec_source",
]

#: Where Prism's problem+json errors point their ``type``: how Prism is told apart.
PRISM_ERRORS = "https://stoplight.io/prism/errors#"
#: The most of a ``Server`` header, or of a message from the target, a line shows.
_SHOWN_CHARS = 80
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


class NotWavespeed(TargetUnusable):
    """The target answered, but not as a WaveSpeed API: the message says what it is.

    :meth:`advice` says what to do about it, in the words of the run's own options.
    """

    def __init__(self, cause: str, *, prism: bool = False) -> None:
        super().__init__(cause)
        self.prism = prism

    def advice(self, base_url_flag: str, base_url: str = "") -> str:
        """What to do; a ``base_url`` with a path (``.../api/v3``) is named first, the
        likely cause (see :func:`path_advice`)."""
        if self.prism:
            return (
                "Prism checks a client against the spec's shapes; this suite checks behaviour "
                "(jobs that run, charges, refunds), which needs `wavespeed-mock serve` or the "
                f"real service: point {base_url_flag} at one of them."
            )
        return path_advice(base_url_flag, base_url) or (
            f"Is {base_url_flag} right? The real service is https://api.wavespeed.ai; "
            "`wavespeed-mock serve` listens on http://127.0.0.1:8000 unless told otherwise."
        )


def path_advice(base_url_flag: str, base_url: str) -> str | None:
    """``--base-url should be the origin, e.g. http://127.0.0.1:8732: ...`` when
    ``base_url`` has a path (the suite adds ``/api/v3/...`` itself), else None."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        return None
    path = url.path.rstrip("/")
    if not path or not url.host:
        return None
    where = url.copy_with(path="/", query=None, fragment=None)
    shown = str(where).rstrip("/")
    ends = re.search(r"/api/v\d+$", path)
    cause = (
        f"it ends in {ends.group(0)}, which the suite adds itself"
        if ends
        else f"it has a path ({_shown(path)}), and the suite adds /api/v3/... to it"
    )
    return f"{base_url_flag} should be the origin, e.g. {shown}: {cause}."


class KeyRefused(TargetUnusable):
    """A WaveSpeed API that refused the API key: the run would be refused every request."""


def spec_source() -> str:
    """The spec the suite holds targets to, as a message names it: this checkout's file,
    or, installed, the one the wheel carries (``setup.py`` copies it in)."""
    path = Path(SPEC_PATH)
    if path.parent == Path(__file__).resolve().parent.parent:  # inside mock_api: a wheel's
        try:
            version = metadata.version("wavespeed-mock")
        except metadata.PackageNotFoundError:  # pragma: no cover - a copy, not installed
            return f"the openapi.yaml installed with wavespeed-mock ({path})"
        return f"the openapi.yaml of wavespeed-mock {version}"
    return f"this checkout's openapi.yaml ({path})"


def prism_error(answer: httpx.Response | None) -> str | None:
    """Prism's error name (``NO_PATH_MATCHED_ERROR``) if ``answer`` is one of its errors."""
    if answer is None:
        return None
    body = _json(answer)
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(kind, str) and kind.startswith(PRISM_ERRORS):
        return _shown(kind.removeprefix(PRISM_ERRORS)) or "an error"
    return None


def recognise(base_url: str, balance: httpx.Response, spec: httpx.Response | None) -> None:
    """Raise :class:`NotWavespeed` or :class:`KeyRefused` unless ``balance`` (the answer to
    ``GET /api/v3/balance`` with the key) is a WaveSpeed answer with a balance to read.

    ``spec`` is the target's answer to ``GET /openapi.yaml``, if it gave one.
    """
    where = f"GET {balance.request.url.raw_path.decode('ascii', 'replace')}"
    prism = prism_error(spec)
    if prism is not None:
        raise not_wavespeed_prism(base_url, prism)
    status = balance.status_code
    body = _json(balance)
    server = _shown(balance.headers.get("server", ""))
    named = f" (Server: {server})" if server else ""
    if 300 <= status < 400:
        location = _shown(balance.headers.get("location", "")) or "nowhere"
        raise NotWavespeed(
            f"{base_url} is not a WaveSpeed API at this URL: {where} answered {status}, "
            f"redirecting to {location}{named}"
        )
    if not _enveloped(body):
        raise NotWavespeed(
            f"{base_url} is not a WaveSpeed API: {where} answered {status} with "
            f"{body_kind(balance)}{named}"
        )
    if status in (404, 405):  # a WaveSpeed-like server, but no balance at this path
        raise NotWavespeed(
            f"{base_url} is not a WaveSpeed API at this URL: {where} answered {status}"
            f"{_said(body)}{named}"
        )
    check_key(base_url, balance)


def recognise_by_url(base_url: str, balance: httpx.Response, *, fake: bool) -> None:
    """What every run by URL (``verify``, ``parity``) asks first, before any budget: is the
    target a WaveSpeed API at all (:func:`recognise`), and is the key good? The fake by URL
    serves our very spec: only its key is in question (:func:`check_key`)."""
    if fake:
        check_key(base_url, balance)
    else:
        recognise(base_url, balance, None)


def check_key(base_url: str, balance: httpx.Response) -> None:
    """Raise :class:`KeyRefused` if ``balance`` (the answer to ``GET /api/v3/balance`` with
    the key) refused it: the one part of :func:`recognise` the fake by URL is held to too."""
    status = balance.status_code
    if status in (401, 403):
        where = f"GET {balance.request.url.raw_path.decode('ascii', 'replace')}"
        said = _said(_json(balance))
        raise KeyRefused(f"{base_url} refused the API key: {where} answered {status}{said}")


def _said(body: Any) -> str:
    """``: <the envelope's message>``, shown safely, or nothing."""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {_shown(message)}" if isinstance(message, str) and message.strip() else ""


def not_wavespeed_prism(base_url: str, error: str) -> NotWavespeed:
    """Prism, named by ``error``, its answer to ``GET /openapi.yaml``."""
    return NotWavespeed(
        f"{base_url} is a Prism mock server, not a WaveSpeed API: it answers the spec's "
        f"examples and keeps no state, so no job it accepts ever runs (GET /openapi.yaml "
        f"answered Prism's {error})",
        prism=True,
    )


def body_kind(response: httpx.Response) -> str:
    """``HTML``, ``an empty body``, ``JSON that is not WaveSpeed's envelope``..."""
    content = response.content
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    start = content.lstrip()[:15].lower()
    if not content:
        return "an empty body"
    if kind == "text/html" or start.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if _json(response) is not _NOT_JSON:
        return 'JSON that is not WaveSpeed\'s envelope ({"code", "message", "data"})'
    if kind.startswith("text/"):
        return "text"
    return f"a body of type {_shown(kind)}" if kind else "a body of no declared type"


_NOT_JSON = object()


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return _NOT_JSON


def _enveloped(body: Any) -> bool:
    return isinstance(body, dict) and ("code" in body or "data" in body)


def _shown(text: str) -> str:
    """Text from the target, safe to print on one line: printable, at most 80 characters."""
    text = _PRINTABLE.sub("?", text.strip())
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
