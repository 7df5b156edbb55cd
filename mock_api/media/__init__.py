"""Media for the fake: what input files are and how long they last, and real output files.

Why this exists: the fake bills by input duration and returns a playable
video, without native binaries. :mod:`.probe` reads types and durations from
headers, :mod:`.mp4` writes H.264 MP4s of exact length from stored keyframes,
and :mod:`.wav` writes silent WAVs and :mod:`.png` tiny images for tests and examples.
"""

from mock_api.media.mp4 import write_mp4
from mock_api.media.png import write_png
from mock_api.media.probe import (
    MediaInfo,
    probe_audio,
    probe_image,
    probe_video,
    sniff_content_type,
    sniff_kind,
)
from mock_api.media.wav import silence_wav

__all__ = [
    "MediaInfo",
    "probe_audio",
    "probe_image",
    "probe_video",
    "silence_wav",
    "sniff_content_type",
    "sniff_kind",
    "write_mp4",
    "write_png",
]
