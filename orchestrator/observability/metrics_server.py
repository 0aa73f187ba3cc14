"""The metrics endpoint of a process: ``/metrics`` (Prometheus text), ``/healthz`` (the loop answers) and
``/readyz`` (every readiness check of the process answers ``ok``; 503 otherwise).

The registry is the process's, so one endpoint serves a process: a worker and an API server started in the
same process (the demo) share it, each adding its readiness checks while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from orchestrator.config import MetricsSettings

log = logging.getLogger(__name__)

OK = "ok"
PROBE_TIMEOUT_SECONDS = 2.0

# what a readiness check answers: per thing checked, "ok" or why not
Readiness = Callable[[], Awaitable[Mapping[str, str]]]


class MetricsServerError(RuntimeError):
    """The endpoint could not listen where it was told to."""


async def probe(check: Awaitable[object]) -> str:
    """``ok`` when ``check`` completes in time; else the reason's class (a message may carry a URL with a
    password)."""
    try:
        await asyncio.wait_for(check, PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return OK


async def _metrics(_: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": OK})


@dataclass
class _Endpoint:
    runner: web.AppRunner
    users: int = 0
    checks: list[Readiness] = field(default_factory=list)

    async def readyz(self, _: web.Request) -> web.Response:
        answers: dict[str, str] = {}
        for found in await asyncio.gather(*(check() for check in self.checks)):
            answers.update(found)
        ready = all(answer == OK for answer in answers.values())
        body = {"status": OK if ready else "unavailable", **answers}
        return web.json_response(body, status=200 if ready else 503)


_SERVING: dict[tuple[str, int], _Endpoint] = {}


async def _open(host: str, port: int) -> _Endpoint:
    app = web.Application()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    endpoint = _Endpoint(runner)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", endpoint.readyz)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise MetricsServerError(
            f"CBR_ORCH_METRICS__PORT: cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__}); "
            "choose a free port (0: no metrics endpoint), or another address with CBR_ORCH_METRICS__HOST"
        ) from None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return endpoint


@contextlib.asynccontextmanager
async def metrics_served(
    settings: MetricsSettings, readiness: Readiness | None = None
) -> AsyncIterator[None]:
    """Serve the endpoint while inside (nothing when ``settings.port`` is 0); ``readiness`` is asked on
    every ``/readyz`` meanwhile."""
    if settings.port == 0:
        yield
        return
    where = (settings.host, settings.port)
    endpoint = _SERVING.get(where)
    if endpoint is None:
        endpoint = _SERVING[where] = await _open(*where)
    endpoint.users += 1
    if readiness is not None:
        endpoint.checks.append(readiness)
    try:
        yield
    finally:
        endpoint.users -= 1
        if readiness is not None:
            endpoint.checks.remove(readiness)
        if endpoint.users == 0:
            del _SERVING[where]
            await endpoint.runner.cleanup()
