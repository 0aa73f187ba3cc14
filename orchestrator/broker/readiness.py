"""Whether a process can do its work: the database and the broker answer (``/readyz`` on the metrics
port). Each is asked on a connection of its own, within a short timeout."""

from __future__ import annotations

import asyncio

import aio_pika

from orchestrator.config import Settings
from orchestrator.observability.metrics_server import PROBE_TIMEOUT_SECONDS, probe
from orchestrator.store.database import database_answers


async def readiness(settings: Settings) -> dict[str, str]:
    """``{"database": ..., "broker": ...}``, each ``ok`` or why not."""
    database, broker = await asyncio.gather(
        probe(database_answers(settings.database_url, PROBE_TIMEOUT_SECONDS)),
        probe(broker_answers(settings.amqp_url.get_secret_value())),
    )
    return {"database": database, "broker": broker}


async def broker_answers(url: str) -> None:
    connection = await aio_pika.connect(url, timeout=PROBE_TIMEOUT_SECONDS)
    await connection.close()
