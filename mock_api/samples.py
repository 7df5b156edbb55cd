"""Generated sample media as a head and zeros, so an answer streams and is never held whole.

``GET /media/samples/silence.wav?seconds=1200`` is 38 MB of silence. Built as one
bytes object per request, 16 clients that asked for it and never read their
answers held over 600 MB of the fake's memory until they hung up. A
:class:`Sample` is what such a file is made of: a head (a WAV header, or a
whole sample MP4: a few KB) and a number of zero bytes after it. Its answer is
the head, then one shared block of zeros sent again and again, so a request
holds at most one block however long the sample, and a client that stops
reading holds nothing more (the server stops sending while the socket is full).

:func:`silence` is :func:`mock_api.media.silence_wav` in this form: the same
samples, the same header, byte for byte (``tests/test_samples.py``).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from dataclasses import dataclass

from mock_api.media.wav import pcm_head, sample_count

#: The zeros of a sample go out in blocks of this many bytes.
CHUNK_BYTES = 64 * 1024
_ZEROS = bytes(CHUNK_BYTES)  # shared by every answer: a block costs no allocation
_BYTES_PER_SAMPLE = 2  # 16-bit mono PCM


@dataclass(frozen=True)
class Sample:
    """A generated file: ``head``, then ``zeros`` zero bytes."""

    media_type: str
    head: bytes
    zeros: int = 0

    @property
    def size(self) -> int:
        return len(self.head) + self.zeros

    def chunks(self) -> Iterator[bytes]:
        """The file, in pieces of at most :data:`CHUNK_BYTES` after the head."""
        if self.head:
            yield self.head
        whole, rest = divmod(self.zeros, CHUNK_BYTES)
        for _ in range(whole):
            yield _ZEROS
        if rest:
            yield _ZEROS[:rest]

    def read(self) -> bytes:
        """The whole file at once (a job's input is probed whole)."""
        return self.head + bytes(self.zeros)


def silence(seconds: decimal.Decimal, *, sample_rate: int) -> Sample:
    """A mono 16-bit PCM WAV of silence holding ``round(seconds * sample_rate)``
    samples (half to even), at least one."""
    samples = max(sample_count(seconds, sample_rate), 1)
    return Sample("audio/wav", pcm_head(samples, sample_rate), samples * _BYTES_PER_SAMPLE)
