"""Write silent PCM WAV files of an exact length.

Why this exists: tests, examples and the fake's own fixtures need audio inputs
of a precise, known duration (to exercise billing rounding, the 5 s minimum
and the 600 s cap) without shipping large files or needing an encoder. WAV is
the one format whose duration is exactly ``samples / sample_rate``.
"""

from __future__ import annotations

import decimal
import struct

__all__ = ["MAX_SECONDS", "SAMPLE_RATES", "pcm_head", "sample_count", "silence_wav"]

#: Longest silence written: an hour of 48 kHz mono 16-bit PCM is ~350 MB.
MAX_SECONDS = decimal.Decimal(3600)

#: Sample rates accepted, the common ones every decoder handles.
SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 44100, 48000})

_BYTES_PER_SAMPLE = 2  # 16-bit
_CHANNELS = 1


def silence_wav(seconds: decimal.Decimal, *, sample_rate: int = 16000) -> bytes:
    """A mono 16-bit PCM WAV of silence holding ``round(seconds * sample_rate)`` samples.

    Raises ValueError unless 0 < seconds <= 3600 and ``sample_rate`` is one of
    :data:`SAMPLE_RATES`.
    """
    if not isinstance(seconds, decimal.Decimal) or not seconds.is_finite():
        raise ValueError(f"seconds must be a finite decimal.Decimal, got {seconds!r}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be > 0 and <= {MAX_SECONDS}, got {seconds}")
    if sample_rate not in SAMPLE_RATES:
        rates = ", ".join(str(rate) for rate in sorted(SAMPLE_RATES))
        raise ValueError(f"sample_rate must be one of {rates}, got {sample_rate!r}")
    samples = sample_count(seconds, sample_rate)
    if samples == 0:
        raise ValueError(
            f"seconds={seconds} is shorter than one sample at {sample_rate} Hz; nothing to write"
        )
    return pcm_head(samples, sample_rate) + bytes(samples * _CHANNELS * _BYTES_PER_SAMPLE)


def sample_count(seconds: decimal.Decimal, sample_rate: int) -> int:
    """``seconds * sample_rate`` rounded half to even (like the built-in ``round()``),
    exactly: Decimal arithmetic in a local context, whatever the caller's context."""
    context = decimal.Context(prec=40)
    product = context.multiply(seconds, decimal.Decimal(sample_rate))
    return int(product.to_integral_value(rounding=decimal.ROUND_HALF_EVEN, context=context))


def pcm_head(samples: int, sample_rate: int) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV holding ``samples`` samples."""
    block_align = _CHANNELS * _BYTES_PER_SAMPLE
    data_size = samples * block_align
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_size,  # everything after this field
        b"WAVE",
        b"fmt ",
        16,  # fmt chunk size (PCM)
        1,  # WAVE_FORMAT_PCM
        _CHANNELS,
        sample_rate,
        sample_rate * block_align,  # byte rate
        block_align,
        8 * _BYTES_PER_SAMPLE,  # bits per sample
        b"data",
        data_size,
    )
