"""Intake: turn a command message into a committed workflow row, then ack it.

Commands arriving together are committed together (:class:`CommitBatch`: one INSERT per batch).

The message is acked only after the workflow is committed, and never held while the workflow runs.
Bad input (malformed, invalid, unknown version, too large, no credentials for the project, a callback
host not on the allow-list, a command id that already names a different command) is dead-lettered at
once with its reason in a header, and the refusal recorded in PostgreSQL under its command id
(:mod:`orchestrator.broker.refusal_log`); only an unexpected failure outside the parsing guard (the
database away) requeues the message, and the queue's delivery limit dead-letters a message that keeps
failing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from orchestrator.broker.acceptance import check_acceptable
from orchestrator.broker.commit_batch import CommitBatch
from orchestrator.broker.dead_letter import dead_letter_copy
from orchestrator.broker.guard import SizeLimits, decode_bounded, parse_guarded
from orchestrator.broker.refusal_log import RefusalLog, refusal_of
from orchestrator.broker.topology import Topology
from orchestrator.config import Settings
from orchestrator.crash_points import crash_point
from orchestrator.messages import AnyCommand, InvalidCommand, stored_input, workflow_id_for
from orchestrator.observability import log_context, tracing
from orchestrator.store import CommandConflict, NewWorkflow, Store, Verdict

log = logging.getLogger(__name__)


def new_workflow(command: AnyCommand, traceparent: str | None = None) -> NewWorkflow:
    """The workflow row of ``command``; ``traceparent``: the trace it continues (valid, or None)."""
    return NewWorkflow(
        id=workflow_id_for(command.command_id),
        command_id=command.command_id,
        kind=command.kind,
        project_id=command.project_id,
        region=command.region,
        input=stored_input(command),
        deadline=command.deadline,
        reply_to=command.reply_to,
        correlation_id=command.correlation_id,
        traceparent=traceparent,
    )


STORE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
# a command kind that starts no workflow (schedule_add…): applied by its handler, which says what it did or
# raises InvalidCommand
KindHandler = Callable[[dict[str, Any]], Awaitable[str]]


class Intake:
    """``store_retry_delays``: waits between attempts to commit while the database is unavailable,
    so that a database restart does not burn the message's delivery limit in a few milliseconds."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        topology: Topology,
        store_retry_delays: tuple[float, ...] = STORE_RETRY_DELAYS,
        other_kinds: Mapping[str, KindHandler] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._topology = topology
        self._batch = CommitBatch(store, store_retry_delays)
        self._refusals = RefusalLog(store, store_retry_delays)
        self._limits = SizeLimits.of(settings.worker)
        self._in_flight = 0
        self._other_kinds = dict(other_kinds or {})

    @property
    def in_flight(self) -> int:
        """Messages received and not yet settled (committed or refused): the queue no longer counts them."""
        return self._in_flight

    async def handle(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        try:
            await self._handle(message)
        finally:
            self._in_flight -= 1

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=True, ignore_processed=True):
            try:
                if await self._handled_elsewhere(message.body):
                    return
                command = await self._accept(message.body)
            except InvalidCommand as exc:
                await self._refuse(message, exc.reason, exc.command_id)
                return
            ids = {"command_id": command.command_id, "kind": command.kind, "project": command.project_id}
            with log_context.bound(**ids):
                await self._commit(message, command)

    async def _commit(self, message: AbstractIncomingMessage, command: AnyCommand) -> None:
        incoming = (message.headers or {}).get(tracing.TRACEPARENT)
        with tracing.command_span("command accept", incoming, command_id=command.command_id) as traceparent:
            new = new_workflow(command, traceparent)
            verdict = await self._batch.commit(new)
        if verdict.verdict is Verdict.CONFLICT:
            conflict = CommandConflict(new.command_id, verdict.workflow_id)
            await self._refuse(message, f"conflict: {conflict}", new.command_id)
            return
        log_context.bind(workflow_id=verdict.workflow_id)
        log.info("command %s → workflow %s (%s)", new.command_id, verdict.workflow_id, verdict.verdict)
        crash_point("after_commit_before_ack")

    async def _handled_elsewhere(self, body: bytes) -> bool:
        """A command of another kind (see ``other_kinds``) applied by its handler: True."""
        if len(body) > self._limits.max_bytes or not any(k.encode() in body for k in self._other_kinds):
            return False  # the usual command, parsed once
        try:
            raw = decode_bounded(body)
        except InvalidCommand:
            return False  # parse_guarded says why
        kind = raw.get("kind") if isinstance(raw, dict) else None
        handler = self._other_kinds.get(kind) if isinstance(kind, str) else None
        if handler is None or not isinstance(raw, dict):
            return False
        log.info("%s command %s: %s", raw["kind"], raw.get("command_id"), await handler(raw))
        return True

    async def _accept(self, body: bytes) -> AnyCommand:
        if len(body) > self._limits.max_bytes:  # a large fleet takes a while to parse: not on the loop
            command = await asyncio.to_thread(parse_guarded, body, self._limits)
        else:
            command = parse_guarded(body, self._limits)
        check_acceptable(command, self._settings)
        return command

    async def _refuse(self, message: AbstractIncomingMessage, reason: str, command_id: str | None) -> None:
        await self._dead_letter(message, reason)
        await self._refusals.record(refusal_of(message, reason, command_id))

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Republish to the dead-letter exchange with the reason (confirmed), then ack the original."""
        log.warning("dead-lettering message %s: %s", message.message_id, reason)
        copy = dead_letter_copy(message, reason)
        await self._topology.dead_letter_exchange.publish(copy, routing_key=message.routing_key or "")
