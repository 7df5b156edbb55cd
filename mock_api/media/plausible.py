"""Whether the duration a header claims is plausible for the bytes that carry it.

Why this exists: the fake bills the durations of the input audio, and reads
them from headers (tinytag), which are a few bytes anyone can write. A
42-byte FLAC, a 417-byte MP3, an M4A or an Ogg file whose header claimed ten
hours was billed the 600 s cap; the real service decodes the audio, finds
next to none, and fails the job (task code 1402, never charged). So each
claim is held against what the file itself holds, format by format:

======================  ==========================================================
format                  the claim may not exceed
======================  ==========================================================
WAV                     the ``data`` chunk's bytes present, at no less than
                        4 kbit/s, at a sample rate of no less than 4000 Hz
MP3 with a VBR header   the duration of the MPEG frames present, counted
FLAC                    where the last frame present ends (its header says)
Ogg Opus/Vorbis/FLAC/   the most the audio packets present can hold: each Opus
Speex                   packet's own duration, half a Vorbis long block, a FLAC
                        frame's block size, 20 ms a Speex frame
M4A, MP4, MOV (audio)   the audio samples listed, each counted for at most 1 s,
                        whose bytes must all be in the file
======================  ==========================================================

A claim may exceed its bound by 10 ms, for rounding between a header's time
scale and its frames'. The reasons for each bound are in the README's
"Limits". An MP3 without a VBR header needs no check: its duration is
already its frames, counted (:mod:`mock_api.media._mpeg`).

Every failure is a :class:`~mock_api.errors.MediaError`: the job fails with
1402 and is not charged, as one whose input cannot be decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from mock_api.errors import MediaError
from mock_api.media import _flac, _isobmff, _mpeg, _ogg

__all__ = [
    "LONGEST_MP4_SAMPLE_SECONDS",
    "MIN_SAMPLE_RATE",
    "MIN_WAV_BITRATE",
    "TOLERANCE_SECONDS",
    "check",
]

#: Rounding between a header's time scale and its frames' (an MP4's movie header
#: counts milliseconds, its samples 1/16000 s, say).
TOLERANCE_SECONDS = 0.010
#: Below this, a WAV's header (``fmt``, ``fact``) was made up: the slowest codec a
#: WAV carries in practice, G.723.1, needs 5.3 kbit/s; PCM at 8 kHz, 64 kbit/s.
MIN_WAV_BITRATE = 4_000
#: Below this, a sample rate in a header was made up: speech is sampled at
#: 8000 Hz or more (telephony); at 4000 Hz nothing above 2 kHz is left of it.
MIN_SAMPLE_RATE = 4_000
#: No codec an MP4 carries packs more audio into one sample (access unit): AAC's
#: 1024 samples are 0.14 s at its lowest rate (7350 Hz), ALAC's 4096 are 0.51 s at
#: 8 kHz, an Opus packet at most 0.12 s.
LONGEST_MP4_SAMPLE_SECONDS = 1.0


def _claims(label: str, claimed: float) -> str:
    return f"the {label} header claims {claimed:.3f} s of audio"


_LIE = "it is truncated or its header is wrong"


def _check_rate(label: str, rate: int) -> None:
    if rate < MIN_SAMPLE_RATE:
        raise MediaError(
            f"the {label} header gives a sample rate of {rate} Hz, below the "
            f"{MIN_SAMPLE_RATE} Hz speech needs: its header is wrong"
        )


def _wav(data: bytes, label: str, claimed: float) -> None:
    """The data chunk holds what the header says, at a plausible rate and bitrate.

    tinytag takes the header's word for the length: a 44-byte file claiming
    ten hours of samples would be billed at the cap; so would a rate, block
    size or ``fact`` sample count made up to stretch a few bytes.
    """
    rate = None
    offset = 12  # after "RIFF", the size and "WAVE"
    while offset + 8 <= len(data):
        chunk, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        body = offset + 8
        if chunk == b"fmt " and size >= 8 and body + 8 <= len(data):
            (rate,) = struct.unpack_from("<I", data, body + 4)
        if chunk == b"data":
            held = len(data) - body
            if size > held:
                raise MediaError(
                    f"the WAV header says its audio data is {size} bytes, but the file holds "
                    f"only {held}: {_LIE}"
                )
            if rate is not None:
                _check_rate(label, rate)
            if size * 8 < claimed * MIN_WAV_BITRATE:
                raise MediaError(
                    f"{_claims(label, claimed)} in {size} bytes ({size * 8 / claimed:.0f} bit/s), "
                    f"less than the {MIN_WAV_BITRATE // 1000} kbit/s any WAV codec needs: {_LIE}"
                )
            return
        offset = body + size + (size & 1)  # chunks are padded to an even size


def _mp3(data: bytes, label: str, claimed: float) -> None:
    counted = _mpeg.count_duration(data) or 0.0
    if claimed > counted + TOLERANCE_SECONDS:
        raise MediaError(
            f"{_claims(label, claimed)}, but its MPEG frames last {counted:.3f} s: {_LIE}"
        )


def _flac_native(data: bytes, label: str, claimed: float) -> None:
    start = 0
    if data.startswith(b"ID3") and len(data) >= 10:  # as mock_api.media.sniff reads it
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        start = 10 + size + (10 if data[5] & 0x10 else 0)
    found = _flac.first_frame_offset(data, start)
    if found is None:
        return  # no STREAMINFO: tinytag could not have read a duration either
    info, frames = found
    _check_rate(label, info.sample_rate)
    reach = _flac.reach(data, frames, info)
    if claimed > reach + TOLERANCE_SECONDS:
        holds = f"its frames end at {reach:.3f} s" if reach else "it holds no FLAC frames"
        raise MediaError(f"{_claims(label, claimed)}, but {holds}: {_LIE}")


def _ogg_stream(data: bytes, label: str, claimed: float) -> None:
    capacity = _ogg.capacity(data)
    if capacity is None:
        raise MediaError(f"{_claims(label, claimed)}, but it holds no audio stream: {_LIE}")
    if capacity.rate is not None:
        _check_rate(label, capacity.rate)
    if claimed > capacity.seconds + TOLERANCE_SECONDS:
        raise MediaError(
            f"{_claims(label, claimed)}, but its {capacity.packets} {capacity.codec} packets "
            f"hold at most {capacity.seconds:.3f} s: {_LIE}"
        )


def _iso(data: bytes, label: str, claimed: float) -> None:
    samples = _isobmff.audio_samples(data, LONGEST_MP4_SAMPLE_SECONDS)
    if samples is None:
        raise MediaError(f"{_claims(label, claimed)}, but it has no audio track: {_LIE}")
    held = _isobmff.media_bytes(data)
    if samples.size > held:
        raise MediaError(
            f"the {label} sample table lists {samples.size} bytes of audio, but the file "
            f"holds only {held}: {_LIE}"
        )
    if claimed > samples.seconds + TOLERANCE_SECONDS:
        raise MediaError(
            f"{_claims(label, claimed)}, but its {samples.count} audio samples last at most "
            f"{samples.seconds:.3f} s: {_LIE}"
        )


_CHECKS: dict[str, Callable[[bytes, str, float], None]] = {
    "wav": _wav,
    "mp3": _mp3,
    "flac": _flac_native,
    "ogg": _ogg_stream,
    "m4a": _iso,
    "mov": _iso,
}


def check(container: str, label: str, data: bytes, claimed: float) -> None:
    """Raise MediaError unless ``claimed`` seconds are plausible for ``data``.

    ``container`` is the probe's name for the format ("wav", "mp3", "flac",
    "ogg", "m4a", "mov"), ``label`` how errors name it, ``claimed`` the
    positive, finite duration its headers gave.
    """
    rule = _CHECKS[container]
    try:
        rule(data, label, claimed)
    except (struct.error, IndexError, ValueError, ZeroDivisionError, OverflowError) as exc:
        # Bytes no parser here expected: as unreadable as they are for a decoder.
        raise MediaError(f"could not read the {label} headers: corrupt or truncated file") from exc
