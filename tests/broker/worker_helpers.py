"""Helpers for tests that run a real worker: its parts started as ``run_worker`` starts them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.inventory import build_inventory
from orchestrator.config import Settings
from orchestrator.worker import WorkerParts, _close, _start

PROJECT, REGION = DEFAULT_TENANT.project_id, DEFAULT_TENANT.region
EMULATOR_CONFIG = EmulatorConfig(progression=Progression.instantly())


def servers(n: int) -> list[str]:
    return list(build_inventory(EMULATOR_CONFIG.inventory, REGION, PROJECT).servers)[:n]


@asynccontextmanager
async def running_worker(
    settings: Settings, closes: list[str], engine: bool = True
) -> AsyncIterator[WorkerParts]:
    """A worker as ``run_worker`` starts it (intake, relay and, unless told, engine running); every close of
    its intake or relay connection is recorded in ``closes``."""
    parts = await _start(settings, owner=None)
    parts.connection.close_callbacks.add(lambda *_: closes.append("intake"))
    parts.relay_connection.close_callbacks.add(lambda *_: closes.append("relay"))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(parts.relay.run(stop))]
    if engine:
        tasks.append(asyncio.create_task(parts.engine.run(stop)))
    try:
        yield parts
    finally:
        stop.set()
        parts.relay.wake()
        await asyncio.gather(*tasks)
        await _close(parts)


def backup(command_id: str, server: str, **over: Any) -> dict[str, Any]:
    """A backup command of the emulator's tenant, as a JSON object."""
    body = {
        "kind": "backup",
        "command_id": command_id,
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"name": "vault-worker", "create": {"size_gb": 100_000}},
        "resources": [{"id": server}],
    }
    return {**body, **over}


def with_raw(command: dict[str, Any], raw: str) -> bytes:
    """``command`` as JSON with ``raw`` JSON text in place of the string "@RAW@"."""
    return json.dumps(command).replace('"@RAW@"', raw).encode()


async def publish(connection: AbstractRobustConnection, queue: str, messages: list[aio_pika.Message]) -> None:
    channel = await connection.channel(publisher_confirms=True)
    for message in messages:
        await channel.default_exchange.publish(message, routing_key=queue)
    await channel.close()
