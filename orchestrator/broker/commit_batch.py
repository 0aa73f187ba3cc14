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

from orchestrator.store import CommandVerdict, NewWorkflow, Store

log = logging.getLogger(__name__)

Waiting = list[tuple[NewWorkflow, "asyncio.Future[CommandVerdict]"]]


class CommitBatch:
    def __init__(
        self, store: Store, retry_delays: Sequence[float], window: float = 0.002, max_size: int = 256
    ) -> None:
        self._store = store
        self._delays = tuple(retry_delays)
        self._window = window
        self._max_size = max_size
        self._waiting: Waiting = []
        self._timer: asyncio.TimerHandle | None = None
        self._commits: set[asyncio.Task[None]] = set()

    async def commit(self, new: NewWorkflow) -> CommandVerdict:
        """Commit ``new`` unless its command id is known; what it was (new, duplicate, conflict)."""
        loop = asyncio.get_running_loop()
        verdict: asyncio.Future[CommandVerdict] = loop.create_future()
        self._waiting.append((new, verdict))
        if len(self._waiting) >= self._max_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        return await verdict

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, []
        task = asyncio.create_task(self._commit(waiting))
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _commit(self, waiting: Waiting) -> None:
        try:
            verdicts = await self._insert([new for new, _ in waiting])
        except Exception as exc:  # every caller requeues its message
            for _, pending in waiting:
                if not pending.done():
                    pending.set_exception(exc)
            return
        for (_, pending), verdict in zip(waiting, verdicts, strict=True):
            if not pending.done():
                pending.set_result(verdict)

    async def _insert(self, news: list[NewWorkflow]) -> list[CommandVerdict]:
        for delay in self._delays:
            try:
                return await self._store.create_workflows_if_absent(news)
            except Exception as exc:  # typically the database restarting; the last try lets it raise
                log.warning("cannot commit %d commands yet (%s)", len(news), type(exc).__name__)
                await asyncio.sleep(delay)
        return await self._store.create_workflows_if_absent(news)
