"""How much audio the packets of an Ogg stream can hold, codec by codec.

Why this exists: an Ogg file's duration is the granule position of its last
page (for Ogg FLAC, a number in its STREAMINFO), and tinytag takes its word
for it: one page with a patched granule position claimed ten hours. The
packets that are actually there bound it. This walks the pages, finds where
each packet starts and how long it is, and adds up the most each audio
packet can hold:

* Opus: what its TOC byte says (RFC 6716, section 3.1): one or two frames of
  2.5 to 60 ms; 120 ms, the most a packet may hold, for a packet of a
  signalled frame count (code 3); less the header's pre-skip;
* Vorbis: half the long block size (a packet adds a quarter of its block and
  a quarter of the one before, as windows overlap: the Vorbis I specification);
* FLAC: its block size, from its frame header (RFC 9639);
* Speex: 20 ms a frame, times the header's frames per packet (at most 10).

Pages are read until the bytes stop being pages; a page cut short counts for
nothing, as its packets are not all there. A packet's first bytes are always
on the page it starts on (one that goes on to the next page starts with a
full 255-byte segment), so packets are never copied together. The work per
packet is a few C-level operations, so that a file of millions of tiny
packets costs about what tinytag's own walk over its pages costs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from mock_api.media import _flac

__all__ = ["Capacity", "capacity"]

# A page header: capture, version, flags, granule, serial, sequence, CRC; then the
# count of lacing values and the values.
_PAGE = struct.Struct("<4sBBqIII")
_CONTINUED = 0x01
_CODEC_HEADER = 80  # bytes of a stream's first packet read: Speex's header, the longest
_OPUS_RATE = 48_000
_SPEEX_FRAME_SECONDS = 0.02
_SPEEX_MAX_FRAMES = 10  # speexenc --nframes goes up to 10


def _opus_units(toc: int) -> int:
    """What an Opus packet with this TOC byte holds at most, in units of 2.5 ms."""
    config, code = toc >> 3, toc & 0x3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (4, 8, 16, 24)[config & 0x3]
    elif config < 16:  # hybrid: 10, 20 ms
        frame = (4, 8)[config & 0x1]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (1, 2, 4, 8)[config & 0x3]
    return frame * (1 if code == 0 else 2) if code < 3 else 48  # code 3: up to 120 ms


#: bytes.translate tables: TOC byte -> units of 2.5 ms; first byte -> 1 for a Vorbis
#: audio packet (bit 0 clear), else 0.
_OPUS_UNITS = bytes(_opus_units(toc) for toc in range(256))
_OPUS_UNIT_SAMPLES = 120  # 2.5 ms at 48 kHz
_VORBIS_AUDIO = bytes(1 - (byte & 1) for byte in range(256))


@dataclass(frozen=True, slots=True)
class Capacity:
    """The most audio the stream's packets hold, and what was counted."""

    codec: str  # "Opus", "Vorbis", "FLAC" or "Speex"
    seconds: float
    packets: int  # audio packets, headers not counted
    rate: int | None = None  # the header's sample rate, where the duration is read with it


def _pages(data: bytes) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """For each page: its stream's serial, and (start, size) of each packet ending on it."""
    open_packets: dict[int, tuple[int, int]] = {}  # serial -> (start, size so far)
    pos = 0
    while pos + _PAGE.size < len(data):
        capture, version, flags, _, serial, _, _ = _PAGE.unpack_from(data, pos)
        if capture != b"OggS" or version != 0:
            return
        segments = data[pos + _PAGE.size]
        lacing = data[pos + _PAGE.size + 1 : pos + _PAGE.size + 1 + segments]
        body = pos + _PAGE.size + 1 + segments
        if len(lacing) < segments or body + sum(lacing) > len(data):
            return  # a page cut short
        held = open_packets.pop(serial, None)
        start, size = held if held is not None and flags & _CONTINUED else (body, 0)
        ended = []
        at = body
        for length in lacing:
            size += length
            at += length
            if length < 255:  # the packet ends here
                ended.append((start, size))
                start, size = at, 0
        if size:
            open_packets[serial] = (start, size)
        yield serial, ended
        pos = at


