"""How each kind stops when asked to cancel: before a call not made yet, at the start of a run, or not yet
(an unknown outcome to settle first). No I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypeVar

from orchestrator.messages import (
    CANCELLED,
    BackupCommand,
    FleetBackupCommand,
    FleetCounts,
    Outcome,
    ReplicateCommand,
    RestoreCommand,
)
from orchestrator.workflows import KINDS, backup, drill, fleet, replicate, restore
from orchestrator.workflows.base import (
    Accepted,
    BackupDetails,
    BackupSeen,
    Call,
    CancelChildren,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointStatus,
    CreateCheckpoint,
    Done,
    Failed,
    FindCheckpoint,
    FleetSeen,
    ListProtectables,
    Locked,
    MachineState,
    Observation,
    ProtectablesPage,
    ReadFleet,
    ReplicateBackup,
    ReplicationStarted,
    RestoreBackup,
    Resume,
    Sleep,
    SpawnChildren,
    Transition,
    VaultFound,
)

S = TypeVar("S", bound=MachineState)
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
WID = uuid.UUID("11111111-2222-3333-4444-555555555555")
NOW = Resume(datetime(2030, 1, 1, tzinfo=UTC), 60.0)
UNKNOWN = Failed("retry_later", "timeout", "no answer", outcome_unknown=True)


def the_call(t: Transition) -> object:
    [action] = t.actions
    assert isinstance(action, Call)
    return action.request


def ended(t: Transition | None) -> Done:
    assert t is not None
    [action] = t.actions
    assert isinstance(action, Done)
    assert action.outcome is Outcome.CANCELLED and action.error_code == CANCELLED
    return action


def statuses(done: Done) -> list[tuple[str, str, str | None]]:
    return [(r.resource_id, r.status, r.error_code) for r in done.resources]


def step(state: S, obs: Observation) -> tuple[S, Transition]:
    """One transition of ``state``'s kind, the new state round-tripped through JSON as the store does."""
    kind = next(k for k in KINDS.values() if isinstance(state, k.state_type))
    t = kind.transition(state, obs)
    return type(state).model_validate_json(t.state.model_dump_json()), t


# ------------------------------------------------------------------ backup


def backup_state(**over: object) -> backup.BackupState:
    command = BackupCommand.model_validate(
        {
            "command_id": "c1",
            "project_id": PROJECT,
            "region": "r1",
            "vault": {"id": "v1"},
            "resources": [{"id": "s0"}, {"id": "s1"}],
        }
    )
    return backup.initial_state(command, WID).model_copy(update=over)


def backup_about_to_create() -> tuple[backup.BackupState, CreateCheckpoint]:
    state, _ = step(backup_state(admitted=True), NOW)
    state, t = step(state, VaultFound("v1", ("s0", "s1")))
    create = the_call(t)
    assert isinstance(create, CreateCheckpoint)
    return state, create


def test_a_backup_not_admitted_yet_ends_with_its_resources_skipped() -> None:
    done = ended(backup.cancel(backup_state(), None))
    assert statuses(done) == [("s0", "skipped", CANCELLED), ("s1", "skipped", CANCELLED)]
    assert done.checkpoint_id is None


def test_a_checkpoint_about_to_be_created_is_not_created() -> None:
    state, create = backup_about_to_create()
    assert state.checkpoint_intent is not None  # announced, the call not made
    done = ended(backup.cancel(state, create))
    assert statuses(done) == [("s0", "skipped", CANCELLED), ("s1", "skipped", CANCELLED)]


def test_a_checkpoint_whose_create_is_unknown_is_settled_first_then_reported_running() -> None:
    state, _ = backup_about_to_create()
    state, t = step(state, UNKNOWN)
    assert t.actions == (Sleep("settle"),)
    assert backup.cancel(state, None) is None  # the intent stands: go on
    state, t = step(state, NOW)
    lookup = the_call(t)
    assert isinstance(lookup, FindCheckpoint)
    assert backup.cancel(state, lookup) is None  # the lookup is made
    state, _ = step(state, CheckpointLookup("cp1"))
    done = ended(backup.cancel(state, None))
    assert done.checkpoint_id == "cp1"
    assert statuses(done) == [("s0", "failed", CANCELLED), ("s1", "failed", CANCELLED)]
    assert all("may still finish" in (r.error_message or "") for r in done.resources)
    assert "cp1" in (done.error_message or "")


def test_what_ended_stays_as_it_ended() -> None:
    state, _ = backup_about_to_create()
    state, _ = step(state, CheckpointCreated("cp1"))
    state, _ = step(state, CheckpointStatus("protecting", (BackupSeen("s0", "b0", "available", 5),)))
    done = ended(backup.cancel(state, None))
    assert statuses(done) == [("s0", "succeeded", None), ("s1", "failed", CANCELLED)]
    assert done.resources[0].backup_id == "b0"


