"""Read what an input file is and how long it lasts, from its bytes alone.

Why this exists: the job's price and its output length follow from the
input audio durations, and the real service fails a job whose inputs are
not the media it expects. The fake must do both without native binaries
(no ffmpeg/ffprobe at runtime), so:

* the format comes from magic bytes (:mod:`mock_api.media.sniff`), never
  from a file name or Content-Type;
* durations come from container headers: tinytag for WAV, MP3, M4A/MP4/MOV,
  Ogg and FLAC; a minimal EBML reader (:mod:`mock_api.media._ebml`) for
  WebM, which tinytag does not read. An MP3 without a Xing/Info/VBRI header
  has no frame count to read, and tinytag extrapolates it from its first
  30 s, so :mod:`mock_api.media._mpeg` counts its frames instead;
* a header's duration counts only if the bytes can carry it
  (:mod:`mock_api.media.plausible`): a 42-byte FLAC claiming ten hours is
  unreadable media, as it is for the real service, not ten hours to bill;
* every failure is a :class:`~mock_api.errors.MediaError` with a reason a
  user can act on. The service adds which input it was.

Durations are :class:`~decimal.Decimal` seconds, exact to the millisecond.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Literal

from tinytag import TinyTag

from mock_api.errors import MediaError
from mock_api.media import _ebml, _isobmff, _mpeg, plausible
from mock_api.media.sniff import Sniffed, describe, identify, sniff_content_type, sniff_kind

__all__ = [
    "MediaInfo",
    "probe_audio",
    "probe_image",
    "probe_video",
    "sniff_content_type",
    "sniff_kind",
]

_AUDIO_FORMATS = "audio (WAV, MP3, M4A/AAC, OGG, FLAC)"
_VIDEO_FORMATS = "video (MP4, MOV, WebM)"
_IMAGE_FORMATS = "an image (PNG, JPEG, WebP, GIF)"

_MILLISECOND = Decimal("0.001")
_CONTEXT = Context(prec=28)
# No input is anywhere near this long; a header claiming more is garbage, and
# refusing it keeps Decimal arithmetic in range.
_MAX_SECONDS = 10_000_000.0

# MP4, M4A and MOV share one box structure (ISO BMFF); their brand only hints
# at the content, so they are classified by their tracks instead.
_ISO_MIMES = frozenset({"audio/mp4", "video/mp4", "video/quicktime"})

_LABELS = {"m4a": "M4A", "mp4": "MP4", "mov": "MOV", "webm": "WebM", "mkv": "Matroska"}


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found: the kind of media, its container and its duration."""

    kind: Literal["audio", "video", "image"]
    container: str  # "wav", "mp3", "m4a", "ogg", "flac", "mp4", "mov", "webm", "png", ...
    duration: Decimal | None  # seconds, to the millisecond; None for images


def _label(container: str) -> str:
    return _LABELS.get(container, container.upper())


def _wrong_kind(expected: str, data: bytes) -> MediaError:
    return MediaError(f"expected {expected}, got {describe(data)}")


def _sniff(data: bytes, kind: str, expected: str, *, any_iso: bool = False) -> Sniffed:
    """The sniffed format if it is of ``kind``, else MediaError.

    With ``any_iso``, every MP4/M4A/MOV passes whatever its brand says: the
    caller then classifies it by its tracks.
    """
    if not data:
        raise MediaError("the file is empty (0 bytes)")
    sniffed = identify(data)
    if sniffed is None or not (sniffed.kind == kind or (any_iso and sniffed.mime in _ISO_MIMES)):
        raise _wrong_kind(expected, data)
    return sniffed


def _seconds(value: float | None, label: str) -> Decimal:
    """A header's duration in seconds, checked and rounded to the millisecond."""
    if value is None or math.isnan(value):
        raise MediaError(f"the {label} file has no readable duration")
    if value <= 0:
        raise MediaError(f"the {label} file has a duration of zero")
    if value > _MAX_SECONDS:
        raise MediaError(f"the {label} file claims an implausible duration ({value:.6g} s)")
    # repr() gives the shortest decimal that round-trips, so 2.088 stays 2.088
    # rather than 2.08799999...; then round half up to the millisecond.
    seconds = Decimal(repr(value)).quantize(_MILLISECOND, rounding=ROUND_HALF_UP, context=_CONTEXT)
    if not seconds:
        raise MediaError(f"the {label} file lasts less than a millisecond")
    return seconds


