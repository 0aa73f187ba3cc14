"""An in-memory :class:`~orchestrator.store.interface.WorkflowStore`: the engine's logic tested without a
database. Same semantics as the PostgreSQL store (``tests/store_contract`` holds both to them): leases with
epochs fence every write, due times order the claims, locks and admission slots end with their workflow,
a command id names one workflow, final events go to an outbox. One event loop; each method runs without
awaiting, so it is as atomic as the statement it stands for. Time comes from ``clock``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.store.interface import WorkflowStore
from orchestrator.store.memory_fleet import MemoryAdmission, MemoryFleet, MemoryTables
from orchestrator.store.models import (
    OUTBOX_CHANNEL,
    WORKFLOWS_CHANNEL,
    CancelOutcome,
    CancelVerdict,
    Claim,
    CommandVerdict,
    Finish,
    LeaseLost,
    NewWorkflow,
    OutboxEvent,
    Renewed,
    Step,
    StoredStep,
    Verdict,
    Workflow,
    WorkflowStatus,
)
from orchestrator.store.notifications import woken_within


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryWakeUps:
    """A waiter on one channel of a :class:`MemoryStore`."""

    def __init__(self, on_close: Callable[[MemoryWakeUps], None]) -> None:
        self._woken = asyncio.Event()
        self._on_close = on_close

    async def wait(self, max_wait: float) -> bool:
        return await woken_within(self._woken, max_wait)

    def wake(self) -> None:
        self._woken.set()

    async def close(self) -> None:
        self._on_close(self)


class MemoryStore:
    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock
        self._tables = MemoryTables()
        self._steps: list[tuple[uuid.UUID, StoredStep]] = []
        self._events: list[tuple[uuid.UUID, OutboxEvent]] = []
        self._step_ids = itertools.count(1)
        self._waiters: dict[str, set[MemoryWakeUps]] = defaultdict(set)
        self.admission = MemoryAdmission(self._tables, self._held)
        self.fleet = MemoryFleet(self._tables, self._held, clock, self._notify)

    @property
    def _workflows(self) -> dict[uuid.UUID, Workflow]:
        return self._tables.workflows

    # ------------------------------------------------------------ wake-ups

    def listen(self, channel: str) -> MemoryWakeUps:
        waiter = MemoryWakeUps(self._waiters[channel].discard)
        self._waiters[channel].add(waiter)
        return waiter

    def _notify(self, channel: str) -> None:
        for waiter in self._waiters[channel]:
            waiter.wake()

    # ------------------------------------------------------------ intake

    async def create_workflows_if_absent(self, news: Sequence[NewWorkflow]) -> list[CommandVerdict]:
        verdicts = [self._create(new) for new in news]
        if any(v.verdict is Verdict.NEW for v in verdicts):
            self._notify(WORKFLOWS_CHANNEL)
        return verdicts

    def _create(self, new: NewWorkflow) -> CommandVerdict:
        known = self._tables.by_command(new.command_id)
        if known is not None:
            same = known.input == new.input
            return CommandVerdict(Verdict.DUPLICATE if same else Verdict.CONFLICT, known.id)
        self._tables.insert(self._tables.new_row(new, self.clock()))
        return CommandVerdict(Verdict.NEW, new.id)

    # ------------------------------------------------------------ leases

    async def claim_due(self, owner: str, lease_seconds: float, limit: int) -> list[Workflow]:
        now = self.clock()
        due = sorted((wf for wf in self._workflows.values() if _due(wf, now)), key=lambda wf: wf.next_run_at)
        return [self._claim(wf, owner, now + timedelta(seconds=lease_seconds), now) for wf in due[:limit]]

    def _claim(self, wf: Workflow, owner: str, expires: datetime, now: datetime) -> Workflow:
        return self._update(
            wf,
            lease_owner=owner,
            lease_expires_at=expires,
            lease_epoch=wf.lease_epoch + 1,
            attempts=wf.attempts + 1,
            crashed_runs=wf.crashed_runs + 1,
            woken_at=None,
            status=WorkflowStatus.RUNNING,
            updated_at=now,
        )

    async def wake(self, workflow_ids: Sequence[uuid.UUID]) -> int:
        found = [self._workflows.get(i) for i in dict.fromkeys(workflow_ids)]
        woken = [self._woken(wf) for wf in found if wf is not None and wf.finished_at is None]
        if woken:
            self._notify(WORKFLOWS_CHANNEL)
        return len(woken)

    def _woken(self, wf: Workflow) -> Workflow:
        now = self.clock()
        return self._update(wf, next_run_at=min(wf.next_run_at, now), woken_at=now)

    async def heartbeat(self, claims: Sequence[Claim], lease_seconds: float) -> set[uuid.UUID]:
        return (await self.renew_leases(claims, lease_seconds)).kept

    async def renew_leases(self, claims: Sequence[Claim], lease_seconds: float) -> Renewed:
        expires = self.clock() + timedelta(seconds=lease_seconds)
        kept = [self._update(wf, lease_expires_at=expires) for wf in self._held_of(claims)]
        return Renewed({wf.id for wf in kept}, {wf.id for wf in kept if wf.cancel_requested_at is not None})

    async def hand_back(self, claims: Sequence[Claim]) -> set[uuid.UUID]:
        now = self.clock()
        back = [
            self._update(
                wf,
                lease_owner=None,
                lease_expires_at=None,
                next_run_at=min(wf.next_run_at, now),
                crashed_runs=max(wf.crashed_runs - 1, 0),
                updated_at=now,
            )
            for wf in self._held_of(claims)
        ]
        return {wf.id for wf in back}

    def _held_of(self, claims: Sequence[Claim]) -> list[Workflow]:
        """The workflows of ``claims`` whose leases are still held (by the first claim's owner)."""
        if not claims:
            return []
        owner = claims[0].owner
        held = (self._held(Claim(c.workflow_id, owner, c.epoch)) for c in claims)
        return [wf for wf in held if wf is not None]

    def _held(self, claim: Claim) -> Workflow | None:
        wf = self._workflows.get(claim.workflow_id)
        if wf is None or wf.finished_at is not None:
            return None
        return wf if (wf.lease_owner, wf.lease_epoch) == (claim.owner, claim.epoch) else None

    def _fenced(self, claim: Claim) -> Workflow:
        wf = self._held(claim)
        if wf is None:
            raise LeaseLost()
        return wf

    # ------------------------------------------------------------ a run's writes

    async def save_state(
        self,
        claim: Claim,
        state: dict[str, Any],
        lease_seconds: float,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
    ) -> None:
        wf, now = self._fenced(claim), self.clock()
        self._update(wf, state=state, updated_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))
        self._log(claim, steps, events)

    async def release_until(
        self,
        claim: Claim,
        state: dict[str, Any],
        run_at: datetime,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
        cancel_seen: bool = False,
    ) -> None:
        wf, now = self._fenced(claim), self.clock()
        unseen_cancel = wf.cancel_requested_at is not None and not cancel_seen
        due_now = unseen_cancel or wf.woken_at is not None  # woken during this run: due at once too
        self._update(
            wf,
            state=state,
            lease_owner=None,
            lease_expires_at=None,
            crashed_runs=0,
            failed_runs=0,
            next_run_at=now if due_now else run_at,
            last_run_error=None,
            updated_at=now,
        )
        self._log(claim, steps, events)

    async def release_after_error(self, claim: Claim, run_at: datetime, error: str) -> None:
        wf = self._fenced(claim)
        self._update(
            wf,
            next_run_at=run_at,
            lease_owner=None,
            lease_expires_at=None,
            last_run_error=error[:1000],
            failed_runs=wf.failed_runs + 1,
            crashed_runs=max(wf.crashed_runs - 1, 0),
            updated_at=self.clock(),
        )

    async def finish_with_event(
        self,
        claim: Claim,
        state: dict[str, Any],
        finish: Finish,
        event: OutboxEvent | None,
        steps: Sequence[Step] = (),
    ) -> None:
        wf, now = self._fenced(claim), self.clock()
        self._update(
            wf,
            state=state,
            status=finish.status,
            result=finish.result,
            error_code=finish.error_code,
            error_message=finish.error_message,
            lease_owner=None,
            lease_expires_at=None,
            crashed_runs=0,
            finished_at=now,
            updated_at=now,
        )
        self._tables.release_all(wf.id)
        self._log(claim, steps, [event] if event is not None else [])
        if wf.parent_id is not None:  # its fleet is due now
            await self.wake([wf.parent_id])

    def _log(self, claim: Claim, steps: Sequence[Step], events: Sequence[OutboxEvent]) -> None:
        for step in steps:
            self._steps.append((claim.workflow_id, StoredStep(next(self._step_ids), claim.owner, step)))
        known = {e.event_id for _, e in self._events}
        fresh = [e for e in events if e.event_id not in known]
        self._events += [(claim.workflow_id, e) for e in fresh]
        if fresh:
            self._notify(OUTBOX_CHANNEL)

    def _update(self, wf: Workflow, **changes: Any) -> Workflow:
        changed = dataclasses.replace(wf, **changes)
        self._workflows[wf.id] = changed
        return changed

    # ------------------------------------------------------------ locks

    async def lock_resource(self, claim: Claim, project_id: str, region: str, resource_id: str) -> bool:
        self._fenced(claim)
        key = (project_id, region, resource_id)
        return self._tables.locks.setdefault(key, claim.workflow_id) == claim.workflow_id

    async def unlock_resource(self, claim: Claim, project_id: str, region: str, resource_id: str) -> None:
        self._fenced(claim)
        key = (project_id, region, resource_id)
        if self._tables.locks.get(key) == claim.workflow_id:
            del self._tables.locks[key]

    # ------------------------------------------------------------ cancel

    async def request_cancel(self, ref: str) -> CancelOutcome:
        wf = self._tables.by_ref(ref)
        if wf is None:
            return CancelOutcome(CancelVerdict.NOT_FOUND, ref)
        if wf.finished_at is not None:
            cancelled = wf.status is WorkflowStatus.CANCELLED
            verdict = CancelVerdict.ALREADY_CANCELLED if cancelled else CancelVerdict.ALREADY_ENDED
            requested_at = wf.cancel_requested_at
        else:
            first = wf.cancel_requested_at is None
            verdict = CancelVerdict.REQUESTED if first else CancelVerdict.ALREADY_REQUESTED
            requested_at = self._ask_to_cancel(wf).cancel_requested_at
            self._notify(WORKFLOWS_CHANNEL)
        return CancelOutcome(
            verdict, ref, wf.id, wf.command_id, wf.kind, wf.status, requested_at=requested_at
        )

    async def cancel_children(self, parent: Claim) -> int:
        self._fenced(parent)
        children = [
            wf
            for wf in self._workflows.values()
            if wf.parent_id == parent.workflow_id and wf.finished_at is None
        ]
        for child in children:
            self._ask_to_cancel(child)
        if children:
            self._notify(WORKFLOWS_CHANNEL)
        return len(children)

    def _ask_to_cancel(self, wf: Workflow) -> Workflow:
        now = self.clock()
        return self._update(
            wf,
            cancel_requested_at=wf.cancel_requested_at or now,
            next_run_at=min(wf.next_run_at, now),
            updated_at=now,
        )

    # ------------------------------------------------------------ reads

    async def get_workflow(self, workflow_id: uuid.UUID) -> Workflow | None:
        return self._workflows.get(workflow_id)

    async def workflow_by_command(self, command_id: str) -> Workflow | None:
        return self._tables.by_command(command_id)

    async def steps_of(self, workflow_id: uuid.UUID) -> list[StoredStep]:
        return [step for wid, step in self._steps if wid == workflow_id]

    async def events_of(self, workflow_id: uuid.UUID) -> list[OutboxEvent]:
        """As PostgreSQL lists them: id, routing key and body (reply fields left out)."""
        return [
            OutboxEvent(e.event_id, e.routing_key, e.body) for wid, e in self._events if wid == workflow_id
        ]


def _due(wf: Workflow, now: datetime) -> bool:
    lease_free = wf.lease_expires_at is None or wf.lease_expires_at < now
    return wf.finished_at is None and wf.next_run_at <= now and lease_free


if TYPE_CHECKING:  # mypy holds the class to the protocol the engine is typed against
    _CHECKED: WorkflowStore = MemoryStore()
