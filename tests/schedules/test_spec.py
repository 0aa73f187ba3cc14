"""A schedule is checked whole before it is stored: name, rule, zone and a fleet_backup command template;
each occurrence's command id is derived from the schedule and the occurrence, the same every time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scene import FLEET, schedule

from orchestrator.messages import FleetBackupCommand, command_from_json
from orchestrator.schedules.spec import (
    InvalidSchedule,
    checked_spec,
    occurrence_command,
    occurrence_command_id,
    template,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_derived_command_id_is_stable_and_one_per_schedule_and_occurrence() -> None:
    one, other = uuid.UUID(int=1), uuid.UUID(int=2)
    at = datetime(2026, 3, 29, 3, 30, tzinfo=UTC)
    same_instant_elsewhere = at.astimezone(datetime.now().astimezone().tzinfo)
    again = occurrence_command_id(one, "nightly", same_instant_elsewhere)
    assert occurrence_command_id(one, "nightly", at) == again
    ids = {
        occurrence_command_id(one, "nightly", at),
        occurrence_command_id(one, "nightly", at + timedelta(seconds=1)),
        occurrence_command_id(other, "nightly", at),  # the schedule removed and added again
    }
    assert len(ids) == 3
    assert occurrence_command_id(one, "nightly", at).startswith("schedule:nightly:20260329T033000Z:")


def test_the_longest_name_still_makes_a_valid_command() -> None:
    spec = checked_spec(schedule("n" * 64, "FREQ=DAILY", START))
    command_id = occurrence_command_id(uuid.uuid4(), spec.name, START)
    command = occurrence_command(template(spec), command_id)
    assert isinstance(command_from_json(command.model_dump(mode="json")), FleetBackupCommand)
    assert command.command_id == command_id and command.select.protectables is not None


def test_a_naive_start_is_a_wall_time_in_the_zone() -> None:
    spec = checked_spec(schedule("x", "FREQ=DAILY", datetime(2026, 7, 1, 2, 0), time_zone="Europe/Berlin"))
    assert spec.start_instant(START) == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def _refused(raw: dict[str, Any]) -> InvalidSchedule:
    with pytest.raises(InvalidSchedule) as caught:
        checked_spec(raw)
    return caught.value


@pytest.mark.parametrize(
    ("over", "where"),
    [
        ({"rrule": "FREQ=DAILY;BYHOUR=99"}, "rrule"),
        ({"time_zone": "Nowhere/Atlantis"}, "time_zone"),
        ({"name": "two words"}, "name"),
        ({"name": ""}, "name"),
        ({"command": {**FLEET, "command_id": "mine"}}, "command.command_id"),
        ({"command": {**FLEET, "kind": "backup"}}, "command.kind"),
        ({"command": {**FLEET, "project_id": "not-a-project"}}, "command.project_id"),
        ({"command": {k: v for k, v in FLEET.items() if k != "select"}}, "command.select"),
        ({"command": {**FLEET, "deadline": "2026-01-01T00:00:00Z"}}, "command"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_no_value(over: dict[str, Any], where: str) -> None:
    refused = _refused({**schedule("nightly", "FREQ=DAILY", START), **over})
    assert refused.reason.startswith("invalid: ")
    assert any(location.startswith(where) for location, _ in refused.fields), refused.fields
    assert "not-a-project" not in refused.reason


def test_a_template_too_large_is_refused() -> None:
    servers = [{"id": f"server-{i:06d}-of-a-large-fleet"} for i in range(60_000)]
    command = {**FLEET, "select": {"resources": servers}}
    refused = _refused(schedule("huge", "FREQ=DAILY", START, command=command))
    assert refused.reason.startswith("too large")
