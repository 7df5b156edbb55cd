"""The public API is what ``__all__`` says, sorted, and nothing is missing from it."""

import mock_api


def test_all_is_sorted_and_complete() -> None:
    assert mock_api.__all__ == sorted(mock_api.__all__, key=lambda n: (not n.isupper(), n))
    for name in mock_api.__all__:
        assert hasattr(mock_api, name), name
    public = {
        n
        for n in vars(mock_api)
        if not n.startswith("_") and not isinstance(getattr(mock_api, n), type(mock_api))
    }
    assert public == set(mock_api.__all__)