# ------------------------------------------------------------------ restore


def restore_state() -> restore.RestoreState:
    command = RestoreCommand.model_validate(
        {"command_id": "r", "project_id": PROJECT, "region": "r1", "backup_id": "b1", "volume_id": "vol1"}
    )
    return restore.initial_state(command, WID)


def test_a_restore_is_skipped_before_it_starts_and_reported_running_after() -> None:
    assert statuses(ended(restore.cancel(restore_state(), None))) == [("vol1", "skipped", CANCELLED)]
    state, _ = step(restore_state(), NOW)
    state, t = step(state, Locked(True))
    asked = the_call(t)
    assert isinstance(asked, RestoreBackup)
    assert statuses(ended(restore.cancel(state, asked))) == [("vol1", "skipped", CANCELLED)]
    unknown, _ = step(state, UNKNOWN)
    assert restore.cancel(unknown, None) is None  # settled first
    running, _ = step(state, Accepted())
    done = ended(restore.cancel(running, None))
    assert statuses(done) == [("vol1", "failed", CANCELLED)]
    assert "may still finish" in (done.error_message or "")


# ------------------------------------------------------------------ replicate


def replicate_state() -> replicate.ReplicateState:
    command = ReplicateCommand.model_validate(
        {
            "command_id": "p",
            "project_id": PROJECT,
            "region": "r1",
            "backup_id": "b1",
            "destination_region": "r2",
            "destination_project_id": PROJECT,
            "destination_vault_id": "dv",
        }
    )
    return replicate.initial_state(command, WID)


def test_a_replication_is_skipped_before_it_starts_and_reported_running_after() -> None:
    assert statuses(ended(replicate.cancel(replicate_state(), None))) == [("b1", "skipped", CANCELLED)]
    state, _ = step(replicate_state(), NOW)
    state, t = step(state, BackupDetails("b1", "available", "backup", "OS::Nova::Server", True))
    asked = the_call(t)
    assert isinstance(asked, ReplicateBackup)
    assert statuses(ended(replicate.cancel(state, asked))) == [("b1", "skipped", CANCELLED)]
    unknown, _ = step(state, UNKNOWN)
    assert replicate.cancel(unknown, None) is None  # settled first
    running, _ = step(state, ReplicationStarted("rec1"))
    done = ended(replicate.cancel(running, None))
    assert statuses(done) == [("b1", "failed", CANCELLED)]
    assert "rec1" in (done.error_message or "")


# ------------------------------------------------------------------ fleet


def test_a_fleet_cancels_its_children_then_ends_cancelled_once_they_all_ended() -> None:
    command = FleetBackupCommand.model_validate(
        {"command_id": "f", "project_id": PROJECT, "region": "r1", "select": {"resources": [{"id": "s0"}]}}
    )
    state, t = step(fleet.initial_state(command, WID), NOW)
    assert isinstance(the_call(t), ListProtectables)  # the size of s0 first
    state, t = step(state, ProtectablesPage((("s0", "OS::Nova::Server", None, 10),)))
    assert isinstance(t.actions[0], SpawnChildren)  # about to spawn: it spawns nothing more
    stop = fleet.cancel(state, None)
    assert stop is not None and stop.actions == (CancelChildren(), ReadFleet())
    state = fleet.FleetState.model_validate_json(stop.state.model_dump_json())
    assert fleet.cancel(state, None) is None  # under way: go on watching
    state, t = step(state, FleetSeen(FleetCounts(total=1, running=1, children=1)))
    assert t.actions == (Sleep("poll"),)
    over = FleetCounts(total=1, skipped=1, cancelled=1, children=1, children_final=1)
    _, t = step(state, FleetSeen(over))  # every child final: the summary at once
    done = ended(t)
    assert done.fleet is not None and done.fleet.counts.cancelled == 1
    all_done = FleetCounts(total=1, succeeded=1, children=1, children_final=1)  # ended before the cancel
    _, t = step(state, FleetSeen(all_done))
    assert isinstance(t.actions[-1], Done) and t.actions[-1].outcome is Outcome.SUCCEEDED


def test_every_kind_can_be_cancelled() -> None:
    assert set(KINDS) == {"backup", "restore", "replicate", "fleet_backup", "restore_drill"}
    assert KINDS["restore_drill"].cancel is drill.cancel
    assert KINDS["backup"].cancel is backup.cancel and KINDS["restore"].cancel is restore.cancel
    assert KINDS["replicate"].cancel is replicate.cancel and KINDS["fleet_backup"].cancel is fleet.cancel
