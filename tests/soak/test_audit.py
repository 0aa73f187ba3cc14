"""The soak's audit can fail: it counts side effects in the emulator's state and names what was lost.

The side effects are made for real, with our CBR client against an emulator (a second checkpoint carrying
one workflow's marker, a second restore of one backup: what a worker that lost a call's answer does); the
audit reads them back through ``GET /_emulator/ledger``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.bench.soak.accounting import DeadLetter, Observed, WorkflowRow, account
from orchestrator.bench.soak.bad_input import BadMessage
from orchestrator.bench.soak.plan import Outgoing, Plan
from orchestrator.bench.soak.seed import DESTINATION, SOURCE, Seeds, client_of, seed_backups
from orchestrator.bench.soak.traffic import EventLog
from orchestrator.cbr.bodies import (
    BackupReplicate,
    BackupRestore,
    BillingCreate,
    CheckpointParameters,
    ResourceRef,
    RestoreMapping,
    VaultCreate,
)
from orchestrator.messages import AnyCommand, parse_command, workflow_id_for

SERVERS = list(build_inventory(Inventory(servers=6, disks=0), SOURCE.region, SOURCE.project_id).servers)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    config = EmulatorConfig(
        tenants=[SOURCE, DESTINATION],
        inventory=Inventory(servers=6, disks=0),
        progression=Progression.instantly(),
    )
    async with await start_emulator(config) as running:
        yield running


def command(raw: dict[str, Any]) -> AnyCommand:
    base = {"project_id": SOURCE.project_id, "region": SOURCE.region}
    return parse_command(json.dumps({**base, **raw}).encode())


def plan_of(commands: list[AnyCommand], seeds: Seeds, bad: Sequence[BadMessage] = ()) -> Plan:
    messages = [Outgoing(c.model_dump_json().encode(), c.command_id, c.kind, c.command_id) for c in commands]
    messages += [Outgoing(b.body, b.message_id, f"bad:{b.what}") for b in bad]
    by_id = {c.command_id: c for c in commands}
    return Plan(
        messages=messages,
        commands=by_id,
        bad=list(bad),
        restore_of={c.command_id: c.backup_id for c in commands if c.kind == "restore"},
        replication_of={c.command_id: c.backup_id for c in commands if c.kind == "replicate"},
    )


def final_event(command_id: str, outcome: str = "succeeded", name: str = "final") -> bytes:
    event_id = str(uuid.uuid5(workflow_id_for(command_id), name))
    return json.dumps({"id": event_id, "data": {"command_id": command_id, "outcome": outcome}}).encode()


def row(command_id: str, kind: str, status: str = "succeeded", error_code: str | None = None) -> WorkflowRow:
    return WorkflowRow(workflow_id_for(command_id), command_id, kind, status, None, error_code)


async def ledger_of(emulator: RunningEmulator) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{emulator.base_url}/_emulator/ledger") as answer:
        assert answer.status == 200
        result: dict[str, Any] = await answer.json()
        return result


def three_commands(seeds: Seeds) -> list[AnyCommand]:
    restored, replicated = seeds.restorable[0], seeds.replicable[0]
    return [
        command(
            {"command_id": "soak-single-00000", "kind": "backup", "vault": {"name": "v"},
             "resources": [{"id": SERVERS[2]}]}
        ),
        command(
            {"command_id": "soak-restore-00000", "kind": "restore", "backup_id": restored.backup_id,
             "server_id": restored.server_id,
             "mappings": [{"backup_id": b, "volume_id": v} for b, v in restored.disks]}
        ),
        command(
            {"command_id": "soak-replicate-00000", "kind": "replicate", "backup_id": replicated.backup_id,
             "destination_region": DESTINATION.region, "destination_project_id": DESTINATION.project_id,
             "destination_vault_id": seeds.destination_vault_id}
        ),
    ]  # fmt: skip


async def act(emulator: RunningEmulator, seeds: Seeds, times: int) -> None:
    """What the three commands' workflows call in the cloud; ``times=2``: as if an answer was lost."""
    restored, replicated = seeds.restorable[0], seeds.replicable[0]
    marker = f"cbro-{workflow_id_for('soak-single-00000')}"
    server = ResourceRef(id=SERVERS[2], type="OS::Nova::Server")
    restore = BackupRestore(
        server_id=restored.server_id,
        mappings=[RestoreMapping(backup_id=b, volume_id=v) for b, v in restored.disks],
    )
    async with client_of(emulator.base_url, SOURCE) as cbr:
        billing = BillingCreate(object_type="server", size=10_000)
        vault = await cbr.create_vault(VaultCreate(name="v", billing=billing, resources=[server]))
        for _ in range(times):
            await cbr.create_checkpoint(
                vault.id, CheckpointParameters(resources=[server.id], description=marker)
            )
            await cbr.restore_backup(restored.backup_id, restore)
            await cbr.show_backup(restored.backup_id)  # the instant restore ends: the backup is free again
        target = BackupReplicate(
            destination_project_id=DESTINATION.project_id,
            destination_region=DESTINATION.region,
            destination_vault_id=seeds.destination_vault_id,
        )
        await cbr.replicate_backup(replicated.backup_id, target)


