"""Tell what a file is from its first bytes, never from its name.

Why this exists: uploads and input URLs arrive with names and Content-Type
headers that lie (``voice.mp3`` that is really an M4A, a PNG served as
``application/octet-stream``). The fake classifies media the way a decoder
would, by magic bytes, so it accepts and rejects the same files the real
service would. The probes in :mod:`mock_api.media.probe` start here, and
their error messages use :func:`describe` to say what a wrong file looks like.

Only the head of a file is looked at: a few hundred bytes for most formats,
up to two MP3 frames, the bytes after an ID3v2 tag when present, and at most
8 KB when the ``filetype`` library is asked to name an unaccepted format. So
callers may pass just the first bytes of an upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import filetype

from mock_api.media._mpeg import frame_length

__all__ = ["Kind", "Sniffed", "describe", "identify", "sniff_content_type", "sniff_kind"]

Kind = Literal["audio", "video", "image"]


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A recognised format: what it is for, its container name and its MIME type.

    ``kind`` is None for formats recognised only to name them in errors
    (Ogg Theora, HEIF, ...): the fake does not accept them as inputs.
    """

    kind: Kind | None
    container: str
    mime: str


_WAV = Sniffed("audio", "wav", "audio/wav")
_MP3 = Sniffed("audio", "mp3", "audio/mpeg")
_M4A = Sniffed("audio", "m4a", "audio/mp4")
_OGG = Sniffed("audio", "ogg", "audio/ogg")
_FLAC = Sniffed("audio", "flac", "audio/flac")
_MP4 = Sniffed("video", "mp4", "video/mp4")
_MOV = Sniffed("video", "mov", "video/quicktime")
_WEBM = Sniffed("video", "webm", "video/webm")
_MKV = Sniffed("video", "mkv", "video/x-matroska")
_OGG_VIDEO = Sniffed(None, "ogg", "video/ogg")  # Theora: named in errors, not accepted
_OGG_OTHER = Sniffed(None, "ogg", "application/ogg")
_PNG = Sniffed("image", "png", "image/png")
_JPEG = Sniffed("image", "jpeg", "image/jpeg")
_WEBP = Sniffed("image", "webp", "image/webp")
_GIF = Sniffed("image", "gif", "image/gif")

# The MIME types filetype gives the formats identify() accepts, under any alias.
_ACCEPTED_BY_NAME = frozenset(
    {"audio/wav", "audio/x-wav", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/flac"}
    | {"audio/x-flac", "video/mp4", "video/quicktime", "video/webm", "video/x-matroska"}
    | {"image/png", "image/jpeg", "image/webp", "image/gif"}
)

# ISO BMFF major brands that are audio-only by convention (iTunes audio,
# audiobooks, protected audio, Flash audio).
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
# ISO BMFF brands of still images (HEIF/HEIC, AVIF) and camera raw: not video.
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
    | {b"mif1", b"msf1", b"avif", b"avis", b"crx "}
)

# First bytes of an Ogg stream's first packet, by codec.
_OGG_AUDIO_CODECS = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")
_OGG_PACKET_OFFSET = 28  # 27-byte page header + one lacing value (a 1-segment first page)


def _is_mp3_frame_start(data: bytes) -> bool:
    """A valid layer III frame header first, followed by another one if the data has it.

    Checking the second header makes random bytes that happen to start with a
    frame sync (about 1 in 5000) very unlikely to pass for MP3.
    """
    length = frame_length(data, 0)
    if length is None:
        return False
    return len(data) < length + 4 or frame_length(data, length) is not None


def _after_id3v2(data: bytes) -> Sniffed:
    """What follows an ID3v2 tag: FLAC if ``fLaC`` comes next, otherwise MP3."""
    size = 0
    for byte in data[6:10]:  # a "syncsafe" integer: 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    end = 10 + size + (10 if data[5] & 0x10 else 0)  # footer flag
    return _FLAC if data[end : end + 4] == b"fLaC" else _MP3


def _iso_bmff(brand: bytes) -> Sniffed | None:
    if brand in _AUDIO_BRANDS:
        return _M4A
    if brand == b"qt  ":
        return _MOV
    if brand in _IMAGE_BRANDS:
        return None  # filetype names these (image/heic, image/avif)
    return _MP4


def _ebml(head: bytes) -> Sniffed:
    # The EBML header (a few dozen bytes) names the DocType; no need to parse it here.
    return _WEBM if b"webm" in head[:64] else _MKV


def identify(data: bytes) -> Sniffed | None:
    """The format ``data`` has by its magic bytes, or None if unrecognised.

    A result whose ``kind`` is None is recognised but not accepted as input.
    """
    head = data[:12]
    if head[4:8] == b"ftyp":
        return _iso_bmff(head[8:12])
    if head.startswith(b"RIFF"):
        return {b"WAVE": _WAV, b"WEBP": _WEBP}.get(head[8:12])
    if head.startswith(b"ID3") and len(data) >= 10:
        return _after_id3v2(data)
    if head.startswith(b"fLaC"):
        return _FLAC
    if head.startswith(b"OggS"):
        packet = data[_OGG_PACKET_OFFSET : _OGG_PACKET_OFFSET + 8]
        if packet.startswith(_OGG_AUDIO_CODECS):
            return _OGG
        if packet.startswith(b"\x80theora"):
            return _OGG_VIDEO
        return _OGG_OTHER
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml(data)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _GIF
    if _is_mp3_frame_start(data):
        return _MP3
    return None


def sniff_kind(data: bytes) -> Kind | None:
    """The kind ("audio", "video" or "image") of a format the fake accepts, else None.

    Decided from the first bytes only. An ISO BMFF file counts as audio when
    its ftyp brand says so ("M4A ", ...) and as video otherwise; the probes
    look at its tracks to be sure.
    """
    sniffed = identify(data)
    return sniffed.kind if sniffed else None


def sniff_content_type(data: bytes) -> str | None:
    """The MIME type the bytes look like, for any format recognised, else None.

    Accepted formats get the canonical type (``audio/wav``, ``audio/mpeg``,
    ``video/mp4``...). Other recognisable files (PDF, ZIP, BMP, ...) get the
    type the ``filetype`` library guesses, so errors and logs can name them.
    """
    sniffed = identify(data)
    if sniffed is not None:
        return sniffed.mime
    guessed: str | None = filetype.guess_mime(data)
    # filetype's checks are looser than ours (two bytes for MP3): when it names
    # a format we accept but identify() did not, the bytes are not really that.
    return None if guessed in _ACCEPTED_BY_NAME else guessed


def describe(data: bytes) -> str:
    """A short human description of what ``data`` looks like, for error messages."""
    if not data:
        return "an empty file"
    return sniff_content_type(data) or "unrecognised bytes"
