"""The store: the domain-level interface to PostgreSQL, and the only code that runs SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.config import RateLimitSettings
from orchestrator.store.admission import Admission
from orchestrator.store.api_keys import ApiKeys
from orchestrator.store.callbacks import Callbacks
from orchestrator.store.coverage import CoverageLedger
from orchestrator.store.event_stream import EventStream
from orchestrator.store.fencing import Conn, check_lease, check_written, fenced
from orchestrator.store.fleet_children import FleetChildren
from orchestrator.store.gauges import GaugeReads
from orchestrator.store.idempotency import Idempotency
from orchestrator.store.models import (
    WORKFLOWS_CHANNEL,
    CancelOutcome,
    CancelVerdict,
    Claim,
    CommandVerdict,
    Finish,
    NewWorkflow,
    OutboxEvent,
    PendingEvent,
    Renewed,
    Step,
    StoredStep,
    Verdict,
    Workflow,
    WorkflowStatus,
)
from orchestrator.store.named_sql import q
from orchestrator.store.notifications import Listener
from orchestrator.store.overview import Overview
from orchestrator.store.posture import PostureBook
from orchestrator.store.rate_buckets import RateBuckets
from orchestrator.store.refusals import Refusals
from orchestrator.store.replies import Replies
from orchestrator.store.status import StatusReads, read_steps
from orchestrator.store.workflow_writes import FinishRow, ReleaseRow, SaveRow, WorkflowWrites


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """Released connections skip the reset query (a round trip per release): the store sets no session
    state, takes only transaction-level advisory locks and LISTENs on connections of its own; an open
    transaction is still rolled back by the pool."""


DEFAULT_COMMAND_TIMEOUT = 30.0


async def create_pool(
    dsn: str, min_size: int = 1, max_size: int = 10, command_timeout: float = DEFAULT_COMMAND_TIMEOUT
) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_no_session_reset,
        command_timeout=command_timeout,
        timeout=command_timeout,  # connecting, too
    )
    return pool


@dataclass(frozen=True)
class ReplyFailure:
    id: int
    error: str
    retry_seconds: float | None  # None: parked, never tried again


@dataclass
class OutboxBatch:
    """Outbox rows locked by one relay transaction; record what was published before it commits."""

    conn: Conn
    events: list[PendingEvent]
    published: list[int] = field(default_factory=list)
    replied: list[int] = field(default_factory=list)
    reply_failures: list[ReplyFailure] = field(default_factory=list)

    def mark(self, pending: PendingEvent) -> None:
        """The event is on the events exchange."""
        self.published.append(pending.id)

    def mark_replied(self, pending: PendingEvent) -> None:
        """The reply is in its ``reply_to`` queue."""
        self.replied.append(pending.id)

    def reply_failed(self, pending: PendingEvent, error: str, retry_seconds: float | None) -> None:
        """The reply was not delivered: try again after ``retry_seconds``, or never (None: parked)."""
        self.reply_failures.append(ReplyFailure(pending.id, error, retry_seconds))

    async def commit(self) -> None:
        if self.published:
            await self.conn.execute(q("mark_published"), self.published)
        if self.replied:
            await self.conn.execute(q("mark_replied"), self.replied)
        if self.reply_failures:
            failures = self.reply_failures
            await self.conn.execute(
                q("record_reply_failures"),
                [f.id for f in failures],
                [f.error for f in failures],
                [f.retry_seconds for f in failures],
            )


class CommandConflict(Exception):
    """A command id already names a different command."""

    def __init__(self, command_id: str, workflow_id: uuid.UUID) -> None:
        super().__init__(
            f"command id {command_id} already names a different command (workflow {workflow_id})"
        )
        self.command_id = command_id
        self.workflow_id = workflow_id


class Store:
    """Everything the orchestrator keeps: no code outside this package sees its pool or its DSN. The
    narrower parts hang off it: ``admission``, ``fleet``, ``refusals``, ``replies``, ``status``,
    ``api_keys``, ``callbacks``, ``events`` (the API's event stream), ``overview`` (the status page),
    ``idempotency`` (the API's Idempotency-Key records), ``gauges`` (what the metrics read)."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._writes = WorkflowWrites(pool)  # the hot writes, batched across workflows
        self.admission = Admission(pool, self._writes)
        self.fleet = FleetChildren(pool)
        self.refusals = Refusals(pool)
        self.replies = Replies(pool)
        self.status = StatusReads(pool, self.fleet)
        self.api_keys = ApiKeys(pool)
        self.callbacks = Callbacks(pool)
        self.events = EventStream(pool)
        self.overview = Overview(pool)
        self.coverage = CoverageLedger(pool)
        self.posture = PostureBook(pool)
        self.idempotency = Idempotency(pool)
        self.gauges = GaugeReads(pool)

    @classmethod
    async def connect(
        cls, dsn: str, max_size: int = 10, command_timeout: float = DEFAULT_COMMAND_TIMEOUT
    ) -> Store:
        """A pool on ``dsn``; a statement (or a connection attempt) taking ``command_timeout`` fails."""
        return cls(await create_pool(dsn, max_size=max_size, command_timeout=command_timeout), dsn)

    async def close(self) -> None:
        await self._writes.drain()
        await self._pool.close()

    async def ping(self) -> None:
        """Raise unless the database answers (readiness probes)."""
        await self._pool.fetchval(q("ping"))

    def rate_buckets(self, policy: RateLimitSettings) -> RateBuckets:
        """Shared token buckets on this store's pool (the API's request budgets)."""
        return RateBuckets(self._pool, policy)

    def listen(self, channel: str) -> Listener:
        """A waiter woken by notifications on ``channel`` (on a connection of its own), or by a timeout."""
        return Listener(self._dsn, channel)

    # ------------------------------------------------------------ intake

    async def create_workflows_if_absent(self, news: Sequence[NewWorkflow]) -> list[CommandVerdict]:
        """Insert, in one statement, each workflow whose command id is unknown; a verdict per command,
        in order. The first command under an id (before this batch, or first in it) names it: a later
        one with the same input is a duplicate, one with another input a conflict."""
        firsts: dict[str, int] = {}
        for i, new in enumerate(news):
            firsts.setdefault(new.command_id, i)
        inserted = await self._insert_workflows([news[i] for i in firsts.values()])
        if len(inserted) == len(news):  # the usual case: all new, one round trip
            return [CommandVerdict(Verdict.NEW, n.id) for n in news]
        rows = await self._pool.fetch(q("workflows_by_commands"), list(firsts))
        stored = {r["command_id"]: (r["id"], r["input"]) for r in rows}
        verdicts = []
        for i, new in enumerate(news):
            if new.command_id in inserted and firsts[new.command_id] == i:
                verdicts.append(CommandVerdict(Verdict.NEW, new.id))
                continue
            workflow_id, stored_input = stored[new.command_id]
            same = stored_input == new.input
            verdicts.append(CommandVerdict(Verdict.DUPLICATE if same else Verdict.CONFLICT, workflow_id))
        return verdicts

    async def _insert_workflows(self, news: Sequence[NewWorkflow]) -> set[str]:
        """Insert each workflow whose command id is unknown (ids distinct); return the ids inserted."""
        rows = await self._pool.fetch(
            q("insert_workflows"),
            [n.id for n in news],
            [n.command_id for n in news],
            [n.kind for n in news],
            [n.project_id for n in news],
            [n.region for n in news],
            [n.input for n in news],
            [n.state for n in news],
            [n.deadline for n in news],
            [n.reply_to for n in news],
            [n.correlation_id for n in news],
            [n.traceparent for n in news],
        )
        return {r["command_id"] for r in rows}

    # ------------------------------------------------------------ engine

    async def claim_due(self, owner: str, lease_seconds: float, limit: int) -> list[Workflow]:
        """Lease up to ``limit`` due workflows (new, scheduled, or abandoned by a dead worker)."""
        rows = await self._pool.fetch(q("claim_due"), owner, lease_seconds, limit)
        return [Workflow.from_record(r) for r in rows]

    async def wake(self, workflow_ids: Sequence[uuid.UUID]) -> int:
        """Make these workflows due now (what they wait for happened); a run holding one gives it back due
        now. Engines waiting for work are notified. How many were woken (finished ones are not)."""
        if not workflow_ids:
            return 0
        woken: int = await self._pool.fetchval(q("wake_workflows_now"), list(workflow_ids), WORKFLOWS_CHANNEL)
        return woken

    async def heartbeat(self, claims: Sequence[Claim], lease_seconds: float) -> set[uuid.UUID]:
        """Extend the leases of ``claims`` still held (same owner and epoch); return those workflow ids."""
        return (await self.renew_leases(claims, lease_seconds)).kept

    async def renew_leases(self, claims: Sequence[Claim], lease_seconds: float) -> Renewed:
        """:meth:`heartbeat`, also telling which of the workflows kept have been asked to cancel."""
        if not claims:
            return Renewed(set(), set())
        rows = await self._pool.fetch(
            q("heartbeat"),
            claims[0].owner,
            lease_seconds,
            [c.workflow_id for c in claims],
            [c.epoch for c in claims],
        )
        return Renewed({r["id"] for r in rows}, {r["id"] for r in rows if r["cancelling"]})

    async def hand_back(self, claims: Sequence[Claim]) -> set[uuid.UUID]:
        """Give back leases still held by a stopping worker: due again at once; return those ids."""
        if not claims:
            return set()
        rows = await self._pool.fetch(
            q("hand_back"), claims[0].owner, [c.workflow_id for c in claims], [c.epoch for c in claims]
        )
        return {r["id"] for r in rows}

    async def save_state(
        self,
        claim: Claim,
        state: dict[str, Any],
        lease_seconds: float,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
    ) -> None:
        """Persist the state (e.g. an intent, before the call it announces) and renew the lease."""
        if not events:  # the usual case: one row of a statement shared with other workflows
            check_written(await self._writes.saves.write(SaveRow(claim, state, steps, lease_seconds)))
            return
        await self._write_with_events("save_state", claim, state, lease_seconds, steps, events)

    async def release_until(
        self,
        claim: Claim,
        state: dict[str, Any],
        run_at: datetime,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
        cancel_seen: bool = False,
    ) -> None:
        """Persist the state and give the workflow back until ``run_at`` (at once when it was asked to
        cancel and its run did not see it: ``cancel_seen`` False)."""
        if not events:  # the usual case: one row of a statement shared with other workflows
            row = ReleaseRow(claim, state, steps, run_at, cancel_seen)
            check_written(await self._writes.releases.write(row))
            return
        await self._write_with_events("release_until", claim, state, run_at, steps, events, cancel_seen)

    async def release_after_error(self, claim: Claim, run_at: datetime, error: str) -> None:
        """Give the workflow back after its run failed in our own code; the state is left as it was."""
        written = await self._pool.fetchval(
            q("release_after_error"), claim.workflow_id, claim.owner, claim.epoch, run_at, error[:1000]
        )
        check_lease(written)

    async def _write_with_events(
        self,
        query: str,
        claim: Claim,
        state: dict[str, Any],
        last: float | datetime,
        steps: Sequence[Step],
        events: Sequence[OutboxEvent],
        *more: object,
    ) -> None:
        """A write that also carries events: lease-guarded ``query``, steps and events in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            args = (claim.workflow_id, claim.owner, claim.epoch, state, last, *more)
            ok = await conn.fetchval(q(query), *args)
            check_lease(ok)
            await self._write_steps(conn, claim.workflow_id, claim.owner, steps)
            await self._write_events(conn, claim.workflow_id, events)

    async def finish_with_event(
        self,
        claim: Claim,
        state: dict[str, Any],
        finish: Finish,
        event: OutboxEvent | None,
        steps: Sequence[Step] = (),
    ) -> None:
        """Final state, step history, released locks and the final event (if any): one row of one
        statement."""
        row = FinishRow(claim, state, steps, finish, event)
        check_written(await self._writes.finishes.write(row))

    async def lock_resource(self, claim: Claim, project_id: str, region: str, resource_id: str) -> bool:
        """Take the exclusive lock on a resource for the claimed workflow; True when the workflow holds it."""
        workflow_id = claim.workflow_id
        async with fenced(self._pool, claim) as conn:
            await conn.execute(q("lock_resource"), project_id, region, resource_id, workflow_id)
            holder = await conn.fetchval(q("resource_holder"), project_id, region, resource_id)
            return bool(holder == workflow_id)

    # ------------------------------------------------------------ cancel

    async def request_cancel(self, ref: str) -> CancelOutcome:
        """Ask the workflow named ``ref`` (workflow id or command id) to cancel: the request is recorded
        and the workflow made due; its next run ends it ``cancelled`` (docs/guarantees.md). A workflow
        already final is left as it is (the outcome says how it ended)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(q("workflow_to_cancel"), _uuid_or_none(ref), ref)
            if row is None:
                return CancelOutcome(CancelVerdict.NOT_FOUND, ref)
            status, requested_at = WorkflowStatus(row["status"]), row["cancel_requested_at"]
            if row["finished_at"] is not None:
                cancelled = status is WorkflowStatus.CANCELLED
                verdict = CancelVerdict.ALREADY_CANCELLED if cancelled else CancelVerdict.ALREADY_ENDED
            else:
                first = requested_at is None
                verdict = CancelVerdict.REQUESTED if first else CancelVerdict.ALREADY_REQUESTED
                requested_at = await conn.fetchval(q("request_cancel"), row["id"])
                await conn.execute(q("wake_workflows"), WORKFLOWS_CHANNEL)
        return CancelOutcome(
            verdict, ref, row["id"], row["command_id"], row["kind"], status, requested_at=requested_at
        )

    async def cancel_children(self, parent: Claim) -> int:
        """Ask every unfinished child of the claimed fleet to cancel; how many were asked."""
        async with fenced(self._pool, parent) as conn:
            asked: int = await conn.fetchval(q("cancel_children"), parent.workflow_id)
            if asked:
                await conn.execute(q("wake_workflows"), WORKFLOWS_CHANNEL)
        return asked

    async def unlock_resource(self, claim: Claim, project_id: str, region: str, resource_id: str) -> None:
        async with fenced(self._pool, claim) as conn:
            await conn.execute(q("unlock_resource"), project_id, region, resource_id, claim.workflow_id)

    @staticmethod
    async def _write_steps(conn: Conn, workflow_id: uuid.UUID, owner: str, steps: Sequence[Step]) -> None:
        if steps:
            await conn.executemany(
                q("insert_step"),
                [
                    (
                        workflow_id,
                        owner,
                        s.operation,
                        s.request,
                        s.outcome.value,
                        s.response,
                        s.error_code,
                        s.error_message,
                        s.started_at,
                        s.finished_at,
                    )
                    for s in steps
                ],
            )

    @staticmethod
    async def _write_events(conn: Conn, workflow_id: uuid.UUID, events: Sequence[OutboxEvent]) -> None:
        if events:
            await conn.executemany(
                q("insert_event"),
                [
                    (e.event_id, workflow_id, e.routing_key, e.body, e.reply_to, e.correlation_id)
                    for e in events
                ],
            )

    # ------------------------------------------------------------ relay

    @asynccontextmanager
    async def outbox_batch(self, limit: int) -> AsyncIterator[OutboxBatch]:
        """Lock up to ``limit`` rows with an event to publish or a reply due; on exit, what the batch
        recorded (published, replied, reply failed) is committed."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(q("claim_unpublished"), limit)
            batch = OutboxBatch(conn, [_pending_event(r) for r in rows])
            yield batch
            await batch.commit()

    # ------------------------------------------------------------ queries

    async def get_workflow(self, workflow_id: uuid.UUID) -> Workflow | None:
        row = await self._pool.fetchrow(q("get_workflow"), workflow_id)
        return None if row is None else Workflow.from_record(row)

    async def workflow_by_command(self, command_id: str) -> Workflow | None:
        wid = await self._pool.fetchval(q("workflow_id_by_command"), command_id)
        return None if wid is None else await self.get_workflow(wid)

    async def list_workflows(self, status: WorkflowStatus | None = None, limit: int = 50) -> list[Workflow]:
        rows = await self._pool.fetch(q("list_workflows"), status.value if status else None, limit)
        return [Workflow.from_record(r) for r in rows]

    async def steps_of(self, workflow_id: uuid.UUID) -> list[StoredStep]:
        return await read_steps(self._pool, workflow_id)

    async def events_of(self, workflow_id: uuid.UUID) -> list[OutboxEvent]:
        rows = await self._pool.fetch(q("list_events"), workflow_id)
        return [OutboxEvent(r["event_id"], r["routing_key"], r["body"]) for r in rows]

    async def count_by_status(self) -> dict[WorkflowStatus, int]:
        rows = await self._pool.fetch(q("count_by_status"))
        return {WorkflowStatus(r["status"]): r["n"] for r in rows}

    async def unfinished_count(self) -> int:
        n: int = await self._pool.fetchval(q("unfinished_count"))
        return n

    async def unpublished_count(self) -> int:
        n: int = await self._pool.fetchval(q("unpublished_count"))
        return n


def _uuid_or_none(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


def _pending_event(row: Any) -> PendingEvent:
    event = OutboxEvent(
        row["event_id"],
        row["routing_key"],
        row["body"],
        row["reply_to"],
        row["correlation_id"],
        row["traceparent"],
    )
    return PendingEvent(row["id"], event, row["published"], row["reply_attempts"])
