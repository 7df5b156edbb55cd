"""Files keep their bytes; tickets are taken once and can be returned.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from mock_api.store import (
    FileStore,
    StoredFile,
    UploadTicket,
)
from tests.store_suites.conftest import T0


def test_files_keep_their_bytes(store: FileStore) -> None:
    data = bytes(range(256)) * 1000 + b"\x00"
    stored = StoredFile("f" * 32, "acct_1", "left.wav", "audio/wav", "audio", data, T0)
    store.add_file(stored)
    assert store.file("f" * 32) == stored
    assert store.file("0" * 32) is None


def test_tickets_are_taken_once_and_can_be_returned(store: FileStore) -> None:
    ticket = UploadTicket("t1", "acct_1", "f1", "a.wav", 44, "audio/wav", T0 + 3_600_000)
    store.add_ticket(ticket)
    assert store.ticket("t1") == ticket
    assert store.take_ticket("t1") == ticket
    assert store.take_ticket("t1") is None
    assert store.ticket("t1") is None
    store.return_ticket(ticket)
    assert store.take_ticket("t1") == ticket