async def effects_of_three_commands(emulator: RunningEmulator, *, twice: bool) -> Observed:
    """A backup, a restore and a replication, each done once — or the first two done twice."""
    seeds = await seed_backups(emulator.base_url, [SERVERS[0]], [SERVERS[1]])
    commands = three_commands(seeds)
    await act(emulator, seeds, 2 if twice else 1)
    events = EventLog()
    for c in commands:
        events.note(final_event(c.command_id))
    rows = [row(c.command_id, c.kind) for c in commands]
    return Observed(plan_of(commands, seeds), events, rows, [], await ledger_of(emulator))


async def test_the_ledger_lists_each_checkpoint_restore_task_and_replication(
    emulator: RunningEmulator,
) -> None:
    await effects_of_three_commands(emulator, twice=True)
    ledger = await ledger_of(emulator)
    source = next(p for p in ledger["projects"] if p["project_id"] == SOURCE.project_id)
    marked = [c for c in source["checkpoints"] if (c["description"] or "").startswith("cbro-")]
    assert len(marked) == 2
    assert all(c["resource_ids"] == [SERVERS[2]] for c in marked)
    assert len(source["restores"]) == 2
    assert {r["target_resource_id"] for r in source["restores"]} == {SERVERS[0]}
    assert [r["status"] for r in source["replications"]] == ["success"]
    destination = next(p for p in ledger["projects"] if p["project_id"] == DESTINATION.project_id)
    assert destination["replications"] == [] and len(destination["checkpoints"]) == 1  # the replica


async def test_one_effect_per_command_passes_the_audit(emulator: RunningEmulator) -> None:
    figures = account(await effects_of_three_commands(emulator, twice=False))
    assert figures.failures == []
    assert figures.effects.duplicated_commands == 0
    assert figures.effects.unattributed_checkpoints == 0
    assert figures.lost == 0
    assert figures.ended == {"succeeded": 3}


async def test_a_second_checkpoint_or_restore_for_one_command_fails_the_audit(
    emulator: RunningEmulator,
) -> None:
    figures = account(await effects_of_three_commands(emulator, twice=True))
    effects = figures.effects
    assert (effects.checkpoints, effects.restores, effects.replications) == (1, 1, 0)
    assert effects.extra == 2
    assert sorted(effects.examples) == [
        "soak-restore-00000: 2 restores",
        "soak-single-00000: 2 checkpoints",
    ]
    assert figures.failures == ["2 commands with duplicate CBR side effects"]
    assert not figures.ok


