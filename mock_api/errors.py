"""The one exception hierarchy of the fake.

Every error the fake raises on purpose derives from :class:`MockAPIError`, and
one place (``mock_api.http``) maps them to answers, so a route never builds an
error body by hand.

    MockAPIError
    ├── RequestError            answered at the HTTP level, in the error envelope
    │   ├── ValidationFailed      400  a field breaks the spec (field, reason)
    │   ├── Unauthorized          401  missing, malformed or unknown API key
    │   ├── InsufficientBalance   402  the account cannot pay for the job
    │   ├── NotFound              404  no such job or file for this account
    │   ├── PayloadTooLarge       413  an upload over its type's limit
    │   └── Unavailable           503  busy for a moment (the state's write lock is
    │                                  held elsewhere); retry after Retry-After
    └── TaskError               the job is accepted, then fails with a task code
        ├── InvalidInput          1401 an input is valid JSON but unusable
        └── MediaError            1402 an input could not be fetched or decoded

Task codes are the ones WaveSpeed puts inside ``data.code`` of a failed
prediction; HTTP statuses are the ones its API answers with.

:func:`error_body` is the one place the error envelope is built: the HTTP edge
answers every ``RequestError`` and every routing error with it, and fault rules
inject it. Besides ``code``/``message``/``error`` it carries ``error_code``, a
stable string per kind of failure, because WaveSpeed's own CLI and MCP server
read ``message`` and ``error_code`` from non-2xx answers (they print
``message [error_code]``). WaveSpeed publishes no list of its values; the fake's
are the lower-case names of :data:`ERROR_CODES`, one per HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One way a request (or a response) breaks the spec: the field, why, and where.

    The one shape of a violation: the validator produces it, a 400 lists it, the
    request journal keeps it.
    """

    field: str
    reason: str
    location: str = "body"  # body, query, header, path, or response

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "location": self.location}

    def __str__(self) -> str:
        return f"{self.location} {self.field!r}: {self.reason}"


#: The ``error_code`` of each HTTP status the fake answers with.
ERROR_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    402: "insufficient_balance",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def error_code_for(status: int) -> str:
    """The ``error_code`` of ``status``; statuses without a name get ``http_<status>``."""
    return ERROR_CODES.get(status, f"http_{status}")


def error_body(
    status: int, message: str, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The error envelope: what every non-2xx answer of the API carries."""
    body: dict[str, Any] = {
        "code": status,
        "message": message,
        "error": message,
        "error_code": error_code_for(status),
        "data": None,
    }
    if details:
        body["details"] = details
    return body


class MockAPIError(Exception):
    """Base class of every error raised by the fake on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(MockAPIError):
    """An error answered with an HTTP status and the error envelope."""

    status_code: int = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.headers = headers or {}


class ValidationFailed(RequestError):
    """A request breaks ``openapi.yaml``: names the field and the rule it breaks."""

    status_code = 400

    def __init__(self, *, field: str, reason: str, location: str = "body") -> None:
        where = f'field "{field}"' if location == "body" else f'{location} "{field}"'
        super().__init__(f"{where} {reason}", field=field, reason=reason)
        self.location = location


class Unauthorized(RequestError):
    status_code = 401


class InsufficientBalance(RequestError):
    status_code = 402


class NotFound(RequestError):
    status_code = 404


class PayloadTooLarge(RequestError):
    status_code = 413


class RateLimited(RequestError):
    status_code = 429

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class Unavailable(RequestError):
    """The fake cannot serve this request just now, and nothing was changed: retry.

    Raised when another process holds the SQLite state's write lock for longer
    than a request waits for it. 503 is the status the error envelope documents
    as ``service_unavailable``; the official SDKs retry 5xx answers.
    """

    status_code = 503

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class ControlDenied(RequestError):
    status_code = 403


class TaskError(MockAPIError):
    """A job-level failure: the job exists and ends ``failed`` with this code."""

    code: int = 1403

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidInput(TaskError):
    """An input that passed the schema but cannot be used (too long, say)."""

    code = 1401

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class MediaError(TaskError):
    """An input URL that could not be fetched, or whose bytes are not the media expected.

    Probing code raises it without ``input``; the service names the input with
    :meth:`for_input` before the job records it.
    """

    code = 1402

    def __init__(self, reason: str, *, input: str | None = None) -> None:
        message = f"{input}: {reason}" if input else reason
        super().__init__(message)
        self.input = input
        self.reason = reason

    def for_input(self, input: str) -> MediaError:
        return MediaError(self.reason, input=input)
