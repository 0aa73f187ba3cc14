"""What the soak sends: N valid commands of every kind, re-sent duplicates and bad messages, in one order.

The mix (:class:`Mix`) decides how many of each kind; :class:`Allocation` gives every command its own
servers (a server is backed up into one vault only, and restores and replications use seeded backups of
servers nobody else touches), so that whatever a command leaves in the emulator is its own. :func:`build_plan`
then writes the messages: valid commands shuffled, each duplicate after its original, bad messages spread
through the run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.bench.soak import edge_cases
from orchestrator.bench.soak.bad_input import BadMessage, bad_messages
from orchestrator.bench.soak.seed import DESTINATION, SOURCE, VAULT_SIZE_GB, SeededBackup, Seeds
from orchestrator.messages import AnyCommand, BackupCommand, InvalidCommand, ResourceRef, parse_command

MULTI_SIZES = (2, 3, 4)  # resources of the multi-resource backups, in turn
MULTI_PER_VAULT = 4  # multi-resource backups naming the same vault
SINGLES_PER_VAULT = 40
FLEET_SIZE = 15


@dataclass(frozen=True)
class Mix:
    """How many commands of each kind make ``total`` distinct valid commands, plus extras."""

    singles: int
    multis: int
    restores: int
    replications: int
    fleets: int
    duplicates: int
    bad: int
    edge: int

    @classmethod
    def of(cls, total: int) -> Mix:
        fleets = 0 if total < 20 else min(5, max(1, total // 200))
        restores = round(total * 0.08)
        replications = round(total * 0.06)
        multis = round(total * 0.16)
        singles = max(0, total - fleets - restores - replications - multis)
        # edge cases stay few: one that loops (a server bound elsewhere) eats the shared call rate
        duplicates, bad, edge = max(2, total // 20), max(9, total // 100), 4 if total < 1000 else 8
        return cls(singles, multis, restores, replications, fleets, duplicates, bad, edge)

    @property
    def commands(self) -> int:
        return self.singles + self.multis + self.restores + self.replications + self.fleets

    def multi_size(self, number: int) -> int:
        return MULTI_SIZES[number % len(MULTI_SIZES)]

    @property
    def servers(self) -> int:
        """Servers the emulator's inventory must hold."""
        multi = sum(self.multi_size(i) for i in range(self.multis))
        seeded = self.restores + self.replications
        return self.singles + multi + self.fleets * FLEET_SIZE + seeded + self.edge


@dataclass(frozen=True)
class Allocation:
    """Disjoint sets of servers, one per use."""

    singles: list[str]
    multis: list[list[str]]
    fleets: list[list[str]]
    for_restore: list[str]
    for_replication: list[str]
    edge_free: list[str]
    edge_bound: list[str]  # bound to another vault by the seeding

    @classmethod
    def of(cls, mix: Mix, servers: Sequence[str]) -> Allocation:
        if len(servers) < mix.servers:
            raise ValueError(f"the inventory holds {len(servers)} servers, the mix needs {mix.servers}")
        left = iter(servers)

        def take(n: int) -> list[str]:
            return [next(left) for _ in range(n)]

        free, bound = edge_cases.split(mix.edge)

        return cls(
            singles=take(mix.singles),
            multis=[take(mix.multi_size(i)) for i in range(mix.multis)],
            fleets=[take(FLEET_SIZE) for _ in range(mix.fleets)],
            for_restore=take(mix.restores),
            for_replication=take(mix.replications),
            edge_free=take(free),
            edge_bound=take(bound),
        )


@dataclass(frozen=True)
class Outgoing:
    """One message to publish. ``command_id`` names the valid command it carries (also for a duplicate)."""

    body: bytes
    message_id: str
    label: str
    command_id: str | None = None

    @property
    def valid(self) -> bool:
        return self.command_id is not None


@dataclass
class Plan:
    messages: list[Outgoing]
    commands: dict[str, AnyCommand]
    bad: list[BadMessage]
    restore_of: dict[str, str] = field(default_factory=dict)  # command id → the seeded backup it restores
    replication_of: dict[str, str] = field(default_factory=dict)  # command id → the backup it replicates
    edge: dict[str, AnyCommand] = field(default_factory=dict)  # may end, or be refused with a reason
    edge_what: dict[str, str] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return sum(1 for m in self.messages if m.label == "duplicate")


def _base(command_id: str) -> dict[str, Any]:
    return {"command_id": command_id, "project_id": SOURCE.project_id, "region": SOURCE.region}


def _vault(name: str) -> dict[str, Any]:
    return {"name": name, "create": {"size_gb": VAULT_SIZE_GB}}


def _backup(command_id: str, vault: str, servers: Sequence[str]) -> dict[str, Any]:
    return {
        **_base(command_id),
        "kind": "backup",
        "vault": _vault(vault),
        "resources": [{"id": s} for s in servers],
    }