class _Stream:
    """One logical stream: its codec, from its first packet, and what its packets hold."""

    def __init__(self, first: bytes) -> None:
        self.codec: str | None = None
        self.rate: int | None = None  # samples per second in ``samples``
        self.samples = 0
        self.packets = 0
        self._headers = 0  # header packets still to come after the first one
        self._unit = 0  # samples an audio packet holds at most (Vorbis, Speex)
        self._flac: _flac.StreamInfo | None = None
        if first.startswith(b"OpusHead") and len(first) >= 12:
            self.codec, self.rate, self._headers = "Opus", _OPUS_RATE, 1  # OpusTags
            self.samples = -int.from_bytes(first[10:12], "little")  # the pre-skip
        elif first.startswith(b"\x01vorbis") and len(first) > 28:
            # The identification header: the rate at byte 12; at byte 28 the block size
            # exponents, the long block's in the high nibble (6 to 13: 64 to 8192 samples).
            self.codec, self.rate = "Vorbis", int.from_bytes(first[12:16], "little")
            self._unit, self._headers = (1 << min(first[28] >> 4, 13)) // 2, 2
        elif first.startswith(b"\x7fFLAC") and (info := _flac.streaminfo(first[17:])):
            # 0x7F "FLAC", version (2), header count (2), "fLaC", then STREAMINFO's
            # block header (4) and payload. Metadata packets are told from frames by
            # their sync code, so none is skipped as a header.
            self.codec, self.rate, self._flac = "FLAC", info.sample_rate, info
        elif first.startswith(b"Speex   ") and len(first) >= 72:
            # Counted in frames of 20 ms: "rate" is frames per second.
            self.codec, self.rate = "Speex", round(1 / _SPEEX_FRAME_SECONDS)
            self._unit = max(1, min(int.from_bytes(first[64:68], "little"), _SPEEX_MAX_FRAMES))
            self._headers = 1 + int.from_bytes(first[68:72], "little")  # comment, extras

    def add(self, data: bytes, packets: list[tuple[int, int]]) -> None:
        """Count the packets that ended on one page (the first packet excepted)."""
        if self.codec is None:
            return
        if self._headers:
            skipped = min(self._headers, len(packets))
            self._headers -= skipped
            packets = packets[skipped:]
        starts = [start for start, size in packets if size]  # an empty packet holds nothing
        if self.codec == "FLAC":
            assert self._flac is not None
            headers = (_flac.frame_header(data, start, self._flac) for start in starts)
            frames = [h.block_size for h in headers if h and h.sample_rate in (None, self.rate)]
            self.packets += len(frames)
            self.samples += sum(frames)
            return
        if self.codec == "Speex":
            self.packets += len(starts)
            self.samples += len(starts) * self._unit
            return
        firsts = bytes(data[start] for start in starts)
        if self.codec == "Opus":
            self.packets += len(firsts)
            self.samples += sum(firsts.translate(_OPUS_UNITS)) * _OPUS_UNIT_SAMPLES
        else:  # Vorbis
            audio = sum(firsts.translate(_VORBIS_AUDIO))
            self.packets += audio
            self.samples += audio * self._unit

    @property
    def seconds(self) -> float:
        return max(self.samples, 0) / self.rate if self.rate else 0.0


def capacity(data: bytes) -> Capacity | None:
    """The most the audio streams (Opus, Vorbis, FLAC, Speex) hold; None without one.

    A file of several streams (chained files) holds what they hold together;
    the codec and rate named are the first stream's.
    """
    streams: dict[int, _Stream] = {}
    for serial, packets in _pages(data):
        stream = streams.get(serial)
        if stream is None and packets:
            start, size = packets[0]
            stream = streams[serial] = _Stream(data[start : start + min(size, _CODEC_HEADER)])
            stream.add(data, packets[1:])
        elif stream is not None:
            stream.add(data, packets)
    audio = [stream for stream in streams.values() if stream.codec is not None]
    if not audio:
        return None
    first = audio[0]
    assert first.codec is not None
    return Capacity(
        first.codec,
        sum(stream.seconds for stream in audio),
        sum(stream.packets for stream in audio),
        first.rate if first.codec in ("Vorbis", "FLAC") else None,
    )
