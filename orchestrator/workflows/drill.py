"""Restore drill: restore a sample of recent server backups to scratch servers, time each, report.

Phases: ``find_vaults`` (vaults named) → ``list`` (each vault's newest available server backups, one page)
→ ``scratch`` (each scratch server's disks) → ``restore``. In ``restore`` every scratch server is a slot
that takes one sampled backup at a time: it locks the server (as a restore locks its target, so nothing
else restores to it meanwhile), asks the restore, polls its task, records the outcome and the time CBR's
task took (the RTO observed), unlocks, and takes the next sample that fits it. Each run visits every busy
slot once (``round``), then sleeps; samples wait in the queue while the slots are taken.

A restore is not idempotent: as in :mod:`~orchestrator.workflows.restore`, each is announced by an
:class:`Intent` saved before the call and, after a crash or an answer that is not definite, its task is
looked for before it is ever asked again. Only servers of the command's scratch list are ever restored
to: the command refuses any other, and the machine checks again right before each restore call.
"""

from __future__ import annotations

import statistics
import uuid
from datetime import datetime
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.cbr.limits import LIST_MAX_PAGE
from orchestrator.messages import (
    CANCELLED,
    DrillReport,
    DrillResult,
    Outcome,
    ResourceResult,
    RestoreDrillCommand,
)
from orchestrator.workflows.base import (
    MAY_STILL_FINISH,
    Accepted,
    Action,
    Answer,
    BackupsListed,
    Call,
    Done,
    Failed,
    FindRestoreTask,
    FindVault,
    Intent,
    ListBackups,
    Lock,
    Locked,
    MachineState,
    Observation,
    Request,
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
    begin_run,
    busy,
    found_nothing,
    outcome_unknown,
    progress_actions,
    unexpected,
)
from orchestrator.workflows.drill_sampling import Sample, SampleStatus, mappings_onto, sample_of

MAX_MISSING_POLLS = 10
FAILED_TASK = {"failed", "timeout", "skipped"}
NOT_SCRATCH = "orchestrator.not_scratch"
DrillPhase = Literal["find_vaults", "list", "scratch", "restore"]
SlotStep = Literal["idle", "lock", "restore", "find", "poll"]


class Slot(BaseModel):
    """A scratch server and the sample it is restoring (``sample``: its index), if any."""

    model_config = ConfigDict(extra="forbid")

    server_id: str
    disks: list[tuple[str, float, bool]] | None = None  # (volume id, GB, bootable); None: not read yet
    sample: int | None = None
    step: SlotStep = "idle"
    intent: Intent | None = None
    since: datetime | None = None  # no task of this restore is older
    missing_polls: int = 0


class DrillState(MachineState):
    phase: DrillPhase
    command: RestoreDrillCommand
    names_to_find: list[str] = Field(default_factory=list)
    vaults_to_list: list[str] = Field(default_factory=list)
    samples: list[Sample] = Field(default_factory=list)
    slots: list[Slot] = Field(default_factory=list)
    round: list[int] = Field(default_factory=list)  # slots still to visit in this run
    asking: int | None = None  # the slot whose request the next answer answers
    problems: list[str] = Field(default_factory=list)


def initial_state(command: RestoreDrillCommand, workflow_id: uuid.UUID) -> DrillState:
    del workflow_id
    vaults = command.sample.vaults
    return DrillState(
        phase="find_vaults",
        command=command,
        names_to_find=[v.name for v in vaults if v.name is not None],
        vaults_to_list=[v.id for v in vaults if v.id is not None],
        slots=[Slot(server_id=s) for s in command.scratch_servers],
    )


def transition(state: DrillState, obs: Observation) -> Transition:
    """Pure: the given state is not modified; the new state is in the returned transition."""
    state = state.model_copy(deep=True)
    match obs:
        case Resume():
            begin_run(state, obs)
            return _resume(state)
        case Failed():
            return _failed(state, obs)
        case _:
            state.busy_retries = 0
            return _answered(state, obs)


