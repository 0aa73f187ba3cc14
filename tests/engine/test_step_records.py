"""What a step records of its request and answer: small, whatever the size of the vault or checkpoint."""

from __future__ import annotations

import pytest
from engine_helpers import backup_command, servers, submit

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions
from orchestrator.engine.actions import STEP_LIST_MAX
from orchestrator.polling.poller import Poller
from orchestrator.store import StepOutcome, Store
from orchestrator.workflows.base import CreateVault, VaultFound

SERVERS = 120


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    inventory = Inventory(servers=SERVERS, disks=0, data_disks_per_server=0)
    return EmulatorConfig(progression=Progression.instantly(), inventory=inventory)


async def test_a_vault_of_many_resources_is_recorded_with_its_first_ones_and_a_count(
    settings: Settings, store: Store, emulator_config: EmulatorConfig
) -> None:
    ids = servers(emulator_config, SERVERS)
    await submit(store, backup_command("big-vault", ids[:1]))
    wf = await store.workflow_by_command("big-vault")
    assert wf is not None
    clients = CbrClients(settings)
    create = CreateVault(
        name="big",
        object_type="server",
        size_gb=10_000,
        consistent_level="crash_consistent",
        description=None,
        resources=tuple((sid, "OS::Nova::Server") for sid in ids),
    )
    try:
        observation, step = await CbrActions(clients, Poller(clients)).perform(wf, create)
    finally:
        await clients.close()
    assert isinstance(observation, VaultFound) and len(observation.resource_ids) == SERVERS  # the whole
    assert step.outcome is StepOutcome.OK and step.request is not None and step.response is not None
    left_out = f"… {SERVERS - STEP_LIST_MAX} more"
    recorded = step.request["resources"]
    assert recorded[:-1] == [[sid, "OS::Nova::Server"] for sid in ids[:STEP_LIST_MAX]]
    assert recorded[-1] == left_out
    assert step.response["resource_ids"] == [*observation.resource_ids[:STEP_LIST_MAX], left_out]
    assert step.response["observation"] == "VaultFound" and step.request["name"] == "big"