def test_the_audit_names_lost_commands_refused_valid_ones_and_silently_dropped_bad_ones() -> None:
    backups = [
        command(
            {"command_id": f"c{i}", "kind": "backup", "vault": {"name": "v"}, "resources": [{"id": f"s{i}"}]}
        )
        for i in range(4)
    ]
    bad = [
        BadMessage(b"{nope 1", "soak-bad-0000", "not JSON"),
        BadMessage(b"{nope 2", "soak-bad-0001", "not JSON"),
    ]
    plan = plan_of(backups, Seeds.none(), bad)
    events = EventLog()
    events.note(final_event("c0"))
    events.note(final_event("c0"))  # a redelivery: one event
    events.note(final_event("c3"))
    events.note(final_event("c3", "failed", name="another"))  # ended twice
    rows = [
        row("c0", "backup"),
        row("c1", "backup", "running"),
        row("c3", "backup", "failed", "orchestrator.runs_failing"),
    ]
    letters = [
        DeadLetter(plan.messages[2].body, "c2", "invalid: whatever"),  # c2 was valid
        DeadLetter(b"{nope 1", "soak-bad-0000", None),  # refused, but without a reason
    ]
    figures = account(Observed(plan, events, rows, letters, {"projects": []}))

    assert figures.accepted == 3
    assert figures.lost == 1 and figures.lost_examples == ["c1 (running, no final event)"]
    assert figures.valid_dead_lettered == 1
    assert figures.valid_dead_lettered_examples == ["c2 (invalid: whatever)"]
    assert figures.refused == {"(no reason)": 1}
    assert figures.without_reason == 1
    assert figures.bad_not_refused == 1
    assert figures.double_ended == 1
    assert figures.failed_why == {"orchestrator.runs_failing": 1}  # why a command failed is said
    assert (figures.final_events_total, figures.final_events_distinct) == (4, 3)
    assert figures.failures == [
        "1 commands lost (no final event, a workflow unended, or neither taken in nor refused)",
        "1 valid commands dead-lettered",
        "1 bad messages not dead-lettered (dropped in silence)",
        "1 dead letters without a reason",
        "1 commands with more than one distinct final event",
    ]


def test_an_edge_case_may_be_refused_with_a_reason_but_not_vanish() -> None:
    edge = [
        command(
            {"command_id": f"e{i}", "kind": "backup", "vault": {"name": "v"}, "resources": [{"id": f"s{i}"}]}
        )
        for i in range(3)
    ]
    plan = plan_of([], Seeds.none())
    plan.edge = {c.command_id: c for c in edge}
    plan.messages = [Outgoing(c.model_dump_json().encode(), c.command_id, "edge:x") for c in edge]
    events = EventLog()
    events.note(final_event("e2", "expired"))
    letters = [DeadLetter(plan.messages[0].body, "e0", "refused: start_by must carry a time zone")]
    rows = [row("e2", "backup", "expired")]
    figures = account(Observed(plan, events, rows, letters, {"projects": []}, unpublished=2))

    assert figures.edge_refused == {"refused": 1}
    assert figures.edge_ended == {"expired": 1}
    assert figures.valid_dead_lettered == 0
    assert figures.lost == 1 and figures.lost_examples == ["e1 (never taken in)"]
    assert figures.failures == [
        "1 commands lost (no final event, a workflow unended, or neither taken in nor refused)",
        "2 events never marked published (the relay sends them again and again)",
    ]


@pytest.mark.parametrize("reuse_refused", [False, True])
def test_a_command_and_a_reuse_of_its_id_may_arrive_in_either_order_but_one_must_be_taken_in(
    reuse_refused: bool,
) -> None:
    """With competing consumers and redeliveries the later message may arrive first: the first taken in
    wins and the other is refused with a conflict. Both refused would lose the command."""
    original = command(
        {"command_id": "c0", "kind": "backup", "vault": {"name": "v"}, "resources": [{"id": "s0"}]}
    )
    other = original.model_copy(update={"resources": [original.resources[0].model_copy(update={"id": "s9"})]})
    reuse = BadMessage(other.model_dump_json().encode(), "soak-bad-0000", "reused id, other body", late=True)
    plan = plan_of([original], Seeds.none(), [reuse])
    events = EventLog()
    events.note(final_event("c0"))
    letters = [
        DeadLetter(plan.messages[0].body, "c0", "conflict: command id c0 already names a different one")
    ]
    if reuse_refused:
        letters.append(DeadLetter(reuse.body, reuse.message_id, "conflict: command id c0 already names …"))
    figures = account(Observed(plan, events, [row("c0", "backup")], letters, {"projects": []}))

    assert figures.conflicts_won_by_the_reuse == (0 if reuse_refused else 1)
    assert figures.valid_dead_lettered == (1 if reuse_refused else 0)
    assert figures.bad_not_refused == 0
