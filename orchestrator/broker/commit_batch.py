"""New workflows committed together: the commands arriving within a few milliseconds share one INSERT.

Each caller waits for the commit of its own batch and learns its command's verdict (new, duplicate, or a
conflict with the command its id already names), so a message is still acked only after its workflow is
committed. While the database is unavailable the batch is retried after each of ``retry_delays``; the
last failure reaches every caller of the batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from orchestrator.batching import Batcher
from orchestrator.store import CommandVerdict, NewWorkflow, Store

log = logging.getLogger(__name__)


class CommitBatch:
    def __init__(
        self, store: Store, retry_delays: Sequence[float], window: float = 0.002, max_size: int = 256
    ) -> None:
        self._store = store
        self._delays = tuple(retry_delays)
        self._batcher: Batcher[None, NewWorkflow, CommandVerdict] = Batcher(
            self._insert, window=window, max_size=max_size
        )

    async def commit(self, new: NewWorkflow) -> CommandVerdict:
        """Commit ``new`` unless its command id is known; what it was (new, duplicate, conflict)."""
        return await self._batcher.ask(None, new)

    async def _insert(self, _: None, news: list[NewWorkflow]) -> list[CommandVerdict]:
        for delay in self._delays:
            try:
                return await self._store.create_workflows_if_absent(news)
            except Exception as exc:  # typically the database restarting; the last try lets it raise
                log.warning("cannot commit %d commands yet (%s)", len(news), type(exc).__name__)
                await asyncio.sleep(delay)
        return await self._store.create_workflows_if_absent(news)
