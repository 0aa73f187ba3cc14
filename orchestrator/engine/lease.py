"""Leases as a worker holds them: renewed by heartbeat, watched, and required before risky calls.

The database holds each lease's expiry (its own clock). The worker keeps, per claimed workflow, the moment
on its monotonic clock until which the lease surely holds: counted from *before* the statement that set
or renewed it, so never later than the database's expiry. From that:

* a heartbeat renews every lease still held; one the database no longer gives us (another claim has it)
  stops its run at once; a workflow asked to cancel meanwhile is marked so (its run stops at its next step);
* a run whose lease is about to end without renewal (the database unreachable) is stopped
  ``lease_margin_seconds`` before the end, so that it never acts on a lease another worker may take;
* a workflow claimed after a run that ended without a word (its lease expired: a worker killed, a run cut
  off) is a lease taken over, and counted;
* :meth:`Leases.ensure` lets a call that is not idempotent start only with its timeout plus the margin of
  lease left, renewing first if needed: its exchange ends before anyone else can claim the workflow.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.config import WorkerSettings
from orchestrator.observability import metrics
from orchestrator.store import Claim, LeaseLost, Workflow, WorkflowStore

log = logging.getLogger(__name__)

MIN_WATCH_SECONDS = 0.05


@dataclass
class Lease:
    claim: Claim
    valid_until: float  # monotonic
    run: asyncio.Task[None] | None = None
    cancelling: bool = False  # a heartbeat found the workflow asked to cancel

    def renewed(self, sent_at: float, lease_seconds: float) -> None:
        self.valid_until = max(self.valid_until, sent_at + lease_seconds)

    def left(self, now: float) -> float:
        return self.valid_until - now


class Leases:
    """The leases of the runs of one engine."""

    def __init__(
        self, store: WorkflowStore, worker: WorkerSettings, clock: Callable[[], float] = time.monotonic
    ):
        self._store = store
        self._seconds = worker.lease_seconds
        self._heartbeat = worker.heartbeat_seconds
        self._margin = worker.lease_margin_seconds
        self._clock = clock
        self._held: dict[uuid.UUID, Lease] = {}

    def clock(self) -> float:
        return self._clock()

    def hold(self, claim: Claim, claimed_at: float) -> Lease:
        lease = Lease(claim, claimed_at + self._seconds)
        self._held[claim.workflow_id] = lease
        return lease

    def hold_claimed(self, wf: Workflow, claimed_at: float) -> Lease:
        """Hold the lease of a workflow just claimed; count it taken over when the run before ended without
        a word (the claim counted this run already, so more than one crashed run means one before it)."""
        if wf.crashed_runs > 1:
            metrics.LEASES_TAKEN_OVER.inc()
        return self.hold(wf.claim, claimed_at)

    def drop(self, workflow_id: uuid.UUID) -> None:
        self._held.pop(workflow_id, None)

    def held(self) -> list[Lease]:
        return list(self._held.values())

    def renewed(self, lease: Lease, sent_at: float) -> None:
        """A write that renews the lease (a save) succeeded; it was sent at ``sent_at``."""
        lease.renewed(sent_at, self._seconds)

    async def ensure(self, lease: Lease, call_seconds: float) -> None:
        """Return once the lease surely holds for ``call_seconds`` more (plus the margin); renew if
        needed. Raises :class:`LeaseLost` when it cannot be had."""
        wanted = call_seconds + self._margin
        if lease.left(self._clock()) >= wanted:
            return
        sent = self._clock()
        try:  # a renewal slower than the lease has left is no renewal
            async with asyncio.timeout(max(lease.left(sent) - self._margin, MIN_WATCH_SECONDS)):
                renewed = await self._store.renew_leases([lease.claim], self._seconds)
        except Exception as exc:  # the database unreachable: no renewal, so no call
            raise LeaseLost() from exc
        if lease.claim.workflow_id not in renewed.kept:
            raise LeaseLost()
        lease.renewed(sent, self._seconds)
        lease.cancelling = lease.cancelling or lease.claim.workflow_id in renewed.cancelling
        if lease.left(self._clock()) < wanted:
            raise LeaseLost()

    async def keep(self) -> None:
        """Until cancelled: renew every held lease each heartbeat (in a task of its own: a slow database
        must not hold up the watch); stop runs whose lease is lost or about to end."""
        beats = asyncio.create_task(self._beats())
        try:
            while True:
                await asyncio.sleep(self._pause())
                self._stop_expiring()
        finally:
            beats.cancel()
            await asyncio.gather(beats, return_exceptions=True)

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            await self._beat()

    def _pause(self) -> float:
        """Until the next lease needs looking at (every heartbeat at the least)."""
        now = self._clock()
        wake = min(
            [now + self._heartbeat, *(lease.valid_until - self._margin for lease in self._held.values())]
        )
        return max(MIN_WATCH_SECONDS, wake - now)

    async def _beat(self) -> None:
        leases = self.held()
        if not leases:
            return
        sent = self._clock()
        try:
            renewed = await self._store.renew_leases([lease.claim for lease in leases], self._seconds)
        except Exception as exc:  # the database away for a moment: the watch stops runs in time
            log.warning("heartbeat failed (%s)", type(exc).__name__)
            return
        for lease in leases:
            if lease.claim.workflow_id in renewed.kept:
                lease.renewed(sent, self._seconds)
                lease.cancelling = lease.cancelling or lease.claim.workflow_id in renewed.cancelling
            else:
                self._stop(lease, "its lease passed to another worker")

    def _stop_expiring(self) -> None:
        now = self._clock()
        for lease in self.held():
            if lease.left(now) < self._margin:
                self._stop(lease, "its lease could not be renewed")

    def _stop(self, lease: Lease, why: str) -> None:
        self.drop(lease.claim.workflow_id)
        if lease.run is not None and not lease.run.done():
            log.warning("workflow %s: stopping its run: %s", lease.claim.workflow_id, why)
            lease.run.cancel()

    async def hand_back(self, leases: list[Lease]) -> None:
        """Give back the leases of runs a stopping worker cancelled (their workflows are due again)."""
        if not leases:
            return
        try:
            await self._store.hand_back([lease.claim for lease in leases])
        except Exception as exc:  # they expire on their own instead
            log.warning("could not hand back %d leases (%s)", len(leases), type(exc).__name__)
        for lease in leases:
            self.drop(lease.claim.workflow_id)
