"""A gateway that answers 5xx after the service executed the call: the outcome is unknown, settled by
lookups; one vault per name and one checkpoint per command whatever the gateway says."""

from __future__ import annotations

import asyncio

import aio_pika
from chaos_helpers import checkpoints_by_marker, ended, numbered_backups, publish
from crash_points import worker_process
from tcp_proxy import HttpErrorAfterForward, Pass, ProxyFactory, TcpProxy

from cbr_emulator.config import DEFAULT_TENANT
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.messages import BackupCommand
from orchestrator.store import Store, WorkflowStatus


def vaults_by_name(emulator: RunningEmulator) -> dict[str, int]:
    project = emulator.emulator.world.project(DEFAULT_TENANT.region, DEFAULT_TENANT.project_id)
    counts: dict[str, int] = {}
    for vault in project.vaults.values():
        counts[vault.name] = counts.get(vault.name, 0) + 1
    return counts


async def all_succeed(store: Store, commands: list[BackupCommand]) -> None:
    for command in commands:
        status = await ended(store, command.command_id, 60)
        wf = await store.workflow_by_command(command.command_id)
        assert status is WorkflowStatus.SUCCEEDED, wf and (wf.error_code, wf.error_message)


async def test_5xx_after_the_service_executed_a_create_makes_no_second_one(
    settings: Settings, broker: aio_pika.abc.AbstractConnection, emulator: RunningEmulator, store: Store
) -> None:
    """Before: 500-504 were "retry later" (nothing happened), so a 504 after execution → 2 and 3
    checkpoints for one marker."""
    after = {"error_after_execute_probability": 1.0, "max_faults": 2}
    plan = FaultPlan(
        rules=[
            FaultRule(operation="create_checkpoint", **after),
            FaultRule(operation="create_vault", **after),
        ]
    )
    emulator.faults.replace(plan)
    commands = numbered_backups(emulator, 4, "gw")
    for command in commands:
        await publish(broker, settings, command)
    async with worker_process(settings):
        await all_succeed(store, commands)
    assert emulator.counters.snapshot()["faults"]["by_kind"] == {"error_after_execute": 4}
    assert vaults_by_name(emulator) == {"gw-vault-0": 1, "gw-vault-1": 1}
    by_marker = checkpoints_by_marker(emulator)
    assert len(by_marker) == 4 and set(by_marker.values()) == {1}


FIRST_LIES_TICKS = 600  # a minute, for a worker starting under load


def lies(gateway: TcpProxy) -> int:
    return gateway.counters.by_mode.get("http_error_after_forward", 0)


async def test_a_flapping_gateway_answering_504_after_forwarding_doubles_nothing(
    settings: Settings,
    broker: aio_pika.abc.AbstractConnection,
    emulator: RunningEmulator,
    store: Store,
    tcp_proxy: ProxyFactory,
) -> None:
    """For a while the gateway flaps: every other half second every request still reaches CBR and every
    answer is replaced by a 504; then it heals."""
    gateway = await tcp_proxy(emulator.base_url)
    through = settings.model_copy(
        update={"cbr_endpoints": {DEFAULT_TENANT.region: gateway.rewrite(emulator.base_url)}}
    )
    commands = numbered_backups(emulator, 6, "heal")
    for command in commands:
        await publish(broker, settings, command)
    async with worker_process(through):
        gateway.set(HttpErrorAfterForward(status=504))
        for _ in range(FIRST_LIES_TICKS):  # lying from the first call on, until the worker met it twice
            if lies(gateway) >= 2:
                break
            await asyncio.sleep(0.1)
        for _ in range(8):
            gateway.set(Pass())
            await asyncio.sleep(0.5)
            gateway.set(HttpErrorAfterForward(status=504))
            await asyncio.sleep(0.5)
        gateway.set(Pass())
        await all_succeed(store, commands)
    assert lies(gateway) >= 2
    assert vaults_by_name(emulator) == {"heal-vault-0": 1, "heal-vault-1": 1}
    by_marker = checkpoints_by_marker(emulator)
    assert len(by_marker) == 6 and set(by_marker.values()) == {1}
