"""The fleet_backup command: one selector, no deadline (a window instead), up to 100,000 ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.broker.guard import SizeLimits, parse_guarded
from orchestrator.config import WorkerSettings
from orchestrator.messages import FleetBackupCommand, InvalidCommand, parse_command

LIMITS = SizeLimits.of(WorkerSettings())

P, R = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"


def body(**over: Any) -> bytes:
    raw = {"kind": "fleet_backup", "command_id": "f", "project_id": P, "region": R}
    raw.setdefault("select", {"protectables": {"types": ["server"]}})
    return json.dumps({**raw, **over}).encode()


def test_a_fleet_is_a_command_of_the_union() -> None:
    command = parse_command(body(window_seconds=3600, project_tasks=5))
    assert isinstance(command, FleetBackupCommand) and command.vault_concurrency == 1


def test_the_project_cap_counts_backup_tasks_and_its_old_name_is_read_with_that_meaning() -> None:
    old = parse_command(body(project_concurrency=150))
    new = parse_command(body(project_tasks=150))
    assert isinstance(old, FleetBackupCommand) and old.project_tasks == 150
    assert old == new and old.model_dump() == new.model_dump()  # the same command whichever name is used
    assert "project_concurrency" not in old.model_dump()
    default = parse_command(body())
    assert isinstance(default, FleetBackupCommand) and default.project_tasks == 200
    field = FleetBackupCommand.model_json_schema()["properties"]["project_tasks"]
    assert "one task per resource" in field["description"] and "project_concurrency" in field["description"]
    with pytest.raises(InvalidCommand, match=r"give project_tasks .* not both"):
        parse_command(body(project_tasks=100, project_concurrency=20))


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"select": {}}, "exactly one"),
        ({"select": {"vaults": ["v"], "protectables": {"types": ["server"]}}}, "exactly one"),
        ({"select": {"resources": [{"id": "a"}, {"id": "a"}]}}, "distinct"),
        ({"deadline": "2030-01-01T00:00:00Z"}, "window_seconds"),
        ({"select": {"vaults": ["v"]}, "vaults": ["w"]}, "own targets"),
        ({"project_concurrency": 0}, "project_concurrency"),
        ({"project_tasks": 10_001}, "project_tasks"),
    ],
)
def test_inconsistent_fleets_are_refused_with_a_reason(over: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidCommand, match=reason):
        parse_command(body(**over))


def test_a_fleet_of_100000_ids_passes_intake_but_other_large_commands_do_not() -> None:
    ids = [{"id": f"server-{i:06d}"} for i in range(100_000)]
    big = body(select={"resources": ids})
    assert len(big) > LIMITS.max_bytes
    command = parse_guarded(big, LIMITS)
    assert command.kind == "fleet_backup" and len(command.select.resources or []) == 100_000
    with pytest.raises(InvalidCommand, match="at most 100000 items"):
        parse_guarded(body(select={"resources": [*ids, {"id": "one-too-many"}]}), LIMITS)
    with pytest.raises(InvalidCommand, match="too large"):
        parse_guarded(b"x" * (LIMITS.max_bytes + 1), LIMITS)
