"""The engine: claim due workflows under a lease, run their state machines, perform their actions.

Each claimed workflow is advanced until it sleeps (released until its next run time) or finishes (final
state and event in one transaction). The state is saved *before* every CBR call, so an intent (such as
"creating the checkpoint with marker M") is on disk before the cloud hears of it. Leases are renewed
by a heartbeat; a dead worker's workflows become claimable when their lease expires.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import random
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from orchestrator.cbr.bodies import (
    BackupReplicate,
    BackupRestore,
    BillingCreate,
    CheckpointParameters,
    ResourceRef,
    RestoreMapping,
    VaultCreate,
)
from orchestrator.cbr.errors import CbrApiError
from orchestrator.cbr.models import Vault
from orchestrator.cbr.query import BackupFilter, VaultFilter
from orchestrator.config import Settings, WorkerSettings
from orchestrator.fleet.actions import perform_store_action
from orchestrator.fleet.selection import protectables_page
from orchestrator.messages import Outcome, Timings, WorkflowEventData, make_event
from orchestrator.poller import CbrClients, Poller
from orchestrator.store import (
    WORKFLOWS_CHANNEL,
    Finish,
    LeaseLost,
    Listener,
    OutboxEvent,
    Step,
    StepOutcome,
    Store,
    Workflow,
    WorkflowStatus,
)
from orchestrator.vault_binder import VaultBinder
from orchestrator.vault_directory import VaultDirectory
from orchestrator.workflows import kind_of
from orchestrator.workflows.base import (
    Accepted,
    AddResources,
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
    FindRestoreTask,
    FindVault,
    ListProtectables,
    Lock,
    Locked,
    MachineState,
    Observation,
    PollCheckpoint,
    PollReplication,
    Progress,
    ReplicateBackup,
    ReplicationStarted,
    Request,
    ResourcesAdded,
    RestoreBackup,
    Resume,
    ShowBackup,
    ShowCheckpoint,
    ShowVault,
    Skipped,
    Sleep,
    StoreAction,
    Unlock,
    VaultFound,
    VaultMissing,
)

log = logging.getLogger(__name__)

MAX_ACTIONS_PER_RUN = 50
# requests that change nothing in the cloud: no state needs to be on disk before them (their steps are
# written with the next save); every other request is preceded by a save of the state announcing it
READ_ONLY = (
    FindVault,
    ShowVault,
    FindCheckpoint,
    PollCheckpoint,
    ShowCheckpoint,
    ShowBackup,
    PollReplication,
    FindRestoreTask,
    ListProtectables,
)
# requests repeated harmlessly after a crash (an association found made is skipped, or answered
# "already done"): no intent is saved before them either
NO_INTENT = (*READ_ONLY, AddResources)
# observations after which a "poll" sleep waits for the project's next checkpoint-poll tick
CHECKPOINT_SEEN = (CheckpointCreated, CheckpointLookup, CheckpointStatus, CheckpointShown)
CRASH_ENV = "CBR_ORCH_CRASH_AT"  # test hook: SIGKILL this process at a named point
FINAL_STATUS = {
    Outcome.SUCCEEDED: WorkflowStatus.SUCCEEDED,
    Outcome.PARTIALLY_SUCCEEDED: WorkflowStatus.PARTIALLY_SUCCEEDED,
    Outcome.FAILED: WorkflowStatus.FAILED,
    Outcome.EXPIRED: WorkflowStatus.EXPIRED,
}


def crash_point(name: str) -> None:
    """Die here, without any clean-up, if the test hook names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter in [delay/2, delay], never below the cloud's Retry-After."""

    base_seconds: float
    max_seconds: float
    poll_seconds: float

    def delay(self, sleep: Sleep, rand: Callable[[], float] = random.random) -> float:
        if sleep.reason == "poll":
            return self.poll_seconds
        raw = min(self.max_seconds, self.base_seconds * 2.0 ** max(sleep.attempt - 1, 0))
        jittered = raw * (0.5 + rand() / 2)
        return max(jittered, sleep.at_least or 0.0)

    @classmethod
    def of(cls, worker: WorkerSettings) -> RetryPolicy:
        return cls(worker.backoff_base_seconds, worker.backoff_max_seconds, worker.status_poll_seconds)


def _now() -> datetime:
    return datetime.now(UTC)


class Actions(Protocol):
    """What the engine needs to perform a request (the real one is :class:`CbrActions`)."""

    async def perform(self, wf: Workflow, request: Request) -> tuple[Observation, Step]: ...

    def poll_delay(self, project: str, region: str) -> float | None:
        """Seconds until the project's checkpoints should be polled again (None: the configured poll)."""


