"""The closing scenario of the coverage ledger: ``python -m orchestrator.bench.posture [servers]`` (default
10,000).

One emulator project (in this process, its clock starting two days and an hour back) whose servers are
protected in the three ways CBR knows, and 1 % of them not:

- 0.5 % bound to a vault backed up by hand two days ago (``stale`` against the default RPO of a day);
- 40 % in vaults of 250 under a daily CBR policy, whose time comes once the clock has come to now;
- 30 % backed up by one ``fleet_backup`` of ours (a worker in this process, auto-packed vaults);
- the rest in vaults of 250 backed up by hand (``create_checkpoint``);
- 0.5 % in no vault (``unprotected``).

Then ``cbr-orchestrator coverage --refresh --worst 5`` runs as a user runs it (its own process, on the
temporary database) and its output is printed: the refresh's CBR calls and the summary, worst offenders
first; then the calls the emulator counted meanwhile, by operation.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from cbr_emulator.clock import Clock
from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.bench.soak.seed import client_of
from orchestrator.broker import declare_topology, delete_topology, new_workflow
from orchestrator.cbr.bodies import (
    BillingCreate,
    CheckpointParameters,
    PolicyCreate,
    ResourceRef,
    TriggerInput,
    TriggerPropertiesInput,
    VaultCreate,
)
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.models import OperationDefinition
from orchestrator.config import MetricsSettings, Names, ProjectCredentials, Settings
from orchestrator.messages import FleetBackupCommand
from orchestrator.store import Store, run_migrations
from orchestrator.store.database import temporary_database
from orchestrator.worker import run_worker

DSN = "postgresql://postgres@127.0.0.1:5432/cbro_bench_posture_{}"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
PER_VAULT = 250
BACK = timedelta(days=2, hours=1)
CLI_SECONDS = 600.0


@dataclass(frozen=True)
class Layout:
    """How many servers each way of protecting them gets (first servers first, in this order)."""

    stale: int
    policy: int
    fleet: int
    hand: int
    unprotected: int

    @classmethod
    def of(cls, servers: int) -> Layout:
        stale = unprotected = max(1, servers // 200)
        policy, fleet = servers * 40 // 100, servers * 30 // 100
        return cls(stale, policy, fleet, servers - stale - unprotected - policy - fleet, unprotected)


@dataclass(frozen=True)
class PostureRun:
    layout: Layout
    setup_seconds: float
    cli_code: int
    cli_output: str
    cli_seconds: float
    emulator_calls: dict[str, int]  # of the refresh, by operation, as the emulator counted them
    posture_events: dict[str, int]  # written by the refresh, by routing key


async def run(servers: int, cli_args: Sequence[str] = ("--worst", "5")) -> PostureRun:
    layout = Layout.of(servers)
    config = EmulatorConfig(
        progression=Progression.instantly(), inventory=Inventory(servers=servers, disks=0)
    )
    clock = Clock(start=datetime.now(UTC) - BACK)
    async with (
        temporary_database(DSN.format(uuid.uuid4().hex[:8])) as dsn,
        await start_emulator(config, clock=clock) as running,
    ):
        await run_migrations(dsn)
        settings = _settings(dsn, running.base_url)
        started = time.perf_counter()
        await _protect(running, settings, layout)
        setup = time.perf_counter() - started
        before = dict(running.counters.snapshot()["requests"]["by_operation"])
        started = time.perf_counter()
        code, output = await _coverage_cli(settings, cli_args)
        seconds = time.perf_counter() - started
        after = running.counters.snapshot()["requests"]["by_operation"]
        events = await _posture_events(dsn)
    calls = {op: n - before.get(op, 0) for op, n in sorted(after.items()) if n - before.get(op, 0)}
    return PostureRun(layout, setup, code, output, seconds, calls, events)


async def _posture_events(dsn: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT routing_key, count(*) AS n FROM outbox WHERE routing_key LIKE 'posture.%' GROUP BY 1"
        )
    finally:
        await conn.close()
    return {r["routing_key"]: r["n"] for r in sorted(rows, key=lambda r: str(r["routing_key"]))}


async def _protect(running: RunningEmulator, settings: Settings, layout: Layout) -> None:
    async with client_of(running.base_url, DEFAULT_TENANT) as cbr:
        ids = [p.id async for p in cbr.iter_protectables("server")]
        stale, rest = ids[: layout.stale], ids[layout.stale :]
        policy, rest = rest[: layout.policy], rest[layout.policy :]
        fleet, rest = rest[: layout.fleet], rest[layout.fleet :]
        hand = rest[: layout.hand]
        [old] = await _vaults(cbr, "old-hand", stale)
        await cbr.create_checkpoint(old, CheckpointParameters(resources=stale))
        running.emulator.tick()
        running.clock.advance(timedelta(days=2).total_seconds())  # an hour ago, now
        policy_vaults = await _vaults(cbr, "policy", policy)
        await _daily_policy(cbr, policy_vaults, running.clock.now() + timedelta(minutes=30))
        running.clock.advance(3600)  # now: the policy has run once, and runs again in a day
        running.emulator.tick()
        running.emulator.tick()
        for vault in await _vaults(cbr, "hand", hand):
            await cbr.create_checkpoint(vault)
        running.emulator.tick()
    await _fleet(settings, fleet)


async def _vaults(cbr: CbrClient, prefix: str, servers: list[str]) -> list[str]:
    made = []
    for start in range(0, len(servers), PER_VAULT):
        vault = await cbr.create_vault(
            VaultCreate(
                name=f"{prefix}-{start // PER_VAULT}",
                billing=BillingCreate(object_type="server", size=100_000),
                resources=[
                    ResourceRef(id=s, type="OS::Nova::Server") for s in servers[start : start + PER_VAULT]
                ],
            )
        )
        made.append(vault.id)
    return made


async def _daily_policy(cbr: CbrClient, vaults: list[str], at: datetime) -> None:
    daily = f"FREQ=DAILY;BYHOUR={at.hour};BYMINUTE={at.minute}"
    policy = await cbr.create_policy(
        PolicyCreate(
            name="daily",
            trigger=TriggerInput(properties=TriggerPropertiesInput(pattern=[daily])),
            operation_definition=OperationDefinition(retention_duration_days=30, timezone="UTC+00:00"),
        )
    )
    for vault in vaults:
        await cbr.associate_vault_policy(vault, policy.id)


async def _fleet(settings: Settings, servers: list[str]) -> None:
    """One fleet of ours over ``servers``, run to its end by a worker in this process."""
    import aio_pika

    command = FleetBackupCommand.model_validate(
        {
            "command_id": f"posture-bench-{uuid.uuid4().hex[:8]}",
            "project_id": DEFAULT_TENANT.project_id,
            "region": DEFAULT_TENANT.region,
            "select": {"resources": [{"id": s} for s in servers]},
            "auto_vaults": {"name_prefix": "fleet", "size_gb": 1_000_000},
        }
    )
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channel = await connection.channel()
        await declare_topology(channel, settings.names, settings.worker.delivery_limit)
        store = await Store.connect(settings.database_url, max_size=2)
        try:
            await store.create_workflows_if_absent([new_workflow(command)])
        finally:
            await store.close()
        await run_worker(settings, asyncio.Event(), drain=True)
        await delete_topology(channel, settings.names)
    finally:
        await connection.close()


async def _coverage_cli(settings: Settings, args: Sequence[str]) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    environment.update(settings.as_environment(), COLUMNS="160", NO_COLOR="1", TERM="dumb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "coverage", "--refresh", *args,
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), CLI_SECONDS)
    return proc.returncode or 0, out.decode()


def _settings(dsn: str, base_url: str) -> Settings:
    tenant = DEFAULT_TENANT
    credentials = ProjectCredentials(
        project_id=tenant.project_id,
        region=tenant.region,
        access_key=tenant.access_key,
        secret_key=SecretStr(tenant.secret_key),
    )
    return Settings(
        database_url=dsn,
        names=Names(prefix=f"bench-posture.{uuid.uuid4().hex[:8]}"),
        credentials=[credentials],
        cbr_endpoints={tenant.region: base_url},
        metrics=MetricsSettings(port=0),
    )


def main() -> None:
    servers = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    result = asyncio.run(run(servers))
    layout = result.layout
    print(
        f"{servers} servers: {layout.policy} under a CBR policy, {layout.fleet} by a fleet of ours,"
        f" {layout.hand} by hand, {layout.stale} by hand two days ago, {layout.unprotected} in no vault"
        f" (set up in {result.setup_seconds:.1f} s)"
    )
    took = f"{result.cli_seconds:.1f} s, exit {result.cli_code}"
    print(f"$ cbr-orchestrator coverage --refresh --worst 5  ({took})")
    print(result.cli_output.rstrip())
    print(f"CBR calls the emulator counted during the refresh: {json.dumps(result.emulator_calls)}")
    print(f"posture events the refresh wrote to the outbox: {json.dumps(result.posture_events)}")


if __name__ == "__main__":
    main()
