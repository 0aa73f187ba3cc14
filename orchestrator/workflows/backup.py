"""Backup: ensure the vault and the resources' association, create the checkpoint, poll it to the end.

First the backup is admitted (:class:`Admit`): it holds the lock of each of its resources (at most one
active backup per resource, never beside a restore of it) and room under each concurrency cap it carries
(the project's counted in backup tasks: its ``pending`` resources, which it gives back as their backups
end); not admitted, it waits, and expires with its resources skipped once its ``start_by`` passes.

Phases: ``resolve_vault`` → (``create_vault`` ⇄ ``find_vault``) → (``associate`` →
(``verify_association``)) → ``checkpoint`` ⇄ ``find_checkpoint`` → ``poll``. Creating a vault and
creating a checkpoint are not idempotent in CBR: each is announced by an :class:`Intent` persisted before
the call. After a crash or an answer that is not definite (timeout, reset, 5xx), the effect is looked
for — the vault by name, the checkpoint by the marker that goes into its description, across every
resource of the call — and the call is made again only once lookups have found nothing for the whole
settle window; a throttled or failed lookup settles nothing. A vault no other command creates
(``exclusive``: a fleet's own vault) is not looked for before its first create.

Polling reads the checkpoint's backups. A checkpoint can end (``error``) before any backup of it is
listed; so while a pending resource has no backup listed, every ``SHOW_CHECKPOINT_EVERY``-th poll also
reads the checkpoint itself, and once that says it ended, the listing decides each resource with it.
While the checkpoint runs, polls list its backup tasks still running: a pending resource no longer among
them has its task ended (``ended``): its outcome is read when the checkpoint ends, but it counts as done
for progress and no longer against the project's cap of running backup tasks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, assert_never

from pydantic import Field, model_validator

from orchestrator.cbr.limits import CREATE_VAULT_MAX_RESOURCES, NAME_MAX_LENGTH
from orchestrator.messages import CANCELLED, WINDOW_CLOSED, BackupCommand, Outcome, ResourceResult
from orchestrator.workflows.base import (
    MAY_STILL_FINISH,
    Accepted,
    AddResources,
    Admit,
    Admitted,
    Answer,
    BackupDetails,
    BackupSeen,
    BackupsListed,
    Call,
    Cap,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    ChildrenSpawned,
    CreateCheckpoint,
    CreateVault,
    Done,
    Failed,
    FindCheckpoint,
    FindVault,
    FleetSeen,
    Intent,
    Lock,
    Locked,
    MachineState,
    Observation,
    PollCheckpoint,
    ProtectablesPage,
    ReplicaSeen,
    ReplicationStarted,
    Request,
    ResourcesAdded,
    Resume,
    ServerDisks,
    ShowCheckpoint,
    ShowVault,
    Skipped,
    Sleep,
    TaskMissing,
    TaskSeen,
    Transition,
    Unlock,
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

FINAL_BACKUP_STATUSES = {"available": "succeeded", "error": "failed"}
FINAL_CHECKPOINT_STATUSES = {"available", "error"}
VAULT_NOT_FOUND = "BackupService.6105"
ALREADY_BOUND = "BackupService.6103"
NO_BACKUP = "BackupService.no_backup"
SHOW_CHECKPOINT_EVERY = 2  # polls listing no backup of a pending resource, per show_checkpoint
VAULT_PHASES = ("resolve_vault", "create_vault", "find_vault", "verify_association")
BackupPhase = Literal[
    "resolve_vault",
    "create_vault",
    "find_vault",
    "associate",
    "verify_association",
    "checkpoint",
    "find_checkpoint",
    "poll",
]


class BackupState(MachineState):
    phase: BackupPhase
    command: BackupCommand
    marker: str
    vault_id: str | None = None
    pending: list[str] = Field(default_factory=list)
    ended: list[str] = Field(default_factory=list)  # of the pending: task ended, outcome not read yet
    to_associate: list[str] = Field(default_factory=list)
    results: dict[str, ResourceResult] = Field(default_factory=dict)
    vault_intent: Intent | None = None
    create_vault_bare: bool = False  # a resource is bound elsewhere: create the vault, then associate
    checkpoint_intent: Intent | None = None
    checkpoint_id: str | None = None
    checkpoint_status: str | None = None  # the checkpoint's own status, as last shown
    polls_missing_backups: int = 0
    started_at: datetime | None = None
    vault_lock_held: bool = False
    admitted: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_older_versions(cls, data: Any) -> Any:
        """A state saved before intents: "the checkpoint may have been created" becomes an intent."""
        return intent_from_flag(
            data, "checkpoint_maybe_created", "checkpoint_intent", "started_at", unless="checkpoint_id"
        )


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
    match obs:
        case Resume():
            begin_run(state, obs)
            state.started_at = state.started_at or obs.now
            return _resume(state) if state.admitted else _admit(state, obs.now)
        case Failed():
            return _failed(state, obs)
        case _:
            state.busy_retries = 0
            return _answered(state, obs)


def _answered(state: BackupState, obs: Answer) -> Transition:
    """What an action answered, in the phase that asked for it; anything else is a bug."""
    match obs:
        case Admitted() if not state.admitted:
            return _admitted(state, obs)
        case Locked() if state.phase == "resolve_vault":
            return _vault_locked(state, obs)
        case VaultFound() if state.phase in VAULT_PHASES:
            return _vault_found(state, obs)
        case VaultMissing() if state.phase == "resolve_vault":
            return _vault_missing(state)
        case VaultMissing() if state.phase == "find_vault":
            return _vault_still_missing(state)
        case ResourcesAdded() if state.phase == "associate":
            return _resources_added(state, obs)
        case CheckpointCreated() if state.phase == "checkpoint":
            return _checkpoint_exists(state, obs.checkpoint_id, obs.skipped)
        case CheckpointLookup() if state.phase == "find_checkpoint":
            return _checkpoint_looked_up(state, obs)
        case CheckpointStatus() if state.phase == "poll":
            return _polled(state, obs)
        case CheckpointShown() if state.phase == "poll":
            return _checkpoint_shown(state, obs)
        case (
            Admitted()
            | Locked()
            | VaultFound()
            | VaultMissing()
            | ResourcesAdded()
            | CheckpointCreated()
            | CheckpointLookup()
            | CheckpointStatus()
            | CheckpointShown()
        ):  # in another phase
            return unexpected(state, obs)
        case (
            ReplicaSeen()
            | BackupDetails()
            | Accepted()
            | ReplicationStarted()
            | TaskSeen()
            | TaskMissing()
            | ProtectablesPage()
            | ChildrenSpawned()
            | FleetSeen()
            | BackupsListed()
            | ServerDisks()
        ):  # a backup never asks for these
            return unexpected(state, obs)
        case _:
            assert_never(obs)


def expire(state: BackupState) -> Done:
    return _done(state, Outcome.EXPIRED, error=("orchestrator.deadline", "deadline passed before completion"))


def fail(state: BackupState, code: str, message: str) -> Done:
    """Ended from outside (budget spent, runs failing): each resource not backed up fails with the error."""
    return _done(state, Outcome.FAILED, error=(code, message))


def cancel(state: BackupState, pending: Request | None) -> Transition | None:
    """Asked to cancel, before ``pending`` (a call not made yet) or at the start of a run (None).

    A create whose outcome is unknown is settled first (None: go on; its lookups find or rule out the
    vault or checkpoint); the create about to be made is not made. Then the backup ends ``cancelled``:
    what ended stays as it ended; a resource of a checkpoint running in CBR (which cannot cancel it) is
    reported failed, saying that its backup may still finish; one whose backup never started, skipped.
    """
    state = state.model_copy(deep=True)
    if isinstance(pending, CreateVault):
        state.vault_intent = None
    if isinstance(pending, CreateCheckpoint):
        state.checkpoint_intent = None
    if state.vault_intent is not None or state.checkpoint_intent is not None:
        return None
    checkpoint, running = state.checkpoint_id, len(state.pending)
    if checkpoint is None:
        status, why = "skipped", "cancelled before its backup started"
        message = why
    else:
        status, why = "failed", f"{MAY_STILL_FINISH} (checkpoint {checkpoint})"
        message = (
            f"cancelled while {running} backups of checkpoint {checkpoint} were running in CBR, which cannot"
            " cancel them: they may still finish"
        )
    for rid in state.pending:
        state.results[rid] = _result(state, rid, status, code=CANCELLED, message=why)
    state.pending = []
    return Transition(state, (_done(state, Outcome.CANCELLED, error=(CANCELLED, message)),))


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
    return Transition(state, (Admit(tuple(sorted(state.pending)), admission_caps(state.command)),))


def admission_caps(command: BackupCommand) -> tuple[Cap, ...]:
    """The caps a backup needs room under: its project's, counted in backup tasks (one per resource, as
    CBR counts them), and its vault's, counted in backups; only those its admission sets."""
    admission = command.admission
    if admission is None:
        return ()
    where = f"{command.region}/{command.project_id}"
    vault = command.vault.id or f"name:{command.vault.name}"
    caps = []
    if admission.project_tasks is not None:
        caps.append(Cap(f"project:{where}", admission.project_tasks, per_resource=True))
    if admission.vault_concurrency is not None:
        caps.append(Cap(f"vault:{where}/{vault}", admission.vault_concurrency))
    return tuple(caps)


