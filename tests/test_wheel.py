"""The wheel works where users install it: each extra, from the wheel, in a venv of its own.

What this proves: a wheel built as a release builds it (``python -m build``: an
sdist from the tree, then the wheel from that sdist, each in an isolated build
environment) installs ``mock_api`` and nothing else at the top of
site-packages, carries the very ``openapi.yaml`` of the repository, and each
extra does what the docs promise, run from an empty directory:

* ``pip install "wavespeed-mock[pytest]"`` (venv A, from the index): ``serve``,
  ``price``, a user's test file using the pytest plugin passes, pytest starts with
  nothing heavy loaded, and ``verify``/``parity`` say which extra they need;
* then ``[verify]`` added (venv B): ``wavespeed-mock verify`` passes against that
  ``serve``, and ``parity check`` runs.

How it stays cheap: nothing is byte-compiled at install (``--no-compile``: only
what runs gets compiled), and B is not a second install of everything. B is a
new venv whose one ``.pth`` line puts A's site-packages after its own; the wheel
goes into B with ``--no-deps``, then ``pip install "wheel[verify]"`` finds the
base dependencies and pytest already there (in A) and installs only what
``[verify]`` adds. So A stays exactly ``[pytest]`` (other tests read it at the
same time), and B is ``[pytest]`` plus ``[verify]``, each resolved by pip from the
wheel's own metadata. (``[dev]`` is command 2's own install, which the whole suite
exercises; ``[postgres]`` is psycopg alone, tested by the PostgreSQL store's suites.)

Marked ``wheel``: the isolated build, and the extras, come from the package index
(or pip's cache). ``pytest -m "not wheel"`` skips it offline; CI runs it.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
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


def _pip(python: Path, *args: str) -> None:
    """This interpreter's pip, installing into ``python``'s venv (which has no pip)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-compile",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _purelib(python: Path) -> Path:
    where = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(where.stdout.strip())


def _build(base: Path) -> None:
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


def _install_pytest_extra(home: Path, wheel: Path) -> None:
    """Venv A: the wheel with ``[pytest]``, and nothing else."""
    venv.create(home, with_pip=False)
    _pip(home / "bin" / "python", f"{wheel}[pytest]")


def _add_verify_extra(home: Path, wheel: Path, pytest_only: Path) -> None:
    """Venv B: A's packages (one ``.pth`` line) plus what ``[verify]`` adds."""
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    # B's own copy and scripts (running B's python), before A is in sight: pip would
    # otherwise find the wheel installed (in A) and put nothing here.
    _pip(python, "--no-deps", str(wheel))
    (_purelib(python) / "_pytest_extra_venv.pth").write_text(
        f"{_purelib(pytest_only / 'bin' / 'python')}\n"
    )
    _pip(python, f"{wheel}[verify]")


