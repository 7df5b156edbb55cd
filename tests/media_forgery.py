"""Honest audio files in every format the fake reads, and the same with lying headers.

The honest ones are real encoders' output: the fixtures in fixtures/media (made
with ffmpeg) and a few more made here with PyAV (``av``, a test dependency),
each 2 s of 16 kHz mono silence (silence: the smallest honest file a codec
makes, so the hardest for a bound to tell from a lie). The lying ones are those
with one field of a header patched, checksums made good again where the format
has them, or a few bytes that claim hours.
"""

from __future__ import annotations

import functools
import io
import struct
import tempfile
from pathlib import Path

import av

__all__ = [
    "TEN_HOURS",
    "adpcm_wav",
    "audio_mp4",
    "box",
    "coded_number",
    "crc8",
    "cut",
    "fixture",
    "flac_42_bytes",
    "flac_file",
    "flac_frame_header",
    "fragment",
    "full_box",
    "m4a",
    "m4a_fragments",
    "mdat",
    "mp3_417_bytes",
    "ogg_flac",
    "speex",
    "wav_44_bytes",
    "with_fact_samples",
    "with_flac_streaminfo",
    "with_last_granule",
    "with_mdhd_timescale",
    "with_mvhd_seconds",
    "with_ogg_flac_total",
    "with_wav_rate",
    "with_xing_frames",
]

MEDIA = Path(__file__).resolve().parent.parent / "fixtures" / "media"
TEN_HOURS = 36_000


@functools.cache
def fixture(name: str) -> bytes:
    return (MEDIA / name).read_bytes()


def cut(data: bytes, keep: float) -> bytes:
    """The first ``keep`` (0 to 1) of the file: a download cut short."""
    return data[: int(len(data) * keep)]


# --- made with PyAV ---------------------------------------------------------------


def _encode(
    container: str,
    codec: str,
    *,
    rate: int = 16_000,
    options: dict[str, str] | None = None,
    target: Path | None = None,
) -> bytes:
    """2 s of mono digital silence, encoded (into ``target`` if given)."""
    buffer = io.BytesIO()
    with av.open(target or buffer, "w", format=container, options=options or {}) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        size = stream.codec_context.frame_size or 1024
        sample_format = stream.codec_context.format
        for start in range(0, 2 * rate, size):
            samples = min(size, 2 * rate - start)
            frame = av.AudioFrame(format=sample_format.name, layout="mono", samples=samples)
            silent = b"\x80" if sample_format.name.startswith("u8") else b"\x00"
            frame.planes[0].update(silent * (samples * sample_format.bytes))
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


@functools.cache
def m4a(container: str = "ipod", movflags: str = "") -> bytes:
    """AAC in an MP4-family container ("ipod": M4A, "mov", "mp4"), with ``movflags``.

    ``faststart`` (the movie header before the samples, as web uploads have it)
    rewrites the file in a second pass that needs a named file: made in a
    directory of its own, removed at once.
    """
    options = {"movflags": movflags} if movflags else None
    if "faststart" not in movflags:
        return _encode(container, "aac", options=options)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"faststart.{container}"
        path.write_bytes(b"")
        _encode(container, "aac", options=options, target=path)
        return path.read_bytes()


def m4a_fragments() -> bytes:
    """AAC in a fragmented MP4: an empty movie header, every sample in a fragment."""
    return m4a("mp4", "frag_keyframe+empty_moov")


@functools.cache
def adpcm_wav() -> bytes:
    """IMA ADPCM in a WAV: compressed, so its duration is the ``fact`` chunk's count."""
    return _encode("wav", "adpcm_ima_wav")


@functools.cache
def ogg_flac() -> bytes:
    return _encode("ogg", "flac")


# --- built by hand ------------------------------------------------------------------


