"""Making real jobs on any target: media uploads, submissions, the balance.

Why this exists: the lifecycle and billing checks need jobs with inputs of
exactly known length on whatever target they run against. Test media is
generated here (silent WAVs to the millisecond, a tiny H.264 MP4) and
uploaded through the ticket flow the current SDKs use (``POST
/api/v3/media/uploads``, then ``PUT`` of the bytes to the ticket's URL), which
the real service offers too; the fake's sample URLs would only work on the
fake.

A ticket is the target's word on where to send bytes and with which headers,
so it is followed only as far as it is a presigned ``PUT``
(:func:`upload_request`): ``PUT`` alone, to the target's own origin or a host
the user allowed (``--allow-upload-host``), with no header that carries
credentials or frames the request unless that host was allowed. Anything else
is a :class:`TicketRefused` naming the field, and nothing is sent: otherwise a
target could make the suite send ``DELETE`` with an ``Authorization`` of its
choosing to any host the suite's machine can reach.

Which inputs a model takes, which are media of which kind and where it is
submitted come from the model registry (:mod:`mock_api.models`), the same
data the fake serves from: :func:`upload_job` builds a job of any model of the
family. What a job should cost does not: that is :mod:`mock_api.contract.rule`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import httpx

from mock_api.contract.invariants import Snapshot
from mock_api.contract.options import upload_host_allowed
from mock_api.contract.rule import Order
from mock_api.contract.target import TargetClient, describe_body, origin
from mock_api.media import silence_wav, write_mp4, write_png
from mock_api.models import DEFAULT_MODEL, MODELS_BY_ID, ModelSpec

__all__ = [
    "SUBMIT_PATH",
    "AnswerUnusable",
    "JobInputs",
    "ModelJob",
    "TicketRefused",
    "UploadRequest",
    "balance_micros",
    "submit",
    "upload",
    "upload_image",
    "upload_job",
    "upload_request",
    "upload_silence",
    "upload_video",
]

#: Where our model's jobs are submitted (every model's: its registry entry's ``api_path``).
SUBMIT_PATH = DEFAULT_MODEL.api_path


def _describe(response: httpx.Response) -> str:
    """The request and its answer for a failure message; binary bodies only summarised."""
    request = response.request
    body = describe_body(request.content, request.headers.get("content-type"), limit=500)
    answer = describe_body(response.content, response.headers.get("content-type"), limit=800)
    return f"{request.method} {request.url} {body}\n  answered {response.status_code}: {answer}"


class AnswerUnusable(AssertionError):
    """A 200 answer this suite cannot read as the spec says (not JSON, a field missing,
    a value that is not what it names): the path and the value, never a traceback."""


class TicketRefused(AssertionError):
    """An upload ticket the suite will not follow, naming the field and why; nothing sent."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:120]}... ({len(text)} chars)"


def _data(response: httpx.Response, what: str) -> dict[str, Any]:
    """The ``data`` object of a 200 answer; :class:`AnswerUnusable` if there is none."""
    where = f"{what}: {response.request.method} {response.request.url} answered 200"
    try:
        body = json.loads(response.content, parse_constant=_no_constant)
    except ValueError as exc:
        raise AnswerUnusable(
            f"{where} with a body that is not JSON ({exc}): "
            f"{describe_body(response.content, response.headers.get('content-type'), 200)}"
        ) from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        shown = _short(body.get("data")) if isinstance(body, dict) else f"the body {_short(body)}"
        raise AnswerUnusable(f"{where}; data is {shown}, not an object")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: Request headers a ticket may never set: the request's framing is the client's own.
_FRAMING = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-connection",
        "expect",
    }
)
#: Request headers that carry credentials (and so are the target's to hand only to a host
#: the user trusts): Authorization, Proxy-Authorization, Cookie, X-Api-Key, tokens...
_CREDENTIAL = re.compile(
    r"auth|cookie|api[-_]?key|token|secret|passw|credential|session|signature", re.IGNORECASE
)
#: RFC 9110's token: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Enough for any presigned URL (S3's run to about 1.5 KB) or header value.
_MAX_TICKET_TEXT = 8192
_MAX_TICKET_HEADERS = 32


@dataclass(frozen=True)
class UploadRequest:
    """What a vetted ticket says to send: always ``PUT``, to ``url``, with ``headers``."""

    url: str
    headers: dict[str, str]
    method: str = "PUT"