def _installed(tmp_path_factory: pytest.TempPathFactory, extras: str) -> Installed:
    """The wheel (built once per run, tests/once.py) with ``extras`` installed, and an
    empty directory of this fixture's own to run it in."""
    base = once_per_run(tmp_path_factory, "wheel", _build)
    (wheel,) = (base / "dist").glob("*.whl")
    pytest_only = once_per_run(
        tmp_path_factory, "wheel-pytest", lambda home: _install_pytest_extra(home, wheel)
    )
    home = pytest_only
    if extras == "verify":
        home = once_per_run(
            tmp_path_factory,
            "wheel-verify",
            lambda home: _add_verify_extra(home, wheel, pytest_only),
        )
    # An empty directory far from the checkout: serve keeps its state where it starts.
    workdir = tmp_path_factory.mktemp(f"wheel-{extras}-work")
    env = {
        "PATH": f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
    }
    return Installed(wheel, home, home / "bin", workdir, env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel with ``[pytest]`` alone, as a user testing a client installs it."""
    return _installed(tmp_path_factory, "pytest")


@pytest.fixture(scope="module")
def with_verify(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel with ``[pytest]`` and ``[verify]``, as a CI job checking a server does."""
    return _installed(tmp_path_factory, "verify")


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
            from mock_api.contract.recognise import spec_source
            print(mock_api.__file__)
            print(mock_api.spec.SPEC_PATH)
            print(importlib.util.find_spec("contracts"), importlib.util.find_spec("tests"))
            print(spec_source())
            """
        ),
    )
    assert where.returncode == 0, where.stderr
    module, spec, others, named = where.stdout.splitlines()
    assert module.startswith(str(installed.venv)), module
    assert spec.startswith(str(installed.venv)), spec
    assert spec.endswith("mock_api/openapi.yaml"), spec
    assert others == "None None"
    # How a refusal names the spec: not "this checkout's", there being no checkout.
    assert named == "the openapi.yaml of wavespeed-mock 0.1.0"


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
    # And their data (package-data lists it by hand too): py.typed, the dashboard's page...
    data = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "mock_api").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    assert data - {"mock_api/openapi.yaml"} <= set(names), data - set(names)


def test_parity_check_from_the_wheel(with_verify: Installed) -> None:
    check = with_verify.run(
        str(with_verify.bin / "wavespeed-mock"),
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
import sys

import httpx
import mock_api

#: What pytest had loaded when it collected this file (the plugin registered by then).
LOADED_AT_START = sorted(
    m for m in ("fastapi", "starlette", "pydantic", "mock_api.testing") if m in sys.modules
)


def test_runs_from_the_installed_wheel():
    assert mock_api.__file__.startswith({venv!r})


def test_the_plugin_loaded_nothing_heavy_at_start_up():
    assert LOADED_AT_START == []


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


def test_the_pytest_extra_runs_a_users_plugin_test_and_nothing_more(installed: Installed) -> None:
    """``[pytest]`` is pytest alone: the user's pytest starts with this plugin and no
    other (schemathesis's and Hypothesis's once doubled its start-up), and the
    plugin's fixtures work."""
    listed = installed.run(
        str(installed.bin / "python"),
        "-c",
        "import importlib.metadata as m; print(sorted(d.name for d in m.distributions()))",
    )
    assert listed.returncode == 0, listed.stderr
    for heavy in ("schemathesis", "hypothesis", "av", "ruff", "mypy", "mkdocs"):
        assert f"'{heavy}'" not in listed.stdout, listed.stdout
    assert "'pytest'" in listed.stdout

    user_test = installed.workdir / "test_my_client.py"
    user_test.write_text(USER_TEST.format(venv=str(installed.venv)))
    plugin = installed.run(
        str(installed.bin / "python"), "-m", "pytest", "-p", "no:cacheprovider", user_test.name
    )
    assert plugin.returncode == 0, plugin.stdout + plugin.stderr
    assert "4 passed" in plugin.stdout
    (plugins,) = [line for line in plugin.stdout.splitlines() if line.startswith("plugins: ")]
    assert "wavespeed-mock-0.1.0" in plugins
    assert "schemathesis" not in plugins
    assert "hypothesis" not in plugins


@pytest.mark.parametrize(
    "command",
    [
        ["verify", "--base-url", "http://127.0.0.1:9", "--api-key", "k"],
        ["parity", "check", "--snapshots", str(ROOT / "fixtures" / "parity")],
    ],
    ids=["verify", "parity"],
)
def test_without_the_verify_extra_the_commands_name_it(
    installed: Installed, command: list[str]
) -> None:
    done = installed.run(str(installed.bin / "wavespeed-mock"), *command)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip() == (
        f"Error: {command[0]} needs the verify extra (hypothesis is missing): "
        'pip install "wavespeed-mock[verify]"'
    )
    assert "Traceback" not in done.stdout + done.stderr


def test_serve_and_verify_from_the_wheel(with_verify: Installed) -> None:
    """The issue's bar: with ``[verify]`` added, verify passes against serve.

    This is also the suite's whole run by URL against a second instance of the fake
    (every check, two accounts, nothing skipped), the recipe the docs give: serve
    with two keys at the instant pace, verify with both; tests/test_verify.py makes
    another against a fake that looks paid, and the harness tests run parts of it
    against servers that misbehave.
    """
    server = ServerProcess(
        *("--api-key", KEY, "--api-key", SECOND_KEY, "--pace", "instant"),
        command=[str(with_verify.bin / "wavespeed-mock")],
        cwd=str(with_verify.workdir),
        env=with_verify.env,
    )
    try:
        server.start()
        docs = httpx.get(f"{server.url}/docs")
        assert docs.status_code == 200
        # The URL from the environment, the keys from options: both ways work together.
        keys = ("--api-key", KEY, "--second-api-key", SECOND_KEY)
        verify = with_verify.run(
            str(with_verify.bin / "wavespeed-mock"), "verify", *keys, WAVESPEED_BASE_URL=server.url
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
    assert "slow: " not in out  # the instant pace: nothing to wait for
    assert out.rstrip().endswith("verify: all checks passed")
    # It really ran over HTTP: the fake journaled the suite's submissions.
    assert len(journal) > 50
    # serve kept its state where it was started: the user's directory, not site-packages.
    assert (with_verify.workdir / ".wavespeed-mock" / "state.db").is_file()