def _restore(command_id: str, seeded: SeededBackup) -> dict[str, Any]:
    return {
        **_base(command_id),
        "kind": "restore",
        "backup_id": seeded.backup_id,
        "server_id": seeded.server_id,
        "mappings": [{"backup_id": b, "volume_id": v} for b, v in seeded.disks],
    }


def _replicate(command_id: str, seeded: SeededBackup, destination_vault_id: str) -> dict[str, Any]:
    return {
        **_base(command_id),
        "kind": "replicate",
        "backup_id": seeded.backup_id,
        "destination_region": DESTINATION.region,
        "destination_project_id": DESTINATION.project_id,
        "destination_vault_id": destination_vault_id,
    }


def _fleet(command_id: str, number: int, servers: Sequence[str]) -> dict[str, Any]:
    return {
        **_base(command_id),
        "kind": "fleet_backup",
        "select": {"resources": [{"id": s} for s in servers]},
        "auto_vaults": {"name_prefix": f"soakfleet{number}", "size_gb": VAULT_SIZE_GB},
    }


def _raw_commands(allocation: Allocation, seeds: Seeds) -> list[dict[str, Any]]:
    singles = enumerate(allocation.singles)
    raws = [_backup(f"soak-single-{i:05d}", f"soak-s{i // SINGLES_PER_VAULT}", [s]) for i, s in singles]
    multis = enumerate(allocation.multis)
    raws += [_backup(f"soak-multi-{i:05d}", f"soak-m{i // MULTI_PER_VAULT}", ss) for i, ss in multis]
    raws += [_restore(f"soak-restore-{i:05d}", b) for i, b in enumerate(seeds.restorable)]
    vault = seeds.destination_vault_id
    raws += [_replicate(f"soak-replicate-{i:05d}", b, vault) for i, b in enumerate(seeds.replicable)]
    raws += [_fleet(f"soak-fleet-{i:02d}", i, servers) for i, servers in enumerate(allocation.fleets)]
    return raws


def build_plan(mix: Mix, allocation: Allocation, seeds: Seeds, seed: int) -> Plan:
    rng = random.Random(seed)
    commands: dict[str, AnyCommand] = {}
    for raw in _raw_commands(allocation, seeds):
        command = parse_command(_json(raw))
        commands[command.command_id] = command
    valid = [_outgoing(c) for c in commands.values()]
    rng.shuffle(valid)
    messages = _with_duplicates(valid, mix.duplicates, rng)
    edge = {}
    for case in edge_cases.edge_cases(allocation.edge_free, allocation.edge_bound):
        command = _edge_command(case.raw)
        edge[command.command_id] = (command, case.what)
        position = rng.randint(0, len(messages))
        messages.insert(position, Outgoing(_json(case.raw), command.command_id, f"edge:{case.what}", None))
    bad = bad_messages(mix.bad, list(commands.values())[: max(1, len(commands) // 3)], rng)
    for item in bad:  # late ones (reusing an id) go in the last tenth, after their original is taken in
        low = int(len(messages) * 0.9) if item.late else 0
        messages.insert(
            rng.randint(low, len(messages)), Outgoing(item.body, item.message_id, f"bad:{item.what}")
        )
    return Plan(
        messages=messages,
        commands=commands,
        bad=bad,
        restore_of={c.command_id: c.backup_id for c in commands.values() if c.kind == "restore"},
        replication_of={c.command_id: c.backup_id for c in commands.values() if c.kind == "replicate"},
        edge={command_id: command for command_id, (command, _) in edge.items()},
        edge_what={command_id: what for command_id, (_, what) in edge.items()},
    )


def _edge_command(raw: dict[str, Any]) -> AnyCommand:
    """An edge case as a command, whether the schema takes it or refuses it (it is sent either way)."""
    try:
        return parse_command(_json(raw))
    except InvalidCommand:
        resources = [ResourceRef.model_validate(r) for r in raw["resources"]]
        return BackupCommand.model_construct(**{**raw, "resources": resources})


def _json(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw, separators=(",", ":")).encode()


def _outgoing(command: AnyCommand) -> Outgoing:
    body = command.model_dump_json(exclude_none=True).encode()  # as a producer sends it
    return Outgoing(body, command.command_id, command.kind, command.command_id)


def _with_duplicates(valid: list[Outgoing], count: int, rng: random.Random) -> list[Outgoing]:
    """Each duplicate (the same body again) goes somewhere after its original."""
    messages = list(valid)
    for original in rng.sample(valid, min(count, len(valid))):
        after = messages.index(original) + 1
        copy = Outgoing(original.body, original.message_id, "duplicate", original.command_id)
        messages.insert(rng.randint(after, len(messages)), copy)
    return messages
