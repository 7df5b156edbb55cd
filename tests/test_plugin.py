"""The pytest plugin, exercised the way users meet it: in a project of their own.

Each test writes a small project with ``pytester`` (strict markers, warnings
as errors, as careful projects configure pytest) and runs it. The fixtures
come from the ``pytest11`` entry point alone: the inner projects have no
conftest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).parent.parent / "examples" / "test_my_client.py"

PRELUDE = """
from decimal import Decimal

import httpx
import pytest

from mock_api.testing import WavespeedMock, WavespeedMockServer

SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"


def job(mock, left=3, right=4, **extra):
    samples = f"{mock.base_url}/media/samples"
    return {
        "video": f"{samples}/video.mp4?seconds=10",
        "left_audio": f"{samples}/silence.wav?seconds={left}",
        "right_audio": f"{samples}/silence.wav?seconds={right}",
        **extra,
    }


def submit(client, mock, **extra):
    response = client.post(SUBMIT, json=job(mock, **extra))
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def result(client, job_id):
    return client.get(f"/api/v3/predictions/{job_id}/result").json()["data"]
"""


#: How a careful project configures pytest: the inner projects' ini.
INI = ["[pytest]", "addopts = --strict-markers", "filterwarnings = error", "xfail_strict = true"]


def project(pytester: pytest.Pytester, *ini: str, **files: str) -> pytest.Pytester:
    pytester.makeini("\n".join([*INI, *ini]))
    if files:
        pytester.makepyfile(**{name: PRELUDE + body for name, body in files.items()})
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the inner project in this process: much faster than a subprocess.

    This process imported ``mock_api`` before the inner session registers the
    plugin, so pytest warns that it cannot rewrite its asserts; a user's run,
    which imports it through the plugin, never sees that.
    """
    return pytester.runpytest_inprocess("-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


def test_fixtures_come_from_the_entry_point(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        test_fixtures="""
def test_fixtures(request, wavespeed_mock, wavespeed_mock_server, wavespeed_mock_settings):
    assert request.config.pluginmanager.has_plugin("wavespeed_mock")
    assert isinstance(wavespeed_mock, WavespeedMock)
    assert isinstance(wavespeed_mock_server, WavespeedMockServer)
    assert wavespeed_mock.base_url == "http://wavespeed.mock"
    assert wavespeed_mock_server.url.startswith("http://127.0.0.1:")
    assert wavespeed_mock.service.settings is wavespeed_mock_settings
""",
    )
    assert not list(pytester.path.glob("conftest.py"))
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_in_process_jobs_move_only_when_the_clock_does(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        test_clock="""
def test_submit_advance_complete(wavespeed_mock):
    with wavespeed_mock.client() as client:
        job_id = submit(client, wavespeed_mock)
        assert result(client, job_id)["status"] == "created"
        wavespeed_mock.advance(0.5)
        assert result(client, job_id)["status"] == "processing"
        wavespeed_mock.advance(5)
        done = result(client, job_id)
        assert done["status"] == "completed"
        assert client.get(done["outputs"][0]).headers["content-type"] == "video/mp4"
    assert [j.id for j in wavespeed_mock.jobs()] == [job_id]


def test_run_until_idle(wavespeed_mock):
    assert wavespeed_mock.run_until_idle() == []
    with wavespeed_mock.client() as client:
        first = submit(client, wavespeed_mock)
        wavespeed_mock.slow_next(3600)
        second = submit(client, wavespeed_mock)
        assert wavespeed_mock.run_until_idle() == [first, second]
        assert result(client, second)["status"] == "completed"
    assert wavespeed_mock.run_until_idle() == []


@pytest.mark.anyio
async def test_async_client_and_transports(wavespeed_mock):
    async with wavespeed_mock.async_client() as client:
        job_id = (await client.post(SUBMIT, json=job(wavespeed_mock))).json()["data"]["id"]
    wavespeed_mock.run_until_idle()
    auth = {"Authorization": f"Bearer {wavespeed_mock.api_key}"}
    with httpx.Client(transport=wavespeed_mock.transport, base_url="http://x", headers=auth) as c:
        assert result(c, job_id)["status"] == "completed"
    async with httpx.AsyncClient(
        transport=wavespeed_mock.async_transport, base_url="http://x", headers=auth
    ) as c:
        assert (await c.get("/api/v3/balance")).json()["data"]["balance"] == 99.925
""",
    )
    run(pytester).assert_outcomes(passed=3)


def test_outcomes_of_the_next_jobs_and_balance(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        test_outcomes="""
def test_fail_next(wavespeed_mock):
    wavespeed_mock.fail_next(code=1403, message="GPU fell over", count=2)
    with wavespeed_mock.client() as client:
        ids = [submit(client, wavespeed_mock) for _ in range(3)]
        assert wavespeed_mock.balance() == Decimal("99.775")  # charged on acceptance
        wavespeed_mock.run_until_idle()
        first, second, third = (result(client, i) for i in ids)
    assert (first["status"], first["code"], first["error"]) == ("failed", 1403, "GPU fell over")
    assert second["status"] == "failed"
    assert third["status"] == "completed"
    assert wavespeed_mock.balance() == Decimal("99.925")  # the two failures refunded


def test_fail_next_defaults_to_the_codes_message(wavespeed_mock):
    wavespeed_mock.fail_next()
    with wavespeed_mock.client() as client:
        job_id = submit(client, wavespeed_mock)
        wavespeed_mock.run_until_idle()
        assert (result(client, job_id)["code"], result(client, job_id)["error"]) == (
            5000,
            "Internal server error.",
        )


def test_nsfw_next(wavespeed_mock):
    wavespeed_mock.nsfw_next()
    with wavespeed_mock.client() as client:
        flagged, clean = submit(client, wavespeed_mock), submit(client, wavespeed_mock)
        wavespeed_mock.run_until_idle()
        assert result(client, flagged)["has_nsfw_contents"] == [True]
        assert result(client, clean)["has_nsfw_contents"] == [False]


def test_slow_next(wavespeed_mock):
    wavespeed_mock.slow_next(120, queue_seconds=10)
    with wavespeed_mock.client() as client:
        job_id = submit(client, wavespeed_mock)
        wavespeed_mock.advance(9.9)
        assert wavespeed_mock.status(job_id) == "created"
        wavespeed_mock.advance(120)
        assert wavespeed_mock.status(job_id) == "processing"
        wavespeed_mock.advance(0.1)
        assert result(client, job_id)["status"] == "completed"


def test_balance_per_key(wavespeed_mock):
    with wavespeed_mock.client(api_key="other") as client:
        submit(client, wavespeed_mock, left=7.3, right=2, order="left_right")
    assert wavespeed_mock.balance("other") == Decimal("99.85")
    assert wavespeed_mock.balance() == Decimal(100)
    assert len(wavespeed_mock.jobs("other")) == 1
    assert wavespeed_mock.jobs(wavespeed_mock.api_key) == []
""",
    )
    run(pytester).assert_outcomes(passed=5)


def test_settings_can_be_overridden_in_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import pytest
from mock_api import Settings


@pytest.fixture
def wavespeed_mock_settings():
    return Settings(random_seed=0, initial_balance_micros=1_000_000, api_keys=frozenset({"k"}))
""")
    project(
        pytester,
        test_settings="""
@pytest.mark.parametrize("name", ["wavespeed_mock", "wavespeed_mock_server"])
def test_settings_apply(request, name):
    mock = request.getfixturevalue(name)
    assert mock.api_key == "k"
    assert mock.balance() == Decimal(1)
    with mock.client(api_key="nope") as client:
        assert client.get("/api/v3/balance").status_code == 401
""",
    )
    run(pytester).assert_outcomes(passed=2)


STRICT_TESTS = """
def test_valid(wavespeed_mock):
    with wavespeed_mock.client() as client:
        submit(client, wavespeed_mock)


def test_invalid_body(wavespeed_mock):
    with wavespeed_mock.client() as client:
        assert client.post(SUBMIT, json=job(wavespeed_mock, order="sideways")).status_code == 400


def test_invalid_on_the_server(wavespeed_mock_server):
    with httpx.Client(base_url=wavespeed_mock_server.url) as client:
        assert client.get("/api/v3/balance").status_code == 401


@pytest.mark.wavespeed_mock_strict(False)
def test_invalid_on_purpose(wavespeed_mock):
    with wavespeed_mock.client() as client:
        assert client.post(SUBMIT, json=job(wavespeed_mock, seed=-5)).status_code == 400
    assert [v.field for v in wavespeed_mock.invalid_requests()[0].violations] == ["seed"]
"""


def test_strict_ini_fails_a_test_whose_client_broke_the_spec(pytester: pytest.Pytester) -> None:
    project(pytester, "wavespeed_mock_strict = true", test_strict=STRICT_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_invalid_body*",
            "wavespeed_mock_strict: 1 request(s) to the WaveSpeed mock broke the API spec:",
            "*POST /api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi -> 400"
            " [[]body 'order': must be one of meanwhile, left_right, right_left[]]",
            "*ERROR at teardown of test_invalid_on_the_server*",
            "*GET /api/v3/balance -> 401 [[]header 'Authorization': missing Authorization*",
        ]
    )
    result.stdout.no_fnmatch_line("*During handling*")


def test_strictness_is_off_unless_asked_for(pytester: pytest.Pytester) -> None:
    project(pytester, test_strict=STRICT_TESTS)
    run(pytester).assert_outcomes(passed=4)


def test_the_strict_marker(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        test_marker="""
pytestmark = pytest.mark.wavespeed_mock_strict


def test_invalid_body(wavespeed_mock):
    with wavespeed_mock.client() as client:
        client.post(SUBMIT, json=job(wavespeed_mock, order="sideways"))


def test_valid(wavespeed_mock):
    with wavespeed_mock.client() as client:
        submit(client, wavespeed_mock)


def test_assert_all_requests_valid(wavespeed_mock):
    with wavespeed_mock.client() as client:
        client.post(SUBMIT, json=job(wavespeed_mock, seed="7"))
    expected = r"(?s)1 request\\(s\\) .*broke the API spec.*#1 POST .* 'seed': must be an integer"
    with pytest.raises(AssertionError, match=expected):
        wavespeed_mock.assert_all_requests_valid()
    wavespeed_mock.reset()
""",
    )
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_invalid_body*", "*'order'*"])


def test_the_live_server(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        test_live="""
import time
import urllib.request


def test_a_real_socket(wavespeed_mock_server):
    with httpx.Client(base_url=wavespeed_mock_server.url) as client:
        client.headers["Authorization"] = f"Bearer {wavespeed_mock_server.api_key}"
        job_id = submit(client, wavespeed_mock_server)
        wavespeed_mock_server.advance(60)
        done = result(client, job_id)
    assert done["status"] == "completed"
    with urllib.request.urlopen(done["outputs"][0]) as response:
        assert response.headers["content-type"] == "video/mp4"


def test_time_flows_by_itself(wavespeed_mock_server):
    wavespeed_mock_server.slow_next(0.2, queue_seconds=0)
    with wavespeed_mock_server.client() as client:
        job_id = submit(client, wavespeed_mock_server)
        time.sleep(0.3)
        assert result(client, job_id)["status"] == "completed"
    wavespeed_mock_server.assert_all_requests_valid()


def test_run_until_idle_and_a_frozen_clock(wavespeed_mock_server):
    wavespeed_mock_server.slow_next(3600)
    wavespeed_mock_server.clock.freeze()
    with wavespeed_mock_server.client() as client:
        job_id = submit(client, wavespeed_mock_server)
        assert wavespeed_mock_server.run_until_idle() == [job_id]
        assert result(client, job_id)["status"] == "completed"


def test_the_next_test_finds_time_flowing(wavespeed_mock_server):
    assert not wavespeed_mock_server.clock.frozen
""",
    )
    run(pytester).assert_outcomes(passed=4)


def test_every_test_starts_from_a_clean_fake(pytester: pytest.Pytester) -> None:
    # Each test asserts it sees nothing and its job completes, then leaves a job,
    # a file, a queued failure and journal entries behind for the next to trip on.
    body = """
def test_{name}_{n}({fixture}):
    mock = {fixture}
    assert mock.jobs() == [] and mock.journal.entries() == []
    assert mock.balance() == Decimal(100)
    with mock.client() as client:
        job_id = submit(client, mock)
        upload = client.post("/api/v3/media/upload/binary", files={{"file": ("a.txt", b"hi")}})
        assert upload.status_code == 200
    mock.run_until_idle()
    assert mock.status(job_id) == "completed"
    mock.fail_next()
"""
    tests = [
        body.format(name=name, n=n, fixture=fixture)
        for name, fixture in [("inproc", "wavespeed_mock"), ("live", "wavespeed_mock_server")]
        for n in (1, 2)
    ]
    project(pytester, test_a="".join(tests), test_b="".join(reversed(tests)))
    run(pytester).assert_outcomes(passed=8)


def test_the_readme_example_passes_as_written(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(test_my_client=EXAMPLE.read_text(encoding="utf-8"))
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=9)
