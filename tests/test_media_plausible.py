"""A header's duration counts only if the bytes can carry it, in every audio format.

Before, the fake took any header's word: a 42-byte FLAC, a 417-byte MP3, or an
M4A or Ogg file with one field patched claimed ten hours and was billed the
600 s cap ($9.00). Now such a file fails its job with task code 1402 (the
media cannot be decoded), and nothing is charged; the honest file it was made
from still bills its real duration. Each row of CASES is one file, through
the HTTP API (upload, submit, result), on the memory and the SQLite store.
The files and patches are in tests/media_forgery.py; the bounds are README's
"Limits" (mock_api/media/plausible.py). FLAC_FRAMES and MP4_SAMPLES then take
hand-built files through the probe alone, one way of saying where the audio is
(or a header that does not count) a row.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import ManualClock, MockService, Settings, create_app
from mock_api.errors import MediaError
from mock_api.media import probe_audio
from mock_api.records import EntryKind
from mock_api.storage import Store
from mock_api.storage.memory import MemoryStore
from mock_api.storage.sqlite import SqliteStore
from tests import media_forgery as forge
from tests.helpers import AUTH, BASE, KEY, SUBMIT, job_input

pytestmark = pytest.mark.anyio

H = forge.TEN_HOURS
LIE = ": it is truncated or its header is wrong"


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], bytes]
    seconds: str | None = None  # honest: the duration billed
    reason: str | None = None  # lying: the job's error, after "left_audio: "


def honest(case_id: str, make: Callable[[], bytes], seconds: str) -> Case:
    return Case(case_id, make, seconds=seconds)


def lying(case_id: str, make: Callable[[], bytes], reason: str, lie: str = LIE) -> Case:
    return Case(case_id, make, reason=reason + lie)


def _fx(name: str) -> Callable[[], bytes]:
    return lambda: forge.fixture(name)


CLAIMS = "header claims 36000.000 s of audio"

CASES = [
    # WAV: the data chunk, a 4 kbit/s floor, a 4000 Hz floor.
    honest("wav-pcm", _fx("tone.wav"), "2.000"),
    honest("wav-adpcm", forge.adpcm_wav, "2.041"),
    lying(
        "wav-44-bytes",
        forge.wav_44_bytes,
        "the WAV header says its audio data is 1152000000 bytes, but the file holds only 0",
    ),
    lying(
        "wav-rate-1-hz",
        lambda: forge.with_wav_rate(forge.fixture("tone.wav"), 1),
        "the WAV header gives a sample rate of 1 Hz, below the 4000 Hz speech needs",
        lie=": its header is wrong",
    ),
    lying(
        "wav-adpcm-fact",
        lambda: forge.with_fact_samples(forge.adpcm_wav(), 16_000 * H),
        f"the WAV {CLAIMS} in 16384 bytes (4 bit/s), less than the 4 kbit/s any WAV codec needs",
    ),
    # MP3 with a Xing/Info header: the frames, counted.
    honest("mp3-cbr-info", _fx("tone_cbr.mp3"), "2.052"),
    honest("mp3-vbr-xing", _fx("tone_vbr.mp3"), "2.088"),
    honest("mp3-no-xing", _fx("tone_vbr_noxing.mp3"), "2.088"),
    lying(
        "mp3-417-bytes", forge.mp3_417_bytes, f"the MP3 {CLAIMS}, but its MPEG frames last 0.026 s"
    ),
    lying(
        "mp3-info-patched",
        lambda: forge.with_xing_frames(forge.fixture("tone_cbr.mp3"), H * 32_000 // 1152),
        f"the MP3 {CLAIMS}, but its MPEG frames last 2.088 s",
    ),
    lying(
        "mp3-xing-patched",
        lambda: forge.with_xing_frames(forge.fixture("tone_vbr.mp3"), H * 16_000 // 576),
        f"the MP3 {CLAIMS}, but its MPEG frames last 2.124 s",
    ),
    # FLAC: where the last frame ends.
    honest("flac", _fx("tone.flac"), "2.000"),
    lying("flac-42-bytes", forge.flac_42_bytes, f"the FLAC {CLAIMS}, but it holds no FLAC frames"),
    lying(
        "flac-total-patched",
        lambda: forge.with_flac_streaminfo(forge.fixture("tone.flac"), total=8_000 * H),
        f"the FLAC {CLAIMS}, but its frames end at 2.000 s",
    ),
    lying(
        "flac-rate-halved",
        lambda: forge.with_flac_streaminfo(forge.fixture("tone.flac"), rate=4_000),
        "the FLAC header claims 4.000 s of audio, but its frames end at 2.000 s",
    ),
    lying(
        "flac-cut-short",
        lambda: forge.cut(forge.fixture("tone.flac"), 0.8),
        "the FLAC header claims 2.000 s of audio, but its frames end at 1.224 s",
    ),
    # M4A, MP4 and MOV holding audio only: the samples listed, each 1 s at most,
    # and their bytes.
    honest("m4a", _fx("tone.m4a"), "2.000"),
    honest("mp4-audio-only", _fx("tone_audio_only.mp4"), "2.000"),
    honest("m4a-faststart", lambda: forge.m4a("ipod", "faststart"), "2.000"),
    honest("m4a-fragmented", lambda: forge.m4a("mp4", "frag_keyframe"), "2.064"),
    # Samples in fragments (moof), after an empty movie header whose duration a muxer
    # that knows it fills in (ffmpeg leaves 0, which the fake refuses as no duration).
    honest("m4a-in-fragments", lambda: forge.with_mvhd_seconds(forge.m4a_fragments(), 2), "2.000"),
    honest("mov-audio-only", lambda: forge.m4a("mov"), "2.000"),
    lying(
        "m4a-mvhd-patched",
        lambda: forge.with_mvhd_seconds(forge.fixture("tone.m4a"), H),
        f"the M4A {CLAIMS}, but its 33 audio samples last at most 2.064 s",
    ),
    lying(
        "m4a-mvhd-and-timescale-patched",
        lambda: forge.with_mdhd_timescale(forge.with_mvhd_seconds(forge.fixture("tone.m4a"), H), 1),
        f"the M4A {CLAIMS}, but its 33 audio samples last at most 33.000 s",
    ),
    lying(
        "mp4-audio-only-mvhd-patched",
        lambda: forge.with_mvhd_seconds(forge.fixture("tone_audio_only.mp4"), H),
        f"the M4A {CLAIMS}, but its 33 audio samples last at most 2.064 s",
    ),
    lying(
        "m4a-fragmented-mvhd-patched",
        lambda: forge.with_mvhd_seconds(forge.m4a("mp4", "frag_keyframe"), H),
        f"the M4A {CLAIMS}, but its 33 audio samples last at most 2.064 s",
    ),
    lying(
        "m4a-in-fragments-mvhd-patched",
        lambda: forge.with_mvhd_seconds(forge.m4a_fragments(), H),
        f"the M4A {CLAIMS}, but its 33 audio samples last at most 2.064 s",
    ),
    lying(
        "mov-audio-only-mvhd-patched",
        lambda: forge.with_mvhd_seconds(forge.m4a("mov"), H),
        f"the MOV {CLAIMS}, but its 33 audio samples last at most 2.064 s",
    ),
    lying(
        "m4a-faststart-cut-short",
        lambda: forge.cut(forge.m4a("ipod", "faststart"), 0.9),
        "the M4A sample table lists 149 bytes of audio, but the file holds only 40",
    ),
    # Ogg: the most the audio packets can hold.
    honest("ogg-vorbis", _fx("tone.ogg"), "2.000"),
    honest("ogg-opus", _fx("tone.opus"), "2.000"),
    # ffmpeg's Ogg muxer leaves STREAMINFO's total at 0 ("unknown"), which the fake
    # cannot bill; flac --ogg writes it, as here.
    honest("ogg-flac", lambda: forge.with_ogg_flac_total(forge.ogg_flac(), 32_000), "2.000"),
    honest("ogg-speex", forge.speex, "2.000"),
    lying(
        "ogg-vorbis-granule-patched",
        lambda: forge.with_last_granule(forge.fixture("tone.ogg"), 16_000 * H),
        f"the OGG {CLAIMS}, but its 64 Vorbis packets hold at most 2.048 s",
    ),
    lying(
        "ogg-vorbis-cut-short",
        lambda: forge.fixture("tone.ogg")[:-1],
        "the OGG header claims 2.000 s of audio, but its 32 Vorbis packets hold at most 1.024 s",
    ),
    lying(
        "ogg-opus-granule-patched",
        lambda: forge.with_last_granule(forge.fixture("tone.opus"), 48_000 * H),
        "the OGG header claims 35999.993 s of audio, but its 101 Opus packets hold at most 2.014 s",
    ),
    lying(
        "ogg-flac-total-patched",
        lambda: forge.with_ogg_flac_total(forge.ogg_flac(), 16_000 * H),
        f"the OGG {CLAIMS}, but its 28 FLAC packets hold at most 2.000 s",
    ),
    lying(
        "ogg-speex-granule-patched",
        lambda: forge.with_last_granule(forge.speex(), 8_000 * H),
        f"the OGG {CLAIMS}, but its 100 Speex packets hold at most 2.000 s",
    ),
]
IDS = [case.id for case in CASES]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


async def _run(service: MockService, clock: ManualClock, data: bytes) -> dict[str, object]:
    """Upload ``data``, submit it as ``left_audio``, and read the job's result."""
    app = create_app(service=service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        upload = await client.post(
            "/api/v3/media/upload/binary", files={"file": ("voice", data)}, headers=AUTH
        )
        assert upload.status_code == 200, upload.text
        body = {**job_input(right=1), "left_audio": upload.json()["data"]["download_url"]}
        submitted = await client.post(SUBMIT, json=body, headers=AUTH)
        assert submitted.status_code == 200, submitted.text
        clock.advance(120)
        job_id = submitted.json()["data"]["id"]
        result = await client.get(f"/api/v3/predictions/{job_id}/result", headers=AUTH)
        answer: dict[str, object] = result.json()["data"]
        return answer


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_duration_bills_only_if_the_bytes_can_carry_it(store: Store, case: Case) -> None:
    clock = ManualClock()
    service = MockService(Settings(random_seed=11), clock, store)
    account = service.accounts.open(KEY)
    before = service.accounts.balance(account)
    result = await _run(service, clock, case.make())
    job = service.store.jobs.job(str(result["id"]))
    assert job is not None
    charges = [e for e in service.store.accounts.ledger(account) if e.kind is EntryKind.CHARGE]
    if case.reason is None:
        assert result["status"] == "completed", result["error"]
        assert job.quote is not None
        assert job.quote.left_seconds == Decimal(str(case.seconds))
        assert [c.amount_micros for c in charges] == [-job.quote.cost_micros]
        assert service.accounts.balance(account) == before - job.quote.cost_micros
    else:
        assert (result["status"], job.plan.outcome.code) == ("failed", 1402)
        assert result["error"] == f"left_audio: {case.reason}"
        assert job.quote is None
        assert charges == []
        assert service.accounts.balance(account) == before


# --- hand-built files: the other ways the formats say where their audio is -----------

H16 = forge.flac_frame_header  # fixed block size, 4096 samples, 8 kHz, mono, 16 bits
F0 = H16()  # frame 0
LAST = 200 * 4096 + 1000  # frame 200 of 1000 samples: the end of the stream, in samples


def _last(**fields: Any) -> bytes:
    """Frame 200 of a fixed-block stream, 1000 samples (explicit, 16 bits), and ``fields``."""
    defaults = {"number": forge.coded_number(200), "size_code": 7, "extra": b"\x03\xe7"}
    return H16(**{**defaults, **fields})


_END = f"{LAST / 8000:.3f}"
#: (id, file, the duration probed, or the start of the error). STREAMINFO claims LAST
#: samples at 8 kHz unless said otherwise: 102.525 s.
FLAC_FRAMES: list[tuple[str, bytes, str]] = [
    ("fixed-two-byte-number", forge.flac_file(LAST, F0, _last()), _END),
    (
        "variable-block-sizes",
        forge.flac_file(
            LAST,
            H16(variable=True),
            H16(
                variable=True,
                number=forge.coded_number(200 * 4096),
                size_code=7,
                extra=(999).to_bytes(2, "big"),
            ),
        ),
        _END,
    ),
    (
        "8-bit-block-size",
        forge.flac_file(200 * 4096 + 256, F0, _last(size_code=6, extra=b"\xff")),
        f"{(200 * 4096 + 256) / 8000:.3f}",
    ),
    ("rate-in-khz", forge.flac_file(LAST, F0, _last(rate_code=12, extra=b"\x03\xe7\x08")), _END),
    ("rate-in-hz", forge.flac_file(LAST, F0, _last(rate_code=13, extra=b"\x03\xe7\x1f\x40")), _END),
    (
        "rate-in-tens",
        forge.flac_file(LAST, F0, _last(rate_code=14, extra=b"\x03\xe7\x03\x20")),
        _END,
    ),
    ("rate-from-streaminfo", forge.flac_file(LAST, F0, _last(rate_code=0)), _END),
    ("bits-from-streaminfo", forge.flac_file(LAST, F0, _last(bits=0)), _END),
    (
        "stereo-mid-side",
        forge.flac_file(LAST, H16(channels=10), _last(channels=10), channels=2),
        _END,
    ),
    # The last frame's header says 16 kHz: the same samples last half as long.
    (
        "frames-at-twice-the-rate",
        forge.flac_file(LAST, F0, _last(rate_code=5)),
        f"the FLAC header claims {_END} s of audio, but its frames end at {LAST / 16000:.3f} s",
    ),
    # Headers that are not valid for the stream do not count: the first frame is the last.
    ("bad-crc", forge.flac_file(LAST, F0, _last(crc_offset=1)), "its frames end at 0.512 s"),
    ("reserved-bit", forge.flac_file(LAST, F0, _last(reserved=1)), "its frames end at 0.512 s"),
    ("reserved-bits-code", forge.flac_file(LAST, F0, _last(bits=3)), "its frames end at 0.512 s"),
    ("other-bits", forge.flac_file(LAST, F0, _last(bits=6)), "its frames end at 0.512 s"),
    ("other-channels", forge.flac_file(LAST, F0, _last(channels=1)), "its frames end at 0.512 s"),
    (
        "reserved-channels",
        forge.flac_file(LAST, F0, _last(channels=11)),
        "its frames end at 0.512 s",
    ),
    (
        "block-size-code-0",
        forge.flac_file(LAST, F0, _last(size_code=0)),
        "its frames end at 0.512 s",
    ),
    ("rate-code-15", forge.flac_file(LAST, F0, _last(rate_code=15)), "its frames end at 0.512 s"),
    (
        "over-max-block-size",
        forge.flac_file(LAST, F0, _last(extra=(4608).to_bytes(2, "big"))),
        "its frames end at 0.512 s",
    ),
    (
        "bad-coded-number",
        forge.flac_file(LAST, F0, _last(number=b"\xc3\x08")),
        "its frames end at 0.512 s",
    ),
    (
        "eight-byte-coded-number",
        forge.flac_file(LAST, F0, _last(number=b"\xff" + bytes(7))),
        "its frames end at 0.512 s",
    ),
    (
        "fixed-frame-number-over-31-bits",
        forge.flac_file(LAST, F0, _last(number=forge.coded_number(1 << 31))),
        "its frames end at 0.512 s",
    ),
    (
        "first-frame-invalid",
        forge.flac_file(LAST, H16(crc_offset=1), _last()),
        "it holds no FLAC frames",
    ),
    (
        "rate-below-4000-hz",
        forge.flac_file(LAST, F0, _last(), rate=3999),
        "the FLAC header gives a sample rate of 3999 Hz, below the 4000 Hz speech needs",
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [r[1:] for r in FLAC_FRAMES], ids=[r[0] for r in FLAC_FRAMES]
)
def test_flac_frame_headers(data: bytes, expected: str) -> None:
    _probed(data, expected)


def _probed(data: bytes, expected: str) -> None:
    """``expected`` is the duration probe_audio reads, or a part of its error."""
    if expected[0].isdigit():
        assert str(probe_audio(data).duration) == expected
        return
    with pytest.raises(MediaError) as refused:
        probe_audio(data)
    assert expected in refused.value.reason


_U32 = struct.Struct(">I")
_SIZES = b"".join(_U32.pack(10) for _ in range(31))
_BOTH = _U32.pack(0) + b"".join(_U32.pack(1024) + _U32.pack(10) for _ in range(31))
_TFHD_DEFAULTS = bytes(8) + bytes(4) + _U32.pack(1024) + _U32.pack(10)  # base, index, dur, size
#: (id, file, the duration probed, or the start of the error): 31 AAC frames of 1024
#: samples at 16 kHz (1.984 s), 10 bytes each, described in each way MP4 has.
MP4_SAMPLES: list[tuple[str, bytes, str]] = [
    (
        "fragment-trex-defaults",
        forge.audio_mp4(1984, trex=(1024, 10), after=(forge.fragment(31), forge.mdat(310))),
        "1.984",
    ),
    (
        "fragment-tfhd-defaults",
        forge.audio_mp4(
            1984,
            trex=(0, 0),
            after=(forge.fragment(31, tfhd_flags=0x1B, defaults=_TFHD_DEFAULTS), forge.mdat(310)),
        ),
        "1.984",
    ),
    (
        "fragment-sample-sizes",
        forge.audio_mp4(
            1984,
            trex=(1024, 0),
            after=(forge.fragment(31, trun_flags=0x200, samples=_SIZES), forge.mdat(310)),
        ),
        "1.984",
    ),
    (
        "fragment-durations-and-sizes",
        forge.audio_mp4(
            1984,
            trex=(0, 0),
            after=(forge.fragment(31, trun_flags=0x301, samples=_BOTH), forge.mdat(310)),
        ),
        "1.984",
    ),
    (
        "uniform-size-64-bit-mdat",
        forge.audio_mp4(
            1984, stts=[(31, 1024)], stsz=(10, []), after=(forge.mdat(310, large=True),)
        ),
        "1.984",
    ),
    (
        "size-table-mdat-to-the-end",
        forge.audio_mp4(
            1984, stts=[(31, 1024)], stsz=(0, [10] * 31), after=(forge.mdat(310, to_end=True),)
        ),
        "1.984",
    ),
    (
        "64-bit-headers",
        forge.audio_mp4(
            1984, stts=[(31, 1024)], stsz=(10, []), after=(forge.mdat(310),), version=1
        ),
        "1.984",
    ),
    (
        "compact-size-table",
        forge.audio_mp4(
            1984, stts=[(31, 1024)], stsz=(0, [10] * 31), after=(forge.mdat(310),), compact=True
        ),
        "1.984",
    ),
    (
        "sample-bytes-missing",
        forge.audio_mp4(1984, stts=[(31, 1024)], stsz=(10, []), after=(forge.mdat(100),)),
        "the M4A sample table lists 310 bytes of audio, but the file holds only 100",
    ),
    # A million samples of no bytes hold nothing, whatever their durations say.
    (
        "empty-samples",
        forge.audio_mp4(
            36_000_000, trex=(1024, 0), after=(forge.fragment(1_000_000), forge.mdat(10))
        ),
        "the M4A header claims 36000.000 s of audio, but its 1000000 audio samples last at most "
        "0.000 s",
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [r[1:] for r in MP4_SAMPLES], ids=[r[0] for r in MP4_SAMPLES]
)
def test_mp4_sample_tables(data: bytes, expected: str) -> None:
    _probed(data, expected)
