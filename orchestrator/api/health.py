"""``/healthz``: the process answers. ``/readyz``: it can do its work (the database and the broker answer)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel

from orchestrator.api.context import context_of
from orchestrator.api.spec import Endpoint
from orchestrator.broker.readiness import broker_answers
from orchestrator.observability.metrics_server import probe


class Health(BaseModel):
    status: str
    database: str | None = None
    broker: str | None = None


async def healthz(_: web.Request) -> web.Response:
    return web.json_response(Health(status="ok").model_dump(exclude_none=True))


async def readyz(request: web.Request) -> web.Response:
    context = context_of(request)
    database, broker = await asyncio.gather(
        probe(context.store.ping()), probe(broker_answers(context.settings.amqp_url.get_secret_value()))
    )
    ready = database == broker == "ok"
    body = Health(status="ok" if ready else "unavailable", database=database, broker=broker)
    return web.json_response(body.model_dump(exclude_none=True), status=200 if ready else 503)


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
