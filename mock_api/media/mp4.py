"""Write real, playable H.264 MP4s of any duration, in pure Python.

Why this exists: a finished job must hand back a video that players, ffprobe,
tinytag and PyAV accept, with exactly the duration the job was billed for, yet
the fake may not depend on an encoder. So the pixels are precomputed: a
flat-colour H.264 keyframe (see :mod:`mock_api.media._keyframes`) is stored
once in ``mdat`` and every sample of the track points at it. One sample per
second keeps players seeking normally; a 600 s video is still about 3 KB,
and writing it takes microseconds.

Layout (fast start): ``ftyp``, ``moov``, ``mdat``. Timescale 1000, so movie,
track and media durations equal ``duration_ms`` exactly. Every field that
could vary (creation times) is zero, so the output is deterministic.
"""

from __future__ import annotations

import struct

from mock_api.media import _keyframes

__all__ = ["MAX_DURATION_MS", "write_mp4"]

#: Version-0 boxes hold durations in 32 bits; at timescale 1000 that is ~49.7 days.
MAX_DURATION_MS = 0xFFFF_FFFF

_TIMESCALE = 1000  # milliseconds
_SAMPLE_MS = 1000  # one frame per second; the last frame holds the remainder
_LENGTH_SIZE = 4  # bytes of the NAL length prefix in each sample (avcC lengthSizeMinusOne=3)
_UNITY_MATRIX = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _avcc(sps: bytes, pps: bytes) -> bytes:
    """The decoder configuration record (ISO/IEC 14496-15 5.3.3.1)."""
    profile, compatibility, level = sps[1], sps[2], sps[3]
    record = struct.pack(
        ">BBBBBBH", 1, profile, compatibility, level, 0xFC | (_LENGTH_SIZE - 1), 0xE0 | 1, len(sps)
    )
    record += sps + struct.pack(">BH", 1, len(pps)) + pps
    if profile in (100, 110, 122, 144):  # High profiles carry chroma format and bit depths
        record += bytes((0xFC | 1, 0xF8 | 0, 0xF8 | 0, 0))  # 4:2:0, 8-bit luma/chroma, no ext
    return _box(b"avcC", record)


def _stsd() -> bytes:
    compressor = b"mock_api"
    avc1 = _box(
        b"avc1",
        bytes(6),  # reserved
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),  # pre_defined, reserved
        struct.pack(">HH", _keyframes.WIDTH, _keyframes.HEIGHT),
        struct.pack(">II", 0x480000, 0x480000),  # 72 dpi
        bytes(4),  # reserved
        struct.pack(">H", 1),  # frame_count
        bytes((len(compressor),)) + compressor.ljust(31, b"\0"),
        struct.pack(">Hh", 0x18, -1),  # depth, pre_defined
        _avcc(_keyframes.SPS, _keyframes.PPS),
    )
    return _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1)


# Everything that does not depend on the duration is built once, at import.
_FTYP = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")
_HDLR = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0")
_VMHD = _full_box(b"vmhd", 0, 1, bytes(8))
_DINF = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
_STSD = _stsd()
_STSC = _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1))
_SAMPLES = tuple(struct.pack(">I", len(idr)) + idr for idr in _keyframes.KEYFRAMES)


def _moov(duration_ms: int, sample_size: int, mdat_offset: int) -> bytes:
    count, remainder = divmod(duration_ms, _SAMPLE_MS)
    if remainder:
        count += 1
    if count > 1 and remainder:
        stts_entries = struct.pack(">IIII", count - 1, _SAMPLE_MS, 1, remainder)
    else:  # every sample is whole seconds, or there is only one sample
        stts_entries = struct.pack(">II", count, min(duration_ms, _SAMPLE_MS))
    stts = _full_box(b"stts", 0, 0, struct.pack(">I", len(stts_entries) // 8), stts_entries)
    stsz = _full_box(b"stsz", 0, 0, struct.pack(">II", sample_size, count))
    # One chunk per sample, all at the same offset: every frame is the same keyframe.
    stco = _full_box(
        b"stco", 0, 0, struct.pack(">I", count), struct.pack(">I", mdat_offset) * count
    )
    stbl = _box(b"stbl", _STSD, stts, _STSC, stsz, stco)
    mdhd = _full_box(
        b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, _TIMESCALE, duration_ms, 0x55C4, 0)
    )  # language "und"
    mdia = _box(b"mdia", mdhd, _HDLR, _box(b"minf", _VMHD, _DINF, stbl))
    tkhd = _full_box(
        b"tkhd",
        0,
        0x3,  # track enabled, in movie
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms),  # times, track_ID, reserved, duration
        bytes(16),  # reserved, layer, alternate_group, volume, reserved
        _UNITY_MATRIX,
        struct.pack(">II", _keyframes.WIDTH << 16, _keyframes.HEIGHT << 16),
    )
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, _TIMESCALE, duration_ms),
        struct.pack(">IH", 0x10000, 0x100),  # rate 1.0, volume 1.0
        bytes(10),  # reserved
        _UNITY_MATRIX,
        bytes(24),  # pre_defined
        struct.pack(">I", 2),  # next_track_ID
    )
    return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))


def write_mp4(duration_ms: int, *, variant: int = 0) -> bytes:
    """A playable H.264 MP4 (320x180, one frame a second) lasting exactly ``duration_ms``.

    ``variant`` picks the frame colour (any int; taken modulo the number of
    colours), so different seeds give visibly different videos. The same
    arguments always give byte-identical output.

    Raises ValueError if ``duration_ms`` is not in 1..MAX_DURATION_MS.
    """
    if not 1 <= duration_ms <= MAX_DURATION_MS:
        raise ValueError(f"duration_ms must be in 1..{MAX_DURATION_MS}, got {duration_ms}")
    sample = _SAMPLES[variant % len(_SAMPLES)]
    # The stco offsets depend on the size of moov, but not the other way round:
    # build it once to learn its size, then again with the real offset.
    moov_size = len(_moov(duration_ms, len(sample), 0))
    mdat_offset = len(_FTYP) + moov_size + 8  # the sample follows mdat's 8-byte header
    moov = _moov(duration_ms, len(sample), mdat_offset)
    return b"".join((_FTYP, moov, _box(b"mdat", sample)))
