"""The state file carries the whole world: a populated world survives its round trip field for field, a
loaded world goes on (ids, timers, interrupted tasks), and bad files are refused without being touched."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from emu_helpers import AWAY, HOME, NEIGHBOUR, Api, build, settle

from cbr_emulator.restart import INTERRUPTED
from cbr_emulator.service import Emulator
from cbr_emulator.state import DERIVED_FIELDS, ProjectState
from cbr_emulator.state_file import (
    FORMAT,
    StateFile,
    StateFileError,
    WorldSnapshot,
    decode,
    encode,
    restore,
)

DAILY_AT_6 = "FREQ=DAILY;INTERVAL=1;BYHOUR=6;BYMINUTE=00"
ORGANISATION_POLICY = {
    "policy": {
        "name": "everywhere",
        "operation_type": "backup",
        "policy_name": "deployed-daily",
        "policy_enabled": True,
        "policy_operation_definition": {"retention_duration_days": 7},
        "policy_trigger": {"properties": {"pattern": [DAILY_AT_6]}},
    }
}
# what the world holds besides its projects; a new attribute must be carried by the state file (or be
# rebuilt from the config like the scheduler and the task runner) and named here
WORLD_ATTRIBUTES = {"config", "clock", "ids", "rng", "scheduler", "runner", "projects", "domains"}


def populated() -> Emulator:
    """A world in which every field of every project's state holds something."""
    emulator = build()
    home, away, neighbour = Api(emulator, HOME), Api(emulator, AWAY), Api(emulator, NEIGHBOUR)
    vault = home.vault(resources=home.servers()[:2], name="kept")
    tag = {"tag": {"key": "env", "value": "prod"}}
    home.ok("create_vault_tags", path={"vault_id": vault["id"]}, body=tag)
    body = {
        "policy": {
            "name": "nightly",
            "operation_type": "backup",
            "trigger": {"properties": {"pattern": [DAILY_AT_6]}},
            "operation_definition": {"max_backups": 3, "timezone": "UTC+08:00"},
        }
    }
    policy = home.ok("create_policy", body=body)["policy"]
    home.ok("associate_vault_policy", path={"vault_id": vault["id"]}, body={"policy_id": policy["id"]})
    home.backup_run(vault["id"], name="first")
    settle(home)
    backup = home.backups(name="first")[0]
    home.ok("add_member", path={"backup_id": backup["id"]}, body={"members": [NEIGHBOUR.project_id]})
    target = away.vault(protect_type="replication", name="replicas")
    replicate = {
        "replicate": {
            "destination_project_id": AWAY.project_id,
            "destination_region": AWAY.region,
            "destination_vault_id": target["id"],
        }
    }
    home.ok("copy_backup", path={"backup_id": backup["id"]}, body=replicate)
    settle(home)
    emulator.config.progression.failure_probability = 1.0
    home.backup_run(vault["id"], resources=[home.servers()[1].id], name="failing")
    settle(home)
    emulator.config.progression.failure_probability = 0.0
    home.backup_run(vault["id"], resources=[home.servers()[0].id], name="under-way")  # in activity
    neighbour.ok("list_vault")
    agent = {"agent_id": str(uuid.uuid4()), "host_name": "h", "host_ip": "::1", "host_os": "linux"}
    home.ok("register_agent", body={"agent": agent})
    charge = {"charging_mode": "pre_paid", "period_type": "month", "period_num": 1, "is_auto_renew": False}
    home.ok("change_vault_charge_mode", body=charge | {"is_auto_pay": True, "vault_ids": [vault["id"]]})
    home.ok("create_organization_policy", body=ORGANISATION_POLICY)
    home.ok("migrate_domain", body={"all_regions": True, "reservation": 0.5})
    return emulator


def round_trip(emulator: Emulator) -> Emulator:
    again = build()
    saved = decode(encode(emulator.world))
    for project in saved.projects:
        project.rebuild_indexes()
        again.world.projects[(project.region, project.project_id)] = project
    again.world.domains = {domain.name: domain for domain in saved.domains}
    return again


def test_every_field_of_a_project_is_populated_by_the_fixture() -> None:
    """So that the round trip below checks them all: a field added to ProjectState must be filled here."""
    home = populated().world.project(HOME.region, HOME.project_id)
    empty = [f.name for f in dataclasses.fields(ProjectState) if not getattr(home, f.name)]
    assert empty == [], f"populate these in populated(): {empty}"


def test_a_populated_world_survives_its_round_trip_field_for_field() -> None:
    emulator = populated()
    again = round_trip(emulator)
    assert again.world.projects.keys() == emulator.world.projects.keys()
    for key, project in emulator.world.projects.items():
        loaded = again.world.projects[key]
        for field in dataclasses.fields(ProjectState):
            assert _filled(loaded, field.name) == _filled(project, field.name), f"{key} {field.name}"
    assert again.world.domains == emulator.world.domains
    [domain] = emulator.world.domains.values()
    assert domain.organization_policies and domain.migration is not None


