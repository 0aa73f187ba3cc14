"""Backup: ensure the vault and the resources' association, create the checkpoint, poll it to the end.

First the backup is admitted (:class:`Admit`): it holds the lock of each of its resources (at most one
active backup per resource, never beside a restore of it) and a slot under each concurrency cap it
carries; not admitted, it waits, and expires with its resources skipped once its ``start_by`` passes.

Phases: ``resolve_vault`` → (``create_vault``) → (``associate`` → (``verify_association``)) → ``checkpoint``
→ ``poll``. The checkpoint call is not idempotent in CBR: the state records ``checkpoint_maybe_created``
(persisted before the call) and a marker that goes into the checkpoint's description; after a crash or
an unknown outcome the marker is looked up in the cloud before any second call.

Polling reads the checkpoint's backups. A checkpoint can end (``error``) before any backup of it is
listed; so while a pending resource has no backup listed, every ``SHOW_CHECKPOINT_EVERY``-th poll also
reads the checkpoint itself, and once that says it ended, the listing decides each resource with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from orchestrator.messages import BackupCommand, Outcome, ResourceResult
from orchestrator.workflows.base import (
    AddResources,
    Admit,
    Admitted,
    BackupSeen,
    Call,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    CreateCheckpoint,
    CreateVault,
    Done,
    Failed,
    FindCheckpoint,
    FindVault,
    Lock,
    Locked,
    MachineState,
    Observation,
    PollCheckpoint,
    ResourcesAdded,
    Resume,
    ShowCheckpoint,
    ShowVault,
    Skipped,
    Sleep,
    Transition,
    Unlock,
    VaultFound,
    VaultMissing,
    busy,
    progress_actions,
    unexpected,
)

FINAL_BACKUP_STATUSES = {"available": "succeeded", "error": "failed"}
FINAL_CHECKPOINT_STATUSES = {"available", "error"}
VAULT_NOT_FOUND = "BackupService.6105"
ALREADY_BOUND = "BackupService.6103"
NO_BACKUP = "BackupService.no_backup"
SHOW_CHECKPOINT_EVERY = 2  # polls listing no backup of a pending resource, per show_checkpoint
WINDOW_CLOSED = "orchestrator.window_closed"
CREATE_VAULT_MAX_RESOURCES = 255


class BackupState(MachineState):
    command: BackupCommand
    marker: str
    vault_id: str | None = None
    pending: list[str] = Field(default_factory=list)
    to_associate: list[str] = Field(default_factory=list)
    results: dict[str, ResourceResult] = Field(default_factory=dict)
    checkpoint_maybe_created: bool = False
    checkpoint_id: str | None = None
    checkpoint_status: str | None = None  # the checkpoint's own status, as last shown
    polls_missing_backups: int = 0
    started_at: datetime | None = None
    vault_lock_held: bool = False
    admitted: bool = False


def initial_state(command: BackupCommand, workflow_id: uuid.UUID) -> BackupState:
    return BackupState(
        phase="resolve_vault",
        command=command,
        marker=f"cbro-{workflow_id}",
        pending=[r.id for r in command.resources],
    )


def transition(state: BackupState, obs: Observation) -> Transition:
    """Pure: the given state is not modified; the new state is in the returned transition."""
    state = state.model_copy(deep=True)
    if isinstance(obs, Resume):
        state.started_at = state.started_at or obs.now
        return _resume(state) if state.admitted else _admit(state, obs.now)
    if isinstance(obs, Failed):
        return _failed(state, obs)
    state.busy_retries = 0
    if isinstance(obs, Admitted) and not state.admitted:
        if not obs.granted:
            return Transition(state, (Sleep("poll"),))
        state.admitted = True
        return _resume(state)
    if isinstance(obs, Locked) and state.phase == "resolve_vault":
        if not obs.acquired:
            state.busy_retries += 1
            return Transition(state, (Sleep("busy", state.busy_retries),))
        state.vault_lock_held = True
        return Transition(state, (Call(FindVault(state.command.vault.name or "")),))
    if isinstance(obs, VaultFound) and state.phase in ("resolve_vault", "create_vault", "verify_association"):
        return _vault_found(state, obs)
    if isinstance(obs, VaultMissing) and state.phase == "resolve_vault":
        return _vault_missing(state)
    if isinstance(obs, ResourcesAdded) and state.phase == "associate":
        return _to_checkpoint(state)
    if isinstance(obs, CheckpointCreated) and state.phase == "checkpoint":
        return _checkpoint_exists(state, obs.checkpoint_id, obs.skipped)
    if isinstance(obs, CheckpointLookup) and state.phase == "checkpoint":
        if obs.checkpoint_id is not None:
            return _checkpoint_exists(state, obs.checkpoint_id, ())
        state.checkpoint_maybe_created = False
        return _to_checkpoint(state)
    if isinstance(obs, CheckpointStatus) and state.phase == "poll":
        return _polled(state, obs)
    if isinstance(obs, CheckpointShown) and state.phase == "poll":
        return _checkpoint_shown(state, obs)
    return unexpected(state, obs)


def expire(state: BackupState) -> Done:
    return _done(state, Outcome.EXPIRED, error=("orchestrator.deadline", "deadline passed before completion"))


# ------------------------------------------------------------------ phases


def _admit(state: BackupState, now: datetime) -> Transition:
    admission = state.command.admission
    if admission is not None and admission.start_by is not None and now >= admission.start_by:
        for rid in state.pending:
            state.results[rid] = _result(
                state, rid, "skipped", code=WINDOW_CLOSED, message="window closed before the backup started"
            )
        state.pending = []
        return Transition(state, (_done(state, Outcome.EXPIRED),))
    return Transition(state, (Admit(tuple(sorted(state.pending)), admission_scopes(state.command)),))


def admission_scopes(command: BackupCommand) -> tuple[tuple[str, int], ...]:
    """The (scope, cap) pairs a backup needs a slot under: its project's and its vault's, when capped."""
    admission = command.admission
    if admission is None:
        return ()
    where = f"{command.region}/{command.project_id}"
    vault = command.vault.id or f"name:{command.vault.name}"
    scopes = []
    if admission.project_concurrency is not None:
        scopes.append((f"project:{where}", admission.project_concurrency))
    if admission.vault_concurrency is not None:
        scopes.append((f"vault:{where}/{vault}", admission.vault_concurrency))
    return tuple(scopes)


def _resume(state: BackupState) -> Transition:
    cmd = state.command
    if state.phase in ("resolve_vault", "create_vault"):
        state.phase = "resolve_vault"  # a vault create with an unknown outcome is re-checked by name
        req = ShowVault(cmd.vault.id) if cmd.vault.id else FindVault(cmd.vault.name or "")
        return Transition(state, (Call(req),))
    if state.phase == "associate":
        return Transition(state, (Call(AddResources(_vault(state), _refs(state, state.to_associate))),))
    if state.phase == "verify_association":
        return Transition(state, (Call(ShowVault(_vault(state))),))
    if state.phase == "checkpoint":
        return _to_checkpoint(state)
    if state.phase == "poll":
        return Transition(state, (Call(_poll(state)),))
    return unexpected(state, Resume)


def _vault_found(state: BackupState, obs: VaultFound) -> Transition:
    after = _vault_known(state, obs)
    if not state.vault_lock_held:
        return after
    state.vault_lock_held = False
    return Transition(state, (Unlock(_vault_lock(state)), *after.actions))


def _vault_lock(state: BackupState) -> str:
    return f"vault-name:{state.command.vault.name}"


def _vault_known(state: BackupState, obs: VaultFound) -> Transition:
    state.vault_id = obs.vault_id
    bound = set(obs.resource_ids)
    missing = [rid for rid in state.pending if rid not in bound]
    if state.phase == "verify_association":
        for rid in missing:  # bound to another vault: CBR answered 6103 and it is not in ours
            state.results[rid] = _result(
                state, rid, "failed", code=ALREADY_BOUND, message="resource is associated with another vault"
            )
        state.pending = [rid for rid in state.pending if rid in bound]
        return _to_checkpoint(state)
    if missing:
        state.phase = "associate"
        state.to_associate = missing
        return Transition(state, (Call(AddResources(obs.vault_id, _refs(state, missing))),))
    return _to_checkpoint(state)


def _vault_missing(state: BackupState) -> Transition:
    spec = state.command.vault.create
    if spec is None:
        error = (VAULT_NOT_FOUND, f"vault {state.command.vault.name!r} not found")
        return Transition(state, (_done(state, None, error=error),))
    if not state.vault_lock_held:  # missing: take the name lock, then look again before creating
        return Transition(state, (Lock(_vault_lock(state)),))
    state.phase = "create_vault"
    # create_vault binds at most 255; a 256th resource is associated once the vault exists
    refs = tuple((r.id, r.type) for r in state.command.resources)[:CREATE_VAULT_MAX_RESOURCES]
    req = CreateVault(
        state.command.vault.name or "",
        spec.object_type,
        spec.size_gb,
        spec.consistent_level,
        spec.description,
        refs,
    )
    return Transition(state, (Call(req),))


def _to_checkpoint(state: BackupState) -> Transition:
    state.phase = "checkpoint"
    if not state.pending:
        return Transition(state, (_done(state, None),))
    vault_id = _vault(state)
    if state.checkpoint_maybe_created:
        return Transition(state, (Call(FindCheckpoint(vault_id, state.marker, state.pending[0])),))
    state.checkpoint_maybe_created = True  # persisted by the engine before the call goes out
    cmd = state.command
    description = f"{cmd.description} [{state.marker}]" if cmd.description else state.marker
    req = CreateCheckpoint(
        vault_id,
        tuple(state.pending),
        cmd.name or state.marker[:64],
        description,
        cmd.incremental,
        state.marker,
    )
    return Transition(state, (Call(req),))


def _checkpoint_exists(state: BackupState, checkpoint_id: str, skipped: tuple[Skipped, ...]) -> Transition:
    state.checkpoint_id = checkpoint_id
    state.checkpoint_maybe_created = True
    for item in skipped:
        if item.resource_id in state.pending:
            state.results[item.resource_id] = _result(
                state, item.resource_id, "skipped", code=item.code, message=item.reason
            )
    state.pending = [rid for rid in state.pending if rid not in state.results]
    state.phase = "poll"
    if not state.pending:
        return Transition(state, (_done(state, None),))
    return Transition(state, (Sleep("poll"),))


def _polled(state: BackupState, obs: CheckpointStatus) -> Transition:
    by_resource = {b.resource_id: b for b in obs.backups}
    ended = obs.status if obs.status in FINAL_CHECKPOINT_STATUSES else state.checkpoint_status
    for rid in list(state.pending):
        seen = by_resource.get(rid)
        if seen is not None and seen.status in FINAL_BACKUP_STATUSES:
            _record_backup(state, seen)
        elif seen is None and ended in FINAL_CHECKPOINT_STATUSES:
            _record_no_backup(state, rid, f"checkpoint ended {ended} without a backup of it")
    if not state.pending:
        return Transition(state, (_done(state, None),))
    total = len(state.command.resources)
    progress = progress_actions(state, 100 * (total - len(state.pending)) // total)
    if _time_to_show_checkpoint(state, by_resource):
        return Transition(state, (*progress, Call(ShowCheckpoint(state.checkpoint_id or ""))))
    return Transition(state, (*progress, Sleep("poll")))


def _record_backup(state: BackupState, seen: BackupSeen) -> None:
    ok = seen.status == "available"
    state.results[seen.resource_id] = _result(
        state,
        seen.resource_id,
        FINAL_BACKUP_STATUSES[seen.status],
        backup_id=seen.backup_id,
        size=seen.size_gb,
        code=None if ok else "BackupService.backup_error",
        message=None if ok else "backup ended in error",
    )
    state.pending.remove(seen.resource_id)


def _record_no_backup(state: BackupState, rid: str, message: str) -> None:
    state.results[rid] = _result(state, rid, "failed", code=NO_BACKUP, message=message)
    state.pending.remove(rid)


def _time_to_show_checkpoint(state: BackupState, listed: dict[str, BackupSeen]) -> bool:
    """Count the polls listing no backup of some pending resource; every n-th, read the checkpoint."""
    if all(rid in listed for rid in state.pending):
        return False
    state.polls_missing_backups += 1
    return state.polls_missing_backups % SHOW_CHECKPOINT_EVERY == 0


def _checkpoint_shown(state: BackupState, obs: CheckpointShown) -> Transition:
    """Still running: poll on. Ended: list its backups once more and decide each resource with it."""
    if obs.status not in FINAL_CHECKPOINT_STATUSES:
        return Transition(state, (Sleep("poll"),))
    state.checkpoint_status = obs.status
    return Transition(state, (Call(_poll(state)),))


def _failed(state: BackupState, failure: Failed) -> Transition:
    phase = state.phase
    if failure.outcome_unknown and phase in ("checkpoint", "create_vault"):
        return _resume(state)  # look in the cloud before calling again
    if failure.kind == "retry_later":
        if phase == "checkpoint" and not failure.outcome_unknown:
            state.checkpoint_maybe_created = False  # CBR answered: nothing was created
        return busy(state, failure)
    if failure.kind == "already_done" and phase == "associate":
        state.phase = "verify_association"
        return Transition(state, (Call(ShowVault(_vault(state))),))
    if failure.kind == "already_done" and phase == "create_vault":
        return _resume(state)
    return Transition(state, (_done(state, None, error=(failure.code, failure.message)),))


# ------------------------------------------------------------------ helpers


def _poll(state: BackupState) -> PollCheckpoint:
    return PollCheckpoint(state.checkpoint_id or "", _vault(state), _since(state))


def _since(state: BackupState) -> datetime:
    if state.started_at is None:
        raise ValueError("no start time recorded")
    return state.started_at


def _vault(state: BackupState) -> str:
    if state.vault_id is None:
        raise ValueError(f"no vault id in phase {state.phase}")
    return state.vault_id


def _refs(state: BackupState, ids: list[str]) -> tuple[tuple[str, str], ...]:
    wanted = set(ids)
    return tuple((r.id, r.type) for r in state.command.resources if r.id in wanted)


def _result(
    state: BackupState,
    rid: str,
    status: str,
    *,
    backup_id: str | None = None,
    size: int | None = None,
    code: str | None = None,
    message: str | None = None,
) -> ResourceResult:
    rtype = next((r.type for r in state.command.resources if r.id == rid), None)
    return ResourceResult.model_validate(
        {
            "resource_id": rid,
            "resource_type": rtype,
            "status": status,
            "backup_id": backup_id,
            "size_gb": size,
            "error_code": code,
            "error_message": message,
        }
    )


def _done(state: BackupState, outcome: Outcome | None, error: tuple[str, str] | None = None) -> Done:
    """Final result: every resource reported; outcome from the per-resource results unless given."""
    unfinished = error or ("orchestrator.unfinished", "workflow ended before this resource's backup")
    results = dict(state.results)
    for rid in state.pending:
        results[rid] = _result(state, rid, "failed", code=unfinished[0], message=unfinished[1])
    ordered = tuple(results[r.id] for r in state.command.resources)
    if outcome is None:
        ok = sum(r.status == "succeeded" for r in ordered)
        outcome = (
            Outcome.SUCCEEDED if ok == len(ordered) else Outcome.PARTIALLY_SUCCEEDED if ok else Outcome.FAILED
        )
    first_error = next((r for r in ordered if r.error_code), None)
    if error is None and outcome is Outcome.FAILED and first_error is not None:
        error = (first_error.error_code or "", first_error.error_message or "")
    code, message = error if error else (None, None)
    return Done(outcome, ordered, checkpoint_id=state.checkpoint_id, error_code=code, error_message=message)