def wav_44_bytes() -> bytes:
    """A WAV header alone whose data chunk claims ten hours of 16 kHz 16-bit mono."""
    rate, claimed = 16_000, 16_000 * 2 * TEN_HOURS
    fields = (b"RIFF", 36 + claimed, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
    return struct.pack("<4sI4s4sIHHIIHH4sI", *fields, b"data", claimed)


def flac_42_bytes() -> bytes:
    """``fLaC`` and a STREAMINFO claiming ten hours of 16 kHz audio, and no frames."""
    rate, total = 16_000, 16_000 * TEN_HOURS
    packed = (rate << 44) | (0 << 41) | (15 << 36) | total  # mono, 16 bits
    streaminfo = struct.pack(">HH3s3sQ16s", 4096, 4096, b"\0" * 3, b"\0" * 3, packed, b"\0" * 16)
    return b"fLaC" + bytes([0x80, 0, 0, len(streaminfo)]) + streaminfo


def mp3_417_bytes() -> bytes:
    """One MPEG-1 layer III frame (128 kbit/s, 44.1 kHz: 417 bytes, 26 ms) whose Xing
    header claims ten hours of frames."""
    frames = TEN_HOURS * 44_100 // 1152
    header = bytes([0xFF, 0xFB, 0x90, 0x00])  # stereo: 32 bytes of side information
    # Flags: frame count and byte count present (tinytag wants both).
    xing = b"Xing" + struct.pack(">III", 0x3, frames, frames * 417)
    frame = header + bytes(32) + xing
    return frame + bytes(417 - len(frame))


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(serial: int, sequence: int, granule: int, packets: list[bytes], flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = header + lacing + b"".join(packets)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def speex(packets: int = 100) -> bytes:
    """Ogg Speex as speexenc writes it: narrowband (8 kHz, 160-sample frames), one
    frame per packet, 20 bytes a frame (8 kbit/s). The frames are not real Speex (no
    encoder here); the fake reads headers, packets and pages only."""
    header = b"Speex   " + b"1.2.1".ljust(20, b"\0")
    header += struct.pack("<13i", 1, 80, 8000, 0, 4, 1, -1, 160, 0, 1, 0, 0, 0)
    comment = struct.pack("<I", 4) + b"hand" + struct.pack("<I", 0)
    pages = [_ogg_page(7, 0, 0, [header], 0x02), _ogg_page(7, 1, 0, [comment], 0)]
    frame = bytes(range(20))
    for first in range(0, packets, 50):
        count = min(50, packets - first)
        last = first + count == packets
        granule = (first + count) * 160
        pages.append(_ogg_page(7, len(pages), granule, [frame] * count, 0x04 if last else 0))
    return b"".join(pages)


# --- patches ---------------------------------------------------------------------


def with_wav_rate(data: bytes, rate: int) -> bytes:
    """The ``fmt`` chunk's sample rate (and byte rate, consistently) set to ``rate``."""
    fmt = data.index(b"fmt ") + 8
    block_align = struct.unpack_from("<H", data, fmt + 12)[0]
    return data[: fmt + 4] + struct.pack("<II", rate, rate * block_align) + data[fmt + 12 :]


def with_fact_samples(data: bytes, samples: int) -> bytes:
    at = data.index(b"fact") + 8
    return data[:at] + struct.pack("<I", samples) + data[at + 4 :]


def with_xing_frames(data: bytes, frames: int) -> bytes:
    """The frame count of the Xing/Info header set to ``frames``."""
    at = max(data.find(b"Xing"), data.find(b"Info"))
    assert struct.unpack_from(">I", data, at + 4)[0] & 0x1  # the count is there
    return data[: at + 8] + struct.pack(">I", frames) + data[at + 12 :]


def with_flac_streaminfo(
    data: bytes, *, total: int | None = None, rate: int | None = None, at: int = 8
) -> bytes:
    """STREAMINFO (its payload at ``at``) with its total samples or sample rate replaced."""
    (packed,) = struct.unpack_from(">Q", data, at + 10)
    if total is not None:
        packed = (packed & ~((1 << 36) - 1)) | total
    if rate is not None:
        packed = (packed & ((1 << 44) - 1)) | (rate << 44)
    return data[: at + 10] + struct.pack(">Q", packed) + data[at + 18 :]


def _mp4_box_fields(data: bytes, kind: bytes) -> int:
    """Where a version-0 full box's fields start, after version/flags and two times."""
    at = data.index(kind) + 4
    assert data[at] == 0, "version 1 boxes are not patched here"
    return at + 4 + 8


def with_mvhd_seconds(data: bytes, seconds: int) -> bytes:
    at = _mp4_box_fields(data, b"mvhd")
    timescale = struct.unpack_from(">I", data, at)[0]
    return data[: at + 4] + struct.pack(">I", seconds * timescale) + data[at + 8 :]


def with_mdhd_timescale(data: bytes, timescale: int) -> bytes:
    at = _mp4_box_fields(data, b"mdhd")
    return data[:at] + struct.pack(">I", timescale) + data[at + 4 :]


def _page_with_crc(data: bytes, at: int) -> bytes:
    """``data`` with the CRC of the Ogg page at ``at`` computed again."""
    segments = data[at + 26]
    end = at + 27 + segments + sum(data[at + 27 : at + 27 + segments])
    page = bytearray(data[at:end])
    page[22:26] = bytes(4)
    page[22:26] = struct.pack("<I", _ogg_crc(bytes(page)))
    return data[:at] + bytes(page) + data[end:]


def with_last_granule(data: bytes, granule: int) -> bytes:
    """The last Ogg page's granule position set to ``granule``, its CRC made good."""
    at = data.rindex(b"OggS")
    patched = data[: at + 6] + struct.pack("<q", granule) + data[at + 14 :]
    return _page_with_crc(patched, at)


def with_ogg_flac_total(data: bytes, total: int) -> bytes:
    """Ogg FLAC's STREAMINFO (in the first page's first packet) claiming ``total`` samples."""
    streaminfo = data.index(b"fLaC") + 8
    return _page_with_crc(with_flac_streaminfo(data, total=total, at=streaminfo), 0)


# --- MP4 boxes by hand --------------------------------------------------------------


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, flags: int, *payload: bytes, version: int = 0) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags), *payload)


