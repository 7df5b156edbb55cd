"""The command line, through click's CliRunner."""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import io
import json
import re
import socket
import wave
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from mock_api import create_app
from mock_api.cli import main, serve


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
    assert "left audio:     12 s\n" in out  # plain, as a typed duration (was 12.000)
    assert "billed:         15 s" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--left", "nope.mp3", "--right", "1"], "neither seconds nor an audio file"),
        (["--left", "-3", "--right", "1"], "-3 is below 0: a duration must be 0 or more seconds"),
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


# Every model of the family: its audio options, its rate at its resolution, its minimum.
FAMILY_PRICES = [
    ("wavespeed-ai/infinitetalk", ["--audio", "1.2"], "5 s", "$0.15"),
    ("wavespeed-ai/infinitetalk-fast", ["--audio", "6.2"], "7 s", "$0.105"),
    ("wavespeed-ai/infinitetalk", ["--audio", "7.3", "--resolution", "720p"], "8 s", "$0.48"),
    ("wavespeed-ai/infinitetalk/multi", ["--left", "4", "--right", "6.5"], "7 s", "$0.21"),
    (
        "wavespeed-ai/infinitetalk/multi",
        ["--left", "4", "--right", "6.5", "--order", "left_right", "--resolution", "720p"],
        "11 s",
        "$0.66",
    ),
    ("wavespeed-ai/infinitetalk/video-to-video", ["--audio", "2"], "5 s", "$0.15"),
    (
        "wavespeed-ai/infinitetalk/video-to-video-multi",
        ["--left", "1", "--right", "1"],
        "5 s",
        "$0.15",
    ),
    ("wavespeed-ai/infinitetalk-fast/multi", ["--left", "9.5", "--right", "1"], "10 s", "$0.15"),
    ("wavespeed-ai/infinitetalk-fast/video-to-video", ["--audio", "2"], "5 s", "$0.075"),
    ("wavespeed-ai/infinitetalk-fast/video-to-video", ["--audio", "700"], "600 s", "$9.00"),
    (
        "wavespeed-ai/infinitetalk-fast/video-to-video-multi",
        ["--left", "3.2", "--right", "4.1", "--order", "left_right"],
        "8 s",
        "$0.12",
    ),
]


@pytest.mark.parametrize(("model", "args", "billed", "cost"), FAMILY_PRICES)
def test_price_prices_every_model_by_its_own_rule(
    model: str, args: list[str], billed: str, cost: str
) -> None:
    code, out = run("price", "--model", model, *args)
    assert code == 0, out
    assert f"model:          {model}" in out
    assert f"billed:         {billed}" in out
    assert f"cost:           {cost}" in out


def test_price_json_names_the_model_resolution_and_rate() -> None:
    code, out = run(
        "price",
        "--model",
        "wavespeed-ai/infinitetalk",
        "--audio",
        "4.5",
        "--resolution",
        "720p",
        "--json",
    )
    assert code == 0, out
    data = json.loads(out)
    assert (data["model"], data["resolution"], data["left_seconds"], data["tracks"]) == (
        "wavespeed-ai/infinitetalk",
        "720p",
        "4.5",
        1,
    )
    assert (data["billed_seconds"], data["rate_usd_per_second"], data["cost_usd"]) == (
        5,
        "0.06",
        "0.3",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "wavespeed-ai/infinitetalk", "--left", "1", "--right", "1"], "give --audio"),
        (
            ["--model", "wavespeed-ai/infinitetalk", "--audio", "1", "--order", "left_right"],
            "give --audio",
        ),
        (["--model", "wavespeed-ai/infinitetalk"], "needs --audio"),
        (["--model", "wavespeed-ai/infinitetalk/multi", "--audio", "1"], "not --audio"),
        (["--model", "wavespeed-ai/infinitetalk/multi", "--left", "1"], "needs --left and --right"),
        (
            [
                "--model",
                "wavespeed-ai/infinitetalk-fast/multi",
                "--left",
                "1",
                "--right",
                "1",
                "--resolution",
                "720p",
            ],
            "no resolution to choose",
        ),
        (
            ["--model", "wavespeed-ai/infinitetalk", "--audio", "1", "--min-seconds", "2"],
            "its documented 5 s minimum",
        ),
        (["--model", "wavespeed-ai/nope", "--audio", "1"], "Invalid value for '--model'"),
    ],
)
def test_price_refuses_options_the_model_does_not_take(args: list[str], message: str) -> None:
    code, out = run("price", *args)
    assert code == 2
    assert message in out


