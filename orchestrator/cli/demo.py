"""The main job's demonstration: commands through RabbitMQ, workflows in PostgreSQL, CBR on the emulator.

It starts the emulator in-process (two tenants in two regions), migrates a demo database, starts a
worker, submits a backup of several servers, then a restore and a cross-region replication of one of
the backups, and prints every event as it arrives. It exits 0 when all three workflows succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from rich.console import Console
from rich.markup import escape

from cbr_emulator.config import DEFAULT_TENANT, Tenant
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import declare_topology, delete_topology, submit
from orchestrator.cbr.bodies import BillingCreate, VaultCreate
from orchestrator.cbr.client import CbrClient
from orchestrator.cli.demo_webhook import TRIGGER, api_server, send_alert
from orchestrator.cli.tour import REPLICA_TENANT, aksk_client, tour_config
from orchestrator.config import MetricsSettings, Names, ProjectCredentials, Settings, WorkerSettings
from orchestrator.messages import AnyCommand, BackupCommand, ReplicateCommand, RestoreCommand, WorkflowEvent
from orchestrator.store import run_migrations
from orchestrator.store.database import create_database
from orchestrator.worker import run_worker

DEMO_DATABASE = "cbr_orchestrator_demo"
SERVER_COUNT = 4
WAIT_SECONDS = 120


class DemoFailed(Exception):
    """A workflow of the demo did not succeed, or did not finish in time."""


@dataclass
class EventLog:
    """Final events by command id, printed as they arrive; duplicates (same event id) are dropped."""

    console: Console
    finals: dict[str, WorkflowEvent] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            event = WorkflowEvent.model_validate_json(message.body)
            if event.id in self.seen:
                return
            self.seen.add(event.id)
            self.show(event)
            if event.data.outcome.value != "progress":
                self.finals[event.data.command_id] = event
                self.arrived.set()

    def show(self, event: WorkflowEvent) -> None:
        data = event.data
        detail = f"{data.progress}%" if data.progress is not None else ""
        if data.resources:
            done = sum(r.status == "succeeded" for r in data.resources)
            detail += f" {done}/{len(data.resources)} resources {data.kind} ok"
        if data.destination_backup_id:
            detail += f" replica {escape(data.destination_backup_id)}"
        if data.error_code:
            detail += f" [red]{escape(f'{data.error_code}: {data.error_message}')}[/]"
        self.console.print(
            f"  [magenta]event[/] {event.type:<40} {escape(f'{data.command_id:<14}')} {detail}"
        )

    async def final(self, command_id: str) -> WorkflowEvent:
        async with asyncio.timeout(WAIT_SECONDS):
            while command_id not in self.finals:
                self.arrived.clear()
                await self.arrived.wait()
        return self.finals[command_id]


def demo_settings(base_url: str, database_url: str) -> Settings:
    tenants = (DEFAULT_TENANT, REPLICA_TENANT)
    return Settings(
        database_url=database_url,
        names=Names(prefix=f"cbr-demo-{uuid.uuid4().hex[:8]}"),
        credentials=[_credentials(tenant) for tenant in tenants],
        cbr_endpoints={tenant.region: base_url for tenant in tenants},
        worker=WorkerSettings(status_poll_seconds=0.5, idle_poll_seconds=0.2, relay_poll_seconds=0.5),
        metrics=MetricsSettings(port=0),  # a demo beside a running worker must not fight for its port
    )


def _credentials(tenant: Tenant) -> ProjectCredentials:
    return ProjectCredentials.model_validate(
        {
            "project_id": tenant.project_id,
            "region": tenant.region,
            "access_key": tenant.access_key,
            "secret_key": tenant.secret_key,
        }
    )


async def ensure_database(server_dsn: str, name: str) -> str:
    """Create the demo database when missing; return its DSN."""
    dsn = f"{server_dsn}/{name}"
    await create_database(dsn)
    return dsn


@contextlib.asynccontextmanager
async def event_subscription(settings: Settings, log: EventLog) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    try:
        channel = await connection.channel()
        await declare_topology(channel, settings.names, settings.worker.delivery_limit)
        queue = await channel.declare_queue(exclusive=True)
        # the workflows' events only: a coverage refresh on the same database may have told posture.* ones
        await queue.bind(settings.names.events_exchange, routing_key="workflow.#")
        await queue.consume(log.on_message)
        yield connection
        await delete_topology(await connection.channel(), settings.names)
    finally:
        await connection.close()


@dataclass
class Demo:
    settings: Settings
    running: RunningEmulator
    log: EventLog
    console: Console

    async def run(self) -> None:
        async with aksk_client(self.running.base_url, DEFAULT_TENANT) as source:
            servers = [s.id for s in await source.list_protectables("server", limit=SERVER_COUNT)]
            backup = await self.backup(servers)
            first = backup.data.resources[0]
            if first.backup_id is None:
                raise DemoFailed("the backup event carries no backup id")
            disks = (await source.show_backup(first.backup_id)).children or []
        async with aksk_client(self.running.base_url, REPLICA_TENANT) as replica:
            vault_id = await self.replication_vault(replica)
        restore = RestoreCommand.model_validate(
            {
                **self.target(DEFAULT_TENANT, "demo-restore"),
                "backup_id": first.backup_id,
                "server_id": first.resource_id,
                "mappings": [{"backup_id": d.id, "volume_id": d.resource_id} for d in disks],
            }
        )
        replicate = ReplicateCommand.model_validate(
            {
                **self.target(DEFAULT_TENANT, "demo-replicate"),
                "backup_id": first.backup_id,
                "destination_region": REPLICA_TENANT.region,
                "destination_project_id": REPLICA_TENANT.project_id,
                "destination_vault_id": vault_id,
            }
        )
        self.step("submitting a restore of the first server and a replication of its backup to eu-west-0")
        await asyncio.gather(self.run_command(restore), self.run_command(replicate))

    async def backup(self, servers: list[str]) -> WorkflowEvent:
        command = BackupCommand.model_validate(
            {
                **self.target(DEFAULT_TENANT, "demo-backup"),
                "vault": {"name": "demo-vault", "create": {"size_gb": 2000}},
                "resources": [{"id": server} for server in servers],
                "name": "demo-backup",
            }
        )
        self.step(
            f"submitting a backup of {len(servers)} servers into vault 'demo-vault' (created on demand)"
        )
        return await self.run_command(command)

    async def replication_vault(self, replica: CbrClient) -> str:
        vault = await replica.create_vault(
            VaultCreate(
                name="demo-replicas",
                billing=BillingCreate(object_type="server", protect_type="replication", size=2000),
            )
        )
        self.step(f"created replication vault {vault.id} in {replica.region}")
        return vault.id

    async def run_command(self, command: AnyCommand) -> WorkflowEvent:
        await submit(self.settings, command)
        event = await self.log.final(command.command_id)
        if event.data.outcome.value != "succeeded":
            raise DemoFailed(
                f"{command.command_id} ended {event.data.outcome.value}: {event.data.error_message}"
            )
        return event

    @staticmethod
    def target(tenant: Tenant, name: str) -> dict[str, str]:
        return {
            "command_id": f"{name}-{uuid.uuid4().hex[:6]}",
            "project_id": tenant.project_id,
            "region": tenant.region,
        }

    async def webhook(self) -> None:
        """The API server in-process, and a backup of one server started by a signed alert webhook."""
        with tempfile.TemporaryDirectory() as folder:
            async with api_server(self.settings, Path(folder), DEFAULT_TENANT) as api_url:
                self.step(f"API server on {api_url}; status page {api_url}/status (sign in with an API key)")
                async with aksk_client(self.running.base_url, DEFAULT_TENANT) as source:
                    [server] = await source.list_protectables("server", limit=1)
                self.step(f"sending a signed alert webhook naming server {server.id} to trigger '{TRIGGER}'")
                command_id = await send_alert(api_url, server.id)
                event = await self.log.final(command_id)
        if event.data.outcome.value != "succeeded":
            raise DemoFailed(f"{command_id} ended {event.data.outcome.value}: {event.data.error_message}")

    def step(self, text: str) -> None:
        self.console.print(f"[bold cyan]→[/] {escape(text)}")  # CBR names and ids: shown as written


async def _check_schema(database_url: str) -> None:
    """A demo database a newer checkout migrated is said at once (a worker would fail on every claim)."""
    from orchestrator.cli.startup import SchemaNeed, schema_problem
    from orchestrator.store.migrations import read_schema_state

    problem = schema_problem(await read_schema_state(database_url, 30.0), database_url, SchemaNeed.CURRENT)
    if problem is not None:
        raise DemoFailed(f"{problem.headline}; drop it (`dropdb {DEMO_DATABASE}`) and run the demo again")


async def run_demo(console: Console, server_dsn: str = "postgresql://postgres@127.0.0.1:5432") -> None:
    database_url = await ensure_database(server_dsn, DEMO_DATABASE)
    applied = await run_migrations(database_url)
    console.print(f"[bold]database[/] {DEMO_DATABASE}: migrations applied now: {applied or 'none'}")
    await _check_schema(database_url)
    async with await start_emulator(tour_config()) as running:
        console.print(f"[bold]CBR emulator[/] listening on {running.base_url}")
        settings = demo_settings(running.base_url, database_url)
        log = EventLog(console)
        stop = asyncio.Event()
        async with event_subscription(settings, log):
            worker = asyncio.create_task(run_worker(settings, stop), name="worker")
            try:
                demo = Demo(settings, running, log, console)
                await demo.run()
                await demo.webhook()
            finally:
                stop.set()
                await worker
        calls = running.counters.snapshot()["requests"]["total"]
    console.print(
        f"[bold green]✓ demo complete[/]: 4 workflows succeeded (one started by a webhook), "
        f"{calls} CBR calls, "
        f"{len(log.seen)} distinct events"
    )
