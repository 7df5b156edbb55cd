"""Read the duration and track kinds of a WebM/Matroska file.

Why this exists: tinytag, our duration reader, does not read WebM, and WebM is
what browsers record. A Matroska file is a tree of EBML elements; its length
sits in ``Segment > Info > Duration`` (a float, in units of
``Segment > Info > TimecodeScale`` nanoseconds), and its track kinds in
``Segment > Tracks > TrackEntry > TrackType``. That is all we need, so rather
than add a dependency (and the schema files a general EBML library such as
ebmlite works from), this is a minimal walk of element headers.

EBML in brief (RFC 8794): every element is ``ID | size | payload``. ID and
size are "vints": the count of leading zero bits of the first byte gives the
length (1 + zeros) in bytes. IDs keep the length-marker bit (so 0x1A45DFA3
is the EBML header); sizes drop it, and a size with all value bits set means
"unknown" (live streams write Segment and Cluster so).

Elements are read through offsets into the caller's buffer; the file is never copied.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["EbmlError", "WebmInfo", "read_webm"]

_EBML = 0x1A45DFA3
_DOC_TYPE = 0x4282
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMECODE_SCALE = 0x2AD7B1
_DURATION = 0x4489
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83

_DEFAULT_TIMECODE_SCALE = 1_000_000  # ns per tick: Durations count milliseconds
TRACK_VIDEO, TRACK_AUDIO = 1, 2


class EbmlError(ValueError):
    """The bytes are not a readable EBML/Matroska file."""


@dataclass(frozen=True, slots=True)
class WebmInfo:
    doc_type: str  # "webm" or "matroska"
    duration: float | None  # seconds; None when Info has no Duration
    track_types: frozenset[int]  # TRACK_VIDEO, TRACK_AUDIO, ...


def _vint(data: bytes, pos: int, end: int, *, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, position after it, all value bits set) of the vint at ``pos``."""
    if pos >= end:
        raise EbmlError("truncated element header")
    first = data[pos]
    if first == 0:
        raise EbmlError("invalid variable-length integer (over 8 bytes)")
    length = 9 - first.bit_length()  # leading zeros + 1
    if pos + length > end:
        raise EbmlError("truncated element header")
    marker = 1 << (7 * length)  # the length-marker bit, in the assembled integer
    value = int.from_bytes(data[pos : pos + length], "big")
    all_ones = value == 2 * marker - 1
    if not keep_marker:
        value -= marker
    return value, pos + length, all_ones


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int | None]:
    """(element id, payload start, payload size or None if unknown)."""
    element_id, pos, _ = _vint(data, pos, end, keep_marker=True)
    size, pos, unknown = _vint(data, pos, end, keep_marker=False)
    return element_id, pos, None if unknown else size


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(id, payload start, payload end) of complete children in ``data[start:end]``."""
    found = []
    pos = start
    while pos < end:
        element_id, payload, size = _header(data, pos, end)
        if size is None or payload + size > end:
            break  # unknown-size or truncated child: keep what came before
        found.append((element_id, payload, payload + size))
        pos = payload + size
    return found


def _uint(data: bytes, start: int, end: int) -> int:
    if end - start > 8:
        raise EbmlError("unsigned integer element longer than 8 bytes")
    return int.from_bytes(data[start:end], "big")


def _float(data: bytes, start: int, end: int) -> float:
    size = end - start
    if size == 0:
        return 0.0
    if size not in (4, 8):
        raise EbmlError(f"float element of {size} bytes (must be 0, 4 or 8)")
    value: float = struct.unpack_from(">f" if size == 4 else ">d", data, start)[0]
    return value


def _doc_type(data: bytes) -> tuple[str, int]:
    """The EBML header's DocType, and the position after the header."""
    element_id, payload, size = _header(data, 0, len(data))
    if element_id != _EBML or size is None:
        raise EbmlError("no EBML header")
    end = payload + size
    for child_id, start, stop in _children(data, payload, min(end, len(data))):
        if child_id == _DOC_TYPE:
            return data[start:stop].rstrip(b"\0").decode("ascii", "replace"), end
    raise EbmlError("EBML header has no DocType")


def _segment(data: bytes, pos: int) -> tuple[int, int]:
    """(payload start, payload end) of the Segment, skipping Void/CRC-32 before it."""
    end = len(data)
    while True:
        element_id, payload, size = _header(data, pos, end)
        if element_id == _SEGMENT:
            # An unknown-size (live) or truncated Segment runs to the end of the data.
            return payload, end if size is None else min(payload + size, end)
        if size is None:
            raise EbmlError("unknown-size element before the Segment")
        pos = payload + size


def _info(data: bytes, start: int, end: int) -> float | None:
    """Duration in seconds from the Info element's children, if it has one."""
    scale, duration = _DEFAULT_TIMECODE_SCALE, None
    for child_id, child_start, child_end in _children(data, start, end):
        if child_id == _TIMECODE_SCALE:
            scale = _uint(data, child_start, child_end)
        elif child_id == _DURATION:
            duration = _float(data, child_start, child_end)
    return None if duration is None else duration * scale / 1e9


def _track_types(data: bytes, start: int, end: int) -> set[int]:
    """TrackType of each TrackEntry in the Tracks element."""
    types = set()
    for child_id, entry_start, entry_end in _children(data, start, end):
        if child_id == _TRACK_ENTRY:
            for field_id, field_start, field_end in _children(data, entry_start, entry_end):
                if field_id == _TRACK_TYPE:
                    types.add(_uint(data, field_start, field_end))
    return types


def read_webm(data: bytes) -> WebmInfo:
    """The DocType, duration and track kinds of a WebM/Matroska file.

    Raises EbmlError if the bytes are not EBML, name another DocType, or
    break before a Segment starts. A file cut short after its Info and Tracks
    reads fine: they come first in every muxer we know of.
    """
    doc_type, pos = _doc_type(data)
    if doc_type not in ("webm", "matroska"):
        raise EbmlError(f"EBML DocType {doc_type!r} is not WebM or Matroska")
    pos, segment_end = _segment(data, pos)
    duration: float | None = None
    track_types: set[int] | None = None
    while pos < segment_end and (duration is None or track_types is None):
        element_id, payload, size = _header(data, pos, segment_end)
        if size is None:
            # An unknown-size element (a live Cluster): step inside it. Its
            # children have known sizes and are skipped one by one, and the
            # next Cluster (or Cues...) header ends it implicitly.
            pos = payload
            continue
        element_end = min(payload + size, segment_end)
        if element_id == _INFO:
            duration = _info(data, payload, element_end)
        elif element_id == _TRACKS:
            track_types = _track_types(data, payload, element_end)
        pos = payload + size
    return WebmInfo(doc_type, duration, frozenset(track_types or ()))
