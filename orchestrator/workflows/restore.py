"""Restore: one restore at a time per target resource → the restore call → poll its task → done.

Phases: ``lock`` → ``restore`` ⇄ ``find_restore`` → ``poll``. CBR answers a restore with 202 and no
handle; the task is found among the operation logs by backup id, target and start time. A restore is not
idempotent: it is announced by an :class:`Intent` saved before the call, and after a crash or an answer
that is not definite its task is looked for, and the restore asked again only once lookups have found
nothing for the whole settle window.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, assert_never

from pydantic import model_validator

from orchestrator.messages import CANCELLED, Outcome, ResourceResult, RestoreCommand
from orchestrator.workflows.base import (
    MAY_STILL_FINISH,
    Accepted,
    Admitted,
    Answer,
    BackupDetails,
    BackupsListed,
    Call,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    ChildrenSpawned,
    Done,
    Failed,
    FindRestoreTask,
    FleetSeen,
    Intent,
    Lock,
    Locked,
    MachineState,
    Observation,
    ProtectablesPage,
    ReplicaSeen,
    ReplicationStarted,
    Request,
    ResourcesAdded,
    RestoreBackup,
    Resume,
    ServerDisks,
    Sleep,
    TaskMissing,
    TaskSeen,
    Transition,
    VaultFound,
    VaultMissing,
    announce,
    begin_run,
    busy,
    found_nothing,
    intent_from_flag,
    outcome_unknown,
    progress_actions,
    settle_later,
    unexpected,
)

MAX_MISSING_POLLS = 10
FAILED_TASK = {"failed", "timeout", "skipped"}
RestorePhase = Literal["lock", "restore", "find_restore", "poll"]


class RestoreState(MachineState):
    phase: RestorePhase
    command: RestoreCommand
    requested_since: datetime | None = None
    restore_intent: Intent | None = None
    missing_polls: int = 0

    @model_validator(mode="before")
    @classmethod
    def _from_older_versions(cls, data: Any) -> Any:
        """A state saved before intents: "the restore may have started" becomes an intent."""
        return intent_from_flag(data, "restore_maybe_started", "restore_intent", "requested_since")


def initial_state(command: RestoreCommand, workflow_id: uuid.UUID) -> RestoreState:
    del workflow_id
    return RestoreState(phase="lock", command=command)


def transition(state: RestoreState, obs: Observation) -> Transition:
    """Pure: the given state is not modified; the new state is in the returned transition."""
    state = state.model_copy(deep=True)
    match obs:
        case Resume():
            begin_run(state, obs)
            state.requested_since = state.requested_since or obs.now  # no task of ours can be older
            return _resume(state)
        case Failed():
            return _failed(state, obs)
        case Locked() if state.phase == "lock":
            return _locked(state, obs)
        case _:
            state.busy_retries = 0
            return _answered(state, obs)


def _answered(state: RestoreState, obs: Answer) -> Transition:
    """What an action answered, in the phase that asked for it; anything else is a bug."""
    match obs:
        case Accepted() if state.phase == "restore":
            state.phase = "poll"
            state.restore_intent = None  # answered: it is under way
            return Transition(state, (Sleep("poll"),))
        case TaskSeen() if state.phase in ("find_restore", "poll"):
            state.restore_intent = None
            return _task(state, obs)
        case TaskMissing() if state.phase == "find_restore":
            return _restore_not_seen(state)
        case TaskMissing() if state.phase == "poll":
            return _task_missing(state)
        case Locked() | Accepted() | TaskSeen() | TaskMissing():  # in another phase
            return unexpected(state, obs)
        case (
            VaultFound()
            | VaultMissing()
            | ResourcesAdded()
            | CheckpointCreated()
            | CheckpointLookup()
            | CheckpointStatus()
            | CheckpointShown()
            | ReplicaSeen()
            | BackupDetails()
            | ReplicationStarted()
            | Admitted()
            | ProtectablesPage()
            | ChildrenSpawned()
            | FleetSeen()
            | BackupsListed()
            | ServerDisks()
        ):  # a restore never asks for these
            return unexpected(state, obs)
        case _:
            assert_never(obs)


def _locked(state: RestoreState, obs: Locked) -> Transition:
    if not obs.acquired:
        state.busy_retries += 1
        return Transition(state, (Sleep("busy", state.busy_retries),))
    state.busy_retries = 0
    state.phase = "restore"
    return _request(state)


def _task_missing(state: RestoreState) -> Transition:
    """The restore's task is not (yet) in the operation logs: poll again, a few times."""
    state.missing_polls += 1
    if state.missing_polls > MAX_MISSING_POLLS:
        return Transition(
            state,
            (
                _done(
                    state,
                    Outcome.FAILED,
                    "orchestrator.task_not_found",
                    "the restore task never appeared in the operation logs",
                ),
            ),
        )
    return Transition(state, (Sleep("poll"),))