def _admitted(state: BackupState, obs: Admitted) -> Transition:
    if not obs.granted:
        return Transition(state, (Sleep("poll"),))
    state.admitted = True
    return _resume(state)


def _resume(state: BackupState) -> Transition:
    """Where the run starts (on :class:`Resume`, or right after admission)."""
    cmd = state.command
    match state.phase:
        case "create_vault" | "find_vault" if state.vault_intent is not None:
            return _find_vault(state)  # a vault create whose outcome is unknown: look before creating
        case "resolve_vault" | "create_vault" | "find_vault":
            state.phase = "resolve_vault"
            if _exclusive(state):  # no create was announced, and nobody else makes it: it does not exist
                return _vault_missing(state)
            req = ShowVault(cmd.vault.id) if cmd.vault.id else FindVault(cmd.vault.name or "")
            return Transition(state, (Call(req),))
        case "associate":
            return Transition(state, (Call(AddResources(_vault(state), _refs(state, state.to_associate))),))
        case "verify_association":
            return Transition(state, (Call(ShowVault(_vault(state))),))
        case "checkpoint" | "find_checkpoint":
            return _to_checkpoint(state)
        case "poll":
            return Transition(state, (Call(_poll(state)),))
        case _:
            assert_never(state.phase)


def _vault_locked(state: BackupState, obs: Locked) -> Transition:
    """The vault name's lock, taken before looking again for a missing vault (and creating it)."""
    if not obs.acquired:
        state.busy_retries += 1
        return Transition(state, (Sleep("busy", state.busy_retries),))
    state.vault_lock_held = True
    return Transition(state, (Call(FindVault(state.command.vault.name or "")),))


