"""Intake: turn a command message into a committed workflow row, then ack it.

The message is acked only after the workflow is committed, and never held while the workflow runs.
Bad input (malformed, invalid, unknown version, too large, no credentials for the project) is
dead-lettered at once with its reason in a header; an unexpected failure requeues the message, and the
queue's delivery limit dead-letters a message that keeps failing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from orchestrator.broker.topology import REASON_HEADER, Topology
from orchestrator.config import Settings
from orchestrator.messages import AnyCommand, InvalidCommand, parse_command
from orchestrator.store import NewWorkflow, Store

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 64 * 1024
WORKFLOW_NAMESPACE = uuid.UUID("6f1c0b8e-8f4e-4a57-9a43-2f1d2c6b7c10")


def workflow_id_for(command_id: str) -> uuid.UUID:
    return uuid.uuid5(WORKFLOW_NAMESPACE, command_id)


def new_workflow(command: AnyCommand) -> NewWorkflow:
    return NewWorkflow(
        id=workflow_id_for(command.command_id),
        command_id=command.command_id,
        kind=command.kind,
        project_id=command.project_id,
        region=command.region,
        input=command.model_dump(mode="json"),
        deadline=command.deadline,
        reply_to=command.reply_to,
        correlation_id=command.correlation_id,
    )


STORE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class Intake:
    """``store_retry_delays``: waits between attempts to commit while the database is unavailable,
    so that a database restart does not burn the message's delivery limit in a few milliseconds."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        topology: Topology,
        store_retry_delays: tuple[float, ...] = STORE_RETRY_DELAYS,
    ) -> None:
        self._store = store
        self._settings = settings
        self._topology = topology
        self._delays = store_retry_delays

    async def handle(self, message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=True, ignore_processed=True):
            try:
                command = self._accept(message.body)
            except InvalidCommand as exc:
                await self._dead_letter(message, exc.reason)
                return
            wid, created = await self._commit(new_workflow(command))
            log.info(
                "command %s → workflow %s (%s)", command.command_id, wid, "new" if created else "duplicate"
            )

    async def _commit(self, new: NewWorkflow) -> tuple[uuid.UUID, bool]:
        for delay in self._delays:
            try:
                return await self._store.create_workflow_if_absent(new)
            except Exception as exc:  # typically the database restarting; the last try lets it raise
                log.warning("cannot commit command %s yet (%s)", new.command_id, type(exc).__name__)
                await asyncio.sleep(delay)
        return await self._store.create_workflow_if_absent(new)

    def _accept(self, body: bytes) -> AnyCommand:
        if len(body) > MAX_COMMAND_BYTES:
            raise InvalidCommand(f"too large: {len(body)} bytes, at most {MAX_COMMAND_BYTES}")
        command = parse_command(body)
        if not self._settings.has_credentials(command.project_id, command.region):
            raise InvalidCommand(
                f"refused: no credentials configured for project {command.project_id}"
                f" in region {command.region}"
            )
        return command

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Republish to the dead-letter exchange with the reason (confirmed), then ack the original."""
        log.warning("dead-lettering message %s: %s", message.message_id, reason)
        headers = dict(message.headers or {})
        headers[REASON_HEADER] = reason
        copy = aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._topology.dead_letter_exchange.publish(copy, routing_key=message.routing_key or "")
