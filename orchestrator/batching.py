"""Micro-batching: requests made within a short window are answered together by one batch call."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
Q = TypeVar("Q", bound=Hashable)
R = TypeVar("R")


class Coalescer(Generic[K, Q, R]):
    """Collect queries per key for ``window`` seconds, then answer them all with one batch call.

    The batch answers every query; an answer that is an exception is raised to that query's askers
    only (an exception raised by the batch itself reaches every asker).
    """

    def __init__(
        self, batch: Callable[[K, list[Q]], Awaitable[Mapping[Q, R | Exception]]], window: float
    ) -> None:
        self._batch = batch
        self._window = window
        self._waiting: dict[K, dict[Q, list[asyncio.Future[R]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, key: K, query: Q) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        group = self._waiting.get(key)
        if group is None:
            group = self._waiting[key] = defaultdict(list)
            asyncio.get_running_loop().call_later(self._window, self._flush, key)
        group[query].append(future)
        return await future

    def _flush(self, key: K) -> None:
        group = self._waiting.pop(key, {})
        task = asyncio.create_task(self._answer(key, group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, key: K, group: dict[Q, list[asyncio.Future[R]]]) -> None:
        try:
            answers = await self._batch(key, list(group))
        except Exception as exc:  # every waiter sees the failure (e.g. a CbrApiError to classify)
            for futures in group.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
            return
        for query, futures in group.items():
            answer = answers[query]
            for f in futures:
                if f.done():
                    continue
                if isinstance(answer, Exception):
                    f.set_exception(answer)
                else:
                    f.set_result(answer)