def upload_request(ticket: Mapping[str, Any], client: httpx.Client, size: int) -> UploadRequest:
    """The ``PUT`` a ticket's ``data`` describes, or :class:`TicketRefused` naming why not.

    ``client`` is the target's (its ``base_url`` is the origin a ticket may always
    name; a :class:`~mock_api.contract.target.TargetClient` also carries the hosts
    the user allowed). ``openapi.yaml`` makes ``data.upload.method`` the constant
    ``PUT``: a presigned URL, which is its own credential.
    """
    refused = "upload ticket refused, nothing sent: "
    upload = ticket.get("upload")
    if not isinstance(upload, Mapping):
        raise TicketRefused(f"{refused}data.upload is {_short(upload)}, not an object")
    method = upload.get("method")
    if method != "PUT":
        raise TicketRefused(
            f"{refused}data.upload.method is {_short(method)}; openapi.yaml's ticket is a "
            "presigned PUT (the constant 'PUT'), and the suite sends nothing else"
        )
    raw = upload.get("url")
    if not isinstance(raw, str) or not raw or len(raw) > _MAX_TICKET_TEXT:
        raise TicketRefused(f"{refused}data.upload.url is {_short(raw)}, not a URL")
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise TicketRefused(f"{refused}data.upload.url {_short(raw)} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise TicketRefused(f"{refused}data.upload.url {_short(raw)} is not an http(s) URL")
    if url.userinfo:
        raise TicketRefused(
            f"{refused}data.upload.url {_short(raw)} carries credentials (user:password@)"
        )
    allowed = upload_host_allowed(
        url, client.upload_hosts if isinstance(client, TargetClient) else ()
    )
    own, theirs = origin(client.base_url), origin(url)
    if allowed is None and theirs != own:
        default = {"http": 80, "https": 443}.get(theirs[0])
        host = theirs[1] if theirs[2] == default else f"{theirs[1]}:{theirs[2]}"
        raise TicketRefused(
            f"{refused}data.upload.url {_short(raw)} is on {theirs[0]}://{host}, neither the "
            f"target's own origin ({own[0]}://{own[1]}:{own[2]}) nor a host the user allowed; "
            f"if the target's object store lives there, allow it (--allow-upload-host {host} "
            f"for verify and parity, --wavespeed-allow-upload-host {host} for pytest)"
        )
    return UploadRequest(str(url), _ticket_headers(upload.get("headers"), size, allowed, refused))


def _ticket_headers(
    headers: object, size: int, allowed: str | None, refused: str
) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping) or len(headers) > _MAX_TICKET_HEADERS:
        raise TicketRefused(
            f"{refused}data.upload.headers is {_short(headers)}, not an object of at most "
            f"{_MAX_TICKET_HEADERS} strings"
        )
    kept: dict[str, str] = {}
    for name, value in headers.items():
        field = f"data.upload.headers.{name}"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise TicketRefused(f"{refused}{_short(name)} is not a header name")
        if not isinstance(value, str) or len(value) > _MAX_TICKET_TEXT:
            raise TicketRefused(f"{refused}{field} is {_short(value)}, not a header value")
        if any(ch in value for ch in "\r\n\x00"):
            raise TicketRefused(f"{refused}{field} holds a line break or NUL: {_short(value)}")
        lowered = name.lower()
        if lowered == "content-length" and value.strip() == str(size):
            continue  # what the client sends anyway
        if lowered in _FRAMING:
            raise TicketRefused(
                f"{refused}{field} ({_short(value)}) would frame or redirect the request; the "
                "client writes the request's framing itself"
            )
        if _CREDENTIAL.search(lowered) and allowed is None:
            raise TicketRefused(
                f"{refused}{field} carries credentials, which the suite sends only to a host "
                "the user allowed (--allow-upload-host); a presigned URL needs none"
            )
        kept[name] = value
    return kept


def upload(
    client: httpx.Client, cdn: httpx.Client, data: bytes, filename: str, content_type: str
) -> str:
    """Upload through a ticket; return the file's ``download_url``.

    ``cdn`` is a client without the API key: the ticket's URL is the
    credential (a presigned URL on the real service), and the key must not
    travel to another host. The ticket is vetted first (:func:`upload_request`).
    """
    ticket = client.post(
        "/api/v3/media/uploads",
        json={"filename": filename, "size": len(data), "content_type": content_type},
    )
    if ticket.status_code != 200:
        raise AssertionError(f"upload ticket refused:\n  {_describe(ticket)}")
    found = _data(ticket, "upload ticket")
    try:
        refused = json.loads(ticket.content).get("code") != 200
    except (ValueError, AttributeError):
        refused = True
    if refused:
        raise AssertionError(f"upload ticket refused:\n  {_describe(ticket)}")
    url = found.get("download_url")
    if not isinstance(url, str) or not url:
        raise AnswerUnusable(f"upload ticket: data.download_url is {_short(url)}, not a URL")
    sending = upload_request(found, client, len(data))
    put = cdn.request(sending.method, sending.url, content=data, headers=sending.headers)
    if not put.is_success:
        raise AssertionError(f"upload of {filename} refused:\n  {_describe(put)}")
    return url


def upload_silence(client: httpx.Client, cdn: httpx.Client, length_ms: int, name: str) -> str:
    """A silent 16 kHz WAV lasting exactly ``length_ms`` (16 samples per ms)."""
    data = silence_wav(Decimal(length_ms) / 1000, sample_rate=16000)
    return upload(client, cdn, data, f"{name}-{length_ms}ms.wav", "audio/wav")


def upload_video(client: httpx.Client, cdn: httpx.Client, length_ms: int = 10_000) -> str:
    """A tiny black H.264 MP4 (under 1 KB whatever its length)."""
    return upload(client, cdn, write_mp4(length_ms), "two-people.mp4", "video/mp4")