def test_price_padding_and_over_max_apply_to_every_model() -> None:
    code, out = run(
        "price", "--model", "wavespeed-ai/infinitetalk", "--audio", "601", "--over-max", "reject"
    )
    assert code == 0, out
    assert "rejected" in out
    code, out = run(
        "price",
        "--model",
        "wavespeed-ai/infinitetalk",
        "--audio",
        "4.04",
        "--padding-tolerance",
        "0",
    )
    assert "billed:         5 s" in out


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
    served = _served_apps(monkeypatch)
    code, out = run("serve", "--port", "0", "--db", str(tmp_path / "state.db"))
    assert code == 0, out
    counts = [_frozen_while_serving(app) for app in (served[0], create_app())]
    assert counts[0] > 10_000  # the app, the spec and the libraries
    assert counts[1] == 0


def _served_apps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``serve`` up to the point where uvicorn would take over: the apps it would run."""
    served: list[Any] = []

    def run(server: Any, sockets: list[socket.socket]) -> None:
        served.append(server.config.app)
        server.started = True
        for sock in sockets:
            sock.close()

    monkeypatch.setattr("uvicorn.Server.run", run)
    # serve's logging set-up would outlive the test and make every later one log.
    monkeypatch.setattr("uvicorn.Config.configure_logging", lambda config: None)
    return served


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


def test_version_is_the_distributions() -> None:
    code, out = run("--version")
    assert code == 0
    assert out.strip() == f"wavespeed-mock, version {importlib.metadata.version('wavespeed-mock')}"


@pytest.mark.parametrize("value", ["abc", "-5", "NaN", "1.0000001"])
def test_a_bad_initial_balance_names_the_option_and_the_form(value: str) -> None:
    code, out = run("serve", "--initial-balance", value)
    assert code == 2
    assert "Invalid value for '--initial-balance'" in out
    assert "ConversionSyntax" not in out
    assert ("finer than a micro-dollar" if value == "1.0000001" else "a number such as 100") in out


def test_every_serve_option_can_come_from_the_environment() -> None:
    page = (Path(__file__).parent.parent / "docs" / "serve.md").read_text()
    table = page.split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    for param in serve.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        flag = param.opts[0]
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
        assert names[0] == "WAVESPEED_MOCK_" + flag[2:].replace("-", "_").upper(), flag
        for name in names:  # an older name kept working is in the table too
            assert f"`{name}`" in table, f"{name} is not in docs/serve.md's table"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--rules", "{missing}"], {}),
        (["--scenarios", "{missing}"], {}),
        ([], {"WAVESPEED_MOCK_RULES": "{missing}"}),
        ([], {"WAVESPEED_MOCK_SCENARIOS": "{missing}"}),
    ],
    ids=["rules", "scenarios", "env-rules", "env-scenarios"],
)
def test_rules_is_the_name_errors_use_and_the_old_names_still_work(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    missing = str(tmp_path / "gone.yaml")
    args = [a.format(missing=missing) for a in args]
    env = {k: v.format(missing=missing) for k, v in env.items()}
    result = CliRunner().invoke(main, ["serve", "--db", ":memory:", *args], env=env)
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "Invalid value for '--rules' / '--scenarios'" in said
    assert f"File '{missing}' does not exist" in said


def test_the_banner_gives_a_url_a_browser_opens_the_watched_file_and_the_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configs = _served_configs(monkeypatch)
    rules = tmp_path / "rules.yaml"
    rules.write_text("stubs:\n  - {id: s, path: /x}\n")
    code, out = run(
        "serve", "--host", "0.0.0.0", "--port", "0", "--db", ":memory:",
        "--rules", str(rules), "--watch", "--control-token", "t0k",
    )  # fmt: skip
    assert code == 0, out
    banner = out.splitlines()[0]
    assert re.search(r"docs at http://127\.0\.0\.1:\d+/docs,", banner), banner
    assert "0.0.0.0" not in banner
    assert f"rules from {rules} (watched: edits reload)" in banner
    assert "control API on (X-Mock-Token required)" in banner
    assert "t0k" not in banner
    configs[0].app.state.service.store.close()


@pytest.mark.parametrize(
    ("host", "shown"),
    [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
     ("localhost", "localhost"), ("192.0.2.7", "192.0.2.7")],
    ids=["any-v4", "any-v6", "v4", "v6", "name", "address"],
)  # fmt: skip
def test_the_banner_names_a_host_a_browser_can_open(host: str, shown: str) -> None:
    from mock_api.cli import _browser_host

    assert _browser_host(host) == shown


def test_the_environment_sets_serve_options(monkeypatch: pytest.MonkeyPatch) -> None:
    served = _served_apps(monkeypatch)
    env = {
        "WAVESPEED_MOCK_PORT": "0",
        "WAVESPEED_MOCK_DB": ":memory:",
        "WAVESPEED_MOCK_INITIAL_BALANCE": "7.5",
        "WAVESPEED_MOCK_API_KEY": "k1 k2",
        "WAVESPEED_MOCK_PACE": "instant",
    }
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 0, result.output
    settings = served[0].state.service.settings
    assert settings.initial_balance_micros == 7_500_000
    assert settings.api_keys == {"k1", "k2"}
    assert settings.pace.name == "instant"
    served[0].state.service.store.close()
    bad = CliRunner().invoke(main, ["serve"], env={"WAVESPEED_MOCK_INITIAL_BALANCE": "abc"})
    assert bad.exit_code == 2
    assert "WAVESPEED_MOCK_INITIAL_BALANCE" in bad.output


def test_a_busy_port_stops_serve_before_the_banner_and_makes_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data = tmp_path / "data"
        result = CliRunner().invoke(main, ["serve", "--port", str(port), "--data-dir", str(data)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert "--port or WAVESPEED_MOCK_PORT" in result.output
    assert "docs at" not in result.output
    assert not data.exists()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "# rules\nsenarios:\n  - {id: a, then: fail}\n",
            2,
            "unknown key 'senarios' (did you mean 'scenarios'?)",
        ),
        (
            "scenarios:\n  - id: a\n    then: fail\n  - id: b\n    then: explode\n",
            5,
            "scenarios #2, key 'then': field \"then\" must be one of",
        ),
        (
            "faults:\n  - id: f\n    kind: status\n    status: 200\n",
            4,
            "faults #1, key 'status': field \"status\" must be >= 400",
        ),
        (
            "scenarios:\n  - id: a\n    then: fail\n    match:\n      prompt_contains: 3\n",
            5,
            "key 'match.prompt_contains'",
        ),
        (
            "scenarios:\n  - {id: a\n",
            3,
            "column 1: not valid YAML: did not find expected ',' or '}' (while parsing a "
            "flow mapping at line 2)",
        ),
    ],
    ids=["misspelt-section", "bad-value", "bad-fault", "nested-key", "yaml-syntax"],
)
def test_a_rules_file_error_names_the_file_the_line_and_the_key(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    data = tmp_path / "data"
    code, out = run("serve", "--port", "0", "--data-dir", str(data), "--rules", str(path))
    assert code == 2
    assert "Invalid value for --rules: " in out  # the name the docs use, not --scenarios
    assert f"{path}, line {line}" in out
    assert "unicode string" not in out
    assert words in " ".join(out.split())  # click may wrap the line
    assert not data.exists()


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "scenarios: []\nfaults:\n"])
def test_an_empty_rules_file_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    served = _served_apps(monkeypatch)
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    code, out = run("serve", "--port", "0", "--db", ":memory:", "--scenarios", str(path))
    assert code == 0, out
    assert f"warning: {path} holds no rules" in out
    served[0].state.service.store.close()


def test_a_missing_contract_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A package without its openapi.yaml (the old wheel) said "cannot open the state database"."""

    def missing() -> None:
        raise FileNotFoundError(2, "No such file or directory", "/site-packages/openapi.yaml")

    monkeypatch.setattr("mock_api.spec.default_spec", missing)
    data = tmp_path / "data"
    code, out = run("serve", "--port", "0", "--data-dir", str(data))
    assert code == 1
    assert "cannot read the API contract" in out
    assert "state database" not in out
    assert not data.exists()


