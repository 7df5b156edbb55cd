"""mock_api.media.wav: silent WAVs of an exact sample count, and their validation."""

from __future__ import annotations

import io
import wave
from decimal import Decimal

import pytest
from tinytag import TinyTag

from mock_api.media import probe_audio, silence_wav
from mock_api.media.wav import SAMPLE_RATES

CASES = [
    (Decimal("0.001"), 16000),
    (Decimal("1"), 8000),
    (Decimal("2.5"), 22050),
    (Decimal("5.0004"), 24000),
    (Decimal("4.99995"), 44100),
    (Decimal("600"), 8000),
    (Decimal("10.08"), 48000),
]


@pytest.mark.parametrize(("seconds", "rate"), CASES)
def test_read_back_by_wave(seconds: Decimal, rate: int) -> None:
    with wave.open(io.BytesIO(silence_wav(seconds, sample_rate=rate))) as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == rate
        assert wav.getnframes() == round(seconds * rate)
        assert set(wav.readframes(wav.getnframes())) <= {0}


@pytest.mark.parametrize(("seconds", "rate"), CASES)
def test_read_back_by_tinytag(seconds: Decimal, rate: int) -> None:
    tag = TinyTag.get(file_obj=io.BytesIO(silence_wav(seconds, sample_rate=rate)))
    assert tag.samplerate == rate
    assert tag.duration == round(seconds * rate) / rate


@pytest.mark.parametrize(("seconds", "rate"), CASES)
def test_probe_audio(seconds: Decimal, rate: int) -> None:
    info = probe_audio(silence_wav(seconds, sample_rate=rate))
    assert (info.kind, info.container) == ("audio", "wav")
    assert info.duration == (Decimal(round(seconds * rate)) / rate).quantize(Decimal("0.001"))


def test_default_rate_is_16k() -> None:
    with wave.open(io.BytesIO(silence_wav(Decimal(1)))) as wav:
        assert wav.getframerate() == 16000


def test_every_sample_rate_accepted() -> None:
    for rate in sorted(SAMPLE_RATES):
        assert len(silence_wav(Decimal("0.01"), sample_rate=rate)) == 44 + 2 * round(rate / 100)


def test_rounds_half_to_even_like_round() -> None:
    # 1.5 and 2.5 samples at 8 kHz
    for seconds, samples in ((Decimal("0.0001875"), 2), (Decimal("0.0003125"), 2)):
        with wave.open(io.BytesIO(silence_wav(seconds, sample_rate=8000))) as wav:
            assert wav.getnframes() == samples == round(seconds * 8000)


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (Decimal(0), "seconds must be > 0 and <= 3600, got 0"),
        (Decimal("-1"), "seconds must be > 0 and <= 3600, got -1"),
        (Decimal("3600.001"), "seconds must be > 0 and <= 3600, got 3600.001"),
        (Decimal("NaN"), "seconds must be a finite decimal.Decimal, got Decimal('NaN')"),
        (Decimal("Infinity"), "seconds must be a finite decimal.Decimal, got Decimal('Infinity')"),
        (1.5, "seconds must be a finite decimal.Decimal, got 1.5"),
        (Decimal("0.00001"), "seconds=0.00001 is shorter than one sample at 16000 Hz"),
    ],
)
def test_invalid_seconds(seconds: Decimal, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        silence_wav(seconds)


@pytest.mark.parametrize("rate", [0, 11025, 16001, 96000])
def test_invalid_sample_rate(rate: int) -> None:
    with pytest.raises(ValueError, match=f"sample_rate must be one of 8000, .*, got {rate}$"):
        silence_wav(Decimal(1), sample_rate=rate)
