"""List the kinds of tracks in an MP4/M4A/MOV file.

Why this exists: the ftyp brand of an ISO BMFF file only hints at what it
holds. ``ffmpeg -vn -c copy out.mp4`` makes an "isom" file with nothing but
audio, and a video must really have a picture track. tinytag reads the
duration but not the track kinds, so this walks the box tree down to each
track's handler (``moov/trak/mdia/hdlr``): "vide" for video, "soun" for audio.

Only box headers are read, through offsets into the caller's buffer: no copy,
and ``mdat`` (the bulk of the file) is skipped whatever its position.

:func:`audio_samples` reads the audio tracks' sample tables too (and the
fragments of a fragmented file): the movie header's duration, which tinytag
reports, is one number, and those tables say what the file really holds.
"""

from __future__ import annotations

import array
import operator
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

__all__ = ["AudioSamples", "audio_samples", "media_bytes", "track_handlers"]

_HEADER = struct.Struct(">I4s")
_LARGE_SIZE = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_U32_PAIR = struct.Struct(">II")


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``.

    Stops at the first box that is malformed or runs past ``end`` (a
    truncated file), keeping the ones before it.
    """
    found = []
    pos = start
    while pos + 8 <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        header = 8
        if size == 1:  # 64-bit size follows the type
            if pos + 16 > end:
                break
            (size,) = _LARGE_SIZE.unpack_from(data, pos + 8)
            header = 16
        elif size == 0:  # the box extends to the end of its parent (or file)
            size = end - pos
        if size < header or pos + size > end:
            break
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _child(data: bytes, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
    for box_kind, box_start, box_end in _boxes(data, start, end):
        if box_kind == kind:
            return box_start, box_end
    return None


def _handler(data: bytes, trak: tuple[int, int]) -> str | None:
    mdia = _child(data, b"mdia", *trak)
    hdlr = mdia and _child(data, b"hdlr", *mdia)
    # hdlr payload: version/flags (4), pre_defined (4), handler_type (4), ...
    if hdlr and hdlr[1] - hdlr[0] >= 12:
        return data[hdlr[0] + 8 : hdlr[0] + 12].decode("latin-1")
    return None


def track_handlers(data: bytes) -> frozenset[str] | None:
    """Handler types of the tracks (``{"vide", "soun"}``...), or None without a ``moov``."""
    moov = _child(data, b"moov", 0, len(data))
    if moov is None:
        return None
    return frozenset(
        handler
        for kind, start, end in _boxes(data, *moov)
        if kind == b"trak" and (handler := _handler(data, (start, end))) is not None
    )


@dataclass(frozen=True, slots=True)
class AudioSamples:
    """What an audio track's samples (its access units: AAC frames...) add up to."""

    count: int
    #: Each sample's duration, at most ``longest``, summed; and no more than
    #: ``longest`` for each sample of at least a byte.
    seconds: float
    size: int  # bytes, as the sample sizes say


@dataclass(slots=True)
class _Track:
    timescale: int = 0
    longest: float = 0.0  # seconds one sample counts for at most
    default_duration: int = 0  # from ``trex``, for fragments that give none
    default_size: int = 0
    count: int = 0  # samples with a duration
    timed: float = 0.0  # their durations, each at most ``longest``, in seconds
    sized: int = 0  # samples of at least one byte
    size: int = 0

    def add_durations(self, durations: Sequence[int], counts: Sequence[int] | None = None) -> None:
        """Samples of these durations (in ticks), ``counts`` of each (one if None)."""
        capped = map(min, durations, repeat(self.longest * self.timescale))
        if counts is None:
            self.count += len(durations)
            ticks = sum(capped)
        else:
            self.count += sum(counts)
            ticks = sum(map(operator.mul, counts, capped))
        if self.timescale:
            self.timed += ticks / self.timescale

    def add_sizes(self, count: int, size: int) -> None:
        """``count`` samples of at least a byte, ``size`` bytes in all."""
        self.sized += count
        self.size += size

    @property
    def seconds(self) -> float:
        """What the samples last: a sample without a byte holds nothing."""
        return min(self.timed, self.sized * self.longest)


def _full_box(data: bytes, box: tuple[int, int] | None, size: int) -> int | None:
    """Where a full box's fields start (after version and flags), if it holds ``size`` bytes."""
    if box is None or box[1] - box[0] < 4 + size:
        return None
    return box[0] + 4