def _filled(project: ProjectState, name: str) -> Any:
    """A field's value; of an index, its non-empty entries (emptied buckets are not rebuilt)."""
    value = getattr(project, name)
    return {k: v for k, v in value.items() if v} if name in DERIVED_FIELDS else value


def test_the_world_holds_nothing_the_state_file_does_not_carry() -> None:
    assert set(vars(populated().world)) == WORLD_ATTRIBUTES
    snapshot_fields = {f.name for f in dataclasses.fields(WorldSnapshot)}
    assert snapshot_fields == {"saved_at", "ids", "failures", "projects", "domains"}


def test_disk_backups_are_the_same_objects_in_their_server_backup_and_in_the_project() -> None:
    again = round_trip(populated())
    home = again.world.project(HOME.region, HOME.project_id)
    servers = [b for b in home.backups.values() if b.children]
    assert servers
    for backup in servers:
        assert all(home.backups[child.id] is child for child in backup.children)
        assert home.by_vault[backup.vault_id][backup.id] is backup


def test_a_restored_world_answers_as_before_and_makes_no_id_twice() -> None:
    emulator = populated()
    home = Api(emulator, HOME)
    settle(home)  # nothing under way: a restart changes nothing then
    before = {op: home.ok(op) for op in ("list_vault", "list_policies", "list_backups")}
    again = build()
    restore(again.world, decode(encode(emulator.world)))
    loaded = Api(again, HOME)
    after = {op: loaded.ok(op) for op in before}
    assert after["list_vault"] == before["list_vault"]
    assert after["list_policies"] == before["list_policies"]
    by_id = {b["id"]: b for b in after["list_backups"]["backups"]}
    assert by_id.keys() == {b["id"] for b in before["list_backups"]["backups"]}
    assert emulator.world.ids.new() == again.world.ids.new()  # the generator goes on where it was
    known = {*by_id, *(v["id"] for v in after["list_vault"]["vaults"])}
    assert loaded.vault(name="after-restart")["id"] not in known


def test_a_task_under_way_at_the_save_ends_interrupted_and_the_policy_runs_again() -> None:
    emulator = populated()
    again = build()
    restore(again.world, decode(encode(emulator.world)))
    loaded = Api(again, HOME)
    (interrupted,) = loaded.backups(name="under-way")
    assert interrupted["status"] == "error"
    failed = [log for log in loaded.logs() if log["error_info"]["message"] == INTERRUPTED[1]]
    assert [log["status"] for log in failed] == ["failed"]
    assert not loaded.state.activity
    loaded.advance(24 * 3600)
    # the policy's timer was armed again
    assert any(b["extend_info"]["auto_trigger"] for b in loaded.backups())


def _written(tmp_path: Path, content: bytes) -> StateFile:
    path = tmp_path / "world.json"
    path.write_bytes(content)
    return StateFile(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "is corrupt: not JSON"),
        (b"\xff\xfe", "is corrupt: not JSON"),
        (json.dumps({"vaults": []}).encode(), "is not a CBR emulator state file"),
        (json.dumps([1, 2]).encode(), "is not a CBR emulator state file"),
        (json.dumps({"format": "cbr-emulator-state", "version": 99}).encode(), "has version 99"),
        (json.dumps({"format": FORMAT, "version": 1, "world": {}}).encode(), "is corrupt: world"),
    ],
)
def test_a_corrupt_or_foreign_file_is_refused_and_left_as_it_is(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    state_file = _written(tmp_path, content)
    with pytest.raises(StateFileError, match=reason) as refused:
        state_file.load()
    assert "\n" not in str(refused.value)
    assert state_file.path.read_bytes() == content


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    whole = encode(populated().world)
    with pytest.raises(StateFileError, match="is corrupt"):
        _written(tmp_path, whole[: len(whole) // 2]).load()


def test_no_file_yet_is_an_empty_world_and_a_missing_directory_is_refused(tmp_path: Path) -> None:
    assert StateFile(tmp_path / "new.json").load() is None
    with pytest.raises(StateFileError, match="does not exist"):
        StateFile(tmp_path / "missing" / "world.json").load()


def test_writing_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "world.json")
    state_file.write(b"old")
    data = encode(populated().world)
    state_file.write(data)
    assert state_file.path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world.json"]
    loaded: Any = state_file.load()
    assert isinstance(loaded, WorldSnapshot)


def test_an_organisation_policy_syncing_at_the_save_deploys_after_the_load() -> None:
    emulator = populated()
    again = build()
    restore(again.world, decode(encode(emulator.world)))
    [domain] = again.world.domains.values()
    [policy] = domain.organization_policies.values()
    assert policy.status == "syncing"
    settle(Api(again, HOME))
    assert policy.status == "available"
    deployed = again.world.project(HOME.region, HOME.project_id).policies
    assert any(p.name == "deployed-daily" for p in deployed.values())