class CbrActions:
    """Performs one :class:`Request` for one workflow and turns the answer into an observation."""

    def __init__(
        self,
        clients: CbrClients,
        poller: Poller,
        vaults: VaultDirectory | None = None,
        binder: VaultBinder | None = None,
    ) -> None:
        self._clients = clients
        self._poller = poller
        self._vaults = vaults or VaultDirectory()
        self._binder = binder or VaultBinder()
        self._vault_lookups: dict[tuple[str, str, str], asyncio.Future[VaultFound | VaultMissing]] = {}

    async def perform(self, wf: Workflow, request: Request) -> tuple[Observation, Step]:
        started = _now()
        try:
            observation = await self.dispatch(wf.project_id, wf.region, request)
        except CbrApiError as exc:
            failed = Failed(exc.kind.value, exc.code, exc.message, exc.retry_after, exc.outcome_unknown)
            outcome = StepOutcome.UNKNOWN if exc.outcome_unknown else StepOutcome(exc.kind.value)
            return failed, _step(request, outcome, started, error=(exc.code, exc.message))
        except ValidationError as exc:  # the request body cannot be built: no retry will change that
            message = f"the request cannot be built: {exc.error_count()} invalid field(s)"
            failed = Failed("terminal", "orchestrator.invalid_request", message, None, False)
            return failed, _step(request, StepOutcome.TERMINAL, started, error=(failed.code, message))
        return observation, _step(request, StepOutcome.OK, started, response=_summary(observation))

    async def dispatch(self, project: str, region: str, req: Request) -> Observation:
        if isinstance(req, ListProtectables):  # a fleet may list other projects than its own
            return await protectables_page(self._clients.get(req.project_id, req.region), req)
        client = self._clients.get(project, region)
        if isinstance(req, ShowVault):
            vault = await client.show_vault(req.vault_id)
            return self._learned(project, region, vault)
        if isinstance(req, FindVault):
            return await self._find_vault(project, region, req.name)
        if isinstance(req, CreateVault):
            return self._learned(project, region, await client.create_vault(_vault_create(req)))
        if isinstance(req, AddResources):
            refs = [ResourceRef(id=rid, type=rtype) for rid, rtype in req.resources]
            await self._binder.add(client, (project, region, req.vault_id), refs)
            self._vaults.bound(project, region, req.vault_id, (rid for rid, _ in req.resources))
            return ResourcesAdded()
        if isinstance(req, CreateCheckpoint):
            return await self._create_checkpoint(project, region, req)
        if isinstance(req, FindCheckpoint):
            return await self._find_checkpoint(project, region, req)
        if isinstance(req, PollCheckpoint):
            return await self._poller.checkpoint(project, region, req.vault_id, req.checkpoint_id, req.since)
        if isinstance(req, ShowCheckpoint):
            return await self._poller.show_checkpoint(project, region, req.checkpoint_id)
        if isinstance(req, ShowBackup):
            return await self._poller.backup_details(project, region, req.backup_id)
        if isinstance(req, PollReplication):
            return await self._poller.replication(project, region, req)
        if isinstance(req, RestoreBackup):
            await client.restore_backup(req.backup_id, _restore_body(req))
            return Accepted()
        if isinstance(req, FindRestoreTask):
            return await self._poller.restore_task(project, region, req.backup_id, req.target_id, req.since)
        if isinstance(req, ReplicateBackup):
            body = BackupReplicate(
                destination_project_id=req.destination_project_id,
                destination_region=req.destination_region,
                destination_vault_id=req.destination_vault_id,
            )
            answer = await client.replicate_backup(req.backup_id, body)
            return ReplicationStarted(answer.replication_record_id)
        raise TypeError(f"unknown request {type(req).__name__}")

    async def _find_vault(self, project: str, region: str, name: str) -> VaultFound | VaultMissing:
        known = self._vaults.find(project, region, name)
        if known is not None:
            return VaultFound(*known)
        key = (project, region, name)  # workflows starting together share one listing
        lookup = self._vault_lookups.get(key)
        if lookup is None:
            lookup = asyncio.ensure_future(self._list_vault(project, region, name))
            self._vault_lookups[key] = lookup
            lookup.add_done_callback(lambda _: self._vault_lookups.pop(key, None))
        return await asyncio.shield(lookup)

    async def _list_vault(self, project: str, region: str, name: str) -> VaultFound | VaultMissing:
        page = await self._clients.get(project, region).list_vaults(VaultFilter(name=name), limit=1000)
        found = [v for v in page.vaults if v.name == name]
        return self._learned(project, region, found[0]) if found else VaultMissing()

    def poll_delay(self, project: str, region: str) -> float | None:
        return self._poller.poll_delay(project, region)

    def _learned(self, project: str, region: str, vault: Vault) -> VaultFound:
        resources = tuple(vault.resource_ids())
        if vault.name:
            self._vaults.learn(project, region, vault.name, vault.id, resources)
        return VaultFound(vault.id, resources)

    async def _create_checkpoint(self, project: str, region: str, req: CreateCheckpoint) -> Observation:
        params = CheckpointParameters(
            resources=list(req.resource_ids),
            name=req.name,
            description=req.description,
            incremental=req.incremental,
        )
        checkpoint = await self._clients.get(project, region).create_checkpoint(req.vault_id, params)
        crash_point("after_cbr_create")
        skipped = tuple(
            Skipped(s.id or "", s.code or "", s.reason or "") for s in checkpoint.skipped_resources
        )
        return CheckpointCreated(checkpoint.id, skipped)

    async def _find_checkpoint(self, project: str, region: str, req: FindCheckpoint) -> Observation:
        filters = BackupFilter(vault_id=req.vault_id, resource_id=req.resource_id)
        async for backup in self._clients.get(project, region).iter_backups(filters, page_size=100):
            if backup.checkpoint_id and req.marker in (backup.description or "") + (backup.name or ""):
                return CheckpointLookup(backup.checkpoint_id)
        return CheckpointLookup(None)


