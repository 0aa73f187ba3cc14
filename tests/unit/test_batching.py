"""The micro-batching primitive: each caller gets its own answer, and no caller is left waiting."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.batching import Batcher, Coalescer

LONG = 30.0  # a window no test waits out


class Recorder:
    """A batch function that records its batches and answers ``item * 10`` (or ``answers``)."""

    def __init__(self, answers: dict[int, Exception] | None = None) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.answers = answers or {}

    async def __call__(self, key: str, items: list[int]) -> list[int | Exception]:
        self.batches.append((key, list(items)))
        await asyncio.sleep(0)
        return [self.answers.get(item, item * 10) for item in items]


async def settled(*asks: Any) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*asks, return_exceptions=True), timeout=2)


async def test_each_caller_gets_its_own_items_answer_from_one_batch() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=0.01)
    assert await settled(*(batcher.ask("k", i) for i in (3, 1, 2))) == [30, 10, 20]
    assert run.batches == [("k", [3, 1, 2])]


async def test_keys_are_batched_apart() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=0.01)
    assert await settled(batcher.ask("a", 1), batcher.ask("b", 2), batcher.ask("a", 3)) == [10, 20, 30]
    assert sorted(run.batches) == [("a", [1, 3]), ("b", [2])]


async def test_an_items_exception_reaches_only_its_caller() -> None:
    refused = ValueError("refused")
    batcher: Batcher[str, int, int] = Batcher(Recorder({2: refused}), window=0.01)
    assert await settled(*(batcher.ask("k", i) for i in (1, 2, 3))) == [10, refused, 30]


async def test_an_exception_of_the_whole_batch_reaches_every_caller() -> None:
    down = ConnectionError("down")

    async def fail(key: str, items: list[int]) -> list[int | Exception]:
        raise down

    batcher: Batcher[str, int, int] = Batcher(fail, window=0.01)
    assert await settled(*(batcher.ask("k", i) for i in (1, 2, 3))) == [down, down, down]


async def test_a_wrong_number_of_answers_fails_every_caller() -> None:
    async def short(key: str, items: list[int]) -> list[int | Exception]:
        return items[1:]

    batcher: Batcher[str, int, int] = Batcher(short, window=0.01)
    answers = await settled(batcher.ask("k", 1), batcher.ask("k", 2))
    assert [type(a) for a in answers] == [ValueError, ValueError]


async def test_a_caller_cancelled_before_the_batch_leaves_the_others_answered() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=0.01)
    gone = asyncio.create_task(batcher.ask("k", 1))
    stays = asyncio.create_task(batcher.ask("k", 2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await settled(stays) == [20]
    assert gone.cancelled()
    assert run.batches == [("k", [1, 2])]  # its item is still sent


async def test_a_cancelled_batch_cancels_its_callers() -> None:
    async def cancelled(key: str, items: list[int]) -> list[int | Exception]:
        raise asyncio.CancelledError

    batcher: Batcher[str, int, int] = Batcher(cancelled, window=0.01)
    answers = await settled(batcher.ask("k", 1), batcher.ask("k", 2))
    assert [type(a) for a in answers] == [asyncio.CancelledError] * 2


async def test_a_batch_cancelled_before_it_starts_cancels_its_callers() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=LONG, max_size=1)
    ask = asyncio.create_task(batcher.ask("k", 1))
    await asyncio.sleep(0)  # the ask ran: its full batch has a task, not started yet
    for sending in batcher._sending:
        sending.cancel()
    assert [type(a) for a in await settled(ask)] == [asyncio.CancelledError]
    assert run.batches == []


async def test_flush_sends_pending_batches_at_once_and_waits_for_their_answers() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=LONG)
    asks = [asyncio.create_task(batcher.ask(key, i)) for i, key in enumerate("aab")]
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.flush(), timeout=2)
    assert all(ask.done() for ask in asks)
    assert [ask.result() for ask in asks] == [0, 10, 20]


async def test_close_answers_the_pending_callers_then_refuses_new_ones() -> None:
    batcher: Batcher[str, int, int] = Batcher(Recorder(), window=LONG)
    pending = asyncio.create_task(batcher.ask("k", 4))
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.close(), timeout=2)
    assert pending.done() and pending.result() == 40
    with pytest.raises(RuntimeError):
        await batcher.ask("k", 5)


async def test_a_full_batch_is_sent_before_its_window_ends() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=LONG, max_size=2)
    assert await settled(*(batcher.ask("k", i) for i in (1, 2))) == [10, 20]
    assert run.batches == [("k", [1, 2])]


async def test_an_item_that_does_not_fit_sends_the_batch_and_starts_the_next() -> None:
    run = Recorder()
    batcher: Batcher[str, int, int] = Batcher(run, window=0.01, max_size=5, size_of=lambda item: item)
    assert await settled(*(batcher.ask("k", i) for i in (2, 2, 3, 1))) == [20, 20, 30, 10]
    assert run.batches == [("k", [2, 2]), ("k", [3, 1])]


async def test_one_at_a_time_collects_the_next_batch_while_one_is_in_flight() -> None:
    release = asyncio.Event()
    batches: list[list[int]] = []

    async def slow(key: str, items: list[int]) -> list[int | Exception]:
        batches.append(list(items))
        await release.wait()
        return [item * 10 for item in items]

    batcher: Batcher[str, int, int] = Batcher(slow, window=0, one_at_a_time=True)
    first = asyncio.create_task(batcher.ask("k", 1))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(batcher.ask("k", 2))]
    await asyncio.sleep(0.01)  # past its window: it keeps collecting while the first is in flight
    later.append(asyncio.create_task(batcher.ask("k", 3)))
    await asyncio.sleep(0.01)
    assert batches == [[1]]
    release.set()
    assert await settled(first, *later) == [10, 20, 30]
    assert batches == [[1], [2, 3]]


async def test_one_at_a_time_sends_full_batches_in_turn() -> None:
    in_flight: list[int] = []
    most = 0

    async def counted(key: str, items: list[int]) -> list[int | Exception]:
        nonlocal most
        in_flight.append(1)
        most = max(most, len(in_flight))
        await asyncio.sleep(0.005)
        in_flight.pop()
        return [item * 10 for item in items]

    batcher: Batcher[str, int, int] = Batcher(counted, window=LONG, max_size=1, one_at_a_time=True)
    assert await settled(*(batcher.ask("k", i) for i in (1, 2, 3))) == [10, 20, 30]
    assert most == 1


async def test_one_at_a_time_cancels_the_batches_waiting_behind_a_cancelled_one() -> None:
    batches: list[list[int]] = []

    async def cancelled(key: str, items: list[int]) -> list[int | Exception]:
        batches.append(items)
        await asyncio.sleep(0)
        raise asyncio.CancelledError

    batcher: Batcher[str, int, int] = Batcher(cancelled, window=LONG, max_size=1, one_at_a_time=True)
    answers = await settled(batcher.ask("k", 1), batcher.ask("k", 2))
    assert [type(a) for a in answers] == [asyncio.CancelledError] * 2
    assert batches == [[1]]


async def test_coalescer_asks_identical_queries_once() -> None:
    asked: list[list[int]] = []

    async def batch(key: str, queries: list[int]) -> dict[int, int | Exception]:
        asked.append(queries)
        return {q: q * 10 for q in queries}

    coalescer: Coalescer[str, int, int] = Coalescer(batch, window=0.01)
    assert await settled(*(coalescer.ask("k", q) for q in (2, 1, 2))) == [20, 10, 20]
    assert asked == [[2, 1]]


async def test_coalescer_fails_every_asker_when_a_query_is_left_unanswered() -> None:
    async def batch(key: str, queries: list[int]) -> dict[int, int | Exception]:
        return {}

    coalescer: Coalescer[str, int, int] = Coalescer(batch, window=0.01)
    answers = await settled(coalescer.ask("k", 1), coalescer.ask("k", 2))
    assert [type(a) for a in answers] == [KeyError, KeyError]


# ---------------------------------------------------------------- any interleaving

POISON = 13  # a batch holding this item fails as a whole
REFUSED = 7  # items divisible by this fail alone

ask_step = st.tuples(st.just("ask"), st.integers(0, 2), st.integers(0, 20))
turn_step = st.tuples(st.just("turn"), st.integers(1, 3), st.just(0))
wait_step = st.tuples(st.just("wait"), st.just(0), st.just(0))
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 40), st.just(0))
flush_step = st.tuples(st.just("flush"), st.just(0), st.just(0))
steps = st.lists(st.one_of(ask_step, ask_step, turn_step, wait_step, cancel_step, flush_step), max_size=40)
shapes = st.sampled_from(
    [{}, {"max_size": 3}, {"one_at_a_time": True}, {"max_size": 2, "one_at_a_time": True}]
)


class ItemRefused(Exception):
    pass


class BatchFailed(Exception):
    pass


class Scenario:
    def __init__(self, shape: dict[str, Any]) -> None:
        self.shape = shape
        self.batches: list[tuple[int, list[tuple[int, int]], BaseException | None]] = []
        self.in_flight: dict[int, int] = defaultdict(int)
        self.most_in_flight = 0
        self.handed_in: list[int] = []
        self.batcher: Batcher[int, tuple[int, int], int] = Batcher(self.run, window=0.001, **shape)

    async def run(self, key: int, items: list[tuple[int, int]]) -> list[int | Exception]:
        failure = BatchFailed(key) if any(value == POISON for _, value in items) else None
        self.batches.append((key, list(items), failure))
        self.in_flight[key] += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight[key])
        for _ in range(len(items) % 3):
            await asyncio.sleep(0)
        self.in_flight[key] -= 1
        if failure:
            raise failure
        return [ItemRefused(seq) if value % REFUSED == 0 else seq * 10 for seq, value in items]

    async def ask(self, key: int, item: tuple[int, int]) -> int:
        self.handed_in.append(item[0])  # a task cancelled before it starts asks nothing
        return await self.batcher.ask(key, item)

    async def play(self, plan: list[tuple[str, int, int]]) -> list[tuple[int, asyncio.Task[int]]]:
        asks: list[tuple[int, asyncio.Task[int]]] = []
        for step, a, b in plan:
            if step == "ask":
                asks.append((a, asyncio.create_task(self.ask(a, (len(asks), b)))))
            elif step == "turn":
                for _ in range(a):
                    await asyncio.sleep(0)
            elif step == "wait":
                await asyncio.sleep(0.002)
            elif step == "cancel" and asks:
                asks[a % len(asks)][1].cancel()
            elif step == "flush":
                await self.batcher.flush()
        await self.batcher.flush()
        await asyncio.gather(*(task for _, task in asks), return_exceptions=True)
        return asks

    def check(self, asks: list[tuple[int, asyncio.Task[int]]]) -> None:
        assert all(task.done() for _, task in asks)
        assert all(task.cancelled() for seq, (_, task) in enumerate(asks) if seq not in self.handed_in)
        sent = [(key, item, failure) for key, items, failure in self.batches for item in items]
        assert sorted(seq for _, (seq, _), _ in sent) == sorted(self.handed_in)  # each item sent once
        for key, (seq, value), failure in sent:
            asked_key, task = asks[seq]
            assert key == asked_key and task.done()
            if not task.cancelled():
                assert _outcome(task) == _expected(seq, value, failure)
        for key in {key for key, _ in asks}:  # a key's items go out in the order they were asked
            in_batches = [seq for k, items, _ in self.batches if k == key for seq, _ in items]
            assert in_batches == [seq for seq in self.handed_in if asks[seq][0] == key]
        limit = self.shape.get("max_size")
        assert limit is None or all(len(items) <= limit for _, items, _ in self.batches)
        assert self.most_in_flight <= 1 or not self.shape.get("one_at_a_time")
        assert not self.batcher._lanes  # nothing left behind


def _outcome(task: asyncio.Task[int]) -> object:
    error = task.exception()
    if isinstance(error, ItemRefused):
        return ("refused", *error.args)
    return error if error is not None else task.result()


def _expected(seq: int, value: int, failure: BaseException | None) -> object:
    if failure is not None:
        return failure  # the very exception the batch raised
    return ("refused", seq) if value % REFUSED == 0 else seq * 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, plan=steps)
def test_any_interleaving_of_asks_settles_every_caller_once_with_its_answer(
    shape: dict[str, Any], plan: list[tuple[str, int, int]]
) -> None:
    scenario = Scenario(shape)

    async def play() -> list[tuple[int, asyncio.Task[int]]]:
        return await asyncio.wait_for(scenario.play(plan), timeout=5)

    asks = asyncio.run(play())
    scenario.check(asks)