def _resume(state: DrillState) -> Transition:
    match state.phase:
        case "find_vaults" | "list" | "scratch":
            return _prepare_next(state)
        case "restore":
            return _start_round(state)
        case _:
            assert_never(state.phase)


# ------------------------------------------------------------------ preparation


def _prepare_next(state: DrillState) -> Transition:
    """The next vault to find or list, or scratch server to read; then the restores."""
    if state.names_to_find:
        state.phase = "find_vaults"
        return Transition(state, (Call(FindVault(state.names_to_find[0])),))
    if state.vaults_to_list:
        state.phase = "list"
        return Transition(state, (Call(ListBackups(state.vaults_to_list[0], LIST_MAX_PAGE)),))
    unread = [i for i, slot in enumerate(state.slots) if slot.disks is None]
    if unread:
        state.phase, state.asking = "scratch", unread[0]
        return Transition(state, (Call(ShowServerDisks(state.slots[unread[0]].server_id)),))
    state.phase = "restore"
    _skip_unfit(state)
    return _start_round(state)


def _skip_unfit(state: DrillState) -> None:
    """Samples no scratch server can take (too few or too small disks) end skipped, with why."""
    for sample in state.samples:
        if sample.status == "queued" and not any(_fits(sample, slot) for slot in state.slots):
            _end(sample, "skipped", "orchestrator.no_fitting_scratch", "no scratch server has disks it fits")


def _fits(sample: Sample, slot: Slot) -> bool:
    return mappings_onto(sample, _disks(slot)) is not None


def _disks(slot: Slot) -> list[ServerDisk]:
    return [ServerDisk(v, size, boot) for v, size, boot in slot.disks or []]


def _vault_found(state: DrillState, obs: VaultFound | VaultMissing) -> Transition:
    name = state.names_to_find.pop(0)
    if isinstance(obs, VaultFound):
        state.vaults_to_list.append(obs.vault_id)
    else:
        state.problems.append(f"vault {name!r}: not found")
    return _prepare_next(state)


def _listed(state: DrillState, obs: BackupsListed) -> Transition:
    state.vaults_to_list.pop(0)
    cmd = state.command
    servers = set(cmd.sample.servers) if cmd.sample.servers is not None else None
    taken = sample_of(obs.vault_id, obs.backups, cmd.sample.per_vault, servers, set(cmd.scratch_servers))
    if not taken:
        state.problems.append(f"vault {obs.vault_id}: no available server backup to sample")
    state.samples += taken
    return _prepare_next(state)


def _disks_shown(state: DrillState, obs: ServerDisks) -> Transition:
    slot = _asked(state)
    slot.disks = [(d.volume_id, d.size_gb, d.bootable) for d in obs.disks]
    return _prepare_next(state)


# ------------------------------------------------------------------ restores, slot by slot


def _start_round(state: DrillState) -> Transition:
    state.round = [i for i, slot in enumerate(state.slots) if slot.disks]
    return _go_on(state)


def _go_on(state: DrillState, before: tuple[Action, ...] = ()) -> Transition:
    """The next slot of the round with something to do; at the round's end, the report or a pause."""
    while state.round:
        index = state.round.pop(0)
        action = _slot_action(state, index)
        if action is not None:
            state.asking = index
            return Transition(state, (*before, action))
    state.asking = None
    if all(s.status not in ("queued", "running") for s in state.samples):
        return Transition(state, (*before, _report(state, Outcome.SUCCEEDED)))
    return Transition(state, (*before, Sleep("poll")))


def _slot_action(state: DrillState, index: int) -> Action | None:
    slot = state.slots[index]
    match slot.step:
        case "idle":
            return _take_sample(state, index)
        case "lock":
            return Lock(slot.server_id)
        case "restore" if slot.intent is not None:
            slot.step = "find"  # it may be under way already: look before asking again
            return Call(_find(state, slot))
        case "restore":
            return _restore_call(state, index)
        case "find" | "poll":
            return Call(_find(state, slot))
        case _:
            assert_never(slot.step)


