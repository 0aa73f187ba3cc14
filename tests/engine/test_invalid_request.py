"""A CBR request whose body cannot be built ends its workflow's step as terminal, with no call made."""

from __future__ import annotations

from engine_helpers import backup_command, servers, submit

from cbr_emulator.config import EmulatorConfig
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions
from orchestrator.polling.poller import Poller
from orchestrator.store import StepOutcome, Store
from orchestrator.workflows.base import CreateVault, Failed


async def test_unbuildable_request_is_terminal_and_sends_nothing(
    settings: Settings, store: Store, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    await submit(store, backup_command("invalid-body", servers(emulator_config, 1)))
    wf = await store.workflow_by_command("invalid-body")
    assert wf is not None
    clients = CbrClients(settings)
    actions = CbrActions(clients, Poller(clients))
    too_long = CreateVault(
        name="v" * 100,
        object_type="server",
        size_gb=100,
        consistent_level="crash_consistent",
        description=None,
        resources=(),
    )
    try:
        observation, step = await actions.perform(wf, too_long)
    finally:
        await clients.close()
    assert isinstance(observation, Failed)
    assert (observation.kind, observation.code) == ("terminal", "orchestrator.invalid_request")
    assert step.outcome is StepOutcome.TERMINAL
    assert emulator.counters.requests_of("create_vault") == 0
