"""The output video as a client receives it: it plays, and it lasts as long as the speech.

Why this exists: a response can name an output URL that downloads and starts
with ``ftyp`` and still be the wrong video: a second too long (billed right,
delivered wrong), or a file no player can decode. This opens each output with
PyAV (FFmpeg), decodes every frame, and compares the video stream's duration,
read from the file itself, with the spoken duration the documented rule gives
for the job's audio (the longer track for ``meanwhile``, both for the
sequential orders), capped at the model's 600 s maximum.

"To the frame" is one frame at 25 fps: :data:`FRAME_MS`. A video that cannot
be opened, has no video stream, or fails to decode is reported as not playing.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx

from mock_api.contract.invariants import Invariant, InvariantViolation, Snapshot
from mock_api.contract.rule import OURS, Order, Tariff, spoken_ms

__all__ = ["FRAME_MS", "OutputVideo", "check_output_video", "expected_output_ms", "measure"]

#: How close "to the frame" is: one frame at 25 fps.
FRAME_MS = 40


class OutputVideo:
    """What PyAV read from one output: its duration and how many frames decoded."""

    def __init__(self, duration_ms: int, frames: int) -> None:
        self.duration_ms = duration_ms
        self.frames = frames


def expected_output_ms(left_ms: int, right_ms: int, order: Order, *, tariff: Tariff = OURS) -> int:
    """How long the output lasts: the speech (a one-track model's: its track), capped."""
    return min(
        spoken_ms(left_ms, right_ms, order, tracks=tariff.tracks), tariff.maximum_seconds * 1000
    )


def measure(content: bytes) -> OutputVideo:
    """Open and decode a video; its stream's duration in ms. Raises ValueError if it won't play."""
    import av  # PyAV: a test extra, imported only when an output is measured

    try:
        with av.open(io.BytesIO(content), mode="r") as container:
            if not container.streams.video:
                raise ValueError("it has no video stream")
            stream = container.streams.video[0]
            frames = 0
            for _frame in container.decode(stream):
                frames += 1
            seconds: float
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                raise ValueError("its headers state no duration")
    except av.FFmpegError as exc:
        raise ValueError(f"FFmpeg cannot decode it: {exc}") from None
    if frames == 0:
        raise ValueError("not one frame decodes")
    return OutputVideo(round(seconds * 1000), frames)


def _downloads(cdn: httpx.Client, snapshot: Snapshot) -> Iterator[tuple[str, bytes]]:
    for url in snapshot.get("outputs") or ():
        if url.startswith("data:"):  # enable_base64_output: the video itself
            yield "the base64 output", base64.b64decode(url.partition(",")[2], validate=False)
            continue
        response = cdn.get(url)
        if response.status_code != 200:
            raise InvariantViolation(
                Invariant.OUTPUTS_DOWNLOAD,
                f"GET {url} answered {response.status_code}",
                later=snapshot,
            )
        yield url, response.content


def check_output_video(cdn: httpx.Client, snapshot: Snapshot, expected_ms: int) -> None:
    """Every output decodes and lasts ``expected_ms``, to the frame (:data:`FRAME_MS`)."""
    for name, content in _downloads(cdn, snapshot):
        try:
            video = measure(content)
        except ValueError as exc:
            raise InvariantViolation(
                Invariant.OUTPUT_PLAYS,
                f"{name} ({len(content)} bytes) does not play: {exc}",
                later=snapshot,
            ) from None
        if abs(video.duration_ms - expected_ms) > FRAME_MS:
            raise InvariantViolation(
                Invariant.OUTPUT_PLAYS,
                f"{name} lasts {video.duration_ms / 1000:.3f} s; the speech lasts "
                f"{expected_ms / 1000:.3f} s (allowed: one frame, {FRAME_MS} ms)",
                later=snapshot,
            )