def _tinytag_duration(data: bytes, label: str) -> float | None:
    try:
        # BytesIO over bytes shares the buffer; nothing is copied.
        tag = TinyTag.get(file_obj=io.BytesIO(data), tags=False, duration=True)
    except Exception as exc:
        # tinytag wraps parser failures in ParseError but may raise others on
        # bytes it does not expect; none of them may escape as anything but
        # a MediaError.
        raise MediaError(f"could not read the {label} headers: corrupt or truncated file") from exc
    duration: float | None = tag.duration
    return duration


def _audio_duration(data: bytes, container: str, label: str) -> float | None:
    """The duration the headers give, once :mod:`.plausible` finds it fits the bytes."""
    if container == "mp3":
        first = _mpeg.first_frame(data)
        if first is None:
            raise MediaError("the MP3 file has no MPEG audio frames")
        if not _mpeg.has_vbr_header(data, first):
            # No frame count in the headers: tinytag would extrapolate; count instead.
            return _mpeg.count_duration(data)
    claimed = _tinytag_duration(data, label)
    if claimed is not None and 0 < claimed <= _MAX_SECONDS:  # else _seconds says what is wrong
        plausible.check(container, label, data, claimed)
    return claimed


def _iso_tracks(data: bytes, label: str) -> frozenset[str]:
    handlers = _isobmff.track_handlers(data)
    if handlers is None:
        raise MediaError(f"could not read the {label} headers: no movie header (moov) found")
    return handlers


def _iso_content(handlers: frozenset[str], label: str) -> str:
    """What an MP4/M4A/MOV holds, for error messages."""
    if "vide" in handlers:
        return f"a video ({label})"
    if "soun" in handlers:
        return f"audio only (an {label} file with no video track)"
    return f"an {label} file with neither audio nor video tracks"


def probe_audio(data: bytes) -> MediaInfo:
    """Container and duration of an audio file: WAV, MP3, M4A/AAC, Ogg Vorbis/Opus, FLAC.

    An MP4 whose only tracks are audio counts as M4A whatever its brand; one
    with a video track is a video, not audio. Raises MediaError otherwise.
    """
    sniffed = _sniff(data, "audio", _AUDIO_FORMATS, any_iso=True)
    container = sniffed.container
    if sniffed.mime in _ISO_MIMES:
        handlers = _iso_tracks(data, _label(container))
        if "vide" in handlers or "soun" not in handlers:
            content = _iso_content(handlers, _label(container))
            raise MediaError(f"expected {_AUDIO_FORMATS}, got {content}")
        container = "mov" if container == "mov" else "m4a"
    label = _label(container)
    return MediaInfo("audio", container, _seconds(_audio_duration(data, container, label), label))


def _webm_duration(data: bytes, sniffed: Sniffed) -> Decimal:
    label = _label(sniffed.container)
    try:
        info = _ebml.read_webm(data)
    except _ebml.EbmlError as exc:
        raise MediaError(f"could not read the {label} headers: {exc}") from exc
    if _ebml.TRACK_VIDEO not in info.track_types:
        content = "audio only" if _ebml.TRACK_AUDIO in info.track_types else "no video track"
        raise MediaError(f"expected {_VIDEO_FORMATS}, got {content} ({sniffed.mime})")
    return _seconds(info.duration, label)


def probe_video(data: bytes) -> MediaInfo:
    """Container and duration of a video file: MP4, MOV, WebM (or Matroska).

    The file must have a video track and a duration in its headers. Raises
    MediaError otherwise.
    """
    sniffed = _sniff(data, "video", _VIDEO_FORMATS, any_iso=True)
    if sniffed.container in ("webm", "mkv"):
        return MediaInfo("video", sniffed.container, _webm_duration(data, sniffed))
    container = "mov" if sniffed.container == "mov" else "mp4"
    label = _label(container)
    handlers = _iso_tracks(data, label)
    if "vide" not in handlers:
        raise MediaError(
            f"expected {_VIDEO_FORMATS}, got {_iso_content(handlers, _label(sniffed.container))}"
        )
    duration = _seconds(_tinytag_duration(data, label), label)
    return MediaInfo("video", container, duration)


def probe_image(data: bytes) -> MediaInfo:
    """Container of an image file: PNG, JPEG, WebP or GIF, by magic bytes.

    Raises MediaError otherwise.
    """
    sniffed = _sniff(data, "image", _IMAGE_FORMATS)
    return MediaInfo("image", sniffed.container, None)
