"""A scripted tour of CBR through our client, against an in-process emulator.

It starts the emulator with two tenants in two regions, then creates a vault, adds a server, backs it
up, restores it and replicates the backup to the other region, printing each step. AK/SK signing is
used in one region and an IAM token in the other, so both kinds of authentication are shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression, Tenant
from cbr_emulator.server import start_emulator
from orchestrator.cbr.auth import AkSkAuth, PasswordIdentity, TokenAuth
from orchestrator.cbr.bodies import (
    BackupReplicate,
    BackupRestore,
    BillingCreate,
    CheckpointParameters,
    ResourceRef,
    RestoreMapping,
    VaultCreate,
)
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.models import Backup, OperationLog
from orchestrator.cbr.query import BackupFilter, OperationLogFilter
from orchestrator.cbr.signing import Credentials

REPLICA_TENANT = Tenant(
    access_key="EMULATORACCESSKEY001",
    secret_key="emulator-secret-key-of-the-second-region",
    project_id="1b2c3d4e5f60718293a4b5c6d7e8f90a",
    region="eu-west-0",
)
SERVER_TYPE = "OS::Nova::Server"
T = TypeVar("T")
FINAL_TASK_STATES = {"success", "failed", "timeout", "skipped"}


class TourFailed(Exception):
    """A step of the tour did not end as the real service would end it."""


@dataclass
class Tour:
    source: CbrClient
    replica: CbrClient
    console: Console

    def step(self, text: str) -> None:
        self.console.print(f"[bold cyan]→[/] {escape(text)}")  # CBR names and ids: shown as written

    async def run(self) -> None:
        server = await self.pick_server()
        vault_id = await self.create_vault(server)
        backup = await self.back_up(vault_id, server.id)
        await self.restore(backup, server.id)
        await self.replicate(backup)
        self.console.print("[bold green]✓ tour complete[/]: backed up, restored and replicated one server")

    async def pick_server(self) -> ResourceRef:
        servers = await self.source.list_protectables("server", limit=5)
        server = servers[0]
        self.step(f"found {len(servers)} servers; using {server.name} ({server.id}, {server.size} GB)")
        return ResourceRef(id=server.id, type=SERVER_TYPE, name=server.name)

    async def create_vault(self, server: ResourceRef) -> str:
        vault = await self.source.create_vault(
            VaultCreate(
                name="tour-vault",
                billing=BillingCreate(object_type="server", protect_type="backup", size=500),
                resources=[server],
            )
        )
        self.step(f"created vault {vault.name} ({vault.id}) holding {len(vault.resources or [])} resource")
        return vault.id

    async def back_up(self, vault_id: str, server_id: str) -> Backup:
        checkpoint = await self.source.create_checkpoint(
            vault_id, CheckpointParameters(resources=[server_id], name="tour-backup", incremental=False)
        )
        self.step(f"created checkpoint {checkpoint.id} (status {checkpoint.status})")
        filters = BackupFilter(checkpoint_id=checkpoint.id)
        backup = await self.wait("backup", lambda: self._first_backup(filters), _backup_progress)
        if backup.status != "available":
            raise TourFailed(f"backup ended {backup.status}")
        self.step(
            f"backup {backup.id} is available: {backup.resource_size} GB, {len(backup.children or [])} disks"
        )
        return backup

    async def _first_backup(self, filters: BackupFilter) -> Backup:
        page = await self.source.list_backups(filters)
        if not page.backups:
            raise TourFailed("the checkpoint produced no backup")
        return page.backups[0]

    async def restore(self, backup: Backup, server_id: str) -> None:
        mappings = [
            RestoreMapping(backup_id=disk.id, volume_id=disk.resource_id) for disk in backup.children or []
        ]
        await self.source.restore_backup(
            backup.id, BackupRestore(server_id=server_id, mappings=mappings, power_on=True)
        )
        self.step(f"restore of {server_id} accepted (202)")
        filters = OperationLogFilter(operation_type="restore", resource_id=server_id)
        task = await self.wait("restore", lambda: self._latest_task(self.source, filters), _task_progress)
        self._require_success("restore", task)

    async def replicate(self, backup: Backup) -> None:
        destination = await self.replica.create_vault(
            VaultCreate(
                name="tour-replicas",
                billing=BillingCreate(object_type="server", protect_type="replication", size=500),
            )
        )
        self.step(f"created replication vault {destination.id} in {self.replica.region} (token auth)")
        await self.source.replicate_backup(
            backup.id,
            BackupReplicate(
                destination_project_id=self.replica.project_id,
                destination_region=self.replica.region,
                destination_vault_id=destination.id,
            ),
        )
        filters = OperationLogFilter(operation_type="replication", vault_id=backup.vault_id)
        task = await self.wait("replication", lambda: self._latest_task(self.source, filters), _task_progress)
        self._require_success("replication", task)
        replicas = await self.replica.list_backups(BackupFilter(vault_id=destination.id))
        self.step(f"replica visible in {self.replica.region}: {[b.id for b in replicas.backups]}")

    async def _latest_task(self, client: CbrClient, filters: OperationLogFilter) -> OperationLog:
        page = await client.list_operation_logs(filters, limit=1)
        if not page.operation_logs:
            raise TourFailed("no task was recorded")
        return page.operation_logs[0]

    def _require_success(self, what: str, task: OperationLog) -> None:
        if task.status != "success":
            raise TourFailed(f"{what} task ended {task.status}: {task.error_info}")
        self.step(f"{what} task {task.id} succeeded")

    async def wait(
        self, label: str, observe: Callable[[], Awaitable[T]], progress_of: Callable[[T], tuple[int, bool]]
    ) -> T:
        with Progress(
            TextColumn(f"  {label}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=100)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                value = await observe()
                percent, done = progress_of(value)
                bar.update(task, completed=percent)
                if done:
                    return value
                await asyncio.sleep(0.3)
        raise TourFailed(f"{label} did not finish within two minutes")


def _backup_progress(backup: Backup) -> tuple[int, bool]:
    done = backup.status in {"available", "error"}
    return (100 if done else 50 if backup.status == "protecting" else 5), done


def _task_progress(task: OperationLog) -> tuple[int, bool]:
    return int(task.progress or 0), task.status in FINAL_TASK_STATES


def aksk_client(base_url: str, tenant: Tenant) -> CbrClient:
    """Our client for one emulator tenant, signing with its AK/SK."""
    return CbrClient(
        region=tenant.region,
        project_id=tenant.project_id,
        auth=AkSkAuth(Credentials(tenant.access_key, tenant.secret_key)),
        endpoints=Endpoints.single(base_url),
    )


def tour_config() -> EmulatorConfig:
    return EmulatorConfig(
        tenants=[DEFAULT_TENANT, REPLICA_TENANT],
        inventory=Inventory(servers=5, disks=2),
        progression=Progression(base_seconds=1.0, gb_per_second=40.0, waiting_seconds=0.5),
    )


async def run_tour(console: Console | None = None) -> None:
    console = console or Console()
    async with await start_emulator(tour_config()) as running:
        console.print(f"[bold]CBR emulator[/] listening on {running.base_url}")
        endpoints = Endpoints.single(running.base_url)
        identity = PasswordIdentity(
            user_name=REPLICA_TENANT.user_name,
            password=REPLICA_TENANT.password,
            domain_name=REPLICA_TENANT.domain_name,
            project_id=REPLICA_TENANT.project_id,
        )
        replica_auth = TokenAuth(identity, endpoints.iam_url(REPLICA_TENANT.region))
        async with (
            aksk_client(running.base_url, DEFAULT_TENANT) as source,
            CbrClient(
                region=REPLICA_TENANT.region,
                project_id=REPLICA_TENANT.project_id,
                auth=replica_auth,
                endpoints=endpoints,
            ) as replica,
        ):
            await Tour(source, replica, console).run()
