"""The API server: one aiohttp application whose only state is in PostgreSQL, so that several processes
can serve behind a load balancer."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Sequence

from aiohttp import web

from orchestrator.api import commands, coverage, events, health, hooks, schedules, status_page, workflows
from orchestrator.api.context import CONTEXT, ApiContext
from orchestrator.api.middleware import measured, problems
from orchestrator.api.spec import OPENAPI_PATH, Endpoint, openapi_document, routes_of
from orchestrator.broker.readiness import readiness
from orchestrator.config import Settings
from orchestrator.observability.metrics_server import metrics_served
from orchestrator.store import Store

log = logging.getLogger(__name__)


def endpoints() -> list[Endpoint]:
    """Every endpoint of the API, in the order the OpenAPI document lists them."""
    return [
        *health.ENDPOINTS,
        *events.ENDPOINTS,
        *commands.ENDPOINTS,
        *workflows.ENDPOINTS,
        *coverage.ENDPOINTS,
        *schedules.ENDPOINTS,
        *hooks.ENDPOINTS,
    ]


def build_app(context: ApiContext, served: Sequence[Endpoint] | None = None) -> web.Application:
    chosen = list(served if served is not None else endpoints())
    app = web.Application(
        middlewares=[measured, problems], client_max_size=context.settings.api.max_body_bytes
    )
    app[CONTEXT] = context
    document = openapi_document(chosen)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_routes([*routes_of(chosen), web.get(OPENAPI_PATH, openapi)])
    events.install(app)
    status_page.install(app)  # HTML, not in the OpenAPI document
    return app


async def run_api(settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then finish the requests in flight and close. SIGHUP reloads the
    triggers file. The metrics endpoint is served meanwhile (unless its port is 0), once the triggers file
    is known good."""
    store = await Store.connect(settings.database_url)
    try:
        context = ApiContext(settings, store)  # a triggers file that cannot be used: TriggerError
    except BaseException:
        await store.close()
        raise
    runner = web.AppRunner(build_app(context), handle_signals=False)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, context.triggers.reload)
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.api.host, settings.api.port)
        await site.start()
        log.info("API listening on http://%s:%d", settings.api.host, settings.api.port)
        async with metrics_served(settings.metrics, functools.partial(readiness, settings)):
            await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        await runner.cleanup()
        await store.close()