def _u32s(data: bytes, start: int, count: int, end: int) -> array.array[int]:
    """``count`` big-endian 32-bit integers from ``start``, fewer if ``end`` comes first."""
    count = max(min(count, (end - start) // 4), 0)
    values = array.array("I")  # 4 bytes on every platform CPython runs on
    values.frombytes(memoryview(data)[start : start + 4 * count])
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _sample_table(data: bytes, stbl: tuple[int, int], track: _Track) -> None:
    stts = _child(data, b"stts", *stbl)
    at = _full_box(data, stts, 4)
    if stts is None or at is None:
        return
    (entries,) = _U32.unpack_from(data, at)
    pairs = _u32s(data, at + 4, 2 * entries, stts[1])
    track.add_durations(pairs[1::2], pairs[::2])
    stsz = _child(data, b"stsz", *stbl)
    at = _full_box(data, stsz, 8)
    if stsz is not None and at is not None:
        uniform, count = _U32_PAIR.unpack_from(data, at)
        if uniform:
            track.add_sizes(count, uniform * count)
        else:
            sizes = _u32s(data, at + 8, count, stsz[1])
            track.add_sizes(len(sizes) - sizes.count(0), sum(sizes))
        return
    # The compact form: 4, 8 or 16 bits a size. Its samples count as having bytes (as
    # many as the table has room for); their sizes go unchecked.
    stz2 = _child(data, b"stz2", *stbl)
    at = _full_box(data, stz2, 8)
    if stz2 is not None and at is not None:
        field_bits = data[at + 3] or 1
        (count,) = _U32.unpack_from(data, at + 4)
        track.add_sizes(min(count, (stz2[1] - at - 8) * 8 // field_bits), 0)


def _trun(data: bytes, trun: tuple[int, int], defaults: tuple[int, int], track: _Track) -> None:
    at = _full_box(data, trun, 4)
    if at is None:
        return
    flags = int.from_bytes(data[trun[0] + 1 : trun[0] + 4], "big")
    (count,) = _U32.unpack_from(data, at)
    at += 4 + 4 * bool(flags & 0x001) + 4 * bool(flags & 0x004)  # data offset, first flags
    fields = [bool(flags & bit) for bit in (0x100, 0x200, 0x400, 0x800)]
    stride = sum(fields)
    if not stride:
        track.add_durations([defaults[0]], [count])
        track.add_sizes(count if defaults[1] else 0, defaults[1] * count)
        return
    values = _u32s(data, at, stride * count, trun[1])
    durations = values[0::stride] if fields[0] else None
    sizes = values[int(fields[0]) :: stride] if fields[1] else None
    count = len(values) // stride
    if durations is None:
        track.add_durations([defaults[0]], [count])
    else:
        track.add_durations(durations[:count])
    if sizes is None:
        track.add_sizes(count if defaults[1] else 0, defaults[1] * count)
    else:
        sizes = sizes[:count]
        track.add_sizes(len(sizes) - sizes.count(0), sum(sizes))


def _fragments(data: bytes, tracks: dict[int, _Track]) -> None:
    """Add the samples of each ``moof`` (a fragmented file) to their tracks."""
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moof":
            continue
        for traf_kind, traf_start, traf_end in _boxes(data, start, end):
            tfhd = _child(data, b"tfhd", traf_start, traf_end) if traf_kind == b"traf" else None
            at = _full_box(data, tfhd, 4)
            if tfhd is None or at is None:
                continue
            flags = int.from_bytes(data[tfhd[0] + 1 : tfhd[0] + 4], "big")
            (track_id,) = _U32.unpack_from(data, at)
            track = tracks.get(track_id)
            if track is None:
                continue
            at += 4 + 8 * bool(flags & 0x01) + 4 * bool(flags & 0x02)
            duration, size = track.default_duration, track.default_size
            if flags & 0x08 and at + 4 <= tfhd[1]:
                (duration,) = _U32.unpack_from(data, at)
                at += 4
            if flags & 0x10 and at + 4 <= tfhd[1]:
                (size,) = _U32.unpack_from(data, at)
            for box_kind, box_start, box_end in _boxes(data, traf_start, traf_end):
                if box_kind == b"trun":
                    _trun(data, (box_start, box_end), (duration, size), track)


def _track_id(data: bytes, trak: tuple[int, int]) -> int | None:
    tkhd = _child(data, b"tkhd", *trak)
    at = _full_box(data, tkhd, 24)
    if tkhd is None or at is None:
        return None
    version = data[tkhd[0]]
    return int(_U32.unpack_from(data, at + (16 if version == 1 else 8))[0])


def _timescale(data: bytes, mdia: tuple[int, int]) -> int:
    mdhd = _child(data, b"mdhd", *mdia)
    at = _full_box(data, mdhd, 20)
    if mdhd is None or at is None:
        return 0
    return int(_U32.unpack_from(data, at + (16 if data[mdhd[0]] == 1 else 8))[0])


def audio_samples(data: bytes, longest: float) -> AudioSamples | None:
    """The samples of the audio track that lasts longest, or None without one.

    Each sample counts for at most ``longest`` seconds, whatever its duration
    in the sample table says: a patched time scale or duration cannot make a
    few samples last hours.
    """
    moov = _child(data, b"moov", 0, len(data))
    if moov is None:
        return None
    tracks: dict[int, _Track] = {}
    for kind, start, end in _boxes(data, *moov):
        if kind != b"trak" or _handler(data, (start, end)) != "soun":
            continue
        mdia = _child(data, b"mdia", start, end)
        track = _Track(timescale=_timescale(data, mdia) if mdia else 0, longest=longest)
        tracks[_track_id(data, (start, end)) or -len(tracks) - 1] = track
        minf = mdia and _child(data, b"minf", *mdia)
        stbl = minf and _child(data, b"stbl", *minf)
        if stbl:
            _sample_table(data, stbl, track)
    mvex = _child(data, b"mvex", *moov)
    for kind, start, end in _boxes(data, *mvex) if mvex else ():
        at = _full_box(data, (start, end), 20)
        if kind == b"trex" and at is not None:
            track_id, _, duration, size = struct.unpack_from(">IIII", data, at)
            if track_id in tracks:
                tracks[track_id].default_duration = duration
                tracks[track_id].default_size = size
    _fragments(data, tracks)
    if not tracks:
        return None
    best = max(tracks.values(), key=lambda track: track.seconds)
    return AudioSamples(best.count, best.seconds, best.size)


def media_bytes(data: bytes) -> int:
    """Bytes of ``mdat`` payload the file holds: what its sample sizes may add up to.

    A last ``mdat`` cut short counts for the bytes that are there.
    """
    held = pos = 0
    while pos + 8 <= len(data):
        size, kind = _HEADER.unpack_from(data, pos)
        header = 8
        if size == 1 and pos + 16 <= len(data):
            (size,) = _LARGE_SIZE.unpack_from(data, pos + 8)
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            break
        if kind == b"mdat":
            held += max(min(pos + size, len(data)) - pos - header, 0)
        pos += size
    return held
