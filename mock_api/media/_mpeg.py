"""MPEG audio (MP3) frame headers, and an exact duration for MP3s without a VBR header.

Why this exists: an MP3's length is its frame count times 1152 (or 576)
samples. Encoders write that count in a Xing/Info or VBRI header in the first
frame, and tinytag reads it. Without one, tinytag counts frames for 30 s and
extrapolates from the file size: a 600 s VBR file without a Xing header read
597.3 s (ffprobe, which guesses from the bitrate, said 542 s). Billing rounds
durations up to whole seconds, so here such files are counted to the end
instead: ~23,000 frames for ten minutes, a few milliseconds.

The same header parser tells :mod:`mock_api.media.sniff` whether bytes start
with a plausible MP3 frame.
"""

from __future__ import annotations

import re

__all__ = ["count_duration", "first_frame", "frame_length", "has_vbr_header"]

# Layer III bitrates in kbit/s by bitrate index 1..14, for MPEG-1 and for
# MPEG-2/2.5; sample rates by index 0..2 for each version code.
_KBPS_V1 = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_KBPS_V2 = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MPEG1 = 3  # version code; 2 is MPEG-2, 0 is MPEG-2.5, 1 is reserved

# The first frame's Xing/Info (LAME, ffmpeg) or VBRI (Fraunhofer) tag sits
# after the 4-byte header and 9-32 bytes of side information.
_VBR_TAGS = (b"Xing", b"Info", b"VBRI")
_VBR_TAG_SEARCH = 40

# A frame sync for layer III: 0xFF, then 111 VV 01 P (version VV != 01).
_SYNC = re.compile(rb"\xff[\xe2\xe3\xf2\xf3\xfa\xfb]")
# Past this much non-frame data (in total), the rest is not audio: stop looking.
_MAX_JUNK = 1 << 20


def frame_length(data: bytes, pos: int) -> int | None:
    """Bytes in the MPEG layer III frame whose header is at ``pos``, or None if invalid."""
    if len(data) < pos + 4 or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (data[pos + 1] >> 3) & 0x3
    layer = (data[pos + 1] >> 1) & 0x3  # 1 means layer III
    bitrate_index = data[pos + 2] >> 4
    rate_index = (data[pos + 2] >> 2) & 0x3
    if version == 1 or layer != 1 or not 0 < bitrate_index < 15 or rate_index == 3:
        return None
    padding = (data[pos + 2] >> 1) & 0x1
    kbps = (_KBPS_V1 if version == _MPEG1 else _KBPS_V2)[bitrate_index - 1]
    bytes_per_kbps = 144 if version == _MPEG1 else 72  # samples per frame / 8
    return bytes_per_kbps * kbps * 1000 // _RATES[version][rate_index] + padding


def has_vbr_header(data: bytes, first_frame: int) -> bool:
    """Whether the frame at ``first_frame`` carries a Xing, Info or VBRI tag."""
    window = data[first_frame + 4 : first_frame + 4 + _VBR_TAG_SEARCH]
    return any(tag in window for tag in _VBR_TAGS)


def first_frame(data: bytes) -> int | None:
    """Offset of the first frame after any ID3v2 tag, or None within the first MiB.

    A frame counts if another frame follows it, or the data ends there.
    """
    pos = 0
    if data.startswith(b"ID3") and len(data) >= 10:
        size = 0
        for byte in data[6:10]:  # a "syncsafe" integer: 7 bits per byte
            size = (size << 7) | (byte & 0x7F)
        pos = 10 + size + (10 if data[5] & 0x10 else 0)  # footer flag
    limit = pos + _MAX_JUNK
    while (match := _SYNC.search(data, pos, limit)) is not None:
        pos = match.start()
        length = frame_length(data, pos)
        following = pos + length if length is not None else 0
        if length is not None and (
            following + 4 > len(data) or frame_length(data, following) is not None
        ):
            return pos
        pos += 1
    return None


def count_duration(data: bytes) -> float | None:
    """Seconds of audio, from counting every frame; None if no frames are found.

    Frames must share the first frame's version and sample rate; bytes that
    are not a frame (junk, an ID3v1 or APE tag at the end) are skipped up to
    the next frame sync, up to 1 MiB of them in all.
    """
    pos = first_frame(data)
    if pos is None:
        return None
    signature = (data[pos + 1] & 0xFE, data[pos + 2] & 0x0C)  # version/layer, sample rate
    version, rate_index = (data[pos + 1] >> 3) & 0x3, (data[pos + 2] >> 2) & 0x3
    frames = junk = 0
    end = len(data)
    while pos + 4 <= end:
        length = frame_length(data, pos)
        if length is not None and (data[pos + 1] & 0xFE, data[pos + 2] & 0x0C) == signature:
            frames += 1
            pos += length
            continue
        match = _SYNC.search(data, pos + 1, pos + 1 + _MAX_JUNK - junk)
        if match is None:
            break
        junk += match.start() - pos
        pos = match.start()
    samples_per_frame = 1152 if version == _MPEG1 else 576
    return frames * samples_per_frame / _RATES[version][rate_index]
