"""Helpers for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
from store_rows import create_one

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression, Tenant
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator
from cbr_emulator.state import ProjectState
from orchestrator.broker import new_workflow
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CRASH_ENV, CbrActions, Engine
from orchestrator.messages import AnyCommand, BackupCommand
from orchestrator.polling.poller import Poller
from orchestrator.store import Store, Workflow
from orchestrator.worker import run_worker

PROJECT = DEFAULT_TENANT.project_id
REGION = DEFAULT_TENANT.region
DEST = Tenant(  # a project in another region, to replicate into
    access_key="DESTACCESSKEY0000000", secret_key="dest-secret", project_id="f" * 32, region="eu-west-0"
)
ENGINE_PROCESS = Path(__file__).with_name("engine_process.py")


@dataclass(frozen=True)
class EndToEnd:
    """What an end-to-end test works with: the settings, the database, the emulator, the broker."""

    settings: Settings
    store: Store
    emulator: RunningEmulator
    emulator_config: EmulatorConfig
    connection: aio_pika.abc.AbstractRobustConnection
    events_queue: aio_pika.abc.AbstractQueue

    def servers(self, n: int) -> list[str]:
        return servers(self.emulator_config, n)

    async def publish(self, *commands: AnyCommand | bytes) -> None:
        await publish(self.connection, self.settings, *commands)

    async def drain(self, seconds: float = 30, owner: str | None = None) -> None:
        await drain_worker(self.settings, seconds, owner)

    async def workflow(self, command_id: str) -> Workflow:
        """The workflow of ``command_id``, which must exist."""
        wf = await self.store.workflow_by_command(command_id)
        assert wf is not None, command_id
        return wf

    async def final_events(self) -> list[dict[str, Any]]:
        """The events now in the queue that end a workflow (progress events left out)."""
        return [e for e in await collect(self.events_queue) if e["data"]["outcome"] != "progress"]


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


# ------------------------------------------------------------------ engines without the broker


def tuned(settings: Settings, **worker: Any) -> Settings:
    """The settings with some worker settings changed."""
    return settings.model_copy(update={"worker": settings.worker.model_copy(update=worker)})


async def submit(store: Store, *commands: AnyCommand) -> None:
    """Commit workflows as intake does, without the queue."""
    for command in commands:
        await create_one(store, new_workflow(command))


async def eventually(predicate: Callable[[], Awaitable[bool]], seconds: float, step: float = 0.05) -> None:
    """Poll ``predicate`` (the database has no event to wait on here) until true or ``seconds`` pass."""
    for _ in range(int(seconds / step)):
        if await predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


@contextlib.asynccontextmanager
async def running_engines(
    store: Store, settings: Settings, *owners: str, poll_window: float = 0.05
) -> AsyncIterator[list[Engine]]:
    """Engines with their own CBR clients (as separate workers have them), running until the block ends."""
    clients = [CbrClients(settings) for _ in owners]
    engines = [
        Engine(store, settings, CbrActions(own, Poller(own, window=poll_window)), owner)
        for own, owner in zip(clients, owners, strict=True)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in engines]
    try:
        yield engines
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for c in clients:
            await c.close()


async def run_until_done(
    store: Store, settings: Settings, *owners: str, seconds: float = 20, poll_window: float = 0.05
) -> None:
    """Run an engine per owner until no workflow is unfinished."""

    async def all_finished() -> bool:
        return await store.unfinished_count() == 0

    async with running_engines(store, settings, *owners, poll_window=poll_window):
        await eventually(all_finished, seconds)


def engine_env(settings: Settings, crash_at: str | None = None) -> dict[str, str]:
    """The settings as a separate process reads them: environment variables only."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CBR_ORCH_")}
    env |= settings.as_environment()
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return env


async def run_engine_process(settings: Settings, owner: str, crash_at: str, seconds: float = 30) -> int:
    """Run an engine in its own process until it kills itself at ``crash_at``; its exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ENGINE_PROCESS), owner, env=engine_env(settings, crash_at)
    )
    try:
        return await asyncio.wait_for(proc.wait(), seconds)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# ------------------------------------------------------------------ looking inside the emulator


def emulator_project(running: RunningEmulator, project: str = PROJECT, region: str = REGION) -> ProjectState:
    return running.emulator.world.project(region, project)


def checkpoint_count(running: RunningEmulator, project: str = PROJECT) -> int:
    """Checkpoints the emulator holds for ``project``, from its own summary."""
    summary = running.emulator.describe()["projects"]
    return sum(p["checkpoints"] for p in summary if p["project_id"] == project)


def slow_tasks(running: RunningEmulator, seconds: float = 60, failure_probability: float = 0.0) -> None:
    """From now on tasks take ``seconds`` of the emulator's clock (move it with ``running.clock``)."""
    running.emulator.set_progression(
        Progression(base_seconds=seconds, waiting_seconds=0, failure_probability=failure_probability)
    )


def checkpoints_by_marker(running: RunningEmulator, project: str = PROJECT) -> dict[str, int]:
    """How many checkpoints the emulator holds per orchestrator marker (``cbro-<workflow id>``)."""
    counts: dict[str, int] = {}
    for checkpoint in emulator_project(running, project).checkpoints.values():
        marker = next((word for word in (checkpoint.description or "").split() if "cbro-" in word), None)
        if marker is not None:
            key = marker.strip("[]")
            counts[key] = counts.get(key, 0) + 1
    return counts