def upload_image(client: httpx.Client, cdn: httpx.Client) -> str:
    """A tiny grey PNG, for the models that animate an image."""
    return upload(client, cdn, write_png(), "person.png", "image/png")


@dataclass(frozen=True)
class ModelJob:
    """Uploaded inputs of one job of any model, and the lengths its audio was made with."""

    model: ModelSpec
    media: Mapping[str, str]  # input name -> uploaded URL
    audio_ms: tuple[int, ...]  # one per audio input, in the entry's order
    order: Order | None = None  # two-speaker models only
    resolution: str | None = None  # models with a resolution only

    @property
    def path(self) -> str:
        return self.model.api_path

    def body(self, **extra: Any) -> dict[str, Any]:
        chosen = {"order": self.order, "resolution": self.resolution}
        return {**self.media, **{k: v for k, v in chosen.items() if v is not None}, **extra}


def upload_job(
    client: httpx.Client,
    cdn: httpx.Client,
    model: ModelSpec | str,
    audio_ms: tuple[int, ...],
    *,
    order: Order | None = None,
    resolution: str | None = None,
    video_ms: int = 10_000,
) -> ModelJob:
    """Upload what a job of ``model`` needs: its picture or video and one silence per audio."""
    spec = MODELS_BY_ID[model] if isinstance(model, str) else model
    if len(audio_ms) != len(spec.audio_inputs):
        raise ValueError(f"{spec.id} takes {len(spec.audio_inputs)} audio track(s)")
    if order is not None and not spec.two_speakers:
        raise ValueError(f"{spec.id} has no speaking order")
    if resolution is not None and resolution not in spec.pricing.resolutions:
        raise ValueError(f"{spec.id} has no resolution {resolution!r}")
    lengths = dict(zip(spec.audio_inputs, audio_ms, strict=True))
    media: dict[str, str] = {}
    for name, kind in spec.media_inputs:
        if name not in spec.required:
            continue
        if kind == "audio":
            media[name] = upload_silence(client, cdn, lengths[name], name)
        elif kind == "video":
            media[name] = upload_video(client, cdn, video_ms)
        else:
            media[name] = upload_image(client, cdn)
    return ModelJob(spec, media, tuple(audio_ms), order, resolution)


@dataclass(frozen=True)
class JobInputs:
    """Uploaded inputs of one job of our model (the shorthand most checks use)."""

    video: str
    left_audio: str
    right_audio: str
    order: Order

    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "video": self.video,
            "left_audio": self.left_audio,
            "right_audio": self.right_audio,
            "order": self.order,
            **extra,
        }


def submit(
    client: httpx.Client,
    body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    path: str = SUBMIT_PATH,
) -> Snapshot:
    """Submit a job (of our model, or the model at ``path``); return the prediction answered."""
    response = client.post(path, json=dict(body), headers=dict(headers or {}))
    if response.status_code != 200:
        raise AssertionError(f"submission refused:\n  {_describe(response)}")
    data: Snapshot = _data(response, "submission")
    return data


#: The largest balance read as one: no account holds a trillion USD (the fake's own
#: balances stop at a billion), and a longer number is a broken answer, not money.
MAX_BALANCE = Decimal(10) ** 12
#: A balance written as text (``"12.50"``): read all the same, as a client would; the
#: schema checks say it should be a number.
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,13}(?:\.[0-9]{1,18})?")


def balance_micros(client: httpx.Client) -> int:
    """The account's balance, read exactly: JSON numbers parsed as decimals, not floats.

    A 200 whose ``data.balance`` is not a finite number of USD (HTML, ``NaN``, a word,
    a 5,000-digit number) is an :class:`AnswerUnusable` naming the path and the value.
    """
    response = client.get("/api/v3/balance")
    if response.status_code != 200:
        raise AssertionError(f"balance unavailable:\n  {_describe(response)}")
    try:  # numbers as decimals, all of them: a 5,000-digit integer is no int for Python
        body = json.loads(
            response.content, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant
        )
    except ValueError as exc:
        raise AnswerUnusable(
            f"balance: GET {response.request.url} answered 200 with a body that is not JSON "
            f"({exc}): {describe_body(response.content, response.headers.get('content-type'), 200)}"
        ) from None
    data = body.get("data") if isinstance(body, dict) else None
    balance = data.get("balance") if isinstance(data, dict) else None
    if isinstance(balance, str) and _DECIMAL_TEXT.fullmatch(balance):
        balance = Decimal(balance)
    if not isinstance(balance, Decimal) or not balance.is_finite() or abs(balance) >= MAX_BALANCE:
        shown = _short(balance if isinstance(data, dict) else data)
        path = "data.balance" if isinstance(data, dict) else "data"
        raise AnswerUnusable(
            f"balance: GET {response.request.url} answered 200 with {path} {shown}, not a "
            f"number of USD (finite, under {MAX_BALANCE:,f})"
        )
    try:
        micros = (balance * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:  # more digits than a context holds: no balance
        raise AnswerUnusable(
            f"balance: data.balance {_short(balance)} is not a number of USD"
        ) from None
    return int(micros)
