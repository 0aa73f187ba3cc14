"""Binding resources to one vault: concurrent adds merge into few calls, a bad resource fails only its own."""

from __future__ import annotations

import asyncio
from typing import Any

from engine_helpers import PROJECT, REGION, backup_command, client_for, run_until_done, servers, submit

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.bodies import BillingCreate, ResourceRef, VaultCreate
from orchestrator.config import Settings
from orchestrator.engine.vault_binder import VaultBinder
from orchestrator.store import Store, WorkflowStatus


async def make_vault(client: Any, name: str, bound: list[str] = []) -> str:  # noqa: B006
    billing = BillingCreate(object_type="server", consistent_level="crash_consistent", size=10_000)
    refs = [ResourceRef(id=rid, type="OS::Nova::Server") for rid in bound]
    vault = await client.create_vault(VaultCreate(name=name, billing=billing, resources=refs))
    return str(vault.id)


def server_refs(ids: list[str]) -> list[list[ResourceRef]]:
    return [[ResourceRef(id=rid, type="OS::Nova::Server")] for rid in ids]


async def test_concurrent_adds_to_one_vault_go_out_as_one_call(
    emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        vault_id = await make_vault(client, "merged")
        ids = servers(emulator_config, 20)
        binder = VaultBinder(window=0.02)
        key = (PROJECT, REGION, vault_id)
        await asyncio.gather(*(binder.add(client, key, refs) for refs in server_refs(ids)))
        assert emulator.counters.requests_of("add_vault_resource") == 1
        vault = await client.show_vault(vault_id)
        assert set(vault.resource_ids()) == set(ids)
    finally:
        await client.close()


async def test_a_resource_bound_elsewhere_fails_only_its_own_add(
    emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        taken, *free = servers(emulator_config, 6)
        await make_vault(client, "elsewhere", [taken])
        vault_id = await make_vault(client, "target")
        binder = VaultBinder(window=0.02)
        key = (PROJECT, REGION, vault_id)
        adds = (binder.add(client, key, refs) for refs in server_refs([taken, *free]))
        bad, *good = await asyncio.gather(*adds)
        [(rid, error)] = bad
        assert rid == taken and error.code == "BackupService.6103" and error.already_done
        assert good == [[]] * len(free)
        assert emulator.counters.requests_of("add_vault_resource") == 2 + len(free)  # merged, then alone
        vault = await client.show_vault(vault_id)
        assert set(vault.resource_ids()) == set(free)
    finally:
        await client.close()


async def test_one_workflows_resources_are_bound_one_by_one_when_one_of_them_is_refused(
    emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """CBR refuses a whole list for one resource bound elsewhere: the others are still bound."""
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        taken, *free = servers(emulator_config, 4)
        await make_vault(client, "elsewhere", [taken])
        vault_id = await make_vault(client, "target")
        refs = [ref for group in server_refs([*free[:1], taken, *free[1:]]) for ref in group]
        refused = await VaultBinder(window=0.02).add(client, (PROJECT, REGION, vault_id), refs)
        assert [(rid, error.code) for rid, error in refused] == [(taken, "BackupService.6103")]
        vault = await client.show_vault(vault_id)
        assert set(vault.resource_ids()) == set(free)
    finally:
        await client.close()


async def test_workflows_into_one_vault_share_add_calls(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    ids = servers(emulator_config, 30)
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        await make_vault(client, "vault-e2e")
    finally:
        await client.close()
    await submit(store, *(backup_command(f"c{i}", [rid]) for i, rid in enumerate(ids)))
    await run_until_done(store, settings, "solo")
    assert await statuses(store, len(ids)) == [WorkflowStatus.SUCCEEDED] * len(ids)
    assert emulator.counters.requests_of("add_vault_resource") < len(ids) // 2


async def test_a_workflow_with_a_resource_bound_elsewhere_fails_alone(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    taken, *free = servers(emulator_config, 6)
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        await make_vault(client, "elsewhere", [taken])
        await make_vault(client, "vault-e2e")
    finally:
        await client.close()
    await submit(store, *(backup_command(f"c{i}", [rid]) for i, rid in enumerate([taken, *free])))
    await run_until_done(store, settings, "solo")
    assert await statuses(store, 6) == [WorkflowStatus.FAILED] + [WorkflowStatus.SUCCEEDED] * len(free)


async def statuses(store: Store, n: int) -> list[WorkflowStatus]:
    found = [await store.workflow_by_command(f"c{i}") for i in range(n)]
    return [wf.status if wf else WorkflowStatus.FAILED for wf in found]
