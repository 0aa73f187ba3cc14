"""Fleet backup: select resources, pack them into child backups, watch the children, summarise.

Phases: ``start`` → (``list_protectables`` | ``show_vaults``) → ``spawn`` → ``watch`` → ``summarize``.
Selected by protectables into vaults made for it (``streaming``), the fleet spawns children while it
lists: each page's resources are packed as they come (:mod:`~orchestrator.workflows.fleet_stream`) and the
children a page completes are spawned before the next page is asked for, the state (marker included)
saved in their transaction; ``spawn`` then creates what is left. The listings of several projects (or
types) take a page each in turn: every project's first children start within a few pages, each project
listed under its own rate limit, rather than the last project waiting until all the others are listed.
Other selections, and packing into given vaults, pack once everything is known.
Children are ordinary ``backup`` workflows (one vault and checkpoint each, ≤256 resources and at most
``project_tasks``) that carry the fleet's caps and window in their ``admission``; the database admits them
(``orchestrator.store.admission``). Resources chosen by id are looked up in the project's protectables
listing (50 a page, never one call per resource) for their sizes, which vaults are packed by.
The parent ends when every child is final: ``succeeded``, ``partially_succeeded``, ``failed``, or
``expired`` when the window closed before any resource was backed up.

A child's workflow is named ``fleet/<parent workflow id>/<n>`` (``child_command_id``): an id no command can
take, since command ids may not hold ``/``; the same fleet always names its children the same, so spawning
again after a crash creates nothing new. Its input is an ordinary backup command under the fleet's command id.
The counts advance per resource, as children see their backups end; a progress event goes out each time
another 5 % of the resources ended, or 10 s after the last one if any resource ended since. The final
report carries counts and the first failed or skipped resources; every resource's result stays in the
children's rows (``cbr-orchestrator status <fleet> --resources``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.cbr.limits import CREATE_VAULT_MAX_RESOURCES, PROTECTABLE_MAX_PAGE
from orchestrator.messages import (
    CANCELLED,
    FLEET_PROBLEMS_LISTED,
    Admission,
    AutoVaults,
    FleetBackupCommand,
    FleetCounts,
    FleetReport,
    Outcome,
    ProjectCounts,
    ProjectRegion,
    ResourceResult,
)
from orchestrator.workflows.base import (
    Accepted,
    Admitted,
    Answer,
    BackupDetails,
    BackupsListed,
    Call,
    CancelChildren,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    ChildrenSpawned,
    ChildSpec,
    Done,
    Failed,
    FleetSeen,
    ListProtectables,
    Locked,
    MachineState,
    Observation,
    Progress,
    ProtectablesPage,
    ReadFleet,
    ReplicaSeen,
    ReplicationStarted,
    Request,
    ResourcesAdded,
    Resume,
    ServerDisks,
    ShowVault,
    Sleep,
    SpawnChildren,
    TaskMissing,
    TaskSeen,
    Transition,
    VaultFound,
    VaultMissing,
    busy,
    unexpected,
)
from orchestrator.workflows.fleet_packing import (
    OBJECT_TYPES,
    RESOURCE_TYPES,
    ChildPlan,
    Plan,
    Target,
    plan_auto,
    plan_into,
)
from orchestrator.workflows.fleet_report import fleet_outcome, fleet_report
from orchestrator.workflows.fleet_stream import Packer, Stream

PROGRESS_STEP = 5  # a progress event each time another 5 % of the resources is final
PROGRESS_EVERY = timedelta(seconds=10)  # and at least this often while resources end
FleetPhase = Literal["start", "list_protectables", "show_vaults", "spawn", "watch", "summarize"]


class Source(BaseModel):
    """One listing still to read: protectables of a type in a project (``lookup``: only to learn the
    sizes and vaults of resources chosen by id)."""

    model_config = ConfigDict(extra="forbid")

    project_id: str
    region: str
    protectable_type: str
    lookup: bool = False
    marker: str | None = None  # where its listing goes on (``FleetState.marker`` is the first one's)


class FleetOptions(BaseModel):
    """What the parent needs of its command after selection (the selection itself is not kept)."""

    model_config = ConfigDict(extra="forbid")

    command_id: str
    project_id: str
    region: str
    vaults: list[str] | None
    auto_vaults: AutoVaults
    incremental: bool
    name: str | None
    project_tasks: int
    vault_concurrency: int
    window_seconds: int | None

    @model_validator(mode="before")
    @classmethod
    def _from_older_versions(cls, data: Any) -> Any:
        """Saved before caps counted backup tasks: the old name, read with the new meaning."""
        if isinstance(data, dict) and "project_concurrency" in data:
            data = dict(data)
            data["project_tasks"] = data.pop("project_concurrency")
        return data


class FleetState(MachineState):
    phase: FleetPhase
    options: FleetOptions
    workflow_id: uuid.UUID  # the fleet's own: its children's ids are made from it
    tag: str  # short, unique per fleet: names its auto-packed vaults
    selected: list[Target] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    marker: str | None = None
    vaults_to_show: list[str] = Field(default_factory=list)
    vaults_seen: dict[str, list[str]] = Field(default_factory=dict)
    vaults_free_gb: dict[str, float] = Field(default_factory=dict)  # target vaults whose capacity is known
    unsized: dict[str, int] = Field(default_factory=dict)  # chosen by id, not seen listed yet: → index
    select_vaults: bool = False
    unplaced: list[ResourceResult] = Field(default_factory=list)
    started_at: datetime | None = None
    now: datetime | None = None
    start_by: datetime | None = None
    counts: FleetCounts | None = None
    projects: list[ProjectCounts] = Field(default_factory=list)  # per project, when there are several
    cancelling: bool = False  # asked to cancel: its children were asked too; it ends once they all ended
    progress_at: datetime | None = None  # of the last progress event
    progress_final: int = 0  # resources ended at the last progress event
    streaming: bool = False  # children spawned page by page while selection goes on
    stream: Stream = Field(default_factory=Stream)  # packed, not in a child yet
    spawned: int = 0  # children spawned so far (the next one is numbered spawned + 1)


def initial_state(command: FleetBackupCommand, workflow_id: uuid.UUID) -> FleetState:
    options = FleetOptions.model_validate(command.model_dump(include=set(FleetOptions.model_fields)))
    state = FleetState(phase="start", options=options, workflow_id=workflow_id, tag=workflow_id.hex[:8])
    sel = command.select
    if sel.resources is not None:
        state.selected = [Target(command.project_id, command.region, r.id, r.type) for r in sel.resources]
        state.unsized = {t.resource_id: i for i, t in enumerate(state.selected)}
        state.sources = _lookups(command)
    elif sel.protectables is not None:
        places = sel.protectables.projects or [
            ProjectRegion(project_id=command.project_id, region=command.region)
        ]
        listings = {(p.project_id, p.region, t): None for p in places for t in sel.protectables.types}
        state.sources = [Source(project_id=p, region=r, protectable_type=t) for p, r, t in listings]
        state.streaming = command.vaults is None  # into target vaults: packed once all is known
    else:
        state.vaults_to_show = list(sel.vaults or [])
        state.select_vaults = True
    if command.vaults is not None:
        state.vaults_to_show = list(command.vaults)
    return state


def _lookups(command: FleetBackupCommand) -> list[Source]:
    """Listings that give the sizes (and vaults) of resources chosen by id: one per type listed."""
    types = sorted({OBJECT_TYPES[r.type] for r in command.select.resources or [] if r.type in OBJECT_TYPES})
    where = {"project_id": command.project_id, "region": command.region}
    return [Source(**where, protectable_type=t, lookup=True) for t in types]


def transition(state: FleetState, obs: Observation) -> Transition:
    """Pure: the given state is not modified; the new state is in the returned transition."""
    state = state.model_copy(deep=True)
    match obs:
        case Resume():
            return _resume(state, obs.now)
        case Failed():
            return _failed(state, obs)
        case _:
            state.busy_retries = 0
            return _answered(state, obs)


def _answered(state: FleetState, obs: Answer) -> Transition:
    """What an action answered, in the phase that asked for it; anything else is a bug."""
    match obs:
        case ProtectablesPage() if state.phase == "list_protectables":
            return _page(state, obs)
        case VaultFound() if state.phase == "show_vaults":
            return _vault_shown(state, obs)
        case ChildrenSpawned() if state.phase == "spawn":
            state.phase = "watch"
            return Transition(state, (ReadFleet(),))
        case ChildrenSpawned() if state.phase == "list_protectables":  # spawned while selecting
            return _select_next(state)
        case FleetSeen() if state.phase == "watch":
            return _watched(state, obs)
        case FleetSeen() if state.phase == "summarize":
            return Transition(state, (_summary(state, obs),))
        case ProtectablesPage() | VaultFound() | ChildrenSpawned() | FleetSeen():  # in another phase
            return unexpected(state, obs)
        case (
            Locked()
            | VaultMissing()
            | ResourcesAdded()
            | CheckpointCreated()
            | CheckpointLookup()
            | CheckpointStatus()
            | CheckpointShown()
            | ReplicaSeen()
            | BackupDetails()
            | Accepted()
            | ReplicationStarted()
            | TaskSeen()
            | TaskMissing()
            | Admitted()
            | BackupsListed()
            | ServerDisks()
        ):  # a fleet never asks for these
            return unexpected(state, obs)
        case _:
            assert_never(obs)


def expire(state: FleetState) -> Done:
    """A fleet has no deadline of its own (its window applies to its children); kept for the registry."""
    return Done(fleet_outcome(state.counts or FleetCounts(), expired=True), fleet=_report(state))


def cancel(state: FleetState, pending: Request | None) -> Transition | None:
    """Asked to cancel: select nothing more, spawn nothing more, ask every unfinished child to cancel and
    watch them end (None once that is under way); the summary then says ``cancelled`` (unless every child
    had ended on its own first)."""
    del pending  # a fleet's own calls only read
    if state.cancelling:
        return None
    state = state.model_copy(deep=True)
    state.cancelling, state.phase = True, "watch"
    state.sources, state.vaults_to_show, state.selected, state.stream = [], [], [], Stream()
    return Transition(state, (CancelChildren(), ReadFleet()))


# ------------------------------------------------------------------ phases


def _resume(state: FleetState, now: datetime) -> Transition:
    state.now = now
    if state.started_at is None:
        state.started_at = now
        seconds = state.options.window_seconds
        state.start_by = now + timedelta(seconds=seconds) if seconds else None
    match state.phase:
        case "start" | "list_protectables" | "show_vaults":
            return _select_next(state)
        case "spawn":
            return _spawn(state)
        case "watch" | "summarize":
            return Transition(state, (ReadFleet(results=state.phase == "summarize"),))
        case _:
            assert_never(state.phase)


def _select_next(state: FleetState) -> Transition:
    if state.sources:
        state.phase = "list_protectables"
        src = state.sources[0]
        page = ListProtectables(
            src.project_id, src.region, src.protectable_type, state.marker, PROTECTABLE_MAX_PAGE
        )
        return Transition(state, (Call(page),))
    if state.vaults_to_show:
        state.phase = "show_vaults"
        return Transition(state, (Call(ShowVault(state.vaults_to_show[0])),))
    return _spawn(state)


def _page(state: FleetState, obs: ProtectablesPage) -> Transition:
    src = state.sources[0]
    packer = _packer(state) if state.streaming else None
    if src.lookup:
        _learn(state, obs)
    elif packer is None:
        state.selected += _targets(src, obs)
    else:
        packer.take(_targets(src, obs))
        packer.end_page()
        state.unplaced += packer.unplaced
    if len(obs.items) < PROTECTABLE_MAX_PAGE or (src.lookup and not _unsized_of(state, src.protectable_type)):
        state.sources.pop(0)  # read to its end, or every resource it was read for is seen
    else:
        src.marker = obs.items[-1][0]
        if packer is not None:  # streaming: the listings take a page each in turn (see the module's doc)
            state.sources.append(state.sources.pop(0))
    state.marker = state.sources[0].marker if state.sources else None
    if packer is not None and packer.children:
        # the marker is saved with these children, in the transaction that creates them
        return Transition(state, (_spawn_some(state, packer),))
    return _select_next(state)


def _targets(src: Source, obs: ProtectablesPage) -> list[Target]:
    """The page's resources (once each, should a listing repeat one)."""
    rtype = RESOURCE_TYPES.get(src.protectable_type, "OS::Nova::Server")
    found = {
        rid: Target(src.project_id, src.region, rid, rtype, b or None, gb) for rid, _, b, gb in obs.items
    }
    return list(found.values())


