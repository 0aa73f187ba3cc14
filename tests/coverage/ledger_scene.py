"""The scene of the coverage tests, on the emulator's default project (8 servers):

- s0, s1 backed up by our workflow (vault ``vault-e2e``, made by the workflow);
- s2, s3 backed up by a CBR policy run on the emulator's clock (vault ``vault-policy``);
- s4 backed up by hand (``create_checkpoint`` with the client; vault ``vault-hand``);
- s5 in ``vault-hand``, never backed up;
- s6, s7 in no vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine_helpers import EndToEnd, backup_command, client_for

from cbr_emulator.config import DEFAULT_TENANT
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
from orchestrator.store.models import WorkflowStatus

EVERY_HOUR = "FREQ=DAILY;BYHOUR=" + ",".join(str(h) for h in range(24)) + ";BYMINUTE=0"


@dataclass(frozen=True)
class Scene:
    servers: list[str]
    policy_vault_id: str
    hand_vault_id: str
    hand_backup_id: str


def client(e2e: EndToEnd) -> CbrClient:
    result: CbrClient = client_for(e2e.emulator.base_url, DEFAULT_TENANT)
    return result


def settle(e2e: EndToEnd, seconds: float = 1.0) -> None:
    """Let the emulator's clock run ``seconds`` and every task due finish."""
    e2e.emulator.clock.advance(seconds)
    e2e.emulator.emulator.tick()
    e2e.emulator.emulator.tick()


def emulator_now(e2e: EndToEnd, later: timedelta = timedelta(0)) -> datetime:
    return e2e.emulator.clock.now() + later


async def build_scene(e2e: EndToEnd) -> Scene:
    servers = e2e.servers(8)
    await e2e.publish(backup_command("cov-ours", servers[0:2]))
    await e2e.drain()
    assert (await e2e.workflow("cov-ours")).status is WorkflowStatus.SUCCEEDED
    async with client(e2e) as cbr:
        policy_vault = await _vault(cbr, "vault-policy", servers[2:4])
        policy = await cbr.create_policy(
            PolicyCreate(
                name="hourly",
                trigger=TriggerInput(properties=TriggerPropertiesInput(pattern=[EVERY_HOUR])),
                operation_definition=OperationDefinition(retention_duration_days=30, timezone="UTC+00:00"),
            )
        )
        await cbr.associate_vault_policy(policy_vault, policy.id)
        settle(e2e, 3600)
        hand_vault = await _vault(cbr, "vault-hand", servers[4:6])
        hand_backup_id = await backup_by_hand(e2e, cbr, hand_vault, servers[4])
    return Scene(servers, policy_vault, hand_vault, hand_backup_id)


async def backup_by_hand(e2e: EndToEnd, cbr: CbrClient, vault_id: str, server: str) -> str:
    checkpoint = await cbr.create_checkpoint(vault_id, CheckpointParameters(resources=[server]))
    settle(e2e)
    page = await cbr.list_backups(limit=1000)
    [backup] = [b for b in page.backups if b.checkpoint_id == checkpoint.id]
    assert backup.status == "available", backup.status
    return backup.id


async def _vault(cbr: CbrClient, name: str, servers: list[str]) -> str:
    vault = await cbr.create_vault(
        VaultCreate(
            name=name,
            billing=BillingCreate(object_type="server", size=1000),
            resources=[ResourceRef(id=s, type="OS::Nova::Server") for s in servers],
        )
    )
    return vault.id
