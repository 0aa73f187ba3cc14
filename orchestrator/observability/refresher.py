"""Gauges read from elsewhere (PostgreSQL, RabbitMQ), refreshed on a timer rather than on every scrape: a
scrape costs the database and the broker nothing, and several Prometheus servers cost no more than one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

# reads its source and sets its gauges; a failure leaves them as they were
Sampler = Callable[[], Awaitable[None]]


async def refresh_once(samplers: Sequence[Sampler]) -> None:
    for sample in samplers:
        try:
            await sample()
        except Exception as exc:  # the source away for a moment: the next refresh tries again
            log.warning("metrics refresh %s failed (%s)", _name_of(sample), type(exc).__name__)


async def refresh_every(seconds: float, samplers: Sequence[Sampler]) -> None:
    """Until cancelled: every sampler, then a pause of ``seconds``."""
    while True:
        await refresh_once(samplers)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def refreshing(seconds: float, samplers: Sequence[Sampler]) -> AsyncIterator[None]:
    """Refresh in the background while inside."""
    task = asyncio.create_task(refresh_every(seconds, samplers), name="metrics-refresh")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _name_of(sample: Sampler) -> str:
    return getattr(sample, "__qualname__", None) or type(sample).__name__
