"""Tiny real PNG images, for the image inputs of the one-image models.

Why this exists: ``wavespeed-ai/infinitetalk`` and its multi siblings take an
image where ours takes a video; tests, examples and the contract suite need
one that any decoder opens, without an imaging library.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["write_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def write_png(width: int = 16, height: int = 16, grey: int = 0) -> bytes:
    """A ``width`` x ``height`` 8-bit greyscale PNG of one shade."""
    if not (0 < width <= 4096 and 0 < height <= 4096 and 0 <= grey <= 255):
        raise ValueError("width and height must be in 1..4096, grey in 0..255")
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = (b"\x00" + bytes([grey]) * width) * height  # filter byte 0 on every row
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )
