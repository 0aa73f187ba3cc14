"""Micro-batching: requests made within a short window are answered together by one batch call.

:class:`Batcher` is the one primitive (intake's commits, the store's writes, the poller and the vault
binder all sit on it); :class:`Coalescer` adds to it that identical queries share one answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
Q = TypeVar("Q", bound=Hashable)
R = TypeVar("R")

Run = Callable[[K, list[T]], Awaitable[Sequence[R | Exception]]]


def _one(_: object) -> int:
    return 1


@dataclasses.dataclass(eq=False)
class _Batch(Generic[T, R]):
    items: list[T] = dataclasses.field(default_factory=list)
    futures: list[asyncio.Future[R]] = dataclasses.field(default_factory=list)
    size: int = 0

    def add(self, item: T, size: int) -> asyncio.Future[R]:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.items.append(item)
        self.futures.append(future)
        self.size += size
        return future

    def settle(self, answers: Sequence[R | BaseException]) -> None:
        for future, answer in zip(self.futures, answers, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()


@dataclasses.dataclass(eq=False)
class _Lane(Generic[T, R]):
    """One key's batches: the one collecting, those sealed but not yet sent, and how many are in flight."""

    open: _Batch[T, R] | None = None
    timer: asyncio.TimerHandle | None = None
    due: bool = False  # the open batch's window has ended; it waits for the batch in flight
    ready: deque[_Batch[T, R]] = dataclasses.field(default_factory=deque)
    in_flight: int = 0

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def idle(self) -> bool:
        return self.open is None and not self.ready and not self.in_flight


class Batcher(Generic[K, T, R]):
    """Answer the items asked under one key with one call of ``run`` per batch.

    A key's batch is sent ``window`` seconds after its first item, or at once when full: it holds
    ``max_size`` (items weighed by ``size_of``) or cannot take the next item. ``run`` answers every
    item, in order; an answer that is an exception is raised to that item's caller only, while an
    exception ``run`` raises reaches every caller of the batch. With ``one_at_a_time`` a key has one
    batch in flight: the next one collects until that is answered; if sending is cancelled (shutdown),
    the batches waiting behind it are cancelled too. A caller that is cancelled stops waiting, but its
    item is still sent.
    """

    def __init__(
        self,
        run: Run[K, T, R],
        *,
        window: float,
        max_size: int | None = None,
        size_of: Callable[[T], int] = _one,
        one_at_a_time: bool = False,
    ) -> None:
        self._run = run
        self._window = window
        self._max_size = max_size
        self._size_of = size_of
        self._one_at_a_time = one_at_a_time
        self._lanes: dict[K, _Lane[T, R]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._closed = False

    async def ask(self, key: K, item: T) -> R:
        if self._closed:
            raise RuntimeError("the batcher is closed")
        lane = self._lanes.setdefault(key, _Lane())
        size = self._size_of(item)
        if lane.open is not None and not self._fits(lane.open.size + size):
            self._seal(key, lane)
        if lane.open is None:
            lane.open = _Batch()
            lane.timer = asyncio.get_running_loop().call_later(self._window, self._window_over, key)
        future = lane.open.add(item, size)
        if not self._fits(lane.open.size + 1):
            self._seal(key, lane)
        return await future

    async def flush(self) -> None:
        """Send every batch now, and wait until every item asked so far (or meanwhile) is answered."""
        while self._lanes:
            for key, lane in list(self._lanes.items()):
                if lane.open is not None:
                    self._window_over(key)
            await asyncio.wait(set(self._sending))

    async def close(self) -> None:
        """Refuse new items, then :meth:`flush`."""
        self._closed = True
        await self.flush()

    def _fits(self, size: int) -> bool:
        return self._max_size is None or size <= self._max_size

    def _window_over(self, key: K) -> None:
        lane = self._lanes[key]
        lane.stop_timer()
        if self._one_at_a_time and lane.in_flight:
            lane.due = True
        else:
            self._seal(key, lane)

    def _seal(self, key: K, lane: _Lane[T, R]) -> None:
        lane.stop_timer()
        if lane.open is not None:
            lane.ready.append(lane.open)
        lane.open, lane.due = None, False
        self._send_ready(key, lane)

    def _send_ready(self, key: K, lane: _Lane[T, R]) -> None:
        if lane.ready and not (self._one_at_a_time and lane.in_flight):
            lane.in_flight += 1
            batch = lane.ready.popleft()
            task = asyncio.create_task(self._answer(key, batch))
            self._sending.add(task)
            task.add_done_callback(functools.partial(self._sent, key, batch))

    def _sent(self, key: K, batch: _Batch[T, R], task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        batch.cancel()  # settles nothing unless the task was cancelled (perhaps before it started)
        lane = self._lanes[key]
        lane.in_flight -= 1
        if task.cancelled() and self._one_at_a_time:
            _cancel_waiting(lane)
        elif lane.due:
            self._seal(key, lane)
        self._send_ready(key, lane)
        if lane.idle():
            del self._lanes[key]

    async def _answer(self, key: K, batch: _Batch[T, R]) -> None:
        try:
            answers = await self._run(key, batch.items)
            if len(answers) != len(batch.items):
                raise ValueError(f"{len(answers)} answers to a batch of {len(batch.items)}")
        except Exception as exc:
            batch.settle([exc] * len(batch.items))
        else:
            batch.settle(answers)


def _cancel_waiting(lane: _Lane[T, R]) -> None:
    lane.stop_timer()
    for batch in (*lane.ready, *([lane.open] if lane.open else [])):
        batch.cancel()
    lane.ready.clear()
    lane.open, lane.due = None, False


class Coalescer(Generic[K, Q, R]):
    """Collect queries per key for ``window`` seconds, then answer them all with one batch call.

    Identical queries are asked of the batch once. The batch answers every query; an answer that is
    an exception is raised to that query's askers only (an exception raised by the batch itself
    reaches every asker).
    """

    def __init__(
        self, batch: Callable[[K, list[Q]], Awaitable[Mapping[Q, R | Exception]]], window: float
    ) -> None:
        self._batch = batch
        self._batcher: Batcher[K, Q, R] = Batcher(self._answer_each, window=window)

    async def ask(self, key: K, query: Q) -> R:
        return await self._batcher.ask(key, query)

    async def _answer_each(self, key: K, queries: list[Q]) -> list[R | Exception]:
        answers = await self._batch(key, list(dict.fromkeys(queries)))
        return [answers[query] for query in queries]
