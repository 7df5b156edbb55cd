"""What the suite sends a paid target: generated media that no service can read."""

from __future__ import annotations

from mock_api.contract.schema import UNFETCHABLE, make_unfetchable


def test_urls_and_data_uris_become_unreadable_and_the_rest_stays_as_generated() -> None:
    body = {
        "video": "https://example.com/two-people.mp4",
        "left_audio": "data:audio/wav;base64,UklGRg==",  # inline media a service would read
        "right_audio": "not a url",  # a negative case stays exactly as invalid
        "mask_image": "",  # "" is an absent optional input
        "prompt": "https://example.com/not-media",
    }
    swapped = make_unfetchable(body)
    assert swapped == {
        "video": UNFETCHABLE.format(field="video"),
        "left_audio": UNFETCHABLE.format(field="left_audio"),
        "right_audio": "not a url",
        "mask_image": "",
        "prompt": "https://example.com/not-media",
    }
    assert body["left_audio"].startswith("data:")  # the generated case is not changed in place
