"""WaveSpeed's own CLI (npm ``@wavespeed/cli`` 0.2.2, locked in ``tests/cli_js``), unmodified.

Its whole flow against a live fake, as a user types it: ``upload`` local media,
``price`` them (``POST /api/v3/model/pricing``, ``data.unit_price``), ``run`` a
job and ``--download`` its output, find it in ``history`` (``include_inputs``,
``inputs.prompt``), ``show`` it, ``delete`` it; ``balance``; and the catalogue
the way the CLI reads it: ``models`` (``--popular`` filters on ``sort_order``
<= 10000, ``-t`` compares ``type`` exactly, both in the client), ``schema``
(``api_schema.api_schemas[0].request_schema``).

The CLI reads its base URL from its config file only
(``$XDG_CONFIG_HOME/wavespeed-nodejs/config.json``) and caches the catalogue
under ``$HOME/.cache``: each run gets a fresh home. Every command is run with
``--json`` and its output parsed; Node and the CLI are test requirements (the
test fails naming the install command when either is missing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_api import PACES, MockService, OffsetClock, Settings, create_app
from mock_api.server import LiveServer

CLI_DIR = Path(__file__).parent / "cli_js"
CLI = CLI_DIR / "node_modules" / ".bin" / "wavespeed"
INSTALL = "npm ci --prefix tests/cli_js --no-audit --no-fund"
MEDIA = Path(__file__).parent.parent / "fixtures" / "media"
MODEL = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
KEY = "cli-key"
TIMEOUT = 60.0


def missing_requirement() -> str | None:
    how = f"run `{INSTALL}` (bash scripts/check does this)"
    if shutil.which("node") is None:
        return f"`node` is not on PATH: install Node.js 18 or newer with npm, then {how}"
    lock = json.loads((CLI_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/@wavespeed/cli"]["version"]
    installed = CLI_DIR / "node_modules" / "@wavespeed" / "cli" / "package.json"
    if not installed.is_file():
        return f"WaveSpeed's CLI (npm @wavespeed/cli {pinned}) is not installed: {how}"
    have = json.loads(installed.read_text())["version"]
    if have != pinned:
        return f"npm @wavespeed/cli {have} is installed but the lock pins {pinned}: {how}"
    return None


@dataclass
class Cli:
    url: str
    home: Path
    work: Path

    def __call__(self, *args: str) -> Any:
        """``wavespeed <args> --json``: its parsed output; a non-zero exit fails the test."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAVESPEED_")}
        env |= {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "WAVESPEED_API_KEY": KEY,
            "NO_COLOR": "1",
        }
        done = subprocess.run(
            [str(CLI), *args, "--json"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            cwd=self.work,
            check=False,
        )
        assert done.returncode == 0, f"wavespeed {' '.join(args)}: {done.stdout}{done.stderr}"
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    problem = missing_requirement()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    service = MockService(Settings(pace=PACES["instant"], random_seed=71), OffsetClock())
    home = tmp_path_factory.mktemp("cli-home")
    work = tmp_path_factory.mktemp("cli-work")
    with LiveServer(create_app(service=service)) as server:
        config = home / ".config" / "wavespeed-nodejs"
        config.mkdir(parents=True)
        (config / "config.json").write_text(json.dumps({"baseUrl": server.url}))
        yield Cli(server.url, home, work)


def test_models_lists_the_family_as_the_cli_filters_it(cli: Cli) -> None:
    listed = cli("models", "--no-cache")
    ids = [m["model_id"] for m in listed]
    assert MODEL in ids
    assert all(m["type"] == "digital-human" for m in listed)
    # The CLI filters in the client: -t compares `type` exactly, --popular keeps a
    # sort_order <= 10000, smallest first.
    assert [m["model_id"] for m in cli("models", "-t", "digital-human", "--no-cache")] == ids
    assert cli("models", "-t", "Digital-Human", "--no-cache") == []
    popular = cli("models", "--popular", "--no-cache")
    assert sorted(m["model_id"] for m in popular) == sorted(ids)
    orders = [m["sort_order"] for m in popular]
    assert orders == sorted(orders)
    assert popular[0]["model_id"] == MODEL
    assert [m["model_id"] for m in cli("models", "fast video-to-video multi", "--no-cache")] == [
        MODEL
    ]


def test_schema_shows_the_models_request_schema(cli: Cli) -> None:
    schema = cli("schema", MODEL, "--refresh")
    assert schema["required"] == ["left_audio", "right_audio", "video"]
    assert schema["x-order-properties"] == [
        "video",
        "left_audio",
        "right_audio",
        "prompt",
        "order",
        "seed",
    ]


def test_upload_price_run_history_show_delete(cli: Cli) -> None:
    before = cli("balance")["balance"]
    assert before == 100

    urls = {}
    for name, file in (
        ("video", "clip.mp4"),
        ("left_audio", "tone.wav"),
        ("right_audio", "tone.ogg"),
    ):
        uploaded = cli("upload", str(MEDIA / file))
        assert uploaded["url"].startswith(f"{cli.url}/media/files/")
        urls[name] = uploaded["url"]
    inputs = [arg for name, url in urls.items() for arg in ("-i", f"{name}={url}")]

    # 2 s + 2 s in turn: 4 s, under the 5 s minimum: $0.075.
    priced = cli("price", MODEL, *inputs, "-i", "order=left_right")
    assert priced == {"model_id": MODEL, "unit_price": 0.075, "currency": "USD"}

    ran = cli(
        "run", MODEL, *inputs, "-i", "order=left_right", "-p", "two people talk", "--download"
    )
    [output] = ran["outputs"]
    [saved] = ran["saved"]
    assert Path(saved).read_bytes() == httpx.get(output).content
    assert Path(saved).read_bytes()[4:8] == b"ftyp"  # a real MP4
    assert cli("balance")["balance"] == 99.925

    page = cli("history")
    [item] = page["items"]
    assert item["inputs"]["prompt"] == "two people talk"
    assert item["model"] == MODEL
    assert item["outputs"] == [output]

    shown = cli("show", item["id"])
    assert (shown["status"], shown["input"]["prompt"]) == ("completed", "two people talk")
    assert cli("delete", item["id"], "-y") == {"deleted": [item["id"]]}
    assert cli("history")["items"] == []


def test_a_sync_run_comes_back_finished(cli: Cli) -> None:
    inputs = []
    for name, file in (
        ("video", "clip.mov"),
        ("left_audio", "tone.flac"),
        ("right_audio", "tone.m4a"),
    ):
        inputs += ["-i", f"{name}={cli('upload', str(MEDIA / file))['url']}"]
    ran = cli("run", MODEL, *inputs, "--sync")
    [output] = ran["outputs"]
    assert output.endswith("/output.mp4")
