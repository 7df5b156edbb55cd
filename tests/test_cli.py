"""The command line, through click's CliRunner."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import wave
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mock_api import create_app
from mock_api.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "billed", "cost"),
    [
        (["--left", "3.2", "--right", "4.1", "--order", "left_right"], "8 s", "$0.12"),
        (["--left", "3.2", "--right", "4.1", "--order", "meanwhile"], "5 s", "$0.075"),
        (["--left", "700", "--right", "0"], "600 s", "$9.00"),
        (["--left", "5.04", "--right", "5.04", "--order", "right_left"], "10 s", "$0.15"),
    ],
)
def test_price_prints_billed_seconds_cost_and_rule(args: list[str], billed: str, cost: str) -> None:
    code, out = run("price", *args)
    assert code == 0, out
    assert f"billed:         {billed}" in out
    assert f"cost:           {cost}" in out
    assert "rule:" in out


def test_price_json_and_policy_options() -> None:
    code, out = run("price", "--left", "1", "--right", "1", "--min-seconds", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["billed_seconds"], data["cost_usd"]) == (3, "0.045")


def test_price_reject_policy() -> None:
    code, out = run("price", "--left", "601", "--right", "0", "--over-max", "reject")
    assert code == 0
    assert "rejected" in out


def test_price_reads_audio_files(tmp_path: Path) -> None:
    path = tmp_path / "left.wav"
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 12)
    path.write_bytes(buffer.getvalue())
    code, out = run("price", "--left", str(path), "--right", "3", "--order", "left_right")
    assert code == 0, out
    assert "left audio:     12.000 s" in out
    assert "billed:         15 s" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--left", "nope.mp3", "--right", "1"], "neither seconds nor an audio file"),
        (["--left", "-3", "--right", "1"], "is not a duration"),
        (["--left", "1", "--right", "1", "--order", "x"], "Invalid value for '--order'"),
    ],
)
def test_price_refuses_bad_input(args: list[str], message: str) -> None:
    code, out = run("price", *args)
    assert code == 2
    assert message in out


def test_price_refuses_a_file_that_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    code, out = run("price", "--left", str(path), "--right", "1")
    assert code == 2
    assert "expected audio" in out


@pytest.mark.parametrize("command", [[], ["serve"], ["price"]])
def test_help_everywhere(command: list[str]) -> None:
    code, out = run(*command, "--help")
    assert code == 0
    assert "Usage:" in out


def test_serve_refuses_a_bad_pace() -> None:
    code, out = run("serve", "--pace", "glacial")
    assert code == 2
    assert "pace 'glacial'" in out


def test_serve_hides_its_start_up_heap_from_the_garbage_collector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``serve``'s app freezes the heap it starts with (p99 under load); create_app's does not."""
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(app))
    code, out = run("serve", "--db", str(tmp_path / "state.db"))
    assert code == 0, out
    counts = [_frozen_while_serving(app) for app in (served[0], create_app())]
    assert counts[0] > 10_000  # the app, the spec and the libraries
    assert counts[1] == 0


def _frozen_while_serving(app: Any) -> int:
    async def start_and_stop() -> int:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    gc.unfreeze()
    try:
        return asyncio.run(start_and_stop())
    finally:
        gc.unfreeze()
        app.state.service.store.close()


def test_serve_refuses_an_initial_balance_no_ledger_can_hold() -> None:
    # Before: --initial-balance 1e30 started, and every request then failed (a 500) when
    # the opening entry overflowed SQLite's 64-bit integers.
    code, output = run("serve", "--initial-balance", "1e30", "--db", ":memory:")
    assert code == 2
    assert "the initial balance must be from 0 to 1000000000 USD" in output
