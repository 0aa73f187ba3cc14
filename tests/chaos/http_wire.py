"""The little HTTP/1.1 the proxy's ``HttpErrorAfterForward`` needs: read one request, write an error."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from http import HTTPStatus

from proxy_modes import HttpErrorAfterForward

CHUNK = 65_536
_REQUEST_LINE = re.compile(rb"^[A-Z]+ \S+ HTTP/1\.[01]\r\n")
_HOP_HEADERS = (b"connection", b"keep-alive")


def starts_a_request(data: bytes) -> bool:
    return _REQUEST_LINE.match(data) is not None


async def read_request(reader: asyncio.StreamReader, first: bytes) -> bytes:
    """One whole request starting with ``first``, rewritten to ask for ``Connection: close``."""
    buffer = bytearray(first)
    while b"\r\n\r\n" not in buffer:
        buffer += await _more(reader)
    head, _, body = bytes(buffer).partition(b"\r\n\r\n")
    request_line, *headers = head.split(b"\r\n")
    named = {_name(line): line.partition(b":")[2].strip() for line in headers}
    if b"transfer-encoding" in named:
        raise NotImplementedError("HttpErrorAfterForward reads request bodies by Content-Length only")
    length = int(named.get(b"content-length", b"0"))
    while len(body) < length:
        body += await _more(reader)
    kept = [line for line in headers if _name(line) not in _HOP_HEADERS]
    return b"\r\n".join([request_line, *kept, b"Connection: close"]) + b"\r\n\r\n" + body[:length]


def _name(header_line: bytes) -> bytes:
    return header_line.partition(b":")[0].strip().lower()


async def _more(reader: asyncio.StreamReader) -> bytes:
    data = await reader.read(CHUNK)
    if not data:
        raise ConnectionError("the client closed the connection in the middle of a request")
    return data


def error_response(behaviour: HttpErrorAfterForward) -> bytes:
    """The gateway's answer: a CBR-shaped JSON error, and the connection closed after it."""
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {"error_code": behaviour.error_code, "error_msg": behaviour.error_msg, "request_id": request_id}
    ).encode()
    head = (
        f"HTTP/1.1 {behaviour.status} {HTTPStatus(behaviour.status).phrase}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\nX-Request-Id: {request_id}\r\n\r\n"
    )
    return head.encode() + body
