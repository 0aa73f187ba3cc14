"""The engine: claim due workflows under a lease and run each (:class:`~orchestrator.engine.run.Run`)
until it sleeps or finishes, with its lease watched meanwhile (:class:`~orchestrator.engine.lease.Leases`).

A run that fails in our own code gives its workflow back for a later run, counted (the run's budget ends
a workflow whose runs keep failing).

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

from orchestrator.cbr.transport import SEND_GUARD
from orchestrator.config import Settings
from orchestrator.engine.actions import Actions
from orchestrator.engine.lease import Lease, Leases
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.run import Run, RunContext
from orchestrator.observability import log_context, tracing
from orchestrator.store import WORKFLOWS_CHANNEL, LeaseLost, Workflow, WorkflowStore
from orchestrator.workflows.base import Sleep

log = logging.getLogger(__name__)


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


class Engine:
    def __init__(
        self, store: WorkflowStore, settings: Settings, actions: Actions, owner: str | None = None
    ) -> None:
        self._store = store
        self._worker = settings.worker
        self._actions = actions
        self._policy = RetryPolicy.of(settings.worker)
        self.owner = owner or f"worker-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._leases = Leases(store, settings.worker)
        self._listener = store.listen(WORKFLOWS_CHANNEL)
        self._runs = RunContext(store, settings.worker, actions, self._policy, self._leases, self.wake)

    # ------------------------------------------------------------------ loop

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run workflows until ``stop`` is set; then drain, stop what is left, hand it back."""
        keeper = asyncio.create_task(self._leases.keep(), name="leases")
        watcher = asyncio.create_task(self._actions.watch(self._woken), name="task watch")
        try:
            while not stop.is_set():
                claimed = await self._claim_some(stop)
                if not claimed:
                    await self._idle(stop)
            await self._drain()
        finally:
            watcher.cancel()
            await self._stop_runs()
            await self._hand_back_watched()
            keeper.cancel()
            await asyncio.gather(keeper, watcher, return_exceptions=True)
            await self._listener.close()

    async def _woken(self, workflow_ids: list[uuid.UUID]) -> None:
        """Workflows whose awaited tasks ended: due now (other workers are notified), claimed here at once."""
        try:
            await self._store.wake(workflow_ids)
        except Exception as exc:  # their timed polls find the end instead
            log.warning("could not wake %d workflows (%s)", len(workflow_ids), type(exc).__name__)
            return
        self.wake()

    async def _hand_back_watched(self) -> None:
        """The workflows this worker's watch would have woken are due at once, for another worker to poll
        (and watch): their own timed polls are only the safety net, far off."""
        watched = self._actions.watched()
        if not watched:
            return
        try:
            await self._store.wake(watched)
        except Exception as exc:  # their timed polls find the end instead
            log.warning("could not hand back %d watched workflows (%s)", len(watched), type(exc).__name__)

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
            lease = self._leases.hold_claimed(wf, claimed_at)
            task = asyncio.create_task(self._advance_guarded(wf, lease))
            lease.run = task
            self._in_flight[wf.id] = task
            task.add_done_callback(functools.partial(self._forget, wf.id))
        return len(workflows)

    def _forget(self, workflow_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        if self._in_flight.get(workflow_id) is not task:  # claimed again already (given back due now)
            return
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
        ids = {"workflow_id": wf.id, "command_id": wf.command_id, "kind": wf.kind, "project": wf.project_id}
        # every run continues the trace of the workflow's command, whichever worker runs it
        with (
            log_context.bound(**ids, region=wf.region),
            tracing.span(
                f"workflow run {wf.kind}", wf.traceparent, workflow_id=str(wf.id), attempt=wf.attempts
            ),
        ):
            await self._advance_logged(wf, lease)

    async def _advance_logged(self, wf: Workflow, lease: Lease) -> None:
        try:
            await self.advance(wf, lease)
        except LeaseLost:
            log.warning("workflow %s: lease lost; its run stops", wf.id)
        except Exception as exc:
            log.exception("workflow %s: its run failed; it is given back for a later run", wf.id)
            await self._release_after_error(wf, lease, exc)

    async def _release_after_error(self, wf: Workflow, lease: Lease, exc: Exception) -> None:
        delay = self._policy.delay(Sleep("busy", wf.failed_runs + 1))
        error = f"{type(exc).__name__}: {exc}"
        try:
            await self._store.release_after_error(lease.claim, _now() + timedelta(seconds=delay), error)
        except Exception as again:  # the lease then simply expires
            log.warning("workflow %s: could not give it back (%s)", wf.id, type(again).__name__)

    async def advance(self, wf: Workflow, lease: Lease) -> None:
        """Run the workflow until its next pause or its end."""
        await Run(self._runs, wf, lease).go()
