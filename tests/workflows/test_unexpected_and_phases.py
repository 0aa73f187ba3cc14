"""What every kind does with an observation that does not fit: it ends, naming the observation and the
phase; and the phases it stores (a ``Literal`` per kind) load as they were saved. No I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.messages import Outcome
from orchestrator.workflows import KINDS
from orchestrator.workflows.base import (
    Accepted,
    ChildrenSpawned,
    Done,
    MachineState,
    Observation,
    ProtectablesPage,
    ReplicationStarted,
    Resume,
    TaskMissing,
    VaultMissing,
)

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
WHERE = {"project_id": PROJECT, "region": "r1"}
WID = uuid.UUID(int=9)
NOW = Resume(datetime(2030, 1, 1, tzinfo=UTC))
COMMANDS: dict[str, dict[str, Any]] = {
    "backup": {"command_id": "b", **WHERE, "vault": {"id": "v1"}, "resources": [{"id": "s0"}]},
    "restore": {"command_id": "r", **WHERE, "backup_id": "b1", "server_id": "srv"},
    "replicate": {
        "command_id": "p",
        **WHERE,
        "backup_id": "b1",
        "destination_region": "r2",
        "destination_project_id": PROJECT,
        "destination_vault_id": "dv",
    },
    "fleet_backup": {"kind": "fleet_backup", "command_id": "f", **WHERE, "select": {"vaults": ["v1"]}},
    "restore_drill": {
        "kind": "restore_drill",
        "command_id": "d",
        **WHERE,
        "sample": {"vaults": [{"id": "v1"}]},
        "scratch_servers": ["scratch"],
    },
}
# the phases stored in the rows of each kind (written out here: a rename must not slip through)
STORED_PHASES = {
    "backup": [
        "resolve_vault",
        "create_vault",
        "find_vault",
        "associate",
        "verify_association",
        "checkpoint",
        "find_checkpoint",
        "poll",
    ],
    "restore": ["lock", "restore", "find_restore", "poll"],
    "replicate": ["check", "replicate", "find_replica", "poll"],
    "fleet_backup": ["start", "list_protectables", "show_vaults", "spawn", "watch", "summarize"],
    "restore_drill": ["find_vaults", "list", "scratch", "restore"],
}


def started(kind: str) -> MachineState:
    state: MachineState = KINDS[kind].load(WID, COMMANDS[kind], {})
    return KINDS[kind].transition(state, NOW).state  # type: ignore[return-value]


def ended_unexpected(kind: str, obs: Observation) -> Done:
    state = started(kind)
    [done] = KINDS[kind].transition(state, obs).actions
    assert isinstance(done, Done)
    assert (done.outcome, done.error_code) == (Outcome.FAILED, "orchestrator.unexpected")
    return done


@pytest.mark.parametrize(
    ("kind", "obs", "phase"),
    [
        ("backup", TaskMissing(), "resolve_vault"),  # never asked by a backup
        ("restore", VaultMissing(), "lock"),
        ("replicate", ChildrenSpawned(3), "check"),
        ("fleet_backup", Accepted(), "show_vaults"),
        ("restore", Accepted(), "lock"),  # asked by this kind, in another phase
        ("replicate", ReplicationStarted("rec"), "check"),
        ("fleet_backup", ProtectablesPage(()), "show_vaults"),
        ("restore_drill", Accepted(), "list"),
    ],
)
def test_an_observation_that_does_not_fit_ends_the_workflow_naming_it_and_the_phase(
    kind: str, obs: Observation, phase: str
) -> None:
    done = ended_unexpected(kind, obs)
    assert done.error_message == f"{type(obs).__name__} in phase {phase}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_stored_phase_loads_as_it_was_saved_and_a_phase_of_no_kind_is_refused(kind: str) -> None:
    saved = started(kind).model_dump(mode="json")
    state_type = KINDS[kind].state_type
    for phase in STORED_PHASES[kind]:
        assert state_type.model_validate({**saved, "phase": phase}).model_dump(mode="json")["phase"] == phase
    with pytest.raises(ValidationError, match="phase"):
        state_type.model_validate({**saved, "phase": "polling"})
