"""Reading a request body: bounded size, JSON content type, strict UTF-8 and strict JSON.

Every refusal is a 400 ``BackupService.9900`` raised before the domain sees the request, so the
emulator's state is untouched. ``Content-Type`` may be ``application/json`` with or without a
``charset=utf-8`` parameter; requests without a body (GET, DELETE) may carry any content type or none.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from aiohttp import web

from cbr_emulator.errors import CbrError

_CHUNK = 64 * 1024


def _too_large(limit: int) -> CbrError:
    return CbrError.of("9900", f"The request body is too large (more than {limit} bytes).")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes (checked on Content-Length and while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(_CHUNK):
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def check_content_type(request: web.BaseRequest) -> None:
    if "Content-Type" not in request.headers:
        return
    if request.content_type != "application/json":
        raise CbrError.of("9900", "The Content-Type must be application/json.")
    if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise CbrError.of("9900", "The request body must be encoded in UTF-8.")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """The parsed body, ``None`` for an empty one."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CbrError.of("9900", "The request body is not valid UTF-8.") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "malformed JSON"
        raise CbrError.of("9900", f"The request body is not valid JSON: {detail}.") from None


async def read_json(request: web.Request, limit: int) -> tuple[bytes, Any]:
    """Raw bytes (for the signature) and the parsed JSON of a request."""
    raw = await read_body(request, limit)
    if raw:
        check_content_type(request)
    return raw, parse_json(raw)
