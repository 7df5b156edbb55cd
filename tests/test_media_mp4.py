"""mock_api.media.mp4: exact durations, playable frames, determinism and size.

Read back with tinytag (what the fake itself uses) and PyAV (FFmpeg's
demuxer and H.264 decoder, bundled in the wheel: no ffmpeg binary needed).
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import av
import pytest
from tinytag import TinyTag

from mock_api.media import _keyframes as keyframes
from mock_api.media import write_mp4

DURATIONS_MS = [1, 999, 1000, 1500, 5000, 10_080, 600_000]


def boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, bytes]:
    """Payloads of the boxes in data[start:end], by type (the last of each type)."""
    end = len(data) if end is None else end
    found = {}
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        found[kind] = data[start + 8 : start + size]
        start += size
    return found


def open_input(data: bytes) -> av.container.InputContainer:
    return av.open(io.BytesIO(data), mode="r")


def top_level_order(data: bytes) -> list[bytes]:
    order, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        order.append(kind)
        pos += size
    return order


@pytest.mark.parametrize("duration_ms", DURATIONS_MS)
def test_tinytag_reads_exact_duration(duration_ms: int) -> None:
    tag = TinyTag.get(file_obj=io.BytesIO(write_mp4(duration_ms)))
    assert tag.duration is not None
    assert round(tag.duration * 1000) == duration_ms
    assert tag.duration == pytest.approx(duration_ms / 1000, abs=1e-9)


@pytest.mark.parametrize("duration_ms", DURATIONS_MS)
def test_header_durations(duration_ms: int) -> None:
    data = write_mp4(duration_ms)
    assert top_level_order(data) == [b"ftyp", b"moov", b"mdat"]  # fast start
    moov = boxes(data)[b"moov"]
    mvhd = boxes(moov)[b"mvhd"]
    assert struct.unpack_from(">II", mvhd, 12) == (1000, duration_ms)  # timescale, duration
    trak = boxes(moov)[b"trak"]
    tkhd = boxes(trak)[b"tkhd"]
    assert struct.unpack_from(">I", tkhd, 20)[0] == duration_ms
    mdhd = boxes(boxes(trak)[b"mdia"])[b"mdhd"]
    assert struct.unpack_from(">II", mdhd, 12) == (1000, duration_ms)


@pytest.mark.parametrize("duration_ms", DURATIONS_MS)
def test_pyav_opens_and_decodes(duration_ms: int) -> None:
    with open_input(write_mp4(duration_ms, variant=duration_ms)) as container:
        assert container.duration == duration_ms * 1000  # AV_TIME_BASE: microseconds
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.duration is not None
        assert stream.time_base is not None
        assert stream.duration * stream.time_base == Fraction(duration_ms, 1000)
        expected_frames = -(-duration_ms // 1000)  # one per started second
        assert stream.frames == expected_frames
        frame = next(container.decode(stream))
        assert (frame.width, frame.height) == (keyframes.WIDTH, keyframes.HEIGHT)
        assert frame.key_frame


@pytest.mark.parametrize("duration_ms", [1500, 10_080])
def test_every_frame_decodes_with_its_timestamp(duration_ms: int) -> None:
    with open_input(write_mp4(duration_ms)) as container:
        stream = container.streams.video[0]
        times = [frame.time for frame in container.decode(stream)]
    assert times == [float(second) for second in range(-(-duration_ms // 1000))]


def top_left_rgb(data: bytes) -> tuple[int, int, int]:
    with open_input(data) as container:
        frame = next(container.decode(video=0)).to_rgb()
    pixel = bytes(frame.planes[0])[:3]
    return pixel[0], pixel[1], pixel[2]


def test_variants_differ_visibly() -> None:
    colours = [top_left_rgb(write_mp4(2000, variant=v)) for v in range(len(keyframes.KEYFRAMES))]
    assert len(set(colours)) == len(colours)
    for i, a in enumerate(colours):
        for b in colours[i + 1 :]:
            assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) > 60, (a, b)


def test_variant_wraps_around() -> None:
    count = len(keyframes.KEYFRAMES)
    assert write_mp4(3000, variant=count + 2) == write_mp4(3000, variant=2)
    assert write_mp4(3000, variant=-1) == write_mp4(3000, variant=count - 1)


def test_deterministic() -> None:
    assert write_mp4(10_080, variant=5) == write_mp4(10_080, variant=5)
    assert write_mp4(10_080) != write_mp4(10_081)


def test_tiny_even_for_ten_minutes() -> None:
    assert len(write_mp4(10_000)) < 1024
    assert len(write_mp4(600_000)) < 8 * 1024


# Version-0 MP4 boxes hold durations in 32 bits: at most 2**32 - 1 ms at timescale 1000.
@pytest.mark.parametrize("duration_ms", [0, -1, 2**32])
def test_rejects_impossible_durations(duration_ms: int) -> None:
    with pytest.raises(ValueError, match="duration_ms must be in 1"):
        write_mp4(duration_ms)
