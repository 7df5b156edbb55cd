"""The README's commands and walkthrough are true: run them as a user would."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import serve

README = (Path(__file__).parent.parent / "README.md").read_text()


def _block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block after {heading!r}"
    return match.group(1)


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    assert "wavespeed-mock serve" in blocks[0]
    assert blocks[1].strip().splitlines()[-1] == "bash scripts/check"
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "\nbash scripts/check\n" in ci


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough is written for curl")
def test_curl_walkthrough_works_verbatim(tmp_path: Path) -> None:
    script = _block_after("## Walkthrough with curl")
    with serve() as base:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env={"BASE": base, "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "status: completed" in done.stdout
    assert "output.mp4 lasts 10.000 s" in done.stdout
    assert '"balance":99.85' in done.stdout


def test_the_webhook_verification_snippet_accepts_our_signatures() -> None:
    import time

    from mock_api.webhooks import sign

    block = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "def verify(" in b)
    namespace: dict[str, object] = {}
    exec(block, namespace)
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
