"""Reading one file out of a multipart upload, as it streams in.

Starlette's form parser reads the whole body before a route can look at it,
so an upload far over its type's limit would be received in full before the
413. This reader parses the stream with python-multipart, sniffs the file's
type from its first bytes, and stops with 413 as soon as the file passes the
limit for that type: memory never holds more than the limit plus one chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartState, parse_options_header

from mock_api.errors import PayloadTooLarge, ValidationFailed

SNIFF_BYTES = 262  # what the type sniffers look at


#: The longest multipart boundary (RFC 2046 section 5.1.1).
MAX_BOUNDARY = 70


@dataclass
class FilePart:
    filename: str = "upload"
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    field_name: bytes = b""
    value: bytes = b""


async def read_file_part(
    content_type: str,
    body: AsyncIterator[bytes],
    *,
    name: str,
    limit_for: Callable[[bytes], tuple[str, int]],
) -> FilePart:
    """The part called ``name``; 413 once it passes the limit ``limit_for(first bytes)`` gives.

    ``limit_for`` answers the file's kind and its size limit from the first bytes.
    A body cut off before its closing boundary, or with two parts called ``name``,
    is a 400: neither says which file was meant.
    """
    boundary = _boundary(content_type, name)
    found: FilePart | None = None
    limit: tuple[str, int] | None = None
    part = _Part()

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.field_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.field_name.strip().lower()] = part.value.strip()
        part.field_name, part.value = b"", b""

    def on_headers_finished() -> None:
        nonlocal found
        disposition, params = parse_options_header(part.headers.get(b"content-disposition", b""))
        if disposition == b"form-data" and params.get(b"name") == name.encode():
            if found is not None:
                raise ValidationFailed(
                    field=name, reason=f"is sent twice: send one file part named {name!r}"
                )
            filename = params.get(b"filename", b"upload").decode("utf-8", "replace")
            found = FilePart(filename=filename or "upload")
            part.headers[b"x-target"] = b"1"

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal limit
        if found is None or b"x-target" not in part.headers:
            return
        found.data += data[start:end]
        if limit is None and len(found.data) >= SNIFF_BYTES:
            limit = limit_for(bytes(found.data[:SNIFF_BYTES]))
        if limit is not None and len(found.data) > limit[1]:
            raise _too_large(name, limit, f"more than {limit[1]}")

    def on_part_end() -> None:
        part.headers.pop(b"x-target", None)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        reason = f"is not readable multipart/form-data ({exc})"
        raise ValidationFailed(field=name, reason=reason) from None
    if found is None:
        raise ValidationFailed(field=name, reason=f"is required: send a file part named {name!r}")
    if parser.state != MultipartState.END:  # no closing boundary: the file may be cut off
        raise ValidationFailed(
            field=name, reason="is cut short: the body ends before its closing boundary"
        )
    limit = limit_for(bytes(found.data[:SNIFF_BYTES]))
    if len(found.data) > limit[1]:
        raise _too_large(name, limit, str(len(found.data)))
    return found


def _boundary(content_type: str, name: str) -> bytes:
    """The multipart boundary ``content_type`` names; 400 when it names none, or too long."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ValidationFailed(
            field=name, reason=f"is required: send multipart/form-data with a part named {name!r}"
        )
    if len(boundary) > MAX_BOUNDARY:
        raise ValidationFailed(
            field="Content-Type",
            reason=f"has a multipart boundary of {len(boundary)} characters; RFC 2046 "
            f"allows 1 to {MAX_BOUNDARY}",
            location="header",
        )
    return bytes(boundary)


def _too_large(name: str, limit: tuple[str, int], size: str) -> PayloadTooLarge:
    kind, most = limit
    message = f"file is {size} bytes; the limit for {kind} is {most} bytes"
    return PayloadTooLarge(message, field=name, reason="too large")