def expire(state: RestoreState) -> Done:
    return _done(state, Outcome.EXPIRED, "orchestrator.deadline", "deadline passed before completion")


def fail(state: RestoreState, code: str, message: str) -> Done:
    return _done(state, Outcome.FAILED, code, message)


def cancel(state: RestoreState, pending: Request | None) -> Transition | None:
    """Asked to cancel (before ``pending``, a call not made yet; None: at the start of a run). A restore
    whose outcome is unknown is settled first (None: go on); one about to be asked is not. A restore
    running in CBR, which cannot cancel it, is reported failed, saying that it may still finish; one never
    started, skipped."""
    state = state.model_copy(deep=True)
    if isinstance(pending, RestoreBackup):
        state.restore_intent = None
    if state.restore_intent is not None:
        return None
    running = state.phase == "poll"
    message = f"{MAY_STILL_FINISH} (restore of backup {state.command.backup_id})" if running else None
    result = ResourceResult(
        resource_id=state.command.target_id,
        status="failed" if running else "skipped",
        backup_id=state.command.backup_id,
        error_code=CANCELLED,
        error_message=message or "cancelled before the restore started",
    )
    done = Done(Outcome.CANCELLED, (result,), error_code=CANCELLED, error_message=result.error_message)
    return Transition(state, (done,))


def _resume(state: RestoreState) -> Transition:
    match state.phase:
        case "lock":
            return Transition(state, (Lock(state.command.target_id),))
        case "restore" | "find_restore" if state.restore_intent is not None:
            state.phase = "find_restore"  # it may be under way already: look before asking again
            return Transition(state, (Call(_find(state)),))
        case "restore" | "find_restore":
            return _request(state)
        case "poll":
            return Transition(state, (Call(_find(state)),))
        case _:
            assert_never(state.phase)


def _restore_not_seen(state: RestoreState) -> Transition:
    intent = state.restore_intent
    if intent is not None and not found_nothing(state, intent):
        return settle_later(state, intent)
    state.restore_intent = None  # settled: the restore did not take effect
    return _request(state)


def _request(state: RestoreState) -> Transition:
    cmd = state.command
    state.phase = "restore"
    state.restore_intent = announce(state)  # persisted by the engine before the call goes out
    req = RestoreBackup(
        cmd.backup_id,
        cmd.server_id,
        cmd.volume_id,
        tuple((m.backup_id, m.volume_id) for m in cmd.mappings),
        cmd.power_on,
    )
    return Transition(state, (Call(req),))


def _find(state: RestoreState) -> FindRestoreTask:
    if state.requested_since is None:
        raise ValueError("no start time recorded")
    return FindRestoreTask(state.command.backup_id, state.command.target_id, state.requested_since)


def _task(state: RestoreState, obs: TaskSeen) -> Transition:
    state.phase = "poll"
    if obs.status == "success":
        return Transition(state, (_done(state, Outcome.SUCCEEDED),))
    if obs.status in FAILED_TASK:
        return Transition(
            state,
            (
                _done(
                    state,
                    Outcome.FAILED,
                    obs.error_code or f"task.{obs.status}",
                    obs.error_message or f"restore task ended {obs.status}",
                ),
            ),
        )
    return Transition(state, (*progress_actions(state, obs.progress), Sleep("poll")))


def _failed(state: RestoreState, failure: Failed) -> Transition:
    if state.phase == "restore" and failure.outcome_unknown:
        state.phase = "find_restore"
        return Transition(state, (Sleep("settle"),))
    if state.phase == "restore":  # a definite answer: the restore did not start
        state.restore_intent = None
    if failure.kind == "retry_later":
        return busy(state, failure)
    if state.phase == "find_restore":
        code, message = outcome_unknown(failure, "the restore")
        return Transition(state, (_done(state, Outcome.FAILED, code, message),))
    return Transition(state, (_done(state, Outcome.FAILED, failure.code, failure.message),))


def _done(state: RestoreState, outcome: Outcome, code: str | None = None, message: str | None = None) -> Done:
    status = "succeeded" if outcome is Outcome.SUCCEEDED else "failed"
    result = ResourceResult(
        resource_id=state.command.target_id,
        status=status,
        backup_id=state.command.backup_id,
        error_code=code,
        error_message=message,
    )
    return Done(outcome, (result,), error_code=code, error_message=message)
