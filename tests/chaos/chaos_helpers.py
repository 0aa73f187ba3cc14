"""What chaos tests share: a backup command, publishing it, reading the emulator's state and waiting
for a workflow to end."""

from __future__ import annotations

import asyncio

import aio_pika

from orchestrator.broker import command_message
from orchestrator.config import Settings
from orchestrator.emulator.config import DEFAULT_TENANT
from orchestrator.emulator.inventory import build_inventory
from orchestrator.emulator.server import RunningEmulator
from orchestrator.messages import BackupCommand
from orchestrator.store import Store, WorkflowStatus


def backup_command(command_id: str, emulator: RunningEmulator) -> BackupCommand:
    inventory = build_inventory(
        emulator.emulator.config.inventory, DEFAULT_TENANT.region, DEFAULT_TENANT.project_id
    )
    return BackupCommand.model_validate(
        {
            "command_id": command_id,
            "project_id": DEFAULT_TENANT.project_id,
            "region": DEFAULT_TENANT.region,
            "vault": {"name": "vault-chaos", "create": {"size_gb": 1000}},
            "resources": [{"id": server} for server in list(inventory.servers)[:1]],
        }
    )


async def publish(
    broker: aio_pika.abc.AbstractConnection, settings: Settings, command: BackupCommand
) -> None:
    channel = await broker.channel(publisher_confirms=True)
    await channel.default_exchange.publish(
        command_message(command), routing_key=settings.names.commands_queue
    )
    await channel.close()


def checkpoints_held(emulator: RunningEmulator) -> int:
    projects = emulator.emulator.describe()["projects"]
    return sum(p["checkpoints"] for p in projects if p["project_id"] == DEFAULT_TENANT.project_id)


async def ended(store: Store, command_id: str, seconds: float) -> WorkflowStatus:
    """The workflow's status once it is no longer running (fails after ``seconds``)."""
    async with asyncio.timeout(seconds):
        while True:
            workflow = await store.workflow_by_command(command_id)
            if workflow is not None and workflow.status.is_final:
                return workflow.status
            await asyncio.sleep(0.1)