def _unsized_of(state: FleetState, protectable_type: str) -> bool:
    """Whether a resource chosen by id of this type has not been seen listed yet."""
    return any(
        OBJECT_TYPES.get(state.selected[i].resource_type) == protectable_type for i in state.unsized.values()
    )


def _learn(state: FleetState, obs: ProtectablesPage) -> None:
    """Sizes and vaults of resources chosen by id, from a page of the listing (others are ignored)."""
    for rid, _type, bound, size in obs.items:
        index = state.unsized.pop(rid, None)
        if index is not None:
            t = state.selected[index]
            state.selected[index] = Target(t.project_id, t.region, rid, t.resource_type, bound or None, size)


def _vault_shown(state: FleetState, obs: VaultFound) -> Transition:
    state.vaults_to_show.pop(0)
    state.vaults_seen[obs.vault_id] = list(obs.resource_ids)
    if obs.size_gb is not None:
        state.vaults_free_gb[obs.vault_id] = max(0.0, obs.size_gb - (obs.used_gb or 0.0))
    if state.select_vaults:
        opts = state.options
        state.selected += [
            Target(opts.project_id, opts.region, rid, bound_vault=obs.vault_id) for rid in obs.resource_ids
        ]
    return _select_next(state)


def _spawn(state: FleetState) -> Transition:
    """Selection ended: the children of what is left, in the transaction that records the phase."""
    state.phase = "spawn"
    opts = state.options
    if state.streaming:
        packer = _packer(state)  # selection kept nothing in ``selected``: all of it is in the stream
        packer.flush()
        state.unplaced += packer.unplaced
        action = _spawn_some(state, packer)
    elif opts.vaults is not None:
        plan: Plan = plan_into(state.selected, state.vaults_seen, state.vaults_free_gb, _child_size(state))
        action = _spawn_plan(state, plan)
    else:
        plan = plan_auto(state.selected, state.tag, opts.auto_vaults, _child_size(state))
        action = _spawn_plan(state, plan)
    state.selected = []  # the children hold the selection from here on
    state.unsized = {}
    return Transition(state, (action,))


