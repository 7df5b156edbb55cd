"""The three upload forms WaveSpeed's clients use, old and new.

The ticket flow (``POST /api/v3/media/uploads`` then ``PUT`` of the raw bytes)
is what the current SDKs call; the two single-request multipart forms are
kept for the Go SDK, the desktop app and older Python SDKs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_api.clock import iso_ms
from mock_api.errors import PayloadTooLarge
from mock_api.http import Account, BaseUrls, Service, json_body
from mock_api.multipart import read_file_part
from mock_api.records import StoredFile
from mock_api.urls import TICKETS_PREFIX
from mock_api.views import envelope, stored_file

router = APIRouter()


@router.post("/api/v3/media/uploads")
async def create_ticket(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    body = await json_body(request)
    service.spec.validate_body("createUploadTicket", body)
    size = int(body["size"])  # JSON Schema counts 112.0 as an integer; keep a true int
    ticket = service.uploads.create_ticket(
        account, body["filename"], size, body.get("content_type")
    )
    return JSONResponse(
        envelope(
            {
                "ticket_id": ticket.id,
                "upload": {
                    "method": "PUT",
                    "url": urls.ticket(ticket.id),
                    "headers": {"Content-Type": ticket.content_type},
                },
                "download_url": urls.file(ticket.file_id, ticket.filename),
                "expires_at": iso_ms(ticket.expires_ms),
            }
        )
    )


@router.put(TICKETS_PREFIX + "{ticket_id}")
async def put_ticket(
    ticket_id: str, request: Request, service: Service, urls: BaseUrls
) -> JSONResponse:
    ticket = service.uploads.ticket(ticket_id)
    # Read no more than the ticket allows: a client that sends more is told
    # so as soon as it passes the declared size, not after the whole body.
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > ticket.size:
            raise PayloadTooLarge(
                f"body is larger than the {ticket.size} bytes declared on the ticket",
                field="body",
                reason="too large",
            )
    stored = service.uploads.fulfil_ticket(ticket_id, bytes(received))
    return JSONResponse(envelope(stored_file(stored, urls)))


async def _multipart_file(request: Request, service: Service, account: str) -> StoredFile:
    part = await read_file_part(
        request.headers.get("content-type", ""),
        request.stream(),
        name="file",
        limit_for=service.uploads.limit_for,
    )
    return service.uploads.store_file(account, part.filename, bytes(part.data))


@router.post("/api/v3/media/upload/binary")
async def upload_binary(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    stored = await _multipart_file(request, service, account)
    return JSONResponse(envelope(stored_file(stored, urls)))


@router.post("/api/v3/upload")
async def upload_legacy(
    request: Request, service: Service, account: Account, urls: BaseUrls
) -> JSONResponse:
    stored = await _multipart_file(request, service, account)
    return JSONResponse(envelope({"url": urls.file(stored.id, stored.filename)}))
