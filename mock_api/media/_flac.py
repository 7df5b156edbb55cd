"""FLAC frame headers: how many samples the frames actually present reach.

Why this exists: a FLAC file's duration is a number in its STREAMINFO block,
and tinytag takes its word for it, so 42 bytes (the ``fLaC`` marker and
STREAMINFO, no audio at all) could claim ten hours. The frames that follow
say where they are: each header carries its frame number (fixed block size)
or its first sample's number (variable block size), its block size and,
usually, its sample rate. So the last frame header in the file tells how far
the audio really reaches, without decoding anything (RFC 9639, section 9.1).

A frame header has no length field, so the last one is found by scanning
back from the end for its sync code. Audio data can look like a sync code;
a candidate counts only if its fields are valid, agree with the stream's
first frame and STREAMINFO, and its CRC-8 matches (which alone lets one
random candidate in 256 through).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FrameHeader", "StreamInfo", "first_frame_offset", "frame_header", "reach", "streaminfo"]

_STREAMINFO_SIZE = 34
# Samples per block by block size code; 6 and 7 read it after the coded number.
_BLOCK_SIZES = {1: 192, **{c: 576 << (c - 2) for c in range(2, 6)}}
_BLOCK_SIZES |= {c: 256 << (c - 8) for c in range(8, 16)}
# Sample rates by code; 0 means "as in STREAMINFO", 12-14 read it after the header.
_RATES = {1: 88200, 2: 176400, 3: 192000, 4: 8000, 5: 16000, 6: 22050, 7: 24000}
_RATES |= {8: 32000, 9: 44100, 10: 48000, 11: 96000}
# Bits per sample by code; 0 means "as in STREAMINFO" and 3 is reserved.
_BITS = {1: 8, 2: 12, 4: 16, 5: 20, 6: 24, 7: 32}
_LONGEST_HEADER = 16  # sync 2, codes 2, coded number <= 7, block size <= 2, rate <= 2, CRC 1
# Sync codes tried from the end before giving up: audio data holds about one
# in 64 KiB, so the last frame is found long before this; bytes made of sync
# codes (a hostile upload) stop here, in milliseconds rather than seconds.
_MAX_CANDIDATES = 4096


def _crc8_table() -> bytes:
    table = bytearray(256)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table[byte] = crc
    return bytes(table)


_CRC8 = _crc8_table()


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """The STREAMINFO fields the reach of the frames is checked against."""

    max_block_size: int
    sample_rate: int
    channels: int
    bits_per_sample: int
    total_samples: int  # 0: unknown


@dataclass(frozen=True, slots=True)
class FrameHeader:
    variable: bool  # variable block size: ``number`` counts samples, not frames
    number: int
    block_size: int
    sample_rate: int | None  # None: as in STREAMINFO


def streaminfo(block: bytes) -> StreamInfo | None:
    """The fields of a STREAMINFO block's payload (34 bytes), or None if it is shorter."""
    if len(block) < _STREAMINFO_SIZE:
        return None
    packed = int.from_bytes(block[10:18], "big")
    return StreamInfo(
        max_block_size=int.from_bytes(block[2:4], "big"),
        sample_rate=packed >> 44,
        channels=((packed >> 41) & 0x7) + 1,
        bits_per_sample=((packed >> 36) & 0x1F) + 1,
        total_samples=packed & ((1 << 36) - 1),
    )


def first_frame_offset(data: bytes, start: int) -> tuple[StreamInfo, int] | None:
    """STREAMINFO and where the frames begin, for the ``fLaC`` marker at ``start``."""
    pos = start + 4
    info = None
    while pos + 4 <= len(data):
        last, kind = data[pos] & 0x80, data[pos] & 0x7F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        if kind == 0 and info is None:
            info = streaminfo(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
        if last:
            break
    return (info, pos) if info is not None else None


def _coded_number(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """(value, position after it) of the UTF-8-like coded number at ``pos``, before ``end``."""
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    length = 8 - (first ^ 0xFF).bit_length()  # leading one bits
    if not 2 <= length <= 7 or pos + length > end:
        return None
    value = first & (0x7F >> length)
    for byte in data[pos + 1 : pos + length]:
        if byte & 0xC0 != 0x80:
            return None
        value = (value << 6) | (byte & 0x3F)
    return value, pos + length


def frame_header(data: bytes, pos: int, info: StreamInfo) -> FrameHeader | None:
    """The frame header at ``pos`` if it is a valid one for this stream, else None."""
    end = min(len(data), pos + _LONGEST_HEADER)
    if end - pos < 6 or data[pos] != 0xFF or data[pos + 1] & 0xFE != 0xF8:
        return None
    size_code, rate_code = data[pos + 2] >> 4, data[pos + 2] & 0xF
    channel_code, bits_code = data[pos + 3] >> 4, (data[pos + 3] >> 1) & 0x7
    channels = channel_code + 1 if channel_code < 8 else 2
    if (
        size_code == 0
        or rate_code == 15
        or channel_code > 10
        or channels != info.channels
        or data[pos + 3] & 1
        or (bits_code and _BITS.get(bits_code) != info.bits_per_sample)
    ):
        return None
    coded = _coded_number(data, pos + 4, end)
    if coded is None:
        return None
    number, at = coded
    variable = bool(data[pos + 1] & 1)
    if not variable and number >= 1 << 31:
        return None
    block_size = _BLOCK_SIZES.get(size_code)
    extra = {6: 1, 7: 2}.get(size_code, 0)
    if extra:
        block_size = int.from_bytes(data[at : at + extra], "big") + 1
        at += extra
    rate = _RATES.get(rate_code)
    if rate_code in (12, 13, 14):
        width = 1 if rate_code == 12 else 2
        rate = int.from_bytes(data[at : at + width], "big") * {12: 1000, 13: 1, 14: 10}[rate_code]
        at += width
    if at >= end or _crc8(data[pos:at]) != data[at] or not block_size:
        return None
    if info.max_block_size and block_size > info.max_block_size:
        return None
    return FrameHeader(variable, number, block_size, rate)


def _crc8(header: bytes) -> int:
    crc = 0
    for byte in header:
        crc = _CRC8[crc ^ byte]
    return crc


def reach(data: bytes, start: int, info: StreamInfo) -> float:
    """Seconds of audio the frames from ``start`` on reach: where the last one ends.

    0.0 if no valid frame starts at ``start``. The sample rate is the last
    frame's own when its header gives one, else STREAMINFO's. If no valid
    header is among the last 4096 sync codes, the first frame counts as the last.
    """
    first = frame_header(data, start, info)
    if first is None:
        return 0.0
    sync = bytes([0xFF, 0xF8 | first.variable])
    last, pos = first, len(data)
    for _ in range(_MAX_CANDIDATES):
        pos = data.rfind(sync, start + 1, pos)
        found = frame_header(data, pos, info) if pos > start else first
        if found is not None:
            last = found
            break
    if last.variable:
        samples = last.number + last.block_size
    else:  # frame numbers count blocks of the stream's fixed size: the first frame's
        samples = last.number * first.block_size + last.block_size
    rate = last.sample_rate or info.sample_rate
    return samples / rate if rate else 0.0