def test_serve_refuses_an_initial_balance_no_ledger_can_hold() -> None:
    # Before: --initial-balance 1e30 started, and every request then failed (a 500) when
    # the opening entry overflowed SQLite's 64-bit integers.
    code, output = run("serve", "--initial-balance", "1e30", "--db", ":memory:")
    assert code == 2
    assert "the initial balance must be from 0 to 1000000000 USD" in output


def _served_configs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``serve`` up to uvicorn, one worker or several: the uvicorn configs it would run."""
    configs: list[Any] = []

    def run(server: Any, sockets: list[socket.socket]) -> None:
        configs.append(server.config)
        server.started = True
        for sock in sockets:
            sock.close()

    def workers(config: Any, listener: socket.socket) -> None:
        configs.append(config)
        listener.close()

    monkeypatch.setattr("uvicorn.Server.run", run)
    monkeypatch.setattr("mock_api.server.serve_workers", workers)
    monkeypatch.setattr("uvicorn.Config.configure_logging", lambda config: None)
    return configs


@pytest.mark.parametrize(
    ("args", "http", "loop", "said"),
    [
        ([], "mock_api.httptools_protocol:HttpToolsProtocol", "uvloop", "httptools + uvloop"),
        (["--http", "h11", "--loop", "asyncio"], "h11", "asyncio", "h11 + asyncio"),
        (
            ["--loop", "asyncio"],
            "mock_api.httptools_protocol:HttpToolsProtocol",
            "asyncio",
            "httptools + asyncio",
        ),
    ],
    ids=["auto", "pure-python", "httptools-asyncio"],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_runs_on_the_stack_it_names_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    http: str,
    loop: str,
    said: str,
    workers: str,
) -> None:
    configs = _served_configs(monkeypatch)
    code, out = run(
        "serve", "--port", "0", "--db", str(tmp_path / "state.db"), "--workers", workers, *args
    )
    assert code == 0, out
    assert (configs[0].http, configs[0].loop) == (http, loop)
    assert f" on {said}, docs at" in out
    if workers == "1":
        configs[0].app.state.service.store.close()


def test_serve_says_when_it_fell_back_to_pure_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configs = _served_configs(monkeypatch)
    monkeypatch.setattr("mock_api.serving._installed", lambda module: False)
    code, out = run("serve", "--port", "0", "--db", ":memory:", "--log-format", "json")
    assert code == 0, out
    assert (configs[0].http, configs[0].loop) == ("h11", "asyncio")
    started = json.loads(out.splitlines()[0])
    fallback = "1 worker on h11 + asyncio (httptools and uvloop not installed: pure Python)"
    assert fallback in started["message"]
    assert (started["http"], started["loop"]) == ("h11", "asyncio")
    for option, package in (("--http", "httptools"), ("--loop", "uvloop")):
        code, out = run("serve", "--port", "0", "--db", ":memory:", option, package)
        assert code == 2
        assert f"Invalid value for {option}: {package} is not installed here" in out
        assert f"(pip install {package};" in out