def audio_mp4(
    movie_ms: int,
    *,
    stts: list[tuple[int, int]] | None = None,
    stsz: tuple[int, list[int]] = (0, []),
    trex: tuple[int, int] | None = None,
    after: tuple[bytes, ...] = (),
    version: int = 0,
    compact: bool = False,
) -> bytes:
    """An M4A of one audio track (timescale 16000; the movie's, 1000) and what follows
    the movie header (fragments, ``mdat``). ``stsz`` is (uniform size, else the sizes),
    in an ``stz2`` box if ``compact``; ``version`` 1 writes the track and media headers
    with 64-bit times."""
    times = bytes(16 if version else 8)
    tkhd = full_box(b"tkhd", 0, times, struct.pack(">II", 1, 0), bytes(60), version=version)
    duration_and_language = bytes(8 if version else 4) + bytes(4)
    mdhd = full_box(b"mdhd", 0, times, struct.pack(">I", 16_000), duration_and_language)
    mdhd = mdhd[:8] + bytes([version]) + mdhd[9:]
    hdlr = full_box(b"hdlr", 0, bytes(4), b"soun", bytes(12), b"\0")
    entries = stts or []
    table = b"".join(struct.pack(">II", count, delta) for count, delta in entries)
    uniform, sizes = stsz
    count = len(sizes) or (stts or [(0, 0)])[0][0]
    if compact:  # stz2, 8 bits a size
        sample_sizes = full_box(b"stz2", 0, struct.pack(">II", 8, count), bytes(sizes))
    else:
        packed = b"".join(struct.pack(">I", size) for size in sizes)
        sample_sizes = full_box(b"stsz", 0, struct.pack(">II", uniform, count), packed)
    stts_box = full_box(b"stts", 0, struct.pack(">I", len(entries)), table)
    stbl = box(b"stbl", stts_box, sample_sizes)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", stbl)))
    mvhd = full_box(b"mvhd", 0, bytes(8), struct.pack(">II", 1000, movie_ms), bytes(80))
    mvex = (
        box(b"mvex", full_box(b"trex", 0, struct.pack(">IIIII", 1, 1, *trex, 0))) if trex else b""
    )
    return (
        box(b"ftyp", b"M4A ", bytes(4), b"M4A isom")
        + box(b"moov", mvhd, trak, mvex)
        + b"".join(after)
    )


def fragment(
    count: int,
    *,
    tfhd_flags: int = 0,
    defaults: bytes = b"",
    trun_flags: int = 0,
    samples: bytes = b"",
) -> bytes:
    """A ``moof`` of one track run of ``count`` samples (track 1)."""
    tfhd = full_box(b"tfhd", tfhd_flags, struct.pack(">I", 1), defaults)
    trun = full_box(b"trun", trun_flags, struct.pack(">I", count), samples)
    return box(b"moof", full_box(b"mfhd", 0, struct.pack(">I", 1)), box(b"traf", tfhd, trun))


def mdat(size: int, *, large: bool = False, to_end: bool = False) -> bytes:
    """An ``mdat`` of ``size`` bytes: with a 64-bit size, or size 0 ("to the end")."""
    if large:
        return struct.pack(">I4sQ", 1, b"mdat", 16 + size) + bytes(size)
    return struct.pack(">I4s", 0 if to_end else 8 + size, b"mdat") + bytes(size)


# --- FLAC frame headers by hand -------------------------------------------------------


def crc8(data: bytes) -> int:
    """CRC-8, polynomial x^8 + x^2 + x + 1, as FLAC frame headers carry it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def flac_frame_header(
    *,
    variable: bool = False,
    size_code: int = 12,
    rate_code: int = 4,
    channels: int = 0,
    bits: int = 4,
    number: bytes = b"\x00",
    extra: bytes = b"",
    crc_offset: int = 0,
    reserved: int = 0,
) -> bytes:
    """A frame header (defaults: fixed block size, 4096 samples, 8 kHz, mono, 16 bits)."""
    head = bytes([0xFF, 0xF8 | variable, size_code << 4 | rate_code])
    head += bytes([channels << 4 | bits << 1 | reserved]) + number + extra
    return head + bytes([(crc8(head) + crc_offset) & 0xFF])


def coded_number(value: int) -> bytes:
    """FLAC's UTF-8-like coding of a frame or sample number."""
    if value < 0x80:
        return bytes([value])
    length = next(n for n in range(2, 8) if value < 1 << (5 * n + 1))
    tail = [0x80 | (value >> (6 * i)) & 0x3F for i in range(length - 1)][::-1]
    first = (0xFF << (8 - length)) & 0xFF | (value >> (6 * (length - 1)))
    return bytes([first, *tail])


def flac_file(total: int, *headers: bytes, rate: int = 8000, channels: int = 1) -> bytes:
    """``fLaC``, STREAMINFO (16 bits, blocks up to 4608) and the frame headers given,
    each followed by 100 bytes of frame data that hold no sync code."""
    packed = (rate << 44) | ((channels - 1) << 41) | (15 << 36) | total
    streaminfo = struct.pack(">HH3s3sQ16s", 16, 4608, bytes(3), bytes(3), packed, bytes(16))
    frames = b"".join(header + bytes(range(100)) for header in headers)
    return b"fLaC" + bytes([0x80, 0, 0, len(streaminfo)]) + streaminfo + frames