def _vault_found(state: BackupState, obs: VaultFound) -> Transition:
    state.vault_intent = None
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
    if not state.vault_lock_held and not _exclusive(state):  # take the name lock, look again, create
        return Transition(state, (Lock(_vault_lock(state)),))
    state.phase = "create_vault"
    state.vault_intent = announce(state)  # persisted by the engine before the call goes out
    # create_vault binds at most 255; a 256th resource is associated once the vault exists
    refs = tuple((r.id, r.type) for r in state.command.resources)[:CREATE_VAULT_MAX_RESOURCES]
    if state.create_vault_bare:
        refs = ()
    req = CreateVault(
        state.command.vault.name or "",
        spec.object_type,
        spec.size_gb,
        spec.consistent_level,
        spec.description,
        refs,
    )
    return Transition(state, (Call(req),))


def _exclusive(state: BackupState) -> bool:
    spec = state.command.vault.create
    return spec is not None and spec.exclusive


def _find_vault(state: BackupState) -> Transition:
    state.phase = "find_vault"
    return Transition(state, (Call(FindVault(state.command.vault.name or "")),))


def _vault_still_missing(state: BackupState) -> Transition:
    """No vault by that name (yet) after a create whose outcome is unknown."""
    intent = state.vault_intent
    if intent is not None and not found_nothing(state, intent):
        return settle_later(state, intent)
    state.vault_intent = None  # settled: the create did not take effect
    state.phase = "resolve_vault"
    return _vault_missing(state)


def _resources_added(state: BackupState, obs: ResourcesAdded) -> Transition:
    """Bound, except refused resources: bound somewhere (6103: ours or another vault? look) or unfit."""
    for item in obs.refused:
        if item.code != ALREADY_BOUND and item.resource_id in state.pending:
            _record_failure(state, item.resource_id, item.code, item.reason)
    if any(item.code == ALREADY_BOUND for item in obs.refused):
        state.phase = "verify_association"
        return Transition(state, (Call(ShowVault(_vault(state))),))
    return _to_checkpoint(state)


