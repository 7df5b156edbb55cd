"""mock_api.contract.options: how a run picks its target, options over environment."""

from __future__ import annotations

import pytest

from mock_api.contract.options import OptionError, TargetOptions, resolve

ENV = {"WAVESPEED_BASE_URL": "http://env:1", "WAVESPEED_API_KEY": "env-key"}


def test_nothing_given_means_the_fake_in_process() -> None:
    options = resolve({}, {})
    assert options == TargetOptions()
    assert options.in_process
    assert options.budget_micros == 0


def test_the_environment_is_the_fallback() -> None:
    options = resolve({}, {**ENV, "WAVESPEED_BUDGET": "1.25", "WAVESPEED_VIDEO": "https://v/x"})
    assert (options.base_url, options.api_key) == ("http://env:1", "env-key")
    assert options.budget_micros == 1_250_000
    assert options.video_url == "https://v/x"


def test_options_win_over_the_environment() -> None:
    cli = {
        "wavespeed_base_url": "http://cli:2/",
        "wavespeed_api_key": "cli-key",
        "wavespeed_budget": "0.5",
        "wavespeed_poll_interval": "0.2",
        "wavespeed_timeout": "30",
    }
    options = resolve(cli, {**ENV, "WAVESPEED_BUDGET": "9"})
    assert (options.base_url, options.api_key) == ("http://cli:2", "cli-key")
    assert (options.budget_micros, options.poll_interval, options.timeout) == (500_000, 0.2, 30.0)


def test_a_key_in_the_environment_alone_does_not_leave_the_fake() -> None:
    assert resolve({}, {"WAVESPEED_API_KEY": "real-key"}) == TargetOptions()


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"wavespeed_base_url": "http://x"}, "needs an API key"),
        ({"wavespeed_base_url": "ftp://x", "wavespeed_api_key": "k"}, "not an http"),
        ({"wavespeed_budget": "-1"}, "--wavespeed-budget"),
        ({"wavespeed_poll_interval": "0"}, "must be > 0"),
        ({"wavespeed_timeout": "soon"}, "not a number"),
    ],
)
def test_inconsistent_options_are_refused(cli: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        resolve(cli, {})
