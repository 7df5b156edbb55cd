"""List the kinds of tracks in an MP4/M4A/MOV file.

Why this exists: the ftyp brand of an ISO BMFF file only hints at what it
holds. ``ffmpeg -vn -c copy out.mp4`` makes an "isom" file with nothing but
audio, and a video must really have a picture track. tinytag reads the
duration but not the track kinds, so this walks the box tree down to each
track's handler (``moov/trak/mdia/hdlr``): "vide" for video, "soun" for audio.

Only box headers are read, through offsets into the caller's buffer: no copy,
and ``mdat`` (the bulk of the file) is skipped whatever its position.
"""

from __future__ import annotations

import struct

__all__ = ["track_handlers"]

_HEADER = struct.Struct(">I4s")
_LARGE_SIZE = struct.Struct(">Q")


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``.

    Stops at the first box that is malformed or runs past ``end`` (a
    truncated file), keeping the ones before it.
    """
    found = []
    pos = start
    while pos + 8 <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        header = 8
        if size == 1:  # 64-bit size follows the type
            if pos + 16 > end:
                break
            (size,) = _LARGE_SIZE.unpack_from(data, pos + 8)
            header = 16
        elif size == 0:  # the box extends to the end of its parent (or file)
            size = end - pos
        if size < header or pos + size > end:
            break
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _child(data: bytes, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
    for box_kind, box_start, box_end in _boxes(data, start, end):
        if box_kind == kind:
            return box_start, box_end
    return None


def track_handlers(data: bytes) -> frozenset[str] | None:
    """Handler types of the tracks (``{"vide", "soun"}``...), or None without a ``moov``."""
    moov = _child(data, b"moov", 0, len(data))
    if moov is None:
        return None
    handlers = set()
    for kind, trak_start, trak_end in _boxes(data, *moov):
        if kind != b"trak":
            continue
        mdia = _child(data, b"mdia", trak_start, trak_end)
        hdlr = mdia and _child(data, b"hdlr", *mdia)
        # hdlr payload: version/flags (4), pre_defined (4), handler_type (4), ...
        if hdlr and hdlr[1] - hdlr[0] >= 12:
            handler = data[hdlr[0] + 8 : hdlr[0] + 12]
            handlers.add(handler.decode("latin-1"))
    return frozenset(handlers)