def _vault_create(req: CreateVault) -> VaultCreate:
    billing = BillingCreate(
        object_type=req.object_type, consistent_level=req.consistent_level, size=req.size_gb
    )
    resources = [ResourceRef(id=rid, type=rtype) for rid, rtype in req.resources]
    return VaultCreate(name=req.name, billing=billing, resources=resources, description=req.description)


def _restore_body(req: RestoreBackup) -> BackupRestore:
    mappings = [RestoreMapping(backup_id=b, volume_id=v) for b, v in req.mappings] or None
    return BackupRestore(
        server_id=req.server_id, volume_id=req.volume_id, mappings=mappings, power_on=req.power_on
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _summary(observation: Observation) -> dict[str, Any]:
    return {"observation": type(observation).__name__, **_jsonable(dataclasses.asdict(observation))}


def _step(
    request: Request,
    outcome: StepOutcome,
    started: datetime,
    *,
    response: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
) -> Step:
    return Step(
        operation=type(request).__name__,
        outcome=outcome,
        started_at=started,
        finished_at=_now(),
        request=_jsonable(dataclasses.asdict(request)),
        response=response,
        error_code=error[0] if error else None,
        error_message=error[1][:1000] if error else None,
    )


def outbox_event(wf: Workflow, done: Done | Progress, finished_at: datetime | None = None) -> OutboxEvent:
    """The CloudEvent for a final result or a progress report, with its stable id."""
    extra: dict[str, Any]
    if isinstance(done, Progress):
        outcome, name = Outcome.PROGRESS, f"progress-{done.percent}"
        extra = {"progress": done.percent, "fleet": done.fleet}
    else:
        outcome, name = done.outcome, "final"
        extra = {
            "resources": list(done.resources),
            "checkpoint_id": done.checkpoint_id,
            "destination_backup_id": done.destination_backup_id,
            "error_code": done.error_code,
            "error_message": done.error_message,
            "fleet": done.fleet,
        }
    duration = (finished_at - wf.created_at).total_seconds() if finished_at else None
    data = WorkflowEventData(
        workflow_id=wf.id,
        command_id=wf.command_id,
        kind=wf.kind,
        outcome=outcome,
        project_id=wf.project_id,
        region=wf.region,
        timings=Timings(created_at=wf.created_at, finished_at=finished_at, duration_seconds=duration),
        **extra,
    )
    event = make_event(data, name)
    return OutboxEvent(
        event.id, event.routing_key, event.model_dump(mode="json"), wf.reply_to, wf.correlation_id
    )


class Engine:
    def __init__(self, store: Store, settings: Settings, actions: Actions, owner: str | None = None) -> None:
        self._store = store
        self._worker = settings.worker
        self._actions = actions
        self._policy = RetryPolicy.of(settings.worker)
        self.owner = owner or f"worker-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._listener = Listener(store.dsn, WORKFLOWS_CHANNEL)

    # ------------------------------------------------------------------ loop

    async def run(self, stop: asyncio.Event) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            while not stop.is_set():
                claimed = await self._claim_some()
                if not claimed:
                    await self._idle(stop)
        finally:
            heartbeat.cancel()
            await self._finish_in_flight()
            await self._listener.close()

    def wake(self) -> None:
        self._listener.wake()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    async def _claim_some(self) -> int:
        free = self._worker.concurrency - len(self._in_flight)
        if free <= 0:
            await asyncio.wait(list(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED)
            return 1
        try:
            workflows = await self._store.claim_due(self.owner, self._worker.lease_seconds, free)
        except Exception as exc:  # database restarting or unreachable: wait, then claim again
            log.warning("claim failed (%s); retrying", type(exc).__name__)
            return 0
        for wf in workflows:
            task = asyncio.create_task(self._advance_guarded(wf))
            self._in_flight[wf.id] = task
            task.add_done_callback(functools.partial(self._forget, wf.id))
        return len(workflows)

    def _forget(self, workflow_id: uuid.UUID, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(workflow_id, None)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiter = asyncio.create_task(self._listener.wait(self._worker.idle_poll_seconds))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self._worker.heartbeat_seconds)
            try:
                await self._store.heartbeat(self.owner, list(self._in_flight), self._worker.lease_seconds)
            except Exception as exc:  # a missed heartbeat is survivable; the next one may pass
                log.warning("heartbeat failed (%s)", type(exc).__name__)

    async def _finish_in_flight(self) -> None:
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=self._worker.lease_seconds)

    # ------------------------------------------------------------------ one workflow

    async def _advance_guarded(self, wf: Workflow) -> None:
        try:
            await self.advance(wf)
        except LeaseLost:
            log.warning("workflow %s: lease lost to another worker", wf.id)
        except Exception:
            # the lease expires and the workflow is retried (by us or another worker)
            log.exception("workflow %s: unexpected error; left for retry after the lease", wf.id)

    async def advance(self, wf: Workflow) -> None:
        kind = kind_of(wf.kind)
        state: MachineState = kind.load(wf.id, wf.input, wf.state)
        now = _now()
        if wf.deadline is not None and now >= wf.deadline:
            await self._finish(wf, state, kind.expire(state), [], [])
            return
        observation: Observation = Resume(now)
        steps: list[Step] = []
        events: list[OutboxEvent] = []
        for _ in range(MAX_ACTIONS_PER_RUN):
            transition = kind.transition(state, observation)
            state = transition.state  # type: ignore[assignment]
            for action in transition.actions:
                if isinstance(action, Progress):
                    events.append(outbox_event(wf, action))
                elif isinstance(action, Done):
                    await self._finish(wf, state, action, steps, events)
                    return
                elif isinstance(action, Sleep):
                    await self._sleep(wf, state, action, steps, events, observation)
                    return
                elif isinstance(action, Lock):
                    observation = Locked(
                        await self._store.lock_resource(wf.id, wf.project_id, wf.region, action.resource_id)
                    )
                elif isinstance(action, Unlock):
                    await self._store.unlock_resource(wf.id, wf.project_id, wf.region, action.resource_id)
                elif isinstance(action, StoreAction):  # admission, a fleet's children
                    observation = await perform_store_action(self._store, wf, action)
                elif isinstance(action, Call):
                    if not isinstance(action.request, NO_INTENT):  # the intent is on disk before the call
                        await self._store.save_state(
                            self.owner,
                            wf.id,
                            state.model_dump(mode="json"),
                            self._worker.lease_seconds,
                            steps,
                            events,
                        )
                        steps, events = [], []
                    observation, step = await self._actions.perform(wf, action.request)
                    steps.append(step)
        await self._sleep(wf, state, Sleep("busy", 1), steps, events)  # a machine that never settles

    async def _sleep(
        self,
        wf: Workflow,
        state: MachineState,
        sleep: Sleep,
        steps: list[Step],
        events: list[OutboxEvent],
        after: Observation | None = None,
    ) -> None:
        delay = self._policy.delay(sleep)
        if sleep.reason == "poll" and isinstance(after, CHECKPOINT_SEEN):  # poll at the project's tick
            delay = self._actions.poll_delay(wf.project_id, wf.region) or delay
        run_at = _now() + timedelta(seconds=delay)
        if wf.deadline is not None:
            run_at = min(run_at, wf.deadline)
        await self._store.release_until(
            self.owner, wf.id, state.model_dump(mode="json"), run_at, steps, events
        )

    async def _finish(
        self, wf: Workflow, state: MachineState, done: Done, steps: list[Step], events: list[OutboxEvent]
    ) -> None:
        if events:  # progress reported in this run goes out before the final event
            await self._store.save_state(
                self.owner, wf.id, state.model_dump(mode="json"), self._worker.lease_seconds, steps, events
            )
            steps = []
        finished_at = _now()
        result = {
            "resources": [r.model_dump(mode="json") for r in done.resources],
            "checkpoint_id": done.checkpoint_id,
            "destination_backup_id": done.destination_backup_id,
            "fleet": done.fleet.model_dump(mode="json") if done.fleet else None,
        }
        finish = Finish(FINAL_STATUS[done.outcome], result, done.error_code, done.error_message)
        event = outbox_event(wf, done, finished_at)
        await self._store.finish_with_event(
            self.owner, wf.id, state.model_dump(mode="json"), finish, event, steps
        )
        log.info("workflow %s finished: %s", wf.id, done.outcome.value)
