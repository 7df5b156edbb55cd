"""The README's and the docs' code runs as pasted: every block, run as a user would run it.

Which blocks run. Every fenced block of README.md and of the pages under docs/
tagged ``bash``, ``console``, ``python`` or ``js`` is code, and is run here,
unless the line right before it is a fragment marker, an HTML comment that says
why it is not run on its own:

    <!-- fragment: serves until stopped; tests/test_wheel.py installs and serves -->

(invisible on GitHub, and the reason is required: a fragment is either run
elsewhere, named in its reason, or cannot be, such as the paid endpoint).
Blocks tagged ``text``, ``json`` or ``yaml`` are output or configuration shown
to the reader, not code. A block that
appears word for word in two places (the README's ``price`` example is also on the
billing page) runs once, under the name of its first place: README.md, then the
pages in path order.

How they run. ``bash`` blocks run in ``bash`` from an empty directory with
``BASE`` set to a fresh ``wavespeed-mock serve`` on a free loopback port (the
blocks read ``BASE=${BASE:-http://127.0.0.1:8000}``); ``python`` blocks run as
scripts with this interpreter, with the same ``BASE`` when they read it. ``console`` blocks run
each ``$ `` line from a directory where ``.venv`` is this environment, and the
lines that follow a command are its exact expected output; ``bash`` blocks find
``.venv`` there too.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from mock_api.media import silence_wav
from tests.live import free_port, serve

ROOT = Path(__file__).parent.parent
#: Where code blocks are: the README, then every page of the docs site, in path order.
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
TEXTS = {path.relative_to(ROOT).as_posix(): path.read_text() for path in SOURCES}
CODE = {"bash", "console", "python", "js"}
DATA = {"text", "json", "yaml"}  # output and configuration shown to the reader, not run
FRAGMENT = re.compile(r"<!-- fragment: (?P<why>\S.*?) -->")
GETTING_STARTED = "docs/getting-started.md"


@dataclass(frozen=True)
class Block:
    path: str  # README.md or docs/<page>.md
    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    fragment: str | None  # why it is not run, if it is a fragment

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}:{self.lang}"


def _blocks(path: str, text: str) -> list[Block]:
    blocks = []
    lines = text.splitlines()
    for match in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M):
        line = text.count("\n", 0, match.start()) + 1
        before = lines[line - 2] if line >= 2 else ""
        marker = FRAGMENT.fullmatch(before.strip())
        why = marker.group("why") if marker else None
        blocks.append(Block(path, match.group(1), match.group(2), line, why))
    return blocks


BLOCKS = [block for path, text in TEXTS.items() for block in _blocks(path, text)]
README_BLOCKS = [b for b in BLOCKS if b.path == "README.md"]


def _once(blocks: list[Block]) -> list[Block]:
    """Each block's first place only: the same code in two places runs once."""
    seen: set[tuple[str, str]] = set()
    first = []
    for block in blocks:
        if (block.lang, block.code) not in seen:
            seen.add((block.lang, block.code))
            first.append(block)
    return first


RUN = _once([b for b in BLOCKS if b.lang in CODE and b.fragment is None])


def _first_after(path: str, heading: str, lang: str) -> Block:
    text = TEXTS[path]
    start = text.count("\n", 0, text.index(heading)) + 1
    return next(b for b in BLOCKS if b.path == path and b.line > start and b.lang == lang)


def _walkthrough() -> Block:
    return _first_after(GETTING_STARTED, "## Walkthrough with curl", "bash")


def _in_python() -> Block:
    return _first_after(GETTING_STARTED, "## In Python", "python")


def test_readme_starts_with_the_two_commands() -> None:
    first, second = [b for b in README_BLOCKS if b.lang == "bash"][:2]
    assert first.line < 20
    assert "wavespeed-mock serve" in first.code
    assert second.code.strip().splitlines()[-1] == "bash scripts/check"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nbash scripts/check\n" in ci


def test_every_block_is_tagged_and_every_marker_sits_on_a_block() -> None:
    assert all(b.lang for b in BLOCKS), [b.name for b in BLOCKS if not b.lang]
    for path, text in TEXTS.items():
        markers = sum(bool(FRAGMENT.fullmatch(line.strip())) for line in text.splitlines())
        assert markers == sum(b.fragment is not None for b in BLOCKS if b.path == path), path
    assert {b.lang for b in BLOCKS} <= CODE | DATA


def test_the_docs_have_their_blocks_and_each_runs_once() -> None:
    """The walkthrough and the in-process example moved to the docs: they are still found
    (a heading renamed would otherwise drop their own tests below), and no code runs twice."""
    assert _walkthrough().code.startswith("(\nset -e\n")
    assert "ManualClock" in _in_python().code
    assert len({(b.lang, b.code) for b in RUN}) == len(RUN)
    assert any(b.path.startswith("docs/") for b in RUN)


