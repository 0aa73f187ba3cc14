"""The restore drill's state machine: sampling, scratch slots, the scratch-only guard, crash and cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.messages import CANCELLED, Outcome, RestoreDrillCommand, command_from_json
from orchestrator.workflows import KINDS
from orchestrator.workflows import drill as dr
from orchestrator.workflows.base import (
    Accepted,
    BackupListed,
    BackupsListed,
    Call,
    DiskBackup,
    Done,
    Failed,
    FindRestoreTask,
    FindVault,
    ListBackups,
    Lock,
    Locked,
    Progress,
    RestoreBackup,
    Resume,
    ServerDisk,
    ServerDisks,
    ShowServerDisks,
    Sleep,
    TaskMissing,
    TaskSeen,
    Transition,
    Unlock,
    VaultFound,
    VaultMissing,
    announce,
)

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SETTLE = 60.0


def at(seconds: float) -> Resume:
    return Resume(T0 + timedelta(seconds=seconds), SETTLE)


def command(**over: Any) -> RestoreDrillCommand:
    body: dict[str, Any] = {
        "kind": "restore_drill",
        "command_id": "drill-1",
        "project_id": PROJECT,
        "region": "eu-west-0",
        "sample": {"vaults": [{"id": "v1"}], "per_vault": 2},
        "scratch_servers": ["scratch-a"],
    }
    body.update(over)
    return RestoreDrillCommand.model_validate(body)


def backup(bid: str, server: str, minute: int, data_gb: float = 10) -> BackupListed:
    disks = (DiskBackup(f"{bid}-sys", 40, True), DiskBackup(f"{bid}-data", data_gb, False))
    return BackupListed(bid, server, f"2030-01-01T00:{minute:02d}:00Z", disks)


def scratch_disks(server: str, data_gb: float = 100) -> ServerDisks:
    return ServerDisks(
        server, (ServerDisk(f"{server}-vda", 40, True), ServerDisk(f"{server}-vdb", data_gb, False))
    )


def actions(t: Transition) -> list[Any]:
    return list(t.actions)


def only(t: Transition) -> Any:
    [action] = t.actions
    return action.request if isinstance(action, Call) else action


def feed(state: dr.DrillState, obs: Any) -> tuple[dr.DrillState, Transition]:
    t = dr.transition(state, obs)
    assert isinstance(t.state, dr.DrillState)
    return t.state, t


def prepared(cmd: RestoreDrillCommand, listed: tuple[BackupListed, ...]) -> tuple[dr.DrillState, Transition]:
    """Through listing and reading scratch disks: the transition that starts the restores."""
    state = dr.initial_state(cmd, uuid.uuid4())
    state, t = feed(state, at(0))
    assert only(t) == ListBackups("v1", 1000)
    state, t = feed(state, BackupsListed("v1", listed))
    for server in cmd.scratch_servers:
        assert only(t) == ShowServerDisks(server)
        state, t = feed(state, scratch_disks(server))
    return state, t


def test_samples_the_newest_backup_of_each_server_and_restores_them_one_at_a_time_on_one_scratch() -> None:
    listed = (
        backup("b-old", "srv-1", 1),
        backup("b-new", "srv-1", 5),
        backup("b2", "srv-2", 3),
        backup("b3", "srv-3", 2),
    )
    state, t = prepared(command(), listed)
    assert [s.backup_id for s in state.samples] == ["b-new", "b2"]  # per_vault 2, one per server, newest
    assert only(t) == Lock("scratch-a")
    state, t = feed(state, Locked(True))
    restore = only(t)
    assert restore == RestoreBackup(
        "b-new", "scratch-a", None, (("b-new-sys", "scratch-a-vda"), ("b-new-data", "scratch-a-vdb")), False
    )
    assert state.slots[0].intent is not None  # announced before the call
    state, t = feed(state, Accepted())
    assert actions(t) == [Sleep("poll")]  # the second sample waits for the only scratch server
    assert state.samples[1].status == "queued"
    state, t = feed(state, at(30))
    assert only(t) == FindRestoreTask("b-new", "scratch-a", T0)
    state, t = feed(state, TaskSeen("running", 50))
    assert actions(t) == [Sleep("poll")]
    state, t = feed(state, at(60))
    ended = TaskSeen(
        "success", 100, created_at=T0 + timedelta(seconds=1), ended_at=T0 + timedelta(seconds=43.5)
    )
    state, t = feed(state, ended)
    assert actions(t) == [Unlock("scratch-a"), Progress(50), Lock("scratch-a")]  # it takes the next sample
    assert state.samples[0].rto_seconds == 42.5
    state, t = feed(state, Locked(True))
    assert only(t).backup_id == "b2"
    state, t = feed(state, Accepted())
    state, t = feed(state, at(90))
    state, t = feed(
        state, TaskSeen("failed", 100, "BackupService.2001", "disk too small", T0, T0 + timedelta(seconds=5))
    )
    [unlock, done] = actions(t)
    assert unlock == Unlock("scratch-a") and isinstance(done, Done)
    assert done.outcome is Outcome.PARTIALLY_SUCCEEDED and done.drill is not None
    assert (done.drill.succeeded, done.drill.failed, done.drill.rto_max_seconds) == (1, 1, 42.5)
    assert [(s.resource_id, s.scratch_server_id, s.status) for s in done.drill.samples] == [
        ("srv-1", "scratch-a", "succeeded"),
        ("srv-2", "scratch-a", "failed"),
    ]
    assert done.drill.samples[1].error_code == "BackupService.2001"


def test_two_scratch_servers_restore_two_samples_at_once() -> None:
    listed = (backup("b1", "srv-1", 5), backup("b2", "srv-2", 4))
    state, t = prepared(command(scratch_servers=["scratch-a", "scratch-b"]), listed)
    assert only(t) == Lock("scratch-a")
    state, t = feed(state, Locked(True))
    state, t = feed(state, Accepted())
    assert only(t) == Lock("scratch-b")  # the round goes on to the next slot
    state, t = feed(state, Locked(True))
    assert only(t).server_id == "scratch-b" and only(t).backup_id == "b2"
    state, t = feed(state, Accepted())
    assert actions(t) == [Sleep("poll")]
    assert [s.status for s in state.samples] == ["running", "running"]


def test_a_scratch_server_locked_by_another_workflow_waits_and_the_restore_is_not_asked() -> None:
    state, t = prepared(command(), (backup("b1", "srv-1", 5),))
    state, t = feed(state, Locked(False))
    assert actions(t) == [Sleep("poll")]
    state, t = feed(state, at(10))
    assert only(t) == Lock("scratch-a")


@pytest.mark.parametrize("tampered", ["prod-server", "srv-1"])
def test_the_machine_refuses_to_restore_to_a_server_not_on_the_scratch_list(tampered: str) -> None:
    """Defence in depth: even a state whose slot names another server (a bug, a tampered row) never sends
    the restore there; the sample fails saying why."""
    state, t = prepared(command(), (backup("b1", "srv-1", 5),))
    state.slots[0].server_id = tampered
    state, t = feed(state, Locked(True))
    assert not any(isinstance(a, Call) and isinstance(a.request, RestoreBackup) for a in t.actions)
    assert actions(t)[0] == Unlock(tampered)
    done = actions(t)[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.FAILED
    assert done.drill is not None and done.drill.samples[0].error_code == dr.NOT_SCRATCH


def test_after_a_crash_the_restore_is_looked_for_not_asked_again() -> None:
    state, t = prepared(command(), (backup("b1", "srv-1", 5),))
    state, t = feed(state, Locked(True))
    assert isinstance(only(t), RestoreBackup)
    saved = state  # what the engine wrote before the call; the worker dies before the answer
    state, t = feed(saved, at(5))
    assert only(t) == FindRestoreTask("b1", "scratch-a", T0)
    state, t = feed(state, TaskSeen("running", 10))
    state, t = feed(state, at(20))
    assert only(t) == FindRestoreTask("b1", "scratch-a", T0)
    state, t = feed(state, TaskSeen("success", 100, created_at=T0, ended_at=T0 + timedelta(seconds=9)))
    assert isinstance(actions(t)[-1], Done) and actions(t)[-1].outcome is Outcome.SUCCEEDED


def test_a_restore_not_found_is_asked_again_only_after_the_settle_window() -> None:
    state, t = prepared(command(), (backup("b1", "srv-1", 5),))
    state, t = feed(state, Locked(True))
    state, t = feed(state, Failed("retry_later", "timeout", "no answer", outcome_unknown=True))
    assert actions(t) == [Sleep("poll")]
    state, t = feed(state, at(10))
    assert only(t) == FindRestoreTask("b1", "scratch-a", T0)
    state, t = feed(state, TaskMissing())
    assert actions(t) == [Sleep("poll")]  # nothing seen yet, but not for the whole window
    state, t = feed(state, at(10 + SETTLE))
    state, t = feed(state, TaskMissing())
    assert isinstance(only(t), RestoreBackup)


def test_cbr_refusing_a_restore_to_another_server_fails_that_sample_and_frees_the_slot() -> None:
    state, t = prepared(command(), (backup("b1", "srv-1", 5),))
    state, t = feed(state, Locked(True))
    state, t = feed(
        state, Failed("terminal", "BackupService.2003", "Restoration to a different server is not allowed.")
    )
    unlock, done = actions(t)
    assert unlock == Unlock("scratch-a") and isinstance(done, Done) and done.outcome is Outcome.FAILED
    assert done.error_code == "BackupService.2003"


def test_a_sample_no_scratch_server_fits_is_skipped_without_any_call() -> None:
    _, t = prepared(command(), (backup("b1", "srv-1", 5, data_gb=500),))
    done = only(t)
    assert isinstance(done, Done) and done.outcome is Outcome.FAILED
    assert done.drill is not None and done.drill.samples[0].error_code == "orchestrator.no_fitting_scratch"


def test_vaults_by_name_missing_ones_and_empty_ones_are_reported() -> None:
    cmd = command(sample={"vaults": [{"name": "prod"}, {"name": "gone"}], "per_vault": 1})
    state = dr.initial_state(cmd, uuid.uuid4())
    state, t = feed(state, at(0))
    assert only(t) == FindVault("prod")
    state, t = feed(state, VaultFound("v-prod", ()))
    assert only(t) == FindVault("gone")
    state, t = feed(state, VaultMissing())
    assert only(t) == ListBackups("v-prod", 1000)
    state, t = feed(state, BackupsListed("v-prod", ()))
    state, t = feed(state, scratch_disks("scratch-a"))
    done = only(t)
    assert isinstance(done, Done) and done.error_code == "orchestrator.nothing_to_drill"
    assert done.drill is not None and len(done.drill.problems) == 2


def test_cancel_settles_an_unknown_restore_first_then_reports_what_may_still_finish() -> None:
    state, t = prepared(command(), (backup("b1", "srv-1", 5), backup("b2", "srv-2", 4)))
    state, t = feed(state, Locked(True))
    pending = only(t)
    stop = dr.cancel(state, pending)  # about to be asked: it is not
    assert stop is not None and isinstance(stop.actions[-1], Done)
    report = stop.actions[-1].drill
    assert report is not None and [s.status for s in report.samples] == ["skipped", "skipped"]
    state, t = feed(state, Accepted())
    assert dr.cancel(state, None) is not None  # running in CBR: reported, may still finish
    running = dr.cancel(state, None)
    assert running is not None
    done = running.actions[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.CANCELLED and done.error_code == CANCELLED
    assert done.drill is not None and done.drill.samples[0].status == "failed"
    state.slots[0].intent = state.slots[0].intent or announce(state)
    assert dr.cancel(state, None) is None  # an unknown outcome is settled first


def test_expire_reports_every_sample() -> None:
    state, _ = prepared(command(), (backup("b1", "srv-1", 5), backup("b2", "srv-2", 4)))
    done = dr.expire(state)
    assert done.outcome is Outcome.EXPIRED and done.drill is not None
    assert [s.status for s in done.drill.samples] == ["skipped", "skipped"]


def test_the_kind_is_registered_and_loads_its_state() -> None:
    kind = KINDS["restore_drill"]
    cmd = command()
    state = kind.load(uuid.uuid4(), cmd.model_dump(mode="json"), {})
    again = kind.load(uuid.uuid4(), {}, state.model_dump(mode="json"))
    assert again == state


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"scratch_servers": []}, "scratch_servers"),
        ({"scratch_servers": ["a", "a"]}, "distinct"),
        (
            {"sample": {"vaults": [{"id": "v1"}], "servers": ["prod-1"]}, "scratch_servers": ["prod-1"]},
            "sampled server",
        ),
        ({"sample": {"vaults": [{"id": "v1", "name": "x"}]}}, "exactly one"),
        ({"sample": {"vaults": [{"id": f"v{i}"} for i in range(11)], "per_vault": 10}}, "at most 100"),
        ({"scratch_servers": ["bad id!"]}, "scratch_servers"),
    ],
)
def test_bad_drill_commands_are_refused_with_a_reason(change: dict[str, Any], says: str) -> None:
    raw = command().model_dump(mode="json") | change
    with pytest.raises(ValidationError, match=says):
        RestoreDrillCommand.model_validate(raw)
    from orchestrator.messages import InvalidCommand

    with pytest.raises(InvalidCommand):
        command_from_json(raw)
