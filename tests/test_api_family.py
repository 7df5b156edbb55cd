"""Every model of the InfiniteTalk family through HTTP, built and judged by the contract suite.

Each job is made by the contract suite's job builder from the registry entry
(:func:`mock_api.contract.jobs.upload_job`: uploads through tickets, a PNG or
an MP4 and one silent WAV per audio input), followed to completion on a
manual clock with every read held to the spec, and judged by the rule
restated apart from the fake (:mod:`mock_api.contract.rule`): the charge is
the model's rate at its resolution for the billed seconds (its own minimum),
and the output video lasts as long as the speech.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mock_api.contract.invariants import Poller
from mock_api.contract.jobs import balance_micros, submit, upload_job
from mock_api.contract.output import check_output_video, expected_output_ms
from mock_api.contract.rule import FAKE_PADDING_MS, FAMILY, Order, cost_micros, tariff
from mock_api.contract.target import Target, in_process
from mock_api.models import MODELS_BY_ID

# Lengths chosen away from whole seconds, so the padding tolerance does not decide.
CASES: list[tuple[str, str, tuple[int, ...], Order | None]] = []
for _model, _tariffs in FAMILY.items():
    for _resolution in _tariffs:
        if _tariffs[_resolution].tracks == 1:
            CASES.append((_model, _resolution, (3_400,), None))  # under the 5 s floor
            CASES.append((_model, _resolution, (7_250,), None))
        else:
            CASES.append((_model, _resolution, (3_400, 4_300), "left_right"))  # 7.7 s in turn
            CASES.append((_model, _resolution, (6_200, 2_100), "meanwhile"))


@pytest.fixture
def target() -> Iterator[Target]:
    made = in_process()
    yield made
    made.close()


@pytest.mark.parametrize(
    ("model", "resolution", "audio_ms", "order"),
    CASES,
    ids=[f"{m}@{r or '-'}:{'+'.join(map(str, a))}:{o or '-'}" for m, r, a, o in CASES],
)
def test_every_model_runs_to_completion_and_charges_its_rule(
    target: Target, model: str, resolution: str, audio_ms: tuple[int, ...], order: Order | None
) -> None:
    api, cdn = target.client(), target.client(auth=False)
    job = upload_job(api, cdn, model, audio_ms, order=order, resolution=resolution or None)
    before = balance_micros(api)
    first = submit(api, job.body(seed=7), path=job.path)
    assert first["model"] == model
    history = Poller(api, target.wait, target.poll_interval, target.timeout).follow(
        str(first["id"]), first
    )
    assert history[-1]["status"] == "completed"

    rule = tariff(model, resolution)
    left, right = (*audio_ms, 0)[:2]
    spoken_order: Order = order or "meanwhile"
    want = cost_micros(left, right, spoken_order, padding_ms=FAKE_PADDING_MS, tariff=rule)
    assert before - balance_micros(api) == want
    check_output_video(cdn, history[-1], expected_output_ms(left, right, spoken_order, tariff=rule))


def test_every_model_bills_at_least_5_seconds(target: Target) -> None:
    """1.2 s of audio bills 5 s on every model: the recorded catalogue's minimum.

    A newer revision of two one-speaker standard pages said 3 s; the real
    catalogue's formulas all read ``$max([5, ...])`` and the recorded answer wins.
    """
    api, cdn = target.client(), target.client(auth=False)
    for model, tariffs in FAMILY.items():
        job = upload_job(api, cdn, model, (1_200,) * next(iter(tariffs.values())).tracks)
        before = balance_micros(api)
        submit(api, job.body(), path=job.path)
        rate = {15_000, 30_000} & {t.rate_micros_per_second for t in tariffs.values()}
        assert before - balance_micros(api) == 5 * rate.pop(), model


def test_a_model_refuses_what_its_schema_lacks_and_names_the_field(target: Target) -> None:
    """Each route validates against its own schema: no video for an image model, no 1080p."""
    api = target.client()
    image_model = MODELS_BY_ID["wavespeed-ai/infinitetalk"]
    missing = api.post(image_model.api_path, json={"video": "https://example.com/v.mp4"})
    assert missing.status_code == 400
    fields = {v["field"] for v in missing.json()["details"]}
    assert fields == {"image", "audio"}
    too_fine = api.post(
        image_model.api_path,
        json={
            "image": "https://example.com/p.png",
            "audio": "https://example.com/a.wav",
            "resolution": "1080p",
        },
    )
    assert too_fine.status_code == 400
    assert "resolution" in too_fine.text
    fast = MODELS_BY_ID["wavespeed-ai/infinitetalk-fast/multi"]
    no_right = api.post(
        fast.api_path,
        json={"image": "https://example.com/p.png", "left_audio": "https://example.com/a.wav"},
    )
    assert no_right.status_code == 400
    assert {v["field"] for v in no_right.json()["details"]} == {"right_audio"}
