"""The soak's plan: every kind of command, each on servers of its own, duplicates after their originals."""

from __future__ import annotations

import json
from collections import Counter

from orchestrator.bench.emulator_process import server_ids
from orchestrator.bench.soak.plan import Allocation, Mix, build_plan
from orchestrator.bench.soak.seed import SeededBackup, Seeds
from orchestrator.messages import InvalidCommand, parse_command


def seeds_for(allocation: Allocation) -> Seeds:
    def seeded(server: str) -> SeededBackup:
        return SeededBackup(f"backup-of-{server}", server, ((f"disk-backup-of-{server}", f"disk-{server}"),))

    return Seeds(
        [seeded(s) for s in allocation.for_restore], [seeded(s) for s in allocation.for_replication], "dest"
    )


def test_a_thousand_commands_mix_every_kind_on_disjoint_servers() -> None:
    mix = Mix.of(1000)
    allocation = Allocation.of(mix, server_ids(mix.servers))
    plan = build_plan(mix, allocation, seeds_for(allocation), seed=3)

    assert len(plan.commands) == mix.commands == 1000
    kinds = Counter(c.kind for c in plan.commands.values())
    assert kinds == {"backup": 855, "restore": 80, "replicate": 60, "fleet_backup": 5}
    multi = [c for c in plan.commands.values() if c.kind == "backup" and len(c.resources) > 1]
    assert len(multi) == 160
    assert max(Counter(c.vault.name for c in multi).values()) == 4, "multi-resource backups share vaults"
    used = [r.id for c in plan.commands.values() if c.kind == "backup" for r in c.resources]
    used += [
        r.id for c in plan.commands.values() if c.kind == "fleet_backup" for r in c.select.resources or []
    ]
    used += [c.server_id for c in plan.commands.values() if c.kind == "restore"]
    used += [r.id for c in plan.edge.values() if c.kind == "backup" for r in c.resources]
    assert len(used) == len(set(used)), "no server serves two commands"
    assert len(set(plan.restore_of.values())) == 80
    assert len(set(plan.replication_of.values())) == 60
    assert not set(plan.restore_of.values()) & set(plan.replication_of.values())


def test_duplicates_follow_their_originals_and_bad_messages_are_all_refusable() -> None:
    mix = Mix.of(300)
    allocation = Allocation.of(mix, server_ids(mix.servers))
    plan = build_plan(mix, allocation, seeds_for(allocation), seed=5)

    positions = {m.command_id: i for i, m in reversed(list(enumerate(plan.messages))) if m.valid}
    duplicates = [(i, m) for i, m in enumerate(plan.messages) if m.label == "duplicate"]
    assert len(duplicates) == mix.duplicates == 15
    assert all(positions[m.command_id] < i for i, m in duplicates)
    assert all(m.body == plan.messages[positions[m.command_id]].body for _, m in duplicates)

    bad = [m for m in plan.messages if m.label.startswith("bad:")]
    assert len(bad) == len(plan.bad) == mix.bad == 9
    assert len({m.body for m in bad}) == len(bad), "each bad body is distinct, so each dead letter is matched"
    for item in plan.bad:
        if item.late:  # a valid command under an id already used: refused because of the id, not the body
            reused = parse_command(item.body)
            assert reused.command_id in plan.commands
            assert reused != plan.commands[reused.command_id]
            assert (
                plan.messages.index(next(m for m in bad if m.body == item.body))
                >= 0.9 * len(plan.messages) - 1
            )
            continue
        try:
            parse_command(item.body)
        except (InvalidCommand, RecursionError, ValueError):
            continue
        assert json.loads(item.body)["project_id"] not in {c.project_id for c in plan.commands.values()}


def test_edge_cases_of_every_kind_use_servers_of_their_own() -> None:
    mix = Mix.of(1000)
    allocation = Allocation.of(mix, server_ids(mix.servers))
    plan = build_plan(mix, allocation, seeds_for(allocation), seed=7)

    assert len(plan.edge) == mix.edge == 8
    assert sorted(set(plan.edge_what.values())) == [
        "deadline long past",
        "reply_to of 510 bytes",
        "server bound to another vault",
        "start_by without a time zone",
    ]
    edge = [m for m in plan.messages if m.label.startswith("edge:")]
    assert [json.loads(m.body)["command_id"] for m in edge] == [m.message_id for m in edge]
    assert {m.message_id for m in edge} == set(plan.edge)
    bound = [c for i, c in plan.edge.items() if plan.edge_what[i] == "server bound to another vault"]
    assert [r.id for c in bound for r in c.resources] == allocation.edge_bound
    long = next(c for i, c in plan.edge.items() if plan.edge_what[i] == "reply_to of 510 bytes")
    assert long.reply_to is not None and len(long.reply_to) == 255 and len(long.reply_to.encode()) == 510
