"""The engine: claim due workflows under a lease, run their state machines, perform their actions.

Each claimed workflow is advanced until it sleeps (released until its next run time) or finishes (final
state and event in one transaction). The state is saved *before* every call that changes something in
the cloud, so an intent (such as "creating the checkpoint with marker M") is on disk before the cloud
hears of it. Every write names the run's lease (owner and epoch): a run whose lease passed on cannot
write. Every workflow ends: the engine charges each step to the workflow's budget and ends it once the
budget is spent, or once its runs keep failing.

On stop, the engine claims nothing more, lets running workflows reach their next pause for
``drain_seconds`` (heartbeats go on meanwhile), then stops the rest and hands their leases back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.cbr.transport import SEND_GUARD
from orchestrator.config import Settings
from orchestrator.engine.actions import Actions
from orchestrator.engine.budget import Exhausted, charge, out_of_time, over_budget, runs_failing
from orchestrator.engine.events import outbox_event
from orchestrator.engine.lease import Lease, Leases
from orchestrator.engine.retry import RetryPolicy
from orchestrator.fleet.actions import perform_store_action
from orchestrator.messages import Outcome
from orchestrator.store import (
    WORKFLOWS_CHANNEL,
    Finish,
    LeaseLost,
    Listener,
    OutboxEvent,
    Step,
    Store,
    Workflow,
    WorkflowStatus,
)
from orchestrator.workflows import Kind, kind_of
from orchestrator.workflows.base import (
    Call,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    Done,
    Lock,
    Locked,
    MachineState,
    Observation,
    Progress,
    Request,
    Resume,
    Sleep,
    StoreAction,
    Unlock,
)

log = logging.getLogger(__name__)

MAX_ACTIONS_PER_RUN = 50
# requests that change nothing in the cloud, or whose repetition after a crash is harmless (a bind found
# made answers "already done"): no state needs to be on disk before them (their steps are written with
# the next save); every other request is preceded by a save of the state announcing it
NO_INTENT = (
    "FindVault",
    "ShowVault",
    "FindCheckpoint",
    "PollCheckpoint",
    "ShowCheckpoint",
    "ShowBackup",
    "PollReplication",
    "FindRestoreTask",
    "ListProtectables",
    "AddResources",
)
# observations after which a "poll" sleep waits for the project's next checkpoint-poll tick
CHECKPOINT_SEEN = (CheckpointCreated, CheckpointLookup, CheckpointStatus, CheckpointShown)
FINAL_STATUS = {
    Outcome.SUCCEEDED: WorkflowStatus.SUCCEEDED,
    Outcome.PARTIALLY_SUCCEEDED: WorkflowStatus.PARTIALLY_SUCCEEDED,
    Outcome.FAILED: WorkflowStatus.FAILED,
    Outcome.EXPIRED: WorkflowStatus.EXPIRED,
}


def _now() -> datetime:
    return datetime.now(UTC)


async def _first_of(*waits: Awaitable[object]) -> None:
    """Wait until the first of ``waits`` is done; the helpers started here end with it, however we leave."""
    started = [asyncio.ensure_future(w) for w in waits]
    mine = [task for task, w in zip(started, waits, strict=True) if task is not w]
    try:
        await asyncio.wait(started, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in mine:
            task.cancel()
        await asyncio.gather(*mine, return_exceptions=True)


def announces_intent(request: Request) -> bool:
    return type(request).__name__ not in NO_INTENT


class Engine:
    def __init__(self, store: Store, settings: Settings, actions: Actions, owner: str | None = None) -> None:
        self._store = store
        self._worker = settings.worker
        self._actions = actions
        self._policy = RetryPolicy.of(settings.worker)
        self.owner = owner or f"worker-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._leases = Leases(store, settings.worker)
        self._listener = Listener(store.dsn, WORKFLOWS_CHANNEL)

    # ------------------------------------------------------------------ loop

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run workflows until ``stop`` is set; then drain, stop what is left, hand it back."""
        keeper = asyncio.create_task(self._leases.keep(), name="leases")
        try:
            while not stop.is_set():
                claimed = await self._claim_some(stop)
                if not claimed:
                    await self._idle(stop)
            await self._drain()
        finally:
            await self._stop_runs()
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await self._listener.close()

    def wake(self) -> None:
        self._listener.wake()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    async def _claim_some(self, stop: asyncio.Event) -> int:
        free = self._worker.concurrency - len(self._in_flight)
        if free <= 0:
            await _first_of(stop.wait(), *self._in_flight.values())
            return 1
        claimed_at = self._leases.clock()
        try:
            workflows = await self._store.claim_due(self.owner, self._worker.lease_seconds, free)
        except Exception as exc:  # database restarting or unreachable: wait, then claim again
            log.warning("claim failed (%s); retrying", type(exc).__name__)
            return 0
        for wf in workflows:
            lease = self._leases.hold(wf.claim, claimed_at)
            task = asyncio.create_task(self._advance_guarded(wf, lease))
            lease.run = task
            self._in_flight[wf.id] = task
            task.add_done_callback(functools.partial(self._forget, wf.id))
        return len(workflows)

    def _forget(self, workflow_id: uuid.UUID, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(workflow_id, None)
        self._leases.drop(workflow_id)

    async def _idle(self, stop: asyncio.Event) -> None:
        await _first_of(self._listener.wait(self._worker.idle_poll_seconds), stop.wait())

    async def _drain(self) -> None:
        """Let running workflows reach their next pause (their leases are still renewed meanwhile)."""
        if self._in_flight:
            log.info(
                "stopping: %d workflows running; waiting up to %gs",
                len(self._in_flight),
                self._worker.drain_seconds,
            )
            await asyncio.wait(list(self._in_flight.values()), timeout=self._worker.drain_seconds)

    async def _stop_runs(self) -> None:
        """Stop the runs still going, then hand their leases back so others take them over at once."""
        leases = self._leases.held()
        runs = [task for task in self._in_flight.values() if not task.done()]
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        await self._leases.hand_back(leases)

    # ------------------------------------------------------------------ one workflow

    async def _advance_guarded(self, wf: Workflow, lease: Lease) -> None:
        SEND_GUARD.set(functools.partial(self._leases.ensure, lease))
        try:
            await self.advance(wf, lease)
        except LeaseLost:
            log.warning("workflow %s: lease lost; its run stops", wf.id)
        except Exception as exc:
            log.exception("workflow %s: its run failed; it is given back for a later run", wf.id)
            await self._release_after_error(wf, lease, exc)

    async def _release_after_error(self, wf: Workflow, lease: Lease, exc: Exception) -> None:
        delay = self._policy.delay(Sleep("busy", wf.crashed_runs))
        error = f"{type(exc).__name__}: {exc}"
        try:
            await self._store.release_after_error(lease.claim, _now() + timedelta(seconds=delay), error)
        except Exception as again:  # the lease then simply expires
            log.warning("workflow %s: could not give it back (%s)", wf.id, type(again).__name__)

    async def advance(self, wf: Workflow, lease: Lease) -> None:
        kind = kind_of(wf.kind)
        now = _now()
        exhausted = runs_failing(wf, self._worker) or out_of_time(wf, now, self._worker)
        if exhausted is not None:
            await self._abandon(wf, lease, kind, exhausted)
            return
        state: MachineState = kind.load(wf.id, wf.input, wf.state)
        if wf.deadline is not None and now >= wf.deadline:
            await self._finish(wf, lease, state, kind.expire(state), [], [])
            return
        await self._run(wf, lease, kind, state, Resume(now, self._worker.settle_seconds))

    async def _run(
        self, wf: Workflow, lease: Lease, kind: Kind[Any, Any], state: MachineState, first: Observation
    ) -> None:
        observation: Observation = first
        answered: Request | None = None  # the request ``observation`` answers, if it answers one
        steps: list[Step] = []
        events: list[OutboxEvent] = []
        for _ in range(MAX_ACTIONS_PER_RUN):
            charge(state.budget, observation, answered)
            exhausted = over_budget(state.budget, self._worker, observation)
            if exhausted is not None:
                await self._finish(
                    wf, lease, state, kind.fail(state, exhausted.code, exhausted.message), steps, events
                )
                return
            transition = kind.transition(state, observation)
            state, answered = transition.state, None  # type: ignore[assignment]
            for action in transition.actions:
                if isinstance(action, Progress):
                    if wf.parent_id is None:  # a fleet's children publish nothing of their own
                        events.append(outbox_event(wf, action))
                elif isinstance(action, Done):
                    await self._finish(wf, lease, state, action, steps, events)
                    return
                elif isinstance(action, Sleep):
                    await self._sleep(wf, lease, state, action, steps, events, observation)
                    return
                elif isinstance(action, Lock):
                    held = await self._store.lock_resource(
                        wf.id, wf.project_id, wf.region, action.resource_id
                    )
                    observation = Locked(held)
                elif isinstance(action, Unlock):
                    await self._store.unlock_resource(wf.id, wf.project_id, wf.region, action.resource_id)
                elif isinstance(action, StoreAction):  # admission, a fleet's children
                    observation = await perform_store_action(self._store, wf, action)
                elif isinstance(action, Call):
                    if announces_intent(action.request):  # the intent is on disk before the call
                        await self._save(lease, state, steps, events)
                        steps, events = [], []
                    observation, step = await self._actions.perform(wf, action.request)
                    steps.append(step)
                    answered = action.request
        await self._sleep(wf, lease, state, Sleep("busy", 1), steps, events)  # a machine that never settles

    async def _save(
        self, lease: Lease, state: MachineState, steps: list[Step], events: list[OutboxEvent]
    ) -> None:
        sent = self._leases.clock()
        await self._store.save_state(
            lease.claim, state.model_dump(mode="json"), self._worker.lease_seconds, steps, events
        )
        self._leases.renewed(lease, sent)

    async def _sleep(
        self,
        wf: Workflow,
        lease: Lease,
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
        await self._store.release_until(lease.claim, state.model_dump(mode="json"), run_at, steps, events)

    async def _abandon(self, wf: Workflow, lease: Lease, kind: Kind[Any, Any], why: Exhausted) -> None:
        """End a workflow that spent its budget, or whose runs keep failing (its state may not even load)."""
        log.warning("workflow %s ends: %s", wf.id, why.message)
        try:
            state: MachineState | None = kind.load(wf.id, wf.input, wf.state)
            done = kind.fail(state, why.code, why.message) if state is not None else None
        except Exception:
            state, done = None, None
        done = done or Done(Outcome.FAILED, error_code=why.code, error_message=why.message)
        await self._finish(wf, lease, state, done, [], [])

    async def _finish(
        self,
        wf: Workflow,
        lease: Lease,
        state: MachineState | None,
        done: Done,
        steps: list[Step],
        events: list[OutboxEvent],
    ) -> None:
        dumped = state.model_dump(mode="json") if state is not None else wf.state
        if events:  # progress reported in this run goes out before the final event
            await self._store.save_state(lease.claim, dumped, self._worker.lease_seconds, steps, events)
            steps = []
        finished_at = _now()
        result = {
            "resources": [r.model_dump(mode="json") for r in done.resources],
            "checkpoint_id": done.checkpoint_id,
            "destination_backup_id": done.destination_backup_id,
            "fleet": done.fleet.model_dump(mode="json") if done.fleet else None,
        }
        finish = Finish(FINAL_STATUS[done.outcome], result, done.error_code, done.error_message)
        # a fleet's children publish nothing: the fleet reports for them (progress and summary)
        event = outbox_event(wf, done, finished_at) if wf.parent_id is None else None
        await self._store.finish_with_event(lease.claim, dumped, finish, event, steps)
        log.info("workflow %s finished: %s", wf.id, done.outcome.value)
