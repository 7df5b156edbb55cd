"""Files keep their bytes; tickets are taken once and can be returned.

Run against every store of ``STORES`` (``tests/store_suites/conftest.py``).
"""

from __future__ import annotations

from mock_api.records import StoredFile, UploadTicket
from mock_api.storage import FileStore
from tests.store_suites.conftest import T0


def test_files_keep_their_bytes(files: FileStore) -> None:
    data = bytes(range(256)) * 1000 + b"\x00"
    stored = StoredFile("f" * 32, "acct_1", "left.wav", "audio/wav", "audio", data, T0)
    files.add_file(stored)
    assert files.file("f" * 32) == stored
    assert files.file("0" * 32) is None


def test_tickets_are_taken_once_and_can_be_returned(files: FileStore) -> None:
    ticket = UploadTicket("t1", "acct_1", "f1", "a.wav", 44, "audio/wav", T0 + 3_600_000)
    files.add_ticket(ticket)
    assert files.ticket("t1") == ticket
    assert files.take_ticket("t1") == ticket
    assert files.take_ticket("t1") is None
    assert files.ticket("t1") is None
    files.return_ticket(ticket)
    assert files.take_ticket("t1") == ticket