def _to_checkpoint(state: BackupState) -> Transition:
    state.phase = "checkpoint"
    if not state.pending:
        return Transition(state, (_done(state, None),))
    vault_id = _vault(state)
    if state.checkpoint_intent is not None:  # it may exist already: look before creating
        state.phase = "find_checkpoint"
        since = state.checkpoint_intent.announced_at
        return Transition(state, (Call(FindCheckpoint(vault_id, state.marker, since)),))
    state.checkpoint_intent = announce(state)  # persisted by the engine before the call goes out
    cmd = state.command
    description = f"{cmd.description} [{state.marker}]" if cmd.description else state.marker
    req = CreateCheckpoint(
        vault_id,
        tuple(state.pending),
        cmd.name or state.marker[:NAME_MAX_LENGTH],
        description,
        cmd.incremental,
        state.marker,
    )
    return Transition(state, (Call(req),))


def _checkpoint_looked_up(state: BackupState, obs: CheckpointLookup) -> Transition:
    if obs.checkpoint_id is not None:
        return _checkpoint_exists(state, obs.checkpoint_id, obs.skipped)
    return _checkpoint_not_seen(state)


def _checkpoint_not_seen(state: BackupState) -> Transition:
    intent = state.checkpoint_intent
    if intent is not None and not found_nothing(state, intent):
        return settle_later(state, intent)
    state.checkpoint_intent = None  # settled: the create did not take effect
    return _to_checkpoint(state)


def _checkpoint_exists(state: BackupState, checkpoint_id: str, skipped: tuple[Skipped, ...]) -> Transition:
    state.checkpoint_id = checkpoint_id
    state.checkpoint_intent = None
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
    _note_ended(state, obs, by_resource)
    total = len(state.command.resources)
    progress = progress_actions(state, 100 * (total - len(state.pending) + len(state.ended)) // total)
    if _time_to_show_checkpoint(state, by_resource):
        return Transition(state, (*progress, Call(ShowCheckpoint(state.checkpoint_id or ""))))
    return Transition(state, (*progress, Sleep("poll")))


def _note_ended(state: BackupState, obs: CheckpointStatus, listed: dict[str, BackupSeen]) -> None:
    """While the checkpoint runs, a pending resource not among its unfinished tasks has ended."""
    if obs.from_tasks and obs.status not in FINAL_CHECKPOINT_STATUSES and listed:
        state.ended += [rid for rid in state.pending if rid not in listed and rid not in state.ended]
    state.ended = [rid for rid in state.ended if rid in state.pending]


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
    _record_failure(state, rid, NO_BACKUP, message)


def _record_failure(state: BackupState, rid: str, code: str, message: str) -> None:
    state.results[rid] = _result(state, rid, "failed", code=code, message=message)
    state.pending.remove(rid)


def _time_to_show_checkpoint(state: BackupState, listed: dict[str, BackupSeen]) -> bool:
    """Count the polls listing no backup of some pending resource (whose task did not end: that one is
    known not to be listed); every n-th, read the checkpoint."""
    if all(rid in listed or rid in state.ended for rid in state.pending):
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
    if phase in ("create_vault", "checkpoint"):
        return _create_failed(state, failure)
    if phase in ("find_vault", "find_checkpoint"):
        return _lookup_failed(state, failure)
    if failure.kind == "retry_later":
        return busy(state, failure)
    if failure.kind == "already_done" and phase == "associate":
        state.phase = "verify_association"
        return Transition(state, (Call(ShowVault(_vault(state))),))
    return Transition(state, (_done(state, None, error=(failure.code, failure.message)),))


def _create_failed(state: BackupState, failure: Failed) -> Transition:
    """The create call (vault or checkpoint) failed: unknown → look; a definite answer → it did nothing."""
    vault = state.phase == "create_vault"
    if failure.outcome_unknown:
        state.phase = "find_vault" if vault else "find_checkpoint"
        return Transition(state, (Sleep("settle"),))
    if vault:
        state.vault_intent = None
    else:
        state.checkpoint_intent = None
    if vault and failure.code == ALREADY_BOUND and not state.create_vault_bare:
        state.create_vault_bare = True  # some resource is bound elsewhere: associate one by one later
        return _vault_missing(state)
    if failure.kind == "retry_later":
        return busy(state, failure)
    return Transition(state, (_done(state, None, error=(failure.code, failure.message)),))


def _lookup_failed(state: BackupState, failure: Failed) -> Transition:
    """A lookup that failed settles nothing: the intent stands; look again later, or give up saying so."""
    if failure.kind == "retry_later":
        return busy(state, failure)
    what = "the vault" if state.phase == "find_vault" else "the checkpoint"
    return Transition(state, (_done(state, None, error=outcome_unknown(failure, what)),))


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