def _child_size(state: FleetState) -> int:
    """A child always fits under the project cap, and into the create call of a vault made for it (which
    binds at most 255: a 256th resource would cost a call of its own)."""
    return min(CREATE_VAULT_MAX_RESOURCES, state.options.project_tasks)


def _packer(state: FleetState) -> Packer:
    return Packer(state.stream, state.tag, state.options.auto_vaults, _child_size(state))


def _spawn_some(state: FleetState, packer: Packer) -> SpawnChildren:
    return _spawn_plan(state, Plan(tuple(packer.children)))


def _spawn_plan(state: FleetState, plan: Plan) -> SpawnChildren:
    """The plan's children, numbered after those spawned before."""
    state.unplaced += plan.unplaced
    first = state.spawned + 1
    specs = tuple(_child(state, n, child) for n, child in enumerate(plan.children, start=first))
    state.spawned += len(specs)
    return SpawnChildren(specs)


def _child(state: FleetState, n: int, child: ChildPlan) -> ChildSpec:
    opts = state.options
    vault: dict[str, Any]
    if child.vault.vault_id is not None:
        vault = {"id": child.vault.vault_id}
    else:
        spec = opts.auto_vaults
        create = {
            "object_type": child.vault.object_type,
            "size_gb": child.vault.size_gb or spec.size_gb,
            "exclusive": not child.shares_new_vault,  # its vault's only child: the only one to create it
        }
        vault = {"name": child.vault.name, "create": {**create, "consistent_level": spec.consistent_level}}
    admission = Admission(
        project_tasks=opts.project_tasks,
        vault_concurrency=1 if child.shares_new_vault else opts.vault_concurrency,
        start_by=state.start_by,
    )
    command = {
        "kind": "backup",
        "command_id": opts.command_id,
        "project_id": child.project_id,
        "region": child.region,
        "vault": vault,
        "resources": [{"id": t.resource_id, "type": t.resource_type} for t in child.resources],
        "incremental": opts.incremental,
        "name": opts.name or f"fleet-{state.tag}",
        "admission": admission.model_dump(mode="json"),
    }
    return ChildSpec(
        child_command_id(state.workflow_id, n), "backup", child.project_id, child.region, command
    )


