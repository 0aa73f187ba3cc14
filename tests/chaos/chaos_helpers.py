"""What chaos tests share: a backup command, publishing it, reading the emulator's state and waiting
for a workflow to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aio_pika

from cbr_emulator.config import DEFAULT_TENANT
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator
from orchestrator.broker import command_message
from orchestrator.config import Settings
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


def server_ids(emulator: RunningEmulator, n: int) -> list[str]:
    inventory = build_inventory(
        emulator.emulator.config.inventory, DEFAULT_TENANT.region, DEFAULT_TENANT.project_id
    )
    return list(inventory.servers)[:n]


def checkpoints_by_marker(emulator: RunningEmulator) -> dict[str, int]:
    """How many checkpoints the emulator holds per orchestrator marker (``cbro-<workflow id>``)."""
    project = emulator.emulator.world.project(DEFAULT_TENANT.region, DEFAULT_TENANT.project_id)
    counts: dict[str, int] = {}
    for checkpoint in project.checkpoints.values():
        for word in (checkpoint.description or "").split():
            if "cbro-" in word:
                counts[word.strip("[]")] = counts.get(word.strip("[]"), 0) + 1
    return counts


async def until(condition: Callable[[], bool], seconds: float, step: float = 0.05) -> None:
    """Wait until ``condition()`` holds (another process changes it); fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the condition is another process's doing: nothing to await
            await asyncio.sleep(step)


async def all_ended(store: Store, seconds: float) -> None:
    """Wait until no workflow is unfinished; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while await store.unfinished_count():  # noqa: ASYNC110 - workers elsewhere finish them
            await asyncio.sleep(0.2)


def numbered_backups(emulator: RunningEmulator, n: int, prefix: str, vaults: int = 2) -> list[BackupCommand]:
    """``n`` single-server backups, ``prefix-0`` …, spread over ``vaults`` vaults made as needed."""
    return [
        BackupCommand.model_validate(
            {
                "command_id": f"{prefix}-{i}",
                "project_id": DEFAULT_TENANT.project_id,
                "region": DEFAULT_TENANT.region,
                "vault": {"name": f"{prefix}-vault-{i % vaults}", "create": {"size_gb": 100_000}},
                "resources": [{"id": server}],
            }
        )
        for i, server in enumerate(server_ids(emulator, n))
    ]


async def all_published(store: Store, seconds: float) -> None:
    """Wait until the outbox has nothing left to publish; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while await store.unpublished_count():  # noqa: ASYNC110 - a relay elsewhere publishes them
            await asyncio.sleep(0.1)


async def collect(queue: aio_pika.abc.AbstractQueue, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every message now in ``queue``, as JSON (waiting ``quiet`` seconds without one at the end)."""
    got: list[dict[str, Any]] = []
    while True:
        try:
            message = await queue.get(no_ack=True, fail=True, timeout=quiet)
        except (aio_pika.exceptions.QueueEmpty, TimeoutError):
            await asyncio.sleep(quiet)
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                return got
        got.append(json.loads(message.body))
