"""Uploaded files and upload tickets.

One of the small services :class:`~mock_api.service.MockService` is made of:
the two upload routes (a multipart or binary body; a ticket, then a PUT of
exactly the size it was issued for) keep files here, and jobs read their
media from here when a media URL is one of the fake's own. A file's kind and
type come from its bytes, never its name, and each kind has its size limit
(``Settings.upload_limits``). It keeps them in the store protocol of its
concern (:class:`~mock_api.storage.FileStore`), in the store's transactions.
"""

from __future__ import annotations

from collections.abc import Callable

from mock_api.clock import Clock
from mock_api.errors import NotFound, PayloadTooLarge, ValidationFailed
from mock_api.media import sniff_content_type, sniff_kind
from mock_api.records import MediaKind, StoredFile, UploadTicket
from mock_api.settings import Settings
from mock_api.storage import FileStore

__all__ = ["Uploads"]


class Uploads:
    """Keeps uploads, issues and redeems tickets, and says each kind's size limit."""

    def __init__(
        self, settings: Settings, clock: Clock, files: FileStore, new_id: Callable[[], str]
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._files = files
        self._new_id = new_id

    def file(self, file_id: str) -> StoredFile | None:
        """An uploaded file by id (a capability URL: whoever has the URL may read it)."""
        return self._files.file(file_id)

    def limit_for(self, head: bytes) -> tuple[str, int]:
        """The kind and size limit of a file that starts with ``head``, sniffed."""
        kind = sniff_kind(head) or "other"
        return kind, self._settings.upload_limits[kind]

    def store_file(self, account: str, filename: str, data: bytes) -> StoredFile:
        """Keep an upload; its kind and type come from its bytes, not its name."""
        kind: MediaKind = sniff_kind(data) or "other"
        self._check_size(kind, len(data))
        stored = StoredFile(
            id=self._new_id(),
            account=account,
            filename=_safe_filename(filename),
            content_type=sniff_content_type(data) or "application/octet-stream",
            kind=kind,
            data=data,
            created_ms=self._clock.now_ms(),
        )
        self._files.add_file(stored)
        return stored

    def create_ticket(
        self, account: str, filename: str, size: int, content_type: str | None
    ) -> UploadTicket:
        """A ticket for one PUT of exactly ``size`` bytes, valid ``Settings.ticket_ttl_ms``."""
        kind = _kind_from_content_type(content_type)
        self._check_size(kind, size)
        ticket = UploadTicket(
            id=self._new_id(),
            account=account,
            file_id=self._new_id(),
            filename=_safe_filename(filename),
            size=size,
            content_type=content_type or "application/octet-stream",
            expires_ms=self._clock.now_ms() + self._settings.ticket_ttl_ms,
        )
        self._files.add_ticket(ticket)
        return ticket

    def ticket(self, ticket_id: str) -> UploadTicket:
        """An open ticket; used, expired and unknown ones are all 404."""
        ticket = self._files.ticket(ticket_id)
        if ticket is None or ticket.expires_ms < self._clock.now_ms():
            raise NotFound(f"upload ticket {ticket_id} not found, used or expired")
        return ticket

    def fulfil_ticket(self, ticket_id: str, data: bytes) -> StoredFile:
        """Keep the PUT body of an open ticket; a body of another size leaves it open.

        Taking the ticket and keeping the file are one transaction: when keeping
        the file fails (a full disk, a crash), the ticket is still open and the
        client's retry works, rather than a 404 and a ``download_url`` that never
        serves anything.
        """
        with self._files.transaction():
            ticket = self.ticket(ticket_id)
            if len(data) != ticket.size:
                raise ValidationFailed(
                    field="body",
                    reason=f"is {len(data)} bytes; the ticket was issued for {ticket.size}",
                )
            kind: MediaKind = sniff_kind(data) or "other"
            self._check_size(kind, len(data))
            self._files.take_ticket(ticket_id)  # open: this transaction just read it
            stored = StoredFile(
                id=ticket.file_id,
                account=ticket.account,
                filename=ticket.filename,
                content_type=sniff_content_type(data) or ticket.content_type,
                kind=kind,
                data=data,
                created_ms=self._clock.now_ms(),
            )
            self._files.add_file(stored)
        return stored

    def _check_size(self, kind: MediaKind, size: int) -> None:
        limit = self._settings.upload_limits[kind]
        if size > limit:
            raise PayloadTooLarge(
                f"file is {size} bytes; the limit for {kind} is {limit} bytes",
                field="size",
                reason="too large",
            )


def _kind_from_content_type(content_type: str | None) -> MediaKind:
    major = (content_type or "").split("/", 1)[0].strip().lower()
    if major in ("image", "video", "audio"):
        return major  # type: ignore[return-value]
    return "other"


def _safe_filename(name: str) -> str:
    """A name to show in URLs: the last path segment, with no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')
    cleaned = cleaned.strip(" .")
    return cleaned[:255] or "upload"