def child_command_id(parent: uuid.UUID, n: int) -> str:
    """Outside the commands' namespace ('/' is refused in a command id); 6 digits keep 100,000 in order."""
    return f"fleet/{parent}/{n:06d}"


def _watched(state: FleetState, obs: FleetSeen) -> Transition:
    state.counts = _with_unplaced(state, obs.counts)
    state.projects = _several(obs.projects)
    if obs.counts.children_final >= obs.counts.children:  # the read brought the first problems too
        state.phase = "summarize"
        return Transition(state, (_summary(state, obs),))
    done = state.counts.final
    percent = min(100 * done // state.counts.total if state.counts.total else 0, 99)
    step = percent // PROGRESS_STEP * PROGRESS_STEP
    if not _progress_due(state, step, done):
        return Transition(state, (Sleep("poll"),))
    state.progress_reported = max(step, state.progress_reported)
    state.progress_at, state.progress_final = state.now, done
    return Transition(state, (Progress(percent, _report(state)), Sleep("poll")))


def _progress_due(state: FleetState, step: int, done: int) -> bool:
    """Another 5 % of the resources ended, or some did and the last event is 10 s old."""
    if step > state.progress_reported:
        return True
    last = state.progress_at or state.started_at
    return done > state.progress_final and (
        last is None or state.now is None or state.now - last >= PROGRESS_EVERY
    )


def _summary(state: FleetState, obs: FleetSeen) -> Done:
    """Counts, and the first failed or skipped resources (``obs.results``: the children's first ones)."""
    counts = _with_unplaced(state, obs.counts)
    state.counts, state.projects = counts, _several(obs.projects)
    results = [*obs.results, *state.unplaced]
    problems = tuple(r for r in results if r.status != "succeeded")[:FLEET_PROBLEMS_LISTED]
    outcome = fleet_outcome(counts, expired=counts.window_closed > 0)
    first = problems[0] if problems and outcome.value == "failed" else None
    error = (first.error_code, first.error_message) if first else (None, None)
    if state.cancelling and (counts.cancelled or not counts.children):  # else all ended before the cancel
        outcome, error = Outcome.CANCELLED, (CANCELLED, f"cancelled: {counts.cancelled} resources cancelled")
    return Done(outcome, problems, fleet=_report(state), error_code=error[0], error_message=error[1])


def _failed(state: FleetState, failure: Failed) -> Transition:
    if failure.kind == "retry_later":
        return busy(state, failure)
    if state.phase == "list_protectables" and state.sources and state.sources[0].lookup:
        # sizes could not be read: the resources chosen by id are packed without them (CBR refuses,
        # with 6114, what then does not fit), rather than not backed up at all
        state.sources = [s for s in state.sources if not s.lookup]
        state.marker = None
        return _select_next(state)
    return Transition(
        state, (Done(fleet_outcome(FleetCounts()), error_code=failure.code, error_message=failure.message),)
    )


# ------------------------------------------------------------------ helpers


def _with_unplaced(state: FleetState, counts: FleetCounts) -> FleetCounts:
    n = len(state.unplaced)
    return counts.model_copy(update={"total": counts.total + n, "skipped": counts.skipped + n})


def _several(projects: tuple[ProjectCounts, ...]) -> list[ProjectCounts]:
    """Per-project counts say more than the totals only for a fleet over several projects."""
    return list(projects) if len(projects) > 1 else []


def _report(state: FleetState) -> FleetReport:
    return fleet_report(state.counts or FleetCounts(), state.started_at, state.now, state.projects)
