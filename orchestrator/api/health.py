"""``/healthz``: the process answers. ``/readyz``: it can do its work (the database and the broker answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import aio_pika
from aiohttp import web
from pydantic import BaseModel

from orchestrator.api.context import context_of
from orchestrator.api.spec import Endpoint

PROBE_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str
    database: str | None = None
    broker: str | None = None


async def healthz(_: web.Request) -> web.Response:
    return web.json_response(Health(status="ok").model_dump(exclude_none=True))


async def readyz(request: web.Request) -> web.Response:
    context = context_of(request)
    database, broker = await asyncio.gather(
        _probe(context.store.ping()), _probe(_broker_answers(context.settings.amqp_url.get_secret_value()))
    )
    ready = database == broker == "ok"
    body = Health(status="ok" if ready else "unavailable", database=database, broker=broker)
    return web.json_response(body.model_dump(exclude_none=True), status=200 if ready else 503)


async def _probe(check: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(check, PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # the reason's class only: a message could carry a URL with a password
        return f"unreachable ({type(exc).__name__})"
    return "ok"


async def _broker_answers(url: str) -> None:
    connection = await aio_pika.connect(url, timeout=PROBE_TIMEOUT_SECONDS)
    await connection.close()


ENDPOINTS = [
    Endpoint("GET", "/healthz", "healthz", "The process answers.", healthz, responses={200: Health}),
    Endpoint(
        "GET",
        "/readyz",
        "readyz",
        "The database and the broker answer.",
        readyz,
        responses={200: Health, 503: Health},
    ),
]
