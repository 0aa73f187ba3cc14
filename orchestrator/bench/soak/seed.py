"""Backups made before the soak starts, with our own CBR client: what its restores and replications use.

Each seeded server gets a whole-server backup (one checkpoint per seed vault, marked ``soak-seed`` so the
audit never counts it as a command's), and the destination project gets one replication vault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cbr_emulator.config import DEFAULT_TENANT, Tenant
from orchestrator.cbr.auth import AkSkAuth
from orchestrator.cbr.bodies import BillingCreate, CheckpointParameters, ResourceRef, VaultCreate
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.models import Backup
from orchestrator.cbr.query import BackupFilter
from orchestrator.cbr.signing import Credentials

SOURCE = DEFAULT_TENANT
DESTINATION = Tenant(  # another project in another region, to replicate into
    access_key="SOAKDESTACCESSKEY000",
    secret_key="soak-destination-secret-for-local-use",
    project_id="2c3d4e5f60718293a4b5c6d7e8f90a1b",
    region="eu-west-0",
)
SEED_MARK = "soak-seed"
ELSEWHERE = "soak-edge-elsewhere"
SEED_VAULT_RESOURCES = 200
VAULT_SIZE_GB = 1_000_000
SERVER_TYPE = "OS::Nova::Server"
SEED_SECONDS = 180.0


class SeedFailed(RuntimeError):
    """The emulator did not produce the backups the soak needs."""


@dataclass(frozen=True)
class SeededBackup:
    backup_id: str
    server_id: str
    disks: tuple[tuple[str, str], ...]  # (disk-level backup id, volume id) for a restore's mappings


@dataclass(frozen=True)
class Seeds:
    restorable: list[SeededBackup]
    replicable: list[SeededBackup]
    destination_vault_id: str

    @classmethod
    def none(cls) -> Seeds:
        return cls([], [], "")


def client_of(base_url: str, tenant: Tenant) -> CbrClient:
    return CbrClient(
        region=tenant.region,
        project_id=tenant.project_id,
        auth=AkSkAuth(Credentials(tenant.access_key, tenant.secret_key)),
        endpoints=Endpoints.single(base_url),
    )


async def seed_backups(
    base_url: str,
    for_restore: Sequence[str],
    for_replication: Sequence[str],
    bound_elsewhere: Sequence[str] = (),
) -> Seeds:
    """One available backup of every given server, the replication vault in the destination, and the
    ``bound_elsewhere`` servers bound to a vault of their own (no backup)."""
    async with client_of(base_url, SOURCE) as source, client_of(base_url, DESTINATION) as destination:
        if bound_elsewhere:
            await _bind(source, ELSEWHERE, bound_elsewhere)
        vault = await destination.create_vault(
            VaultCreate(
                name="soak-replicas",
                billing=BillingCreate(object_type="server", protect_type="replication", size=VAULT_SIZE_GB),
            )
        )
        servers = [*for_restore, *for_replication]
        chunks = [servers[i : i + SEED_VAULT_RESOURCES] for i in range(0, len(servers), SEED_VAULT_RESOURCES)]
        vault_ids = [await _back_up(source, k, chunk) for k, chunk in enumerate(chunks)]
        backups = await _available(source, vault_ids, set(servers))
    seeded = {b.resource_id: _seeded(b) for b in backups}
    return Seeds(
        restorable=[seeded[s] for s in for_restore],
        replicable=[seeded[s] for s in for_replication],
        destination_vault_id=vault.id,
    )


async def _bind(source: CbrClient, name: str, servers: Sequence[str]) -> str:
    vault = await source.create_vault(
        VaultCreate(
            name=name,
            billing=BillingCreate(object_type="server", protect_type="backup", size=VAULT_SIZE_GB),
            resources=[ResourceRef(id=s, type=SERVER_TYPE) for s in servers],
        )
    )
    return vault.id


async def _back_up(source: CbrClient, number: int, servers: Sequence[str]) -> str:
    vault_id = await _bind(source, f"{SEED_MARK}-{number}", servers)
    parameters = CheckpointParameters(
        resources=list(servers), name=SEED_MARK, description=SEED_MARK, incremental=False
    )
    await source.create_checkpoint(vault_id, parameters)
    return vault_id


async def _available(source: CbrClient, vault_ids: Sequence[str], servers: set[str]) -> list[Backup]:
    deadline = time.monotonic() + SEED_SECONDS
    while True:
        backups = [b for v in vault_ids async for b in source.iter_backups(BackupFilter(vault_id=v))]
        if any(b.status == "error" for b in backups):
            raise SeedFailed("a seed backup ended in error")
        ready = [b for b in backups if b.status == "available" and b.resource_id in servers]
        if len(ready) == len(servers):
            return ready
        if time.monotonic() > deadline:
            raise SeedFailed(f"{len(ready)} of {len(servers)} seed backups available after {SEED_SECONDS} s")
        await asyncio.sleep(0.5)


def _seeded(backup: Backup) -> SeededBackup:
    disks = tuple((child.id, child.resource_id or "") for child in backup.children or [])
    return SeededBackup(backup.id, backup.resource_id or "", disks)