def _take_sample(state: DrillState, index: int) -> Action | None:
    slot = state.slots[index]
    for number, sample in enumerate(state.samples):
        mappings = mappings_onto(sample, _disks(slot)) if sample.status == "queued" else None
        if mappings is not None:
            sample.status, sample.scratch_server_id, sample.mappings = "running", slot.server_id, mappings
            slot.sample, slot.step = number, "lock"
            return Lock(slot.server_id)
    return None


def _restore_call(state: DrillState, index: int) -> Call | Unlock:
    """The restore, announced; refused here too if its target is not a scratch server of the command."""
    slot = state.slots[index]
    sample = _sample(state, slot)
    if slot.server_id not in state.command.scratch_servers or slot.server_id == sample.resource_id:
        why = f"not restored to {slot.server_id}: only to the drill's scratch servers, never to a sampled one"
        _end(sample, "failed", NOT_SCRATCH, why)
        _free(slot)
        return Unlock(slot.server_id)
    slot.step = "restore"
    slot.intent = announce(state)  # persisted by the engine before the call goes out
    slot.since = slot.since or state.now
    request = RestoreBackup(
        sample.backup_id, slot.server_id, None, tuple(sample.mappings), state.command.power_on
    )
    return Call(request)


def _find(state: DrillState, slot: Slot) -> FindRestoreTask:
    if slot.since is None:
        raise ValueError("no start time recorded")
    return FindRestoreTask(_sample(state, slot).backup_id, slot.server_id, slot.since)


def _slot_answered(state: DrillState, obs: Locked | Accepted | TaskSeen | TaskMissing) -> Transition:
    slot = _asked(state)
    match obs:
        case Locked() if slot.step == "lock":
            if not obs.acquired:  # something else restores to it: this slot waits for the next round
                return _go_on(state)
            return _restore_or_go_on(state, state.asking or 0)
        case Accepted() if slot.step == "restore":
            slot.step, slot.intent = "poll", None  # answered: it is under way
            _sample(state, slot).started_at = _iso(state.now)
            return _go_on(state)
        case TaskSeen() if slot.step in ("find", "poll"):
            slot.intent, slot.step = None, "poll"
            return _task(state, slot, obs)
        case TaskMissing() if slot.step == "find":
            return _not_seen(state, slot)
        case TaskMissing() if slot.step == "poll":
            slot.missing_polls += 1
            if slot.missing_polls > MAX_MISSING_POLLS:
                message = "the restore task never appeared in the operation logs"
                return _slot_ends(state, slot, "failed", "orchestrator.task_not_found", message)
            return _go_on(state)
        case _:
            return unexpected(state, obs)


def _not_seen(state: DrillState, slot: Slot) -> Transition:
    """Its task is not listed: look again next round, until nothing was seen for the settle window."""
    if slot.intent is not None and not found_nothing(state, slot.intent):
        return _go_on(state)
    slot.intent = None  # settled: the restore did not take effect
    return _restore_or_go_on(state, state.asking or 0)


def _restore_or_go_on(state: DrillState, index: int) -> Transition:
    """The restore call now, or (refused: not a scratch server) the slot given back and the round on."""
    action = _restore_call(state, index)
    if isinstance(action, Unlock):
        return _go_on(state, (action,))
    return Transition(state, (action,))


def _task(state: DrillState, slot: Slot, obs: TaskSeen) -> Transition:
    sample = _sample(state, slot)
    if obs.status == "success":
        _timed(state, sample, obs)
        return _slot_ends(state, slot, "succeeded")
    if obs.status in FAILED_TASK:
        _timed(state, sample, obs)
        code = obs.error_code or f"task.{obs.status}"
        return _slot_ends(
            state, slot, "failed", code, obs.error_message or f"restore task ended {obs.status}"
        )
    return _go_on(state)