class _SharedServer:
    """One ``serve`` for the blocks of a module that talk to a server, started at the first
    such block and reset before each (a server start costs more CPU than a block's requests; a reset
    forgets every job, account, rule and journal entry, so each block meets a fresh fake)."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._base = ""

    def fresh(self) -> str:
        if not self._base:
            self._base = self._stack.enter_context(serve())
        httpx.post(f"{self._base}/_mock/reset", timeout=10).raise_for_status()
        return self._base

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[_SharedServer]:
    server = _SharedServer()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize(
    # The walkthrough and "In Python" have tests of their own, below, that read their output.
    "block",
    [b for b in RUN if b not in (_walkthrough(), _in_python())],
    ids=lambda b: b.name,
)
def test_the_block_runs_as_pasted(
    block: Block, tmp_path: Path, shared_server: _SharedServer
) -> None:
    if block.lang == "console":
        _run_console(block, tmp_path)
        return
    assert block.lang in {"bash", "python"}, f"{block.name}: no runner for {block.lang}"
    if block.lang == "bash" and shutil.which("curl") is None:
        pytest.skip("the bash blocks are written for curl")
    command = ["bash", "-euo", "pipefail", "-c"] if block.lang == "bash" else [sys.executable, "-c"]
    if block.lang == "bash":
        (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    # Only the blocks that talk to a server get one (they all read BASE).
    base = shared_server.fresh() if "BASE" in block.code else ""
    done = subprocess.run(
        [*command, block.code],
        cwd=tmp_path,
        env=_env(base, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{block.name}\n{done.stdout}\n{done.stderr}"


def _env(base: str, home: Path) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/local/bin"
    return {"BASE": base, "PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}


def _run_console(block: Block, where: Path) -> None:
    """Each ``$ `` command from a directory whose ``.venv`` is this environment; the lines
    after it are its exact output. The walkthrough's audio files are there too."""
    (where / ".venv").symlink_to(Path(sys.prefix))
    (where / "left.wav").write_bytes(silence_wav(Decimal(4)))
    (where / "right.wav").write_bytes(silence_wav(Decimal(6)))
    steps: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    assert steps, f"{block.name}: no command"
    for command, expected in steps:
        done = subprocess.run(
            shlex.split(command), cwd=where, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{block.name}: {command}\n{done.stderr}"
        if expected:
            assert done.stdout.splitlines() == expected, f"{block.name}: {command}"


def test_in_python_submits_advances_polls_and_prints(tmp_path: Path) -> None:
    block = _in_python()
    assert block.fragment is None
    done = subprocess.run(
        [sys.executable, "-c", block.code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[:4] == [
        "submitted: created",
        "polled: processing",
        "polled: processing",
        "polled: completed",
    ]
    assert re.fullmatch(
        r"output: http://testserver/media/outputs/[0-9a-f]{32}/output\.mp4 balance: 99\.85",
        lines[4],
    )


def _run_walkthrough(base: str, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *flags, "-c", _walkthrough().code],
        cwd=tmp_path,
        env=_env(base, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough is written for curl")
def test_curl_walkthrough_works_verbatim(tmp_path: Path) -> None:
    with serve() as base:  # serve's defaults: the page's words are about them
        done = _run_walkthrough(base, tmp_path, "-euo", "pipefail")
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = [line.removeprefix("status: ") for line in done.stdout.splitlines()
                if line.startswith("status: ")]  # fmt: skip
    # What the page says it prints: the statuses in the order a job lives, ending completed.
    order = ["created", "processing", "completed"]
    assert statuses[-1] == "completed"
    assert statuses == sorted(statuses, key=order.index), statuses
    assert "output.mp4 lasts 10.000 s" in done.stdout
    assert '"balance":99.85' in done.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough is written for curl")
def test_the_walkthrough_stops_when_no_server_answers(tmp_path: Path) -> None:
    """Pasted into a plain shell (no -e of its own), it stops with its message."""
    done = _run_walkthrough(f"http://127.0.0.1:{free_port()}", tmp_path)
    assert done.returncode != 0
    assert "stopped: no wavespeed-mock answers at http://127.0.0.1:" in done.stderr
    assert "status:" not in done.stdout
    assert "Traceback" not in done.stderr


class _Html(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html><body>not the mock</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough is written for curl")
def test_the_walkthrough_stops_when_an_answer_is_not_json(tmp_path: Path, html_server: str) -> None:
    done = _run_walkthrough(html_server, tmp_path)
    assert done.returncode != 0
    assert "stopped: expected JSON from the mock, got '<html><body>not the mock" in done.stderr
    assert "Traceback" not in done.stderr
    assert "status:" not in done.stdout


def test_the_webhook_verification_snippet_accepts_our_signatures() -> None:
    import time

    from mock_api.webhooks import sign

    block = next(b for b in RUN if b.lang == "python" and "def verify(" in b.code)
    namespace: dict[str, object] = {}
    exec(block.code, namespace)
    verify = namespace["verify"]
    assert callable(verify)
    secret, body, now = "whsec_abc123", b'{"id":"x"}', int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
    }
    assert verify(secret, headers, body) is True
    assert verify(secret, headers, body + b" ") is False
    assert verify("whsec_other", headers, body) is False
