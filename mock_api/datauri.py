"""Media given inline, as ``data:<mime>;base64,<bytes>`` URIs.

Some clients send a local file this way in a media input instead of uploading
it first (WaveSpeed's own first MCP server did, for images). The fake reads
such an input as it reads an upload: the same size limit for the input's kind
of media, then the same probing; only base64 URIs are media (a percent-encoded
``data:`` URI is text).

Errors are :class:`~mock_api.errors.MediaError`, as for a URL that cannot be
read: a submission with such an input makes a job that fails with task code
1402 and costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import re

from mock_api.errors import MediaError

PREFIX = "data:"
#: ``data:`` [media type and parameters] ``;base64,`` payload. The payload is checked by decoding.
_DATA_URI = re.compile(r"data:(?P<type>[^,]*?);base64,(?P<payload>.*)", re.DOTALL | re.IGNORECASE)


def is_data_uri(value: str) -> bool:
    return value[: len(PREFIX)].lower() == PREFIX


def read_data_uri(uri: str, *, max_bytes: int) -> bytes:
    """The bytes of a base64 ``data:`` URI of at most ``max_bytes``.

    The size is checked from the length of the text before anything is decoded,
    so an oversized input costs no memory beyond the request that carried it.
    """
    match = _DATA_URI.fullmatch(uri)
    if match is None:
        raise MediaError("is a data: URI without ;base64, (only base64 data: URIs hold media)")
    payload = match["payload"]
    padding = len(payload) - len(payload.rstrip("="))
    size = len(payload) * 3 // 4 - min(padding, 2)
    if size > max_bytes:
        raise MediaError(f"the data: URI holds {size} bytes; the limit is {max_bytes} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("the data: URI is not valid base64") from None
