"""The broker's side of the gauges: commands waiting at intake, dead letters waiting, events not yet out.

Queue depths come from a passive declaration (the broker's own count of ready messages), on a channel of
this sampler's: a passive declaration of a missing queue closes its channel, and no other user shares it.
"""

from __future__ import annotations

import contextlib

from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from orchestrator.config import Names
from orchestrator.observability import metrics
from orchestrator.store import Store


class QueueGauges:
    """Sets ``cbr_orch_intake_queue_depth`` and ``cbr_orch_dead_letters`` on each :meth:`sample`."""

    def __init__(self, connection: AbstractRobustConnection, names: Names) -> None:
        self._connection = connection
        self._names = names
        self._channel: AbstractRobustChannel | None = None

    async def sample(self) -> None:
        metrics.INTAKE_QUEUE_DEPTH.set(await self._ready(self._names.commands_queue))
        metrics.DEAD_LETTERS.set(await self._ready(self._names.dead_letter_queue))

    async def close(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def _ready(self, queue: str) -> int:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel()
        # robust=False: a robust channel would answer a passive declaration from its cache, not the broker
        declared = await self._channel.declare_queue(queue, passive=True, robust=False)
        return declared.declaration_result.message_count or 0


class OutboxGauge:
    """Sets ``cbr_orch_outbox_lag_seconds`` on each :meth:`sample`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def sample(self) -> None:
        metrics.OUTBOX_LAG.set(await self._store.gauges.outbox_lag())
