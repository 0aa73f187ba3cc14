"""Intake: turn a command message into a committed workflow row, then ack it.

Commands arriving together are committed together (:class:`CommitBatch`: one INSERT per batch).

The message is acked only after the workflow is committed, and never held while the workflow runs.
Bad input (malformed, invalid, unknown version, too large, no credentials for the project) is
dead-lettered at once with its reason in a header; an unexpected failure requeues the message, and the
queue's delivery limit dead-letters a message that keeps failing.
"""

from __future__ import annotations

import logging
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from orchestrator.broker.commit_batch import CommitBatch
from orchestrator.broker.topology import REASON_HEADER, Topology
from orchestrator.config import Settings
from orchestrator.messages import AnyCommand, InvalidCommand, parse_command
from orchestrator.store import NewWorkflow, Store

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 64 * 1024
MAX_FLEET_COMMAND_BYTES = 8 * 1024 * 1024  # a fleet may list up to 100,000 resource ids
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


def _parse_within_size(body: bytes) -> AnyCommand:
    """Commands are small; only a fleet (up to 100,000 resource ids) may be larger."""
    too_large = InvalidCommand(f"too large: {len(body)} bytes, at most {MAX_COMMAND_BYTES}")
    if len(body) <= MAX_COMMAND_BYTES:
        return parse_command(body)
    if len(body) > MAX_FLEET_COMMAND_BYTES:
        raise too_large
    try:
        command = parse_command(body)
    except InvalidCommand:
        raise too_large from None
    if command.kind != "fleet_backup":
        raise too_large
    return command


def _projects_of(command: AnyCommand) -> list[tuple[str, str]]:
    """Every (project, region) the command's workflows call CBR in."""
    projects = [(command.project_id, command.region)]
    if command.kind == "fleet_backup" and command.select.protectables is not None:
        projects += [(p.project_id, p.region) for p in command.select.protectables.projects]
    return projects


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
        self._batch = CommitBatch(store, store_retry_delays)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=True, ignore_processed=True):
            try:
                command = self._accept(message.body)
            except InvalidCommand as exc:
                await self._dead_letter(message, exc.reason)
                return
            new = new_workflow(command)
            created = await self._batch.commit(new)
            log.info(
                "command %s → workflow %s (%s)", command.command_id, new.id, "new" if created else "duplicate"
            )

    def _accept(self, body: bytes) -> AnyCommand:
        command = _parse_within_size(body)
        for project_id, region in _projects_of(command):
            if not self._settings.has_credentials(project_id, region):
                raise InvalidCommand(
                    f"refused: no credentials configured for project {project_id} in region {region}"
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
