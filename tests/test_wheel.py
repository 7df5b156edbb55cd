"""The wheel works where users install it: in a virtualenv with no checkout around it.

What this proves: a wheel built as a release builds it (``python -m build``: an
sdist from the tree, then the wheel from that sdist, each in an isolated build
environment) installs ``mock_api`` and nothing else at the top of
site-packages, carries the very ``openapi.yaml`` of the repository, and then,
run from an empty directory, ``wavespeed-mock serve`` answers, ``price``
works, a user's test file using the pytest plugin passes, and ``wavespeed-mock
verify`` passes against that ``serve``.

Why the venv borrows its dependencies: installing the test extras from scratch
(schemathesis, hypothesis, av, mypy...) into a new venv takes minutes and the
network. So the new venv is made without pip, the wheel is installed into it
with ``--no-deps`` by this interpreter's pip, and one ``.pth`` line puts this
environment's site-packages after the venv's own. A ``.pth`` line adds a
directory to ``sys.path`` without running the ``.pth`` files inside it, so this
checkout's editable install (a ``.pth`` hook in that directory) stays off: the
only ``mock_api`` the venv can import is the wheel's, which each step checks.
The dependencies' own contents are not what is under test; the wheel's are.
(A by-hand run with ``pip install dist/*.whl[test]`` into a truly fresh venv is
the complement; see the README's install section.)

Marked ``wheel``: the isolated build fetches setuptools from the package index
(or its cache). ``pytest -m "not wheel"`` skips it offline; CI runs it.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from tests.live import ServerProcess
from tests.once import once_per_run

ROOT = Path(__file__).resolve().parent.parent
KEY = "wheel-key"
SECOND_KEY = "wheel-key-2"
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"

# Run whole on one worker under scripts/check (tests/xdist_order.py); run otherwise,
# the wheel is still built once (tests/once.py).
pytestmark = pytest.mark.wheel

#: What a release build must not see: local state, caches, other builds.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    "*.egg-info",
    ".*_cache",
    ".hypothesis",
    ".wavespeed-mock",
    "build",
    "dist",
)


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    bin: Path
    workdir: Path  # an empty directory, far from the checkout
    env: dict[str, str]

    def run(
        self, *args: str, timeout: float = 300, **environ: str
    ) -> subprocess.CompletedProcess[str]:
        """``args`` from the empty work directory, in the venv's environment plus ``environ``."""
        return subprocess.run(
            list(args),
            cwd=self.workdir,
            env={**self.env, **environ},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _build_and_install(base: Path) -> None:
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(base / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("*.whl")

    home = base / "venv"
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    installing = subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installing.returncode == 0, installing.stdout + installing.stderr
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_borrowed_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, built and installed once per run (tests/once.py), and a directory of
    this module's own to run it in."""
    base = once_per_run(tmp_path_factory, "wheel", _build_and_install)
    (wheel,) = (base / "dist").glob("*.whl")
    home = base / "venv"
    # An empty directory far from the checkout: serve keeps its state where it starts.
    workdir = tmp_path_factory.mktemp("wheel-work")
    env = {
        "PATH": f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
    }
    return Installed(wheel, home, home / "bin", workdir, env)


def test_the_wheel_installs_mock_api_and_the_very_contract(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"mock_api", "wavespeed_mock-0.1.0.dist-info"}
    assert "mock_api/contract/suite/conftest.py" in names
    packaged = zipfile.ZipFile(installed.wheel).read("mock_api/openapi.yaml")
    assert packaged == (ROOT / "openapi.yaml").read_bytes()

    where = installed.run(
        str(installed.bin / "python"),
        "-c",
        textwrap.dedent(
            """
            import importlib.util, mock_api, mock_api.spec
            print(mock_api.__file__)
            print(mock_api.spec.SPEC_PATH)
            print(importlib.util.find_spec("contracts"), importlib.util.find_spec("tests"))
            """
        ),
    )
    assert where.returncode == 0, where.stderr
    module, spec, others = where.stdout.splitlines()
    assert module.startswith(str(installed.venv)), module
    assert spec.startswith(str(installed.venv)), spec
    assert spec.endswith("mock_api/openapi.yaml"), spec
    assert others == "None None"


def test_the_wheel_brings_httptools_and_uvloop_where_they_install(installed: Installed) -> None:
    """``pip install wavespeed-mock`` gives uvicorn's fast stack (its ``auto`` picks them)
    where they have builds, and still installs where they have none: there uvicorn falls
    back to h11 and asyncio (tests/test_server.py serves on both)."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(wheel.read(name).decode())
    requires = {
        found.name: found
        for found in map(Requirement, metadata.get_all("Requires-Dist") or [])
        if found.name in ("httptools", "uvloop")
    }
    assert set(requires) == {"httptools", "uvloop"}
    where = {
        "linux": ("linux", "CPython"),
        "macos": ("darwin", "CPython"),
        "windows": ("win32", "CPython"),
        "cygwin": ("cygwin", "CPython"),
        "pypy": ("linux", "PyPy"),
    }
    installs = {
        place: sorted(
            package
            for package, requirement in requires.items()
            if requirement.marker is None
            or requirement.marker.evaluate(
                {"sys_platform": platform, "platform_python_implementation": implementation}
            )
        )
        for place, (platform, implementation) in where.items()
    }
    assert installs == {
        "linux": ["httptools", "uvloop"],
        "macos": ["httptools", "uvloop"],
        "windows": ["httptools"],
        "cygwin": ["httptools"],
        "pypy": [],
    }


def test_the_wheel_carries_every_subpackage_of_the_source(installed: Installed) -> None:
    """pyproject.toml lists packages by hand: one left out installs nothing of it."""
    names = zipfile.ZipFile(installed.wheel).namelist()
    source = {
        str(init.parent.relative_to(ROOT))
        for init in (ROOT / "mock_api").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    for package in source:
        assert f"{package}/__init__.py" in names, f"{package} is not in the wheel"


def test_parity_check_from_the_wheel(installed: Installed) -> None:
    check = installed.run(
        str(installed.bin / "wavespeed-mock"),
        "parity",
        "check",
        "--snapshots",
        str(ROOT / "fixtures" / "parity"),
    )
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert " 0 differ" in check.stdout


def test_version_is_the_distributions(installed: Installed) -> None:
    version = installed.run(str(installed.bin / "wavespeed-mock"), "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "wavespeed-mock, version 0.1.0"


def test_price_from_the_wheel(installed: Installed) -> None:
    price = installed.run(
        str(installed.bin / "wavespeed-mock"), "price", "--left", "7.3", "--right", "2"
    )
    assert price.returncode == 0, price.stderr
    assert "cost:           $0.12" in price.stdout


USER_TEST = """
from decimal import Decimal

import httpx
import mock_api


def test_runs_from_the_installed_wheel():
    assert mock_api.__file__.startswith({venv!r})


def test_in_process(wavespeed_mock):
    media = f"{{wavespeed_mock.base_url}}/media/samples"
    with wavespeed_mock.client() as client:
        job = client.post(
            "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi",
            json={{
                "video": f"{{media}}/video.mp4?seconds=10",
                "left_audio": f"{{media}}/silence.wav?seconds=3",
                "right_audio": f"{{media}}/silence.wav?seconds=4",
            }},
        ).json()["data"]
        wavespeed_mock.run_until_idle()
        done = client.get(f"/api/v3/predictions/{{job['id']}}/result").json()["data"]
    assert done["status"] == "completed"
    assert wavespeed_mock.balance() == Decimal("99.925")


def test_on_a_socket(wavespeed_mock_server):
    answer = httpx.get(
        f"{{wavespeed_mock_server.url}}/api/v3/balance",
        headers={{"Authorization": f"Bearer {{wavespeed_mock_server.api_key}}"}},
    )
    assert answer.json()["data"]["balance"] == 100
"""


def test_serve_plugin_and_verify_from_the_wheel(installed: Installed) -> None:
    """The issue's bar: a user's plugin test passes, and verify passes against serve.

    This is also the suite's whole run by URL against a second instance of the fake
    (every check, two accounts, nothing skipped); tests/test_verify.py makes another
    against a fake that looks paid, and the harness tests run parts of it against
    servers that misbehave.
    """
    user_test = installed.workdir / "test_my_client.py"
    user_test.write_text(USER_TEST.format(venv=str(installed.venv)))
    plugin = installed.run(
        str(installed.bin / "python"), "-m", "pytest", "-p", "no:cacheprovider", user_test.name
    )
    assert plugin.returncode == 0, plugin.stdout + plugin.stderr
    assert "3 passed" in plugin.stdout

    server = ServerProcess(
        *("--api-key", KEY, "--api-key", SECOND_KEY, "--pace", "instant"),
        command=[str(installed.bin / "wavespeed-mock")],
        cwd=str(installed.workdir),
        env=installed.env,
    )
    try:
        server.start()
        docs = httpx.get(f"{server.url}/docs")
        assert docs.status_code == 200
        # The URL from the environment, the keys from options: both ways work together.
        keys = ("--api-key", KEY, "--second-api-key", SECOND_KEY)
        verify = installed.run(
            str(installed.bin / "wavespeed-mock"), "verify", *keys, WAVESPEED_BASE_URL=server.url
        )
        journal = httpx.get(
            f"{server.url}/_mock/journal", params={"path": SUBMIT, "limit": 100_000}
        ).json()["data"]["entries"]
    finally:
        server.close()
    out = verify.stdout
    assert verify.returncode == 0, out[-4000:] + verify.stderr[-4000:]
    assert f"target: the fake, by URL ({server.url})" in out
    assert "budget: not needed" in out
    assert "  FAIL  " not in out
    assert "  SKIP  " not in out, out  # two accounts: the isolation checks run too
    assert out.rstrip().endswith("verify: all checks passed")
    # It really ran over HTTP: the fake journaled the suite's submissions.
    assert len(journal) > 50
    # serve kept its state where it was started: the user's directory, not site-packages.
    assert (installed.workdir / ".wavespeed-mock" / "state.db").is_file()
