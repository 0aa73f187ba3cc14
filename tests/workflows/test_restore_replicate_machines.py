"""Restore and replicate state machines: every phase, every CBR outcome, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.messages import Outcome, ReplicateCommand, RestoreCommand
from orchestrator.workflows import KINDS
from orchestrator.workflows import replicate as rep
from orchestrator.workflows import restore as res
from orchestrator.workflows.base import (
    Accepted,
    BackupDetails,
    Call,
    Done,
    Failed,
    FindRestoreTask,
    Lock,
    Locked,
    PollReplication,
    Progress,
    ReplicaSeen,
    ReplicateBackup,
    ReplicationStarted,
    RestoreBackup,
    Resume,
    ShowBackup,
    Sleep,
    TaskMissing,
    TaskSeen,
    Transition,
)

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
WID = uuid.uuid4()
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SETTLE = 60.0
NOW = Resume(T0, SETTLE)


def at(seconds: float) -> Resume:
    return Resume(T0 + timedelta(seconds=seconds), SETTLE)


BUSY = Failed("retry_later", "BackupService.2002", "being backed up")
UNKNOWN = Failed("retry_later", "timeout", "no answer", outcome_unknown=True)
TERMINAL = Failed("terminal", "BackupService.2005", "backup state does not allow restore")


def call(t: Transition) -> object:
    [action] = t.actions
    assert isinstance(action, Call)
    return action.request


def final(t: Transition) -> Done:
    assert isinstance(t.actions[-1], Done)
    return t.actions[-1]


# ------------------------------------------------------------------ restore


def restore_state() -> res.RestoreState:
    cmd = RestoreCommand.model_validate(
        {
            "command_id": "r",
            "project_id": PROJECT,
            "region": "r1",
            "backup_id": "b1",
            "server_id": "srv",
            "mappings": [{"backup_id": "cb1", "volume_id": "vol1"}],
            "power_on": False,
        }
    )
    return res.initial_state(cmd, WID)


def rstep(st: res.RestoreState, obs: object) -> tuple[res.RestoreState, Transition]:
    t = res.transition(st, obs)  # type: ignore[arg-type]
    return res.RestoreState.model_validate_json(t.state.model_dump_json()), t


def restore_requested() -> res.RestoreState:
    st, t = rstep(restore_state(), NOW)
    assert t.actions == (Lock("srv"),)
    st, t = rstep(st, Locked(True))
    assert call(t) == RestoreBackup("b1", "srv", None, (("cb1", "vol1"),), False)
    assert st.restore_intent is not None
    return st


def test_restore_waits_for_the_target_lock() -> None:
    st, _ = rstep(restore_state(), NOW)
    st, t = rstep(st, Locked(False))
    assert t.actions == (Sleep("busy", 1),)
    _, t = rstep(st, NOW)
    assert t.actions == (Lock("srv"),)


def test_restore_happy_path_with_progress() -> None:
    st = restore_requested()
    st, t = rstep(st, Accepted())
    assert t.actions == (Sleep("poll"),)
    st, t = rstep(st, NOW)
    req = call(t)
    assert isinstance(req, FindRestoreTask)
    assert req.backup_id == "b1"
    assert req.target_id == "srv"
    st, t = rstep(st, TaskSeen("running", 60))
    assert t.actions == (Progress(50), Sleep("poll"))
    _, t = rstep(st, TaskSeen("success", 100))
    result = final(t)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.resources[0].resource_id == "srv"


@pytest.mark.parametrize("status", ["failed", "timeout"])
def test_restore_task_failure_carries_the_cbr_error(status: str) -> None:
    st, _ = rstep(restore_requested(), Accepted())
    _, t = rstep(st, TaskSeen(status, 10, "BackupService.9910", "unknown error"))
    result = final(t)
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "BackupService.9910")


def test_restore_busy_is_retried_later_not_failed() -> None:
    st, t = rstep(restore_requested(), BUSY)
    assert t.actions == (Sleep("busy", 1),)
    assert st.restore_intent is None
    _, t = rstep(st, NOW)
    assert isinstance(call(t), RestoreBackup)


def test_restore_unknown_outcome_and_crash_look_for_the_task_over_the_settle_window() -> None:
    st = restore_requested()
    looking, t = rstep(st, UNKNOWN)
    assert t.actions == (Sleep("settle"),)
    looking, t = rstep(looking, at(1))
    assert isinstance(call(t), FindRestoreTask)
    crashed, t = rstep(st, at(1))  # crashed after the call
    assert isinstance(call(t), FindRestoreTask)
    st2, t = rstep(crashed, TaskSeen("running", 5))
    assert st2.phase == "poll"
    assert t.actions[-1] == Sleep("poll")
    looking, t = rstep(looking, TaskMissing())  # one negative lookup settles nothing
    assert t.actions == (Sleep("settle", 1),)
    looking, _ = rstep(looking, at(30))
    looking, t = rstep(looking, Failed("retry_later", "APIG.0308", "throttled"))  # nor does a failed one
    assert t.actions == (Sleep("busy", 1),)
    looking, t = rstep(looking, at(70))
    assert isinstance(call(t), FindRestoreTask)
    _, t = rstep(looking, TaskMissing())
    assert isinstance(call(t), RestoreBackup)


def test_restore_task_never_appearing_fails_eventually() -> None:
    st, _ = rstep(restore_requested(), Accepted())
    for _ in range(res.MAX_MISSING_POLLS):
        st, t = rstep(st, TaskMissing())
        assert t.actions == (Sleep("poll"),)
    _, t = rstep(st, TaskMissing())
    assert final(t).error_code == "orchestrator.task_not_found"


def test_restore_terminal_and_expiry() -> None:
    _, t = rstep(restore_requested(), TERMINAL)
    assert final(t).error_code == "BackupService.2005"
    looking, _ = rstep(restore_requested(), UNKNOWN)
    looking, _ = rstep(looking, at(1))
    _, t = rstep(looking, Failed("terminal", "APIGW.0302", "forbidden"))
    assert final(t).error_code == "orchestrator.outcome_unknown"
    assert res.expire(restore_state()).outcome is Outcome.EXPIRED


# ------------------------------------------------------------------ replicate


def replicate_state() -> rep.ReplicateState:
    cmd = ReplicateCommand.model_validate(
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
    return rep.initial_state(cmd, WID)


def pstep(st: rep.ReplicateState, obs: object) -> tuple[rep.ReplicateState, Transition]:
    t = rep.transition(st, obs)  # type: ignore[arg-type]
    return rep.ReplicateState.model_validate_json(t.state.model_dump_json()), t


def details(
    status: str = "available", replicas: tuple[ReplicaSeen, ...] = (), **over: object
) -> BackupDetails:
    values: dict[str, object] = {
        "image_type": "backup",
        "resource_type": "OS::Nova::Server",
        "contains_system_disk": True,
    }
    values.update(over)
    return BackupDetails("b1", status, replicas=replicas, **values)  # type: ignore[arg-type]


def replicate_requested() -> rep.ReplicateState:
    st, t = pstep(replicate_state(), NOW)
    assert call(t) == ShowBackup("b1")
    st, t = pstep(st, details())
    assert call(t) == ReplicateBackup("b1", "r2", PROJECT, "dv")
    return st


def test_replicate_happy_path_records_destination_backup() -> None:
    st, t = pstep(replicate_requested(), ReplicationStarted("rec1"))
    assert t.actions == (Sleep("poll"),)
    st, t = pstep(st, Resume(T0 + timedelta(seconds=30)))
    assert call(t) == PollReplication("b1", "rec1", "r2", since=T0)  # since the first run, not this one
    st, t = pstep(st, ReplicaSeen("rec1", "r2", "replicating", progress=80))
    assert t.actions == (Progress(75), Sleep("poll"))
    _, t = pstep(st, ReplicaSeen("rec1", "r2", "success", "db1"))
    result = final(t)
    assert (result.outcome, result.destination_backup_id) == (Outcome.SUCCEEDED, "db1")


def test_replicate_poll_answered_from_the_backup_when_the_tasks_cannot_tell() -> None:
    st, _ = pstep(replicate_requested(), ReplicationStarted("rec1"))
    st, t = pstep(st, NOW)
    assert isinstance(call(t), PollReplication)
    st, t = pstep(st, details(replicas=(ReplicaSeen("rec1", "r2", "replicating", progress=30),)))
    assert t.actions == (Progress(25), Sleep("poll"))
    _, t = pstep(st, details(replicas=(ReplicaSeen("rec1", "r2", "success", "db1"),)))
    assert final(t).destination_backup_id == "db1"


def test_replicate_poll_keeps_the_record_id_when_the_task_list_has_none() -> None:
    st, _ = pstep(replicate_requested(), ReplicationStarted("rec1"))
    st, _ = pstep(st, ReplicaSeen("", "r2", "waiting_replicate"))
    assert st.record_id == "rec1"
    _, t = pstep(st, NOW)
    assert call(t) == PollReplication("b1", "rec1", "r2", since=T0)


def test_replicate_task_answer_outside_the_poll_phase_is_unexpected() -> None:
    st, _ = pstep(replicate_state(), NOW)
    _, t = pstep(st, ReplicaSeen("rec1", "r2", "success", "db1"))
    assert final(t).error_code == "orchestrator.unexpected"


@pytest.mark.parametrize(
    ("obs", "reason"),
    [
        (details(status="error"), "error"),
        (details(image_type="replication"), "replication"),
        (details(contains_system_disk=False), "system disk"),
    ],
)
def test_replicate_ineligible_backups_fail_with_a_reason(obs: BackupDetails, reason: str) -> None:
    st, _ = pstep(replicate_state(), NOW)
    _, t = pstep(st, obs)
    result = final(t)
    assert result.error_code == "orchestrator.not_eligible"
    assert reason in (result.error_message or "")


def test_replicate_waits_for_a_backup_still_being_made() -> None:
    st, _ = pstep(replicate_state(), NOW)
    _, t = pstep(st, details(status="protecting"))
    assert t.actions == (Sleep("busy", 1),)


def test_replicate_adopts_an_existing_replica_after_crash_or_1009() -> None:
    st = replicate_requested()
    crashed, t = pstep(st, at(1))  # crashed after the call: look first
    assert call(t) == ShowBackup("b1")
    refused, t = pstep(st, Failed("already_done", "BackupService.1009", "already replicated"))
    assert call(t) == ShowBackup("b1")
    st2, t = pstep(refused, details(replicas=(ReplicaSeen("recX", "r2", "replicating"),)))
    assert st2.record_id == "recX"
    assert t.actions == (Sleep("poll"),)
    crashed, t = pstep(crashed, details())  # nothing there yet: look again, over the settle window
    assert t.actions == (Sleep("settle", 1),)
    crashed, _ = pstep(crashed, at(62))
    st3, t = pstep(crashed, details())  # nothing for the whole window: ask again
    assert isinstance(call(t), ReplicateBackup)
    assert st3.replicate_intent is not None


def test_replicate_failed_replica_reports_fail_code() -> None:
    st, _ = pstep(replicate_requested(), ReplicationStarted("rec1"))
    _, t = pstep(
        st, details(replicas=(ReplicaSeen("rec1", "r2", "fail", fail_code="E1", fail_reason="boom"),))
    )
    assert (final(t).error_code, final(t).error_message) == ("E1", "boom")


def test_replicate_busy_unknown_terminal_expiry() -> None:
    st = replicate_requested()
    st2, t = pstep(st, Failed("retry_later", "BackupService.6130", "vault being replicated", retry_after=9))
    assert t.actions == (Sleep("busy", 1, 9),)
    assert st2.replicate_intent is None
    looking, t = pstep(st, UNKNOWN)
    assert t.actions == (Sleep("settle"),)
    _, t = pstep(looking, at(1))
    assert call(t) == ShowBackup("b1")
    _, t = pstep(st, Failed("terminal", "BackupService.1005", "region not supported"))
    assert final(t).error_code == "BackupService.1005"
    assert rep.expire(st).outcome is Outcome.EXPIRED


def test_kinds_registry_builds_initial_state_from_stored_input() -> None:
    cmd = replicate_state().command
    kind = KINDS["replicate"]
    loaded = kind.load(WID, cmd.model_dump(mode="json"), {})
    assert loaded.phase == "check"
    again = kind.load(WID, {}, loaded.model_dump(mode="json"))
    assert again == loaded


def test_transitions_do_not_modify_their_input() -> None:
    st = replicate_state().model_copy(update={"now": T0})
    before = st.model_dump()
    rep.transition(st, NOW)
    rep.transition(st, details())
    assert st.model_dump() == before
