"""Replicate: eligibility check → replicate call → poll the replication → record the destination backup.

Phases: ``check`` → ``replicate`` ⇄ ``find_replica`` → ``poll``. CBR keeps one replica per destination
region, so a replication record towards the destination region found on the backup (ours from before a
crash, or one already there) is adopted rather than asked for again. Replicating is not idempotent: it
is announced by an :class:`Intent` saved before the call, and after a crash or an answer that is not
definite the backup's replication records are looked at, and the replication asked again only once
lookups have found nothing for the whole settle window. Polling asks for the replication
(:class:`PollReplication`), which the poller answers for many workflows from one list of replication
tasks (:class:`ReplicaSeen`) or, when the list cannot tell, from the backup (:class:`BackupDetails`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, assert_never

from pydantic import model_validator

from orchestrator.messages import CANCELLED, Outcome, ReplicateCommand, ResourceResult
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
    FleetSeen,
    Intent,
    Locked,
    MachineState,
    Observation,
    PollReplication,
    ProtectablesPage,
    ReplicaSeen,
    ReplicateBackup,
    ReplicationStarted,
    Request,
    ResourcesAdded,
    Resume,
    ServerDisks,
    ShowBackup,
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

SERVER = "OS::Nova::Server"
WAIT_STATUSES = {"waiting_protect", "protecting", "waiting_restore", "restoring"}
REPLICA_FAILED = {"fail", "skip"}
ReplicatePhase = Literal["check", "replicate", "find_replica", "poll"]


class ReplicateState(MachineState):
    phase: ReplicatePhase
    command: ReplicateCommand
    record_id: str | None = None
    replicate_intent: Intent | None = None
    started_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_older_versions(cls, data: Any) -> Any:
        """A state saved before intents: "the replication may have started" becomes an intent."""
        return intent_from_flag(data, "replicate_maybe_started", "replicate_intent", "started_at")


def initial_state(command: ReplicateCommand, workflow_id: uuid.UUID) -> ReplicateState:
    del workflow_id
    return ReplicateState(phase="check", command=command)


def transition(state: ReplicateState, obs: Observation) -> Transition:
    """Pure: the given state is not modified; the new state is in the returned transition."""
    state = state.model_copy(deep=True)
    match obs:
        case Resume():
            begin_run(state, obs)
            state.started_at = state.started_at or obs.now
            return _resume(state)
        case Failed():
            return _failed(state, obs)
        case _:
            state.busy_retries = 0
            return _answered(state, obs)


def _answered(state: ReplicateState, obs: Answer) -> Transition:
    """What an action answered, in the phase that asked for it; anything else is a bug."""
    match obs:
        case BackupDetails():
            return _details(state, obs)
        case ReplicaSeen() if state.phase == "poll":
            return _replica(state, obs)
        case ReplicationStarted() if state.phase == "replicate":
            state.record_id = obs.record_id
            state.replicate_intent = None  # answered: it is under way
            state.phase = "poll"
            return Transition(state, (Sleep("poll"),))
        case ReplicaSeen() | ReplicationStarted():  # in another phase
            return unexpected(state, obs)
        case (
            Locked()
            | VaultFound()
            | VaultMissing()
            | ResourcesAdded()
            | CheckpointCreated()
            | CheckpointLookup()
            | CheckpointStatus()
            | CheckpointShown()
            | Accepted()
            | TaskSeen()
            | TaskMissing()
            | Admitted()
            | ProtectablesPage()
            | ChildrenSpawned()
            | FleetSeen()
            | BackupsListed()
            | ServerDisks()
        ):  # a replication never asks for these
            return unexpected(state, obs)
        case _:
            assert_never(obs)


def expire(state: ReplicateState) -> Done:
    return _done(state, Outcome.EXPIRED, None, "orchestrator.deadline", "deadline passed before completion")


def fail(state: ReplicateState, code: str, message: str) -> Done:
    return _done(state, Outcome.FAILED, None, code, message)


def cancel(state: ReplicateState, pending: Request | None) -> Transition | None:
    """Asked to cancel (before ``pending``, a call not made yet; None: at the start of a run). A
    replication whose outcome is unknown is settled first (None: go on); one about to be asked is not. A
    replication under way in CBR, which cannot cancel it, is reported failed, saying that it may still
    finish; one never started, skipped."""
    state = state.model_copy(deep=True)
    if isinstance(pending, ReplicateBackup):
        state.replicate_intent = None
    if state.replicate_intent is not None:
        return None
    running = state.phase in ("poll", "find_replica")  # find_replica without an intent: one found under way
    where = f" (record {state.record_id})" if state.record_id else ""
    result = ResourceResult(
        resource_id=state.command.backup_id,
        status="failed" if running else "skipped",
        error_code=CANCELLED,
        error_message=f"{MAY_STILL_FINISH}{where}" if running else "cancelled before the replication started",
    )
    done = Done(Outcome.CANCELLED, (result,), error_code=CANCELLED, error_message=result.error_message)
    return Transition(state, (done,))


def _resume(state: ReplicateState) -> Transition:
    match state.phase:
        case "replicate" | "find_replica" if state.replicate_intent is not None:
            state.phase = "find_replica"  # it may be under way already: look before asking again
            return Transition(state, (Call(ShowBackup(state.command.backup_id)),))
        case "replicate" | "find_replica":
            return _request(state)
        case "poll":
            cmd = state.command
            poll = PollReplication(cmd.backup_id, state.record_id, cmd.destination_region, _since(state))
            return Transition(state, (Call(poll),))
        case "check":
            return Transition(state, (Call(ShowBackup(state.command.backup_id)),))
        case _:
            assert_never(state.phase)


def _since(state: ReplicateState) -> datetime:
    if state.started_at is None:
        raise ValueError("no start time recorded")
    return state.started_at


def _details(state: ReplicateState, obs: BackupDetails) -> Transition:
    replica = _our_replica(state, obs.replicas)
    if replica is not None:
        state.replicate_intent = None
        return _replica(state, replica)
    intent = state.replicate_intent
    if state.phase == "find_replica" and intent is not None and not found_nothing(state, intent):
        return settle_later(state, intent)
    state.replicate_intent = None  # settled (or never asked): no replication of ours exists
    if state.phase in ("poll", "find_replica"):  # our record vanished, or never was: from the start
        state.phase = "check"
    refusal = _ineligible(obs)
    if refusal is not None:
        return Transition(state, (_done(state, Outcome.FAILED, None, *refusal),))
    if obs.status in WAIT_STATUSES:
        state.busy_retries += 1
        return Transition(state, (Sleep("busy", state.busy_retries),))
    return _request(state)


def _ineligible(obs: BackupDetails) -> tuple[str, str] | None:
    if obs.status not in WAIT_STATUSES and obs.status != "available":
        return ("orchestrator.not_eligible", f"backup is {obs.status}, not available")
    if obs.image_type not in (None, "backup"):
        return ("orchestrator.not_eligible", f"a {obs.image_type} backup cannot be replicated")
    if obs.resource_type == SERVER and obs.contains_system_disk is False:
        return (
            "orchestrator.not_eligible",
            "only server backups that contain the system disk can be replicated",
        )
    return None


def _our_replica(state: ReplicateState, replicas: tuple[ReplicaSeen, ...]) -> ReplicaSeen | None:
    cmd = state.command
    for replica in replicas:
        if state.record_id is not None and replica.record_id == state.record_id:
            return replica
    towards = [r for r in replicas if r.destination_region == cmd.destination_region]
    live = [r for r in towards if r.status not in REPLICA_FAILED]
    return live[-1] if live else None


def _replica(state: ReplicateState, replica: ReplicaSeen) -> Transition:
    state.record_id = replica.record_id or state.record_id
    state.phase = "poll"
    if replica.status == "success":
        return Transition(state, (_done(state, Outcome.SUCCEEDED, replica.destination_backup_id),))
    if replica.status in REPLICA_FAILED:
        return Transition(
            state,
            (
                _done(
                    state,
                    Outcome.FAILED,
                    None,
                    replica.fail_code or f"replication.{replica.status}",
                    replica.fail_reason or f"replication ended {replica.status}",
                ),
            ),
        )
    return Transition(state, (*progress_actions(state, replica.progress), Sleep("poll")))


def _request(state: ReplicateState) -> Transition:
    cmd = state.command
    state.phase = "replicate"
    state.replicate_intent = announce(state)  # persisted by the engine before the call goes out
    req = ReplicateBackup(
        cmd.backup_id, cmd.destination_region, cmd.destination_project_id, cmd.destination_vault_id
    )
    return Transition(state, (Call(req),))


def _failed(state: ReplicateState, failure: Failed) -> Transition:
    if state.phase == "replicate" and failure.outcome_unknown:
        state.phase = "find_replica"
        return Transition(state, (Sleep("settle"),))
    if failure.kind == "already_done":  # replicated (or being replicated) already: adopt that record
        state.phase = "find_replica"
        return Transition(state, (Call(ShowBackup(state.command.backup_id)),))
    if state.phase == "replicate":  # a definite answer: the replication did not start
        state.replicate_intent = None
    if failure.kind == "retry_later":
        return busy(state, failure)
    if state.phase == "find_replica":
        code, message = outcome_unknown(failure, "the replication")
        return Transition(state, (_done(state, Outcome.FAILED, None, code, message),))
    return Transition(state, (_done(state, Outcome.FAILED, None, failure.code, failure.message),))


def _done(
    state: ReplicateState,
    outcome: Outcome,
    destination_backup_id: str | None,
    code: str | None = None,
    message: str | None = None,
) -> Done:
    status = "succeeded" if outcome is Outcome.SUCCEEDED else "failed"
    result = ResourceResult(
        resource_id=state.command.backup_id,
        status=status,
        backup_id=destination_backup_id,
        error_code=code,
        error_message=message,
    )
    return Done(
        outcome,
        (result,),
        destination_backup_id=destination_backup_id,
        error_code=code,
        error_message=message,
    )
