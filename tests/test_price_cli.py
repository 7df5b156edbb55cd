"""``wavespeed-mock price``: plain decimals for any number, and a plain reason for any file.

Through click's CliRunner. Every number ``price`` prints is a plain decimal
(``1000000000 s``, ``$9.00``), never exponent notation, whatever form the
duration was given in; a duration it cannot take, and a file that is missing,
a directory, unreadable or not audio, is refused (exit status 2) with a
sentence naming the option, the value and what is wrong, and no traceback.
"""

from __future__ import annotations

import io
import json
import re
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from mock_api.cli import main

#: Exponent notation anywhere in the output: 1E+9, 1e-08, 2.5E+1.
EXPONENT = re.compile(r"\d[eE][+-]?\d")
MULTI = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"  # the default model
SINGLE = "wavespeed-ai/infinitetalk"


def price(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["price", *args])
    return result.exit_code, result.output


def _wav(path: Path, seconds: int, rate: int = 8000) -> Path:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * rate * seconds)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("1E+9", "1000000000"),
        ("1e9", "1000000000"),
        ("2.50E+1", "25"),
        ("1E-6", "0.000001"),
        ("0.000001", "0.000001"),
        ("0E-8", "0"),
        ("-0", "0"),
        ("7.30", "7.3"),
        ("1000000000000", "1000000000000"),
    ],
    ids=["1E+9", "1e9", "2.50E+1", "1E-6", "micro", "0E-8", "minus-zero", "7.30", "bound"],
)
def test_price_prints_every_duration_as_a_plain_decimal(given: str, shown: str) -> None:
    code, out = price("--left", given, "--right", "0")
    assert code == 0, out
    assert f"left audio:     {shown} s\n" in out
    assert f"spoken:         {shown} s\n" in out
    assert not EXPONENT.search(out), out
    code, out = price("--left", given, "--right", "0", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["left_seconds"], data["spoken_seconds"]) == (shown, shown)
    assert not EXPONENT.search(out), out


def test_price_json_gives_every_duration_in_one_plain_form() -> None:
    """``output_seconds`` was "4.200" next to "right_seconds": "2"."""
    code, out = price("--left", "4.2", "--right", "2", "--json")
    assert code == 0, out
    data = json.loads(out)
    shown = {name: data[name] for name in data if name.endswith("_seconds")}
    assert shown == {
        "left_seconds": "4.2",
        "right_seconds": "2",
        "spoken_seconds": "4.2",
        "billed_seconds": 5,
        "output_seconds": "4.2",
    }
    code, out = price("--left", "4.2", "--right", "2")
    assert "output video:   4.2 s\n" in out


def test_price_prints_a_billion_seconds_and_its_money_plainly() -> None:
    code, out = price("--left", "1E+9", "--right", "2", "--order", "left_right")
    assert code == 0, out
    assert "spoken:         1000000002 s\n" in out
    assert "billed:         600 s\n" in out
    assert "cost:           $9.00\n" in out  # the 600 s cap at $0.015/s
    assert "left + right = 1000000002.000 s" in out
    code, out = price("--model", SINGLE, "--audio", "1e3", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["left_seconds"], data["billed_seconds"], data["cost_usd"]) == ("1000", 600, "18")


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("1e400", "over the longest duration price takes, 1000000000000 s"),
        ("1000000000000.5", "over the longest duration price takes"),
        ("1e13", "over the longest duration price takes"),
        ("0.0000001", "more than 6 decimal places"),
        ("1E-7", "more than 6 decimal places"),
        ("1.1234567", "more than 6 decimal places"),
        ("-3", "-3 is below 0: a duration must be 0 or more seconds"),
        ("-1e-9", "-1e-9 is below 0: a duration must be 0 or more seconds"),
        ("nan", "nan is not a number of seconds: give a finite one such as 7.3"),
        ("-Infinity", "-Infinity is not a number of seconds"),
        ("", "empty"),
        ("  ", "empty"),
    ],
    ids=[
        "1e400", "over-bound", "1e13", "seven-places", "1E-7", "1.1234567",
        "negative", "tiny-negative", "nan", "-inf", "empty", "blank",
    ],
)  # fmt: skip
def test_price_refuses_a_duration_it_cannot_take_naming_the_option(given: str, says: str) -> None:
    code, out = price("--left", "1", "--right", given)
    assert code == 2, out
    assert "Invalid value for --right" in out
    assert says in out
    assert "Traceback" not in out
    code, out = price("--model", SINGLE, "--audio", given)
    assert code == 2, out
    assert "Invalid value for --audio" in out
    assert says in out


def test_a_missing_audio_file_is_not_found_naming_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "left.wav"
    code, out = price("--left", str(missing), "--right", "1")
    assert code == 2, out
    assert f"Invalid value for --left: {missing}: not found" in out
    assert "Traceback" not in out
    # Under a name that is a file, not a directory: still not found.
    inside = _wav(tmp_path / "real.wav", 1) / "left.wav"
    code, out = price("--left", str(inside), "--right", "1")
    assert (code, f"{inside}: not found" in out) == (2, True), out


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    code, out = price("--model", SINGLE, "--audio", str(tmp_path))
    assert code == 2, out
    assert f"Invalid value for --audio: {tmp_path} is a directory, not an audio file" in out


def test_an_unreadable_file_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _wav(tmp_path / "locked.wav", 2)
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self == path:  # as chmod 000 would for a user other than root (tests may run as root)
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code, out = price("--left", str(path), "--right", "1")
    assert code == 2, out
    assert f"Invalid value for --left: cannot read {path}: Permission denied" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"hello, not audio", "is not audio price can read: expected audio"),
        (b"", "is empty"),
    ],
    ids=["text", "empty"],
)
def test_a_file_that_is_not_audio_says_what_it_is(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    code, out = price("--left", "1", "--right", str(path))
    assert code == 2, out
    assert f"Invalid value for --right: {path} {says}" in out


def test_a_file_over_the_audio_upload_limit_is_refused_unread(tmp_path: Path) -> None:
    """The API takes audio up to 50 MB (50,000,000 bytes); a larger file is not read."""
    path = tmp_path / "long.wav"
    with path.open("wb") as sparse:  # no disk used: a hole
        sparse.truncate(50_000_001)
    code, out = price("--model", SINGLE, "--audio", str(path))
    assert code == 2, out
    assert f"{path} is 50000001 bytes: over the 50000000 bytes the API takes for audio" in out


def test_a_readable_audio_file_still_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a name relative to where the command runs
    _wav(Path("left.wav"), 12)
    code, out = price("--left", "left.wav", "--right", "3", "--order", "left_right")
    assert code == 0, out
    assert "left audio:     12 s\n" in out
    assert "billed:         15 s\n" in out
    assert "cost:           $0.225\n" in out