def _timed(state: DrillState, sample: Sample, obs: TaskSeen) -> None:
    """The RTO observed: from CBR's task times when it gives them, else from our own."""
    if obs.created_at is not None and obs.ended_at is not None:
        sample.started_at, sample.ended_at = obs.created_at.isoformat(), obs.ended_at.isoformat()
        sample.rto_seconds = round((obs.ended_at - obs.created_at).total_seconds(), 3)
        return
    sample.ended_at = _iso(state.now)
    if sample.started_at is not None and state.now is not None:
        started = datetime.fromisoformat(sample.started_at)
        sample.rto_seconds = round((state.now - started).total_seconds(), 3)


def _slot_ends(
    state: DrillState, slot: Slot, status: SampleStatus, code: str | None = None, message: str | None = None
) -> Transition:
    _end(_sample(state, slot), status, code, message)
    server = slot.server_id
    _free(slot)
    state.round.append(state.asking or 0)  # it may take the next sample in this round
    ended, total = sum(s.status not in ("queued", "running") for s in state.samples), len(state.samples)
    progress = progress_actions(state, 100 * ended // total) if ended < total else ()
    return _go_on(state, (Unlock(server), *progress))


def _free(slot: Slot) -> None:
    slot.sample, slot.step, slot.intent, slot.since, slot.missing_polls = None, "idle", None, None, 0


def _slot_failed(state: DrillState, failure: Failed) -> Transition:
    slot = _asked(state)
    if slot.step == "restore" and failure.outcome_unknown:
        slot.step = "find"  # the intent stands: looked for in the next round
        return _go_on(state)
    if slot.step == "restore":  # a definite answer: the restore did not start
        slot.intent = None
    if failure.kind == "retry_later":  # busy, throttled, the server being restored: next round
        return _go_on(state)
    if slot.step == "find":
        code, message = outcome_unknown(failure, "the restore")
        return _slot_ends(state, slot, "failed", code, message)
    return _slot_ends(state, slot, "failed", failure.code, failure.message)


# ------------------------------------------------------------------ answers and failures


def _answered(state: DrillState, obs: Answer) -> Transition:
    """What an action answered, in the phase that asked for it; anything else is a bug."""
    match obs:
        case VaultFound() | VaultMissing() if state.phase == "find_vaults":
            return _vault_found(state, obs)
        case BackupsListed() if state.phase == "list":
            return _listed(state, obs)
        case ServerDisks() if state.phase == "scratch":
            return _disks_shown(state, obs)
        case Locked() | Accepted() | TaskSeen() | TaskMissing() if state.phase == "restore":
            return _slot_answered(state, obs)
        case _:
            return unexpected(state, obs)


def _failed(state: DrillState, failure: Failed) -> Transition:
    if state.phase == "restore":
        return _slot_failed(state, failure)
    if failure.kind == "retry_later":
        return busy(state, failure)
    why = f"{failure.code} {failure.message}"[:300]
    match state.phase:
        case "find_vaults":
            state.problems.append(f"vault {state.names_to_find.pop(0)!r}: {why}")
        case "list":
            state.problems.append(f"vault {state.vaults_to_list.pop(0)}: {why}")
        case "scratch":
            slot = _asked(state)
            slot.disks = []  # unusable: it takes no sample
            state.problems.append(f"scratch server {slot.server_id}: {why}")
        case _:
            assert_never(state.phase)
    return _prepare_next(state)


# ------------------------------------------------------------------ endings


def expire(state: DrillState) -> Done:
    return _stopped(state, Outcome.EXPIRED, "orchestrator.deadline", "deadline passed before completion")


def fail(state: DrillState, code: str, message: str) -> Done:
    return _stopped(state, Outcome.FAILED, code, message)


def cancel(state: DrillState, pending: Request | None) -> Transition | None:
    """Asked to cancel: a restore whose outcome is unknown is settled first (None: go on); one about to be
    asked is not asked. Restores running in CBR, which cannot cancel them, are reported failed, saying that
    they may still finish; samples not started, skipped."""
    state = state.model_copy(deep=True)
    if isinstance(pending, RestoreBackup) and state.asking is not None:
        state.slots[state.asking].intent = None
    if any(slot.intent is not None for slot in state.slots):
        return None
    done = _stopped(state, Outcome.CANCELLED, CANCELLED, "cancelled")
    return Transition(state, (done,))


def _stopped(state: DrillState, outcome: Outcome, code: str, message: str) -> Done:
    """Ends the drill early: restores under way failed (they may still finish), the rest skipped."""
    for slot in state.slots:
        if slot.sample is not None:
            running = slot.step in ("find", "poll")
            note = f"{MAY_STILL_FINISH}: {message}" if running else f"{message} before the restore started"
            _end(_sample(state, slot), "failed" if running else "skipped", code, note[:1000])
            _free(slot)
    for sample in state.samples:
        if sample.status in ("queued", "running"):
            _end(sample, "skipped", code, f"{message} before the restore started")
    done = _report(state, outcome)
    return Done(outcome, done.resources, error_code=code, error_message=message, drill=done.drill)


def _report(state: DrillState, outcome: Outcome) -> Done:
    """Every sample, its outcome and RTO, in one bounded event; the outcome from the samples' when the
    drill ran to its end."""
    samples = state.samples
    rtos = [s.rto_seconds for s in samples if s.status == "succeeded" and s.rto_seconds is not None]
    report = DrillReport(
        samples=[_result(s) for s in samples],
        succeeded=sum(s.status == "succeeded" for s in samples),
        failed=sum(s.status == "failed" for s in samples),
        skipped=sum(s.status == "skipped" for s in samples),
        rto_median_seconds=statistics.median(rtos) if rtos else None,
        rto_max_seconds=max(rtos) if rtos else None,
        problems=state.problems[:100],
    )
    resources = tuple(
        ResourceResult(
            resource_id=s.resource_id,
            resource_type="OS::Nova::Server",
            status=s.status,  # final by now
            backup_id=s.backup_id,
            error_code=s.error_code,
            error_message=s.error_message,
        )
        for s in samples
    )
    if outcome is not Outcome.SUCCEEDED:
        return Done(outcome, resources, drill=report)
    if not samples:
        message = "; ".join(state.problems)[:1000] or "no backup to sample"
        return Done(
            Outcome.FAILED,
            resources,
            error_code="orchestrator.nothing_to_drill",
            error_message=message,
            drill=report,
        )
    if report.succeeded == len(samples):
        return Done(Outcome.SUCCEEDED, resources, drill=report)
    first = next(s for s in samples if s.status != "succeeded")
    ended = Outcome.PARTIALLY_SUCCEEDED if report.succeeded else Outcome.FAILED
    return Done(
        ended, resources, error_code=first.error_code, error_message=first.error_message, drill=report
    )


def _result(sample: Sample) -> DrillResult:
    return DrillResult(
        resource_id=sample.resource_id,
        backup_id=sample.backup_id,
        vault_id=sample.vault_id,
        scratch_server_id=sample.scratch_server_id,
        status=sample.status,  # final by now
        rto_seconds=sample.rto_seconds,
        started_at=datetime.fromisoformat(sample.started_at) if sample.started_at else None,
        ended_at=datetime.fromisoformat(sample.ended_at) if sample.ended_at else None,
        error_code=sample.error_code,
        error_message=sample.error_message,
    )


# ------------------------------------------------------------------ helpers


def _end(sample: Sample, status: SampleStatus, code: str | None = None, message: str | None = None) -> None:
    sample.status, sample.error_code, sample.error_message = status, code, message


def _asked(state: DrillState) -> Slot:
    if state.asking is None:
        raise ValueError("an answer with no slot asking")
    return state.slots[state.asking]


def _sample(state: DrillState, slot: Slot) -> Sample:
    if slot.sample is None:
        raise ValueError(f"slot {slot.server_id} has no sample")
    return state.samples[slot.sample]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
