"""Helpers for end-to-end tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aio_pika

from orchestrator.config import Settings
from orchestrator.emulator.config import DEFAULT_TENANT, EmulatorConfig
from orchestrator.emulator.inventory import build_inventory
from orchestrator.messages import AnyCommand, BackupCommand
from orchestrator.worker import run_worker

PROJECT = DEFAULT_TENANT.project_id
REGION = DEFAULT_TENANT.region


def servers(config: EmulatorConfig, n: int) -> list[str]:
    return list(build_inventory(config.inventory, REGION, PROJECT).servers)[:n]


def backup_command(
    command_id: str, server_ids: list[str], vault: str = "vault-e2e", **over: Any
) -> BackupCommand:
    return BackupCommand.model_validate(
        {
            "command_id": command_id,
            "project_id": PROJECT,
            "region": REGION,
            "vault": {"name": vault, "create": {"size_gb": 100_000}},
            "resources": [{"id": s} for s in server_ids],
            **over,
        }
    )


async def publish(
    connection: aio_pika.abc.AbstractRobustConnection, settings: Settings, *commands: AnyCommand | bytes
) -> None:
    from orchestrator.broker import command_message

    channel = await connection.channel(publisher_confirms=True)
    for command in commands:
        msg = aio_pika.Message(command) if isinstance(command, bytes) else command_message(command)
        await channel.default_exchange.publish(msg, routing_key=settings.names.commands_queue)
    await channel.close()


async def drain_worker(settings: Settings, seconds: float = 30, owner: str | None = None) -> None:
    await asyncio.wait_for(run_worker(settings, asyncio.Event(), drain=True, owner=owner), seconds)


async def collect(queue: aio_pika.abc.AbstractQueue, seconds: float = 0.5) -> list[dict[str, Any]]:
    """Every message now in the queue (waiting ``seconds`` of quiet at the end)."""
    got: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    quiet_until = loop.time() + seconds
    while loop.time() < quiet_until:
        msg = await queue.get(no_ack=True, fail=False)
        if msg is None:
            await asyncio.sleep(0.05)
            continue
        got.append(json.loads(msg.body))
        quiet_until = loop.time() + seconds
    return got


def client_for(base_url: str, tenant: Any) -> Any:
    from orchestrator.cbr.auth import AkSkAuth
    from orchestrator.cbr.client import CbrClient
    from orchestrator.cbr.endpoints import Endpoints
    from orchestrator.cbr.signing import Credentials

    return CbrClient(
        region=tenant.region,
        project_id=tenant.project_id,
        auth=AkSkAuth(Credentials(tenant.access_key, tenant.secret_key)),
        endpoints=Endpoints.single(base_url),
    )
