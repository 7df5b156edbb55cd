"""mock_api.media.probe: kinds, containers and durations of real files, and clean failures.

The fixtures and the durations ffprobe reported for them are in
fixtures/media/durations.json ("tolerance": how far our reading may be from
ffprobe's, per file, with the reason in "note"). Nothing here needs ffmpeg.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_api.errors import MediaError
from mock_api.media import (
    MediaInfo,
    probe_audio,
    probe_image,
    probe_video,
    sniff_content_type,
    sniff_kind,
    write_mp4,
)

MEDIA = Path(__file__).resolve().parent.parent / "fixtures" / "media"
TABLE: list[dict[str, Any]] = json.loads((MEDIA / "durations.json").read_text())
PROBES = {"audio": probe_audio, "video": probe_video, "image": probe_image}
MIMES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
FILES = {entry["file"]: (MEDIA / entry["file"]).read_bytes() for entry in TABLE}


def by_file(entry: dict[str, Any]) -> str:
    return str(entry["file"])


def probe_error(probe: Any, data: bytes) -> str:
    """The reason of the MediaError ``probe(data)`` raises (and nothing else)."""
    with pytest.raises(MediaError) as caught:
        probe(data)
    error = caught.value
    assert error.input is None
    assert error.reason
    assert error.message == error.reason
    return error.reason


# --- the fixtures --------------------------------------------------------------


def test_fixture_table_covers_every_media_file() -> None:
    on_disk = {p.name for p in MEDIA.iterdir() if p.suffix not in {".json", ".sh", ".py"}}
    assert on_disk == set(FILES)


def test_fixtures_are_tiny() -> None:
    assert all(len(data) < 20_000 for data in FILES.values())
    assert sum(len(data) for data in FILES.values()) < 150_000


@pytest.mark.parametrize("entry", TABLE, ids=by_file)
def test_probe_reads_fixture(entry: dict[str, Any]) -> None:
    info = PROBES[entry["kind"]](FILES[entry["file"]])
    assert isinstance(info, MediaInfo)
    assert info.kind == entry["kind"]
    assert info.container == entry["container"]
    if entry["duration"] is None:
        assert info.duration is None
        return
    assert info.duration is not None
    assert info.duration.as_tuple().exponent == -3  # to the millisecond
    difference = abs(info.duration - Decimal(entry["duration"]))
    assert difference <= Decimal(entry["tolerance"]), (info.duration, entry["note"])


@pytest.mark.parametrize("entry", TABLE, ids=by_file)
def test_sniffing_fixture(entry: dict[str, Any]) -> None:
    data = FILES[entry["file"]]
    kind = entry.get("sniff_kind", entry["kind"])
    assert sniff_kind(data) == kind
    assert sniff_kind(data[:262]) == kind  # the first bytes are enough
    expected_mime = "audio/mp4" if entry["file"].endswith(".m4a") else None
    if entry["file"] == "tone_audio_only.mp4":
        expected_mime = "video/mp4"  # by its brand; probe_audio looks at its tracks
    assert sniff_content_type(data) == (expected_mime or MIMES[entry["container"]])


@pytest.mark.parametrize("entry", TABLE, ids=by_file)
def test_other_probes_reject_fixture(entry: dict[str, Any]) -> None:
    data = FILES[entry["file"]]
    for kind, probe in PROBES.items():
        if kind == entry["kind"]:
            continue
        reason = probe_error(probe, data)
        assert reason.startswith("expected "), reason


def test_wrong_kind_reasons_name_what_the_file_looks_like() -> None:
    assert probe_error(probe_audio, FILES["frame.png"]) == (
        "expected audio (WAV, MP3, M4A/AAC, OGG, FLAC), got image/png"
    )
    assert probe_error(probe_video, FILES["tone.wav"]) == (
        "expected video (MP4, MOV, WebM), got audio/wav"
    )
    assert probe_error(probe_image, FILES["clip.webm"]) == (
        "expected an image (PNG, JPEG, WebP, GIF), got video/webm"
    )
    assert probe_error(probe_audio, FILES["clip.mp4"]) == (
        "expected audio (WAV, MP3, M4A/AAC, OGG, FLAC), got a video (MP4)"
    )
    assert probe_error(probe_video, FILES["tone_audio_only.mp4"]) == (
        "expected video (MP4, MOV, WebM), got audio only (an MP4 file with no video track)"
    )
    assert probe_error(probe_video, FILES["tone.m4a"]) == (
        "expected video (MP4, MOV, WebM), got audio only (an M4A file with no video track)"
    )


def test_output_of_write_mp4_probes_as_video() -> None:
    assert probe_video(write_mp4(10_080)) == MediaInfo("video", "mp4", Decimal("10.080"))


# --- MP3 without a VBR header: counted, not extrapolated ---------------------


def _mp3_frames(bitrate_index: int, count: int) -> bytes:
    """Silent-ish MPEG-2 layer III frames, mono, 16 kHz: valid headers, zero payload."""
    kbps = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)[bitrate_index - 1]
    length = 72 * kbps * 1000 // 16000
    header = bytes([0xFF, 0xF3, (bitrate_index << 4) | (2 << 2), 0xC0])
    return (header + bytes(length - 4)) * count


def test_vbr_mp3_without_xing_is_counted_to_the_end() -> None:
    # 30 s of 8 kbit/s frames, then 30 s of 160 kbit/s: extrapolating from the
    # start, as tinytag 2.3.2 does past 30 s, reads 630.5 s.
    data = _mp3_frames(1, 834) + _mp3_frames(14, 834)
    assert probe_audio(data) == MediaInfo("audio", "mp3", Decimal("60.048"))  # 1668 x 36 ms


def test_mp3_frame_count_skips_junk_and_trailing_tags() -> None:
    id3v2 = b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"\x00" * 5
    id3v1 = b"TAG" + b"\x20" * 125
    data = id3v2 + _mp3_frames(4, 100) + b"junk\xff\x00" + _mp3_frames(4, 100) + id3v1
    assert probe_audio(data).duration == Decimal("7.200")  # 200 x 36 ms


def test_id3_tag_without_frames() -> None:
    data = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff" * 100_000
    assert probe_error(probe_audio, data) == "the MP3 file has no MPEG audio frames"


def test_fixture_mp3_without_xing_matches_packet_count() -> None:
    # ffprobe -count_packets reads 58 packets of 576 samples at 16 kHz.
    assert probe_audio(FILES["tone_vbr_noxing.mp3"]).duration == Decimal("2.088")


# --- garbage, empty and truncated input ---------------------------------------


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_empty_data(probe: Any) -> None:
    assert probe_error(probe, b"") == "the file is empty (0 bytes)"


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"hello, world", "unrecognised bytes"),
        (b"\x00" * 1000, "unrecognised bytes"),
        (b"%PDF-1.7\n" + b"\x00" * 100, "application/pdf"),
        (b"PK\x03\x04" + b"\x00" * 100, "application/zip"),
        # A valid MP3 frame header (417-byte frame) not followed by a second one.
        (b"\xff\xfb\x90\x00" + b"\x00" * 1000, "unrecognised bytes"),
    ],
    ids=["text", "zeros", "pdf", "zip", "frame-sync"],
)
def test_garbage(probe: Any, data: bytes, looks_like: str) -> None:
    assert probe_error(probe, data).endswith(f", got {looks_like}")
    assert sniff_kind(data) is None


@pytest.mark.parametrize(
    ("file", "size", "reason"),
    [
        ("tone.wav", 20, "could not read the WAV headers: corrupt or truncated file"),
        ("tone.flac", 10, "could not read the FLAC headers: corrupt or truncated file"),
        ("tone.m4a", 40, "could not read the M4A headers: no movie header (moov) found"),
        ("clip.mov", 1000, "could not read the MOV headers: no movie header (moov) found"),
        ("clip.webm", 30, "could not read the WebM headers: truncated element header"),
    ],
)
def test_truncated_headers(file: str, size: int, reason: str) -> None:
    data = FILES[file][:size]
    kind = next(entry["kind"] for entry in TABLE if entry["file"] == file)
    assert probe_error(PROBES[kind], data) == reason


def test_truncated_ogg_has_zero_duration() -> None:
    # Only the first page (the Vorbis identification header) is left.
    assert probe_error(probe_audio, FILES["tone.ogg"][:58]) == "the OGG file has a duration of zero"


def _patch_mvhd_duration(data: bytes, duration: int) -> bytes:
    at = data.index(b"mvhd") + 4 + 4 + 8 + 4  # type, version/flags, times, timescale
    return data[:at] + struct.pack(">I", duration) + data[at + 4 :]


def test_mp4_with_zero_duration() -> None:
    data = _patch_mvhd_duration(write_mp4(5000), 0)
    assert probe_error(probe_video, data) == "the MP4 file has a duration of zero"


# --- WebM built by hand -------------------------------------------------------


def _element(element_id: int, payload: bytes, *, unknown_size: bool = False) -> bytes:
    ident = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    size = b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown_size else bytes([0x80 | len(payload)])
    assert unknown_size or len(payload) < 127
    return ident + size + payload


def _webm(*children: bytes, doc_type: bytes = b"webm", unknown_size_segment: bool = False) -> bytes:
    header = _element(0x1A45DFA3, _element(0x4282, doc_type))
    return header + _element(0x18538067, b"".join(children), unknown_size=unknown_size_segment)


def _info(duration: float | None, scale: int = 1_000_000) -> bytes:
    fields = _element(0x2AD7B1, scale.to_bytes(4, "big"))
    if duration is not None:
        fields += _element(0x4489, struct.pack(">d", duration))
    return _element(0x1549A966, fields)


def _tracks(*types: int) -> bytes:
    entries = b"".join(_element(0xAE, _element(0x83, bytes([kind]))) for kind in types)
    return _element(0x1654AE6B, entries)


def _cluster(*, unknown_size: bool) -> bytes:
    blocks = _element(0xE7, b"\x00") + _element(0xA3, b"\x81\x00\x00\x80" + b"\x00" * 20)
    return _element(0x1F43B675, blocks, unknown_size=unknown_size)


def test_webm_by_hand() -> None:
    data = _webm(_info(12_345.0), _tracks(1, 2))
    assert probe_video(data) == MediaInfo("video", "webm", Decimal("12.345"))


def test_matroska_with_timecode_scale() -> None:
    # Duration counts ticks of TimecodeScale ns: 2_500 ticks of 1 ms... of 2 ms here.
    data = _webm(_info(2_500.0, scale=2_000_000), _tracks(1), doc_type=b"matroska")
    assert probe_video(data) == MediaInfo("video", "mkv", Decimal("5.000"))


def test_live_webm_with_unknown_sizes_and_info_after_clusters() -> None:
    data = _webm(
        _tracks(1),
        _cluster(unknown_size=True),
        _cluster(unknown_size=True),
        _info(3_000.0),
        unknown_size_segment=True,
    )
    assert probe_video(data).duration == Decimal("3.000")


def test_webm_without_duration() -> None:
    data = _webm(_info(None), _tracks(1), _cluster(unknown_size=True), unknown_size_segment=True)
    assert probe_error(probe_video, data) == "the WebM file has no readable duration"


def test_webm_audio_only() -> None:
    data = _webm(_info(1_000.0), _tracks(2))
    assert probe_error(probe_video, data) == (
        "expected video (MP4, MOV, WebM), got audio only (video/webm)"
    )


@pytest.mark.parametrize("duration", [0.0, -1.0, 0.0004, float("nan"), float("inf"), 1e100])
def test_webm_bad_duration(duration: float) -> None:
    reason = probe_error(probe_video, _webm(_info(duration), _tracks(1)))
    assert reason.startswith("the WebM file "), reason


def test_ebml_but_not_matroska() -> None:
    data = _webm(_info(1_000.0), _tracks(1), doc_type=b"webmx")
    assert probe_error(probe_video, data) == (
        "could not read the WebM headers: EBML DocType 'webmx' is not WebM or Matroska"
    )


# --- anything at all: a MediaError or an answer, never another exception ------


def _must_not_crash(probe: Any, data: bytes) -> None:
    try:
        info = probe(data)
    except MediaError as error:
        reason = error.reason
    else:
        assert isinstance(info, MediaInfo)
        assert info.duration is None or info.duration > 0
        return
    assert reason


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    for probe in PROBES.values():
        _must_not_crash(probe, data)
    sniff_kind(data)
    sniff_content_type(data)


@FUZZ
@given(
    file=st.sampled_from(sorted(FILES)),
    prefix=st.sampled_from([b"", b"ID3\x03\x00\x00\x00\x00\x00\x00", b"RIFF\x00\x00\x00\x00"]),
    cut=st.floats(min_value=0, max_value=1),
)
def test_random_truncations(file: str, prefix: bytes, cut: float) -> None:
    data = FILES[file]
    truncated = prefix + data[: int(len(data) * cut)]
    for probe in PROBES.values():
        _must_not_crash(probe, truncated)


@FUZZ
@given(
    file=st.sampled_from(sorted(FILES)),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
)
def test_random_corruptions(file: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(FILES[file])
    for position, value in flips:
        data[position % len(data)] = value
    for probe in PROBES.values():
        _must_not_crash(probe, bytes(data))
