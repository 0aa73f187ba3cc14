"""One run of one claimed workflow: from its :class:`Resume` to its next pause (sleep) or its end.

The machine says what to do; the run does it and feeds back what it saw. The state is saved *before*
every call that changes something in the cloud, so an intent is on disk before the cloud hears of it.
Every write names the run's lease (owner and epoch). Each observation is charged to the workflow's budget;
a workflow past its budget, or whose runs keep failing, is ended ``failed`` with an event.

A workflow asked to cancel (seen in its row when claimed, or by a heartbeat of its lease) is stopped at the
start of its run and before each call or pause: its kind says how it ends (``Kind.cancel``), or that it goes
on until an unknown outcome is settled (docs/guarantees.md, "Cancelling").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

from orchestrator.config import WorkerSettings
from orchestrator.engine.actions import Actions
from orchestrator.engine.budget import Exhausted, charge, out_of_time, over_budget, runs_failing
from orchestrator.engine.events import outbox_event
from orchestrator.engine.lease import Lease, Leases
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.store_actions import perform_store_action
from orchestrator.messages import Outcome
from orchestrator.observability import metrics
from orchestrator.store import (
    Finish,
    OutboxEvent,
    ParentSave,
    Step,
    Workflow,
    WorkflowStatus,
    WorkflowStore,
)
from orchestrator.workflows import Kind, kind_of
from orchestrator.workflows.base import (
    Action,
    Admit,
    Call,
    CancelChildren,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointShown,
    CheckpointStatus,
    Done,
    Effect,
    Lock,
    Locked,
    MachineState,
    Observation,
    Progress,
    ReadFleet,
    Request,
    Resume,
    Sleep,
    SpawnChildren,
    Transition,
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
    "ListBackups",
    "ShowServerDisks",
)
# observations after which a "poll" sleep waits for the project's next checkpoint-poll tick
CHECKPOINT_SEEN = (CheckpointCreated, CheckpointLookup, CheckpointStatus, CheckpointShown)
FINAL_STATUS = {
    Outcome.SUCCEEDED: WorkflowStatus.SUCCEEDED,
    Outcome.PARTIALLY_SUCCEEDED: WorkflowStatus.PARTIALLY_SUCCEEDED,
    Outcome.FAILED: WorkflowStatus.FAILED,
    Outcome.EXPIRED: WorkflowStatus.EXPIRED,
    Outcome.CANCELLED: WorkflowStatus.CANCELLED,
}


def _now() -> datetime:
    return datetime.now(UTC)


def announces_intent(request: Request) -> bool:
    return type(request).__name__ not in NO_INTENT


@dataclass(frozen=True)
class RunContext:
    """What every run of one engine shares."""

    store: WorkflowStore
    worker: WorkerSettings
    actions: Actions
    policy: RetryPolicy
    leases: Leases
    claim_again: Callable[[], None] = lambda: None  # a workflow was given back due now: claim without idling


@dataclass
class Run:
    ctx: RunContext
    wf: Workflow
    lease: Lease
    kind: Kind[Any, Any] = field(init=False)
    steps: list[Step] = field(default_factory=list)
    events: list[OutboxEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kind = kind_of(self.wf.kind)

    async def go(self) -> None:
        now = _now()
        exhausted = runs_failing(self.wf, self.ctx.worker) or out_of_time(self.wf, now, self.ctx.worker)
        if exhausted is not None:
            await self._abandon(exhausted)
            return
        state: MachineState = self.kind.load(self.wf.id, self.wf.input, self.wf.state)
        resume = Resume(now, self.ctx.worker.settle_seconds)
        stop = self.kind.cancel(state, None) if self._cancel_requested() else None
        if stop is not None:
            await self._advance(state, resume, stop)
            return
        if self.wf.deadline is not None and now >= self.wf.deadline:
            await self._finish(state, self.kind.expire(state))
            return
        await self._advance(state, resume)

    def _cancel_requested(self) -> bool:
        return self.wf.cancel_requested_at is not None or self.lease.cancelling

    async def _advance(
        self, state: MachineState, observation: Observation, first: Transition | None = None
    ) -> None:
        """Feed observations to the machine and do what it says, until it pauses or ends (``first``: what
        to do before feeding ``observation``, which it then replaces)."""
        answered: Request | None = None  # the request ``observation`` answers, if it answers one
        transition = first
        for _ in range(MAX_ACTIONS_PER_RUN):
            if transition is None:
                charge(state.budget, observation, answered)
                exhausted = over_budget(state.budget, self.ctx.worker, observation)
                if exhausted is not None:
                    await self._finish(state, self.kind.fail(state, exhausted.code, exhausted.message))
                    return
                transition = self.kind.transition(state, observation)
            state, answered = transition.state, None  # type: ignore[assignment]
            actions, transition = list(transition.actions), None
            while actions:
                action = actions.pop(0)
                stop = self._cancel_before(state, action)
                if stop is not None:  # what the machine does instead of this call or pause
                    state, actions = stop.state, list(stop.actions)  # type: ignore[assignment]
                    continue
                match action:
                    case Done():
                        await self._finish(state, action)
                        return
                    case Sleep():
                        await self._sleep(state, action, observation)
                        return
                    case _:
                        seen = await self._timed_act(state, action)
                if seen is not None:
                    observation = seen
                    answered = action.request if isinstance(action, Call) else None
        # 50 actions in one run (a fleet reading thousands of pages): given back due at once, so that the
        # run ends (its worker's other work goes on) but the selection does not wait a backoff every 50
        # pages; a machine that never settles is ended by its budget of steps
        await self._release(state, _now())
        self.ctx.claim_again()

    def _cancel_before(self, state: MachineState, action: Action) -> Transition | None:
        """Before a call or a pause of a workflow asked to cancel: how it stops (None: it goes on)."""
        if not isinstance(action, Call | Sleep) or not self._cancel_requested():
            return None
        return self.kind.cancel(state, action.request if isinstance(action, Call) else None)

    async def _timed_act(self, state: MachineState, action: Effect) -> Observation | None:
        """:meth:`_act`, its time counted as a step of the phase that asked for it."""
        started = time.monotonic()
        seen = await self._act(state, action)
        metrics.STEP_DURATION.labels(self.wf.kind, state.phase).observe(time.monotonic() - started)
        return seen

    async def _act(self, state: MachineState, action: Effect) -> Observation | None:
        """Do one action that neither ends nor pauses the run; what it saw, if it looked at anything."""
        wf, store, claim = self.wf, self.ctx.store, self.lease.claim
        match action:
            case Progress():
                if wf.parent_id is None:  # a fleet's children publish nothing of their own
                    self.events.append(outbox_event(wf, action))
                return None
            case Lock():
                return Locked(await store.lock_resource(claim, wf.project_id, wf.region, action.resource_id))
            case Unlock():
                await store.unlock_resource(claim, wf.project_id, wf.region, action.resource_id)
                return None
            case SpawnChildren():
                return await self._spawn(state, action)
            case Admit() | ReadFleet():  # admission, a fleet's children
                return await perform_store_action(store, wf, action)
            case CancelChildren():
                await store.cancel_children(claim)
                return None
            case Call():
                return await self._call(state, action.request)
            case _:
                assert_never(action)

    async def _call(self, state: MachineState, request: Request) -> Observation:
        if announces_intent(request):  # the intent is on disk before the call
            await self._save(state)
        observation, step = await self.ctx.actions.perform(self.wf, request)
        self.steps.append(step)
        return observation

    async def _spawn(self, state: MachineState, action: SpawnChildren) -> Observation:
        """Create a fleet's children with its state saved in their transaction (what selection read so
        far: a crash leaves both or neither); the write renews the lease."""
        sent = self.ctx.leases.clock()
        save = ParentSave(state.model_dump(mode="json"), self.ctx.worker.lease_seconds)
        seen = await perform_store_action(self.ctx.store, self.wf, action, save)
        self.ctx.leases.renewed(self.lease, sent)
        return seen

    async def _save(self, state: MachineState) -> None:
        """Save the state with the steps and events so far; the write renews the lease."""
        sent = self.ctx.leases.clock()
        await self.ctx.store.save_state(
            self.lease.claim, state.model_dump(mode="json"), self.ctx.worker.lease_seconds, *self._written()
        )
        self.ctx.leases.renewed(self.lease, sent)

    def _written(self) -> tuple[list[Step], list[OutboxEvent]]:
        """The steps and events gathered so far, handed to a write (and so no longer pending)."""
        steps, events = self.steps, self.events
        self.steps, self.events = [], []
        return steps, events

    async def _sleep(self, state: MachineState, sleep: Sleep, after: Observation | None = None) -> None:
        delay = self.ctx.policy.delay(sleep)
        if sleep.reason == "poll" and isinstance(after, CHECKPOINT_SEEN):  # poll at the project's tick
            delay = self.ctx.actions.poll_delay(self.wf.project_id, self.wf.region, self.wf.id) or delay
        await self._release(state, _now() + timedelta(seconds=delay))

    async def _release(self, state: MachineState, run_at: datetime) -> None:
        """Give the workflow back until ``run_at`` (its deadline at the latest), with what this run did."""
        if self.wf.deadline is not None:
            run_at = min(run_at, self.wf.deadline)
        dumped = state.model_dump(mode="json")
        seen = self._cancel_requested()  # a request the run did not see makes the workflow due at once
        await self.ctx.store.release_until(self.lease.claim, dumped, run_at, *self._written(), seen)

    async def _abandon(self, why: Exhausted) -> None:
        """End a workflow that spent its budget, or whose runs keep failing (its state may not even load)."""
        log.warning("workflow %s ends: %s", self.wf.id, why.message)
        try:
            state: MachineState | None = self.kind.load(self.wf.id, self.wf.input, self.wf.state)
            done = self.kind.fail(state, why.code, why.message) if state is not None else None
        except Exception:
            state, done = None, None
        await self._finish(
            state, done or Done(Outcome.FAILED, error_code=why.code, error_message=why.message)
        )

    async def _finish(self, state: MachineState | None, done: Done) -> None:
        """Final state, result and event in one write (progress of this run saved just before)."""
        store, wf = self.ctx.store, self.wf
        dumped = state.model_dump(mode="json") if state is not None else wf.state
        if self.events:  # progress reported in this run goes out before the final event
            await store.save_state(self.lease.claim, dumped, self.ctx.worker.lease_seconds, *self._written())
        finished_at = _now()
        result = {
            "resources": [r.model_dump(mode="json") for r in done.resources],
            "checkpoint_id": done.checkpoint_id,
            "destination_backup_id": done.destination_backup_id,
            "fleet": done.fleet.model_dump(mode="json") if done.fleet else None,
            "drill": done.drill.model_dump(mode="json") if done.drill else None,
        }
        finish = Finish(FINAL_STATUS[done.outcome], result, done.error_code, done.error_message)
        # a fleet's children publish nothing: the fleet reports for them (progress and summary)
        event = outbox_event(wf, done, finished_at) if wf.parent_id is None else None
        steps, _ = self._written()
        await store.finish_with_event(self.lease.claim, dumped, finish, event, steps)
        log.info("workflow %s finished: %s", wf.id, done.outcome.value)
        metrics.WORKFLOWS.labels(wf.kind, done.outcome.value).inc()
        metrics.WORKFLOW_DURATION.labels(wf.kind).observe((finished_at - wf.created_at).total_seconds())
