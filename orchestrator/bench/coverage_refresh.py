"""The CBR calls of a coverage refresh of one large emulator project: ``python -m
orchestrator.bench.coverage_refresh [servers]`` (default 2,000).

The project: nine tenths of its servers bound to vaults of 225, every vault but the last backed up once
(``create_checkpoint``), the rest of the servers in no vault. Then three refreshes through the shared rate
limiter, on a temporary database: the first (a full pass), a second after the last vault was backed up a
minute later on the emulator's clock (only the new backups are listed), a third with nothing new (the
backups of the cursor's second are listed again). Prints each one's CBR calls.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from pydantic import SecretStr

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.bench.soak.seed import client_of
from orchestrator.cbr.bodies import BillingCreate, ResourceRef, VaultCreate
from orchestrator.cbr.client import CbrClient
from orchestrator.config import ProjectCredentials, Settings
from orchestrator.engine.coverage import RefreshReport, refresh_projects
from orchestrator.store import Store, run_migrations
from orchestrator.store.database import temporary_database

DSN = "postgresql://postgres@127.0.0.1:5432/cbro_bench_coverage_{}"
PER_VAULT = 225


async def run(servers: int) -> list[tuple[str, RefreshReport, int, float]]:
    inventory = Inventory(servers=servers, disks=0)
    config = EmulatorConfig(progression=Progression.instantly(), inventory=inventory)
    async with (
        temporary_database(DSN.format(uuid.uuid4().hex[:8])) as dsn,
        await start_emulator(config) as running,
    ):
        await run_migrations(dsn)
        settings = _settings(dsn, running.base_url)
        store = await Store.connect(dsn, max_size=2)
        try:
            async with client_of(running.base_url, DEFAULT_TENANT) as cbr:
                vaults = await _vaults(cbr, servers)
                for vault in vaults[:-1]:
                    await cbr.create_checkpoint(vault)
                running.emulator.tick()
                first = await _refresh(settings, store, running)
                running.clock.advance(60)  # a minute later: CBR's start_time has whole seconds
                await cbr.create_checkpoint(vaults[-1])
                running.emulator.tick()
                second = await _refresh(settings, store, running)
                third = await _refresh(settings, store, running)
        finally:
            await store.close()
    return [("first", *first), ("second (225 new backups)", *second), ("third (nothing new)", *third)]


async def _refresh(
    settings: Settings, store: Store, running: RunningEmulator
) -> tuple[RefreshReport, int, float]:
    before = running.counters.requests_of("list_backups")
    started = time.perf_counter()
    [report] = await refresh_projects(settings, store.coverage)
    seconds = time.perf_counter() - started
    return report, running.counters.requests_of("list_backups") - before, seconds


async def _vaults(cbr: CbrClient, servers: int) -> list[str]:
    ids = [p.id async for p in cbr.iter_protectables("server")]
    bound = ids[: servers * 9 // 10]
    vaults = []
    for start in range(0, len(bound), PER_VAULT):
        chunk = bound[start : start + PER_VAULT]
        vault = await cbr.create_vault(
            VaultCreate(
                name=f"bench-{start // PER_VAULT}",
                billing=BillingCreate(object_type="server", size=100_000),
                resources=[ResourceRef(id=s, type="OS::Nova::Server") for s in chunk],
            )
        )
        vaults.append(vault.id)
    return vaults


def _settings(dsn: str, base_url: str) -> Settings:
    tenant = DEFAULT_TENANT
    credentials = ProjectCredentials(
        project_id=tenant.project_id,
        region=tenant.region,
        access_key=tenant.access_key,
        secret_key=SecretStr(tenant.secret_key),
    )
    return Settings(database_url=dsn, credentials=[credentials], cbr_endpoints={tenant.region: base_url})


def main() -> None:
    servers = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for name, report, emulator_calls, seconds in asyncio.run(run(servers)):
        print(
            f"{name}: {report.calls} CBR calls ({report.backup_calls} list_backups, the emulator counted"
            f" {emulator_calls}), {report.backups_listed} backups listed, full pass {report.full},"
            f" {seconds:.2f} s"
        )


if __name__ == "__main__":
    main()
