"""Restore: one restore at a time per target resource → the restore call → poll its task → done.

Phases: ``lock`` → ``restore`` → ``poll``. CBR answers a restore with 202 and no handle; the task is
found among the operation logs by backup id, target and start time. A restore whose outcome is unknown
(crash, timeout) is looked for before it is asked again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from orchestrator.messages import Outcome, ResourceResult, RestoreCommand
from orchestrator.workflows.base import (
    Accepted,
    Call,
    Done,
    Failed,
    FindRestoreTask,
    Lock,
    Locked,
    MachineState,
    Observation,
    RestoreBackup,
    Resume,
    Sleep,
    TaskMissing,
    TaskSeen,
    Transition,
    busy,
    progress_actions,
    unexpected,
)

MAX_MISSING_POLLS = 10
FAILED_TASK = {"failed", "timeout", "skipped"}


class RestoreState(MachineState):
    command: RestoreCommand
    requested_since: datetime | None = None
    restore_maybe_started: bool = False
    missing_polls: int = 0


def initial_state(command: RestoreCommand, workflow_id: uuid.UUID) -> RestoreState:
    del workflow_id
    return RestoreState(phase="lock", command=command)


def transition(state: RestoreState, obs: Observation) -> Transition:
    """Pure: the given state is not modified; the new state is in the returned transition."""
    state = state.model_copy(deep=True)
    if isinstance(obs, Resume):
        state.requested_since = state.requested_since or obs.now  # no task of ours can be older
        return _resume(state, obs.now)
    if isinstance(obs, Failed):
        return _failed(state, obs)
    if isinstance(obs, Locked) and state.phase == "lock":
        if not obs.acquired:
            state.busy_retries += 1
            return Transition(state, (Sleep("busy", state.busy_retries),))
        state.busy_retries = 0
        state.phase = "restore"
        return _request(state)
    state.busy_retries = 0
    if isinstance(obs, Accepted) and state.phase == "restore":
        state.phase = "poll"
        return Transition(state, (Sleep("poll"),))
    if isinstance(obs, TaskSeen) and state.phase in ("restore", "poll"):
        return _task(state, obs)
    if isinstance(obs, TaskMissing) and state.phase == "restore":
        state.restore_maybe_started = False
        return _request(state)
    if isinstance(obs, TaskMissing) and state.phase == "poll":
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
    return unexpected(state, obs)


def expire(state: RestoreState) -> Done:
    return _done(state, Outcome.EXPIRED, "orchestrator.deadline", "deadline passed before completion")


def _resume(state: RestoreState, now: datetime) -> Transition:
    if state.phase == "lock":
        return Transition(state, (Lock(state.command.target_id),))
    if state.phase == "restore":
        if state.restore_maybe_started:
            return Transition(state, (Call(_find(state)),))
        return _request(state)
    if state.phase == "poll":
        return Transition(state, (Call(_find(state)),))
    return unexpected(state, Resume(now))


def _request(state: RestoreState) -> Transition:
    cmd = state.command
    state.restore_maybe_started = True  # persisted by the engine before the call goes out
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
        return Transition(state, (Call(_find(state)),))
    if failure.kind == "retry_later":
        if state.phase == "restore" and not failure.outcome_unknown:
            state.restore_maybe_started = False
        return busy(state, failure)
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
